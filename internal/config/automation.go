package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub/query"
)

// Resource types of the hub's automation, as addresses write them.
const (
	TypeConfiguration = "configuration"
	TypeJob           = "job"
)

// Configuration is an automatic device configuration: desired properties
// the hub applies to every device its target condition matches, unless a
// configuration of higher priority also matches.
type Configuration struct {
	Addr Addr
	// ID is the configuration's ID on the hub: configuration_id, or the
	// block name in lower case with '_' made '-' and a short hash of the
	// content appended ("firmware-2-3fa8c1d2"), so that a content change,
	// which IoT Hub allows only by replacing the configuration, creates the
	// new one before the old one goes.
	ID string
	// IDGiven is true when configuration_id sets the ID.
	IDGiven         bool
	TargetCondition string
	Priority        int
	Labels          map[string]string
	// Desired is the desired properties the configuration sets (its
	// deviceContent under properties.desired), as JSON values.
	Desired map[string]any
	// Metrics are the custom metric queries by name.
	Metrics   map[string]string
	Lifecycle Lifecycle
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Job is a one-shot job: a direct method called on, or a twin update made
// to, every device its query matches, at its start time.
type Job struct {
	Addr Addr
	// ID is the job's ID on the hub: job_id, or the block name with '_'
	// made '-'.
	ID   string
	Type string // JobMethod or JobTwinUpdate
	// Query is the job's query condition (a WHERE clause).
	Query string
	// Method, Payload, ResponseTimeout and ConnectTimeout are those of a
	// method job; Payload is a JSON value (nil for null).
	Method                          string
	Payload                         any
	ResponseTimeout, ConnectTimeout time.Duration
	// Tags and Desired are what a twin-update job writes.
	Tags, Desired map[string]any
	// StartTime is when the job starts; zero means at apply.
	StartTime   time.Time
	MaxDuration time.Duration
	DeclRange   hcl.Range
	Ranges      map[string]hcl.Range
}

// The types of jobs.
const (
	JobMethod     = "method"
	JobTwinUpdate = "twin_update"
)

// Limits of automation the configuration checks.
const (
	MaxConfigurationMetrics = 5
	MaxJobIDLength          = 64
	MaxConfigurationID      = 128
	DefaultJobMaxDuration   = time.Hour
	DefaultMethodTimeout    = 30 * time.Second
)

var (
	jobIDRE           = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	configurationIDRE = regexp.MustCompile(`^[a-z0-9\-+%_*!']{1,128}$`)
)

type automationBlock struct {
	Name      string    `hcl:"name,label"`
	Body      hcl.Body  `hcl:",remain"`
	DeclRange hcl.Range `hcl:",def_range"`
}

var configurationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "configuration_id"}, {Name: "target_condition", Required: true}, {Name: "priority"},
		{Name: "labels"}, {Name: "desired", Required: true},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "metric", LabelNames: []string{"name"}}, {Type: "lifecycle"}},
}

var jobSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "job_id"}, {Name: "type", Required: true}, {Name: "query", Required: true}, {Name: "method"},
		{Name: "payload"}, {Name: "response_timeout"}, {Name: "connect_timeout"}, {Name: "tags"}, {Name: "desired"},
		{Name: "start_time"}, {Name: "max_duration"},
	},
}

// decodeConfigurations evaluates the configuration blocks, sorted by
// address. Their arguments may use variables, locals and functions.
func (r *run) decodeConfigurations(blocks []*automationBlock) []*Configuration {
	var out []*Configuration
	ids := map[string]*Configuration{}
	for _, b := range blocks {
		if !r.validName(b.Name, b.DeclRange) {
			continue
		}
		content, diags := b.Body.Content(configurationSchema)
		r.diags = append(r.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		ctx := r.scope()
		addr := Addr{Type: TypeConfiguration, Name: b.Name}
		c := &Configuration{Addr: addr, ID: strings.ReplaceAll(strings.ToLower(b.Name), "_", "-"), DeclRange: b.DeclRange,
			Ranges: map[string]hcl.Range{}, Metrics: map[string]string{}}
		for name, a := range content.Attributes {
			c.Ranges[name] = a.Expr.Range()
		}
		if a := content.Attributes["desired"]; a != nil {
			var sens []string
			c.Desired, _ = r.twinSection(a, "desired", addr, ctx, 0, &sens)
			if len(sens) > 0 {
				r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Sensitive configuration content",
					Detail:  "A configuration's content is readable by everyone who can read the hub's configurations; it cannot hold sensitive values.",
					Subject: a.Expr.Range().Ptr()})
			}
		}
		if a := content.Attributes["configuration_id"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, true); ok {
				c.ID, c.IDGiven = s, true
			}
		} else {
			c.ID += "-" + ContentHash(c.Desired)
		}
		if !configurationIDRE.MatchString(c.ID) {
			r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid configuration ID",
				Detail:  fmt.Sprintf("%q is not a configuration ID: IoT Hub allows up to %d lower-case letters, digits and - + %% _ * ! '. Set configuration_id.", c.ID, MaxConfigurationID),
				Subject: rangeOr(c.Ranges, "configuration_id", b.DeclRange).Ptr()})
		}
		if prev := ids[c.ID]; prev != nil {
			r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate configuration ID",
				Detail:  fmt.Sprintf("%s also has the ID %q, at %s. IDs must be unique.", prev.Addr, c.ID, prev.DeclRange),
				Subject: b.DeclRange.Ptr()})
		}
		ids[c.ID] = c
		if a := content.Attributes["target_condition"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, true); ok {
				c.TargetCondition = s
				r.checkCondition(a, s)
			}
		}
		if a := content.Attributes["priority"]; a != nil {
			if n, _, ok := r.evalWhole(a, ctx, 0, addr); ok {
				c.Priority = n
			}
		}
		if a := content.Attributes["labels"]; a != nil {
			c.Labels = r.stringMap(a, ctx)
		}
		for _, blk := range content.Blocks {
			switch blk.Type {
			case "metric":
				r.decodeMetric(c, blk)
			case "lifecycle":
				var lc struct {
					PreventDestroy *bool    `hcl:"prevent_destroy"`
					Remain         hcl.Body `hcl:",remain"`
				}
				diags := gohcl.DecodeBody(blk.Body, r.scope(), &lc)
				r.diags = append(r.diags, diags...)
				if lc.PreventDestroy != nil {
					c.Lifecycle.PreventDestroy = *lc.PreventDestroy
				}
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.String() < out[j].Addr.String() })
	return out
}

func (r *run) decodeMetric(c *Configuration, blk *hcl.Block) {
	name := blk.Labels[0]
	attrs, diags := blk.Body.JustAttributes()
	r.diags = append(r.diags, diags...)
	q := attrs["query"]
	if q == nil {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
			Detail: fmt.Sprintf("The metric %q needs a query, such as SELECT deviceId FROM devices WHERE ...", name), Subject: blk.DefRange.Ptr()})
		return
	}
	for n, a := range attrs {
		if n != "query" {
			r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail: fmt.Sprintf("A metric has only a query, not %q.", n), Subject: a.NameRange.Ptr()})
		}
	}
	s, _, ok := r.evalString(q, r.scope(), 0, true)
	if !ok {
		return
	}
	if _, err := query.Parse(s); err != nil {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid metric query",
			Detail: sentence(err.Error()) + " See docs/query.md.", Subject: q.Expr.Range().Ptr()})
		return
	}
	if _, dup := c.Metrics[name]; dup {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate metric",
			Detail: fmt.Sprintf("The metric %q is declared twice.", name), Subject: blk.DefRange.Ptr()})
	}
	c.Metrics[name] = s
	if len(c.Metrics) > MaxConfigurationMetrics {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many metrics",
			Detail: fmt.Sprintf("A configuration has at most %d custom metrics.", MaxConfigurationMetrics), Subject: blk.DefRange.Ptr()})
	}
}

// decodeJobs evaluates the job blocks, sorted by address.
func (r *run) decodeJobs(blocks []*automationBlock) []*Job {
	var out []*Job
	ids := map[string]*Job{}
	for _, b := range blocks {
		if !r.validName(b.Name, b.DeclRange) {
			continue
		}
		content, diags := b.Body.Content(jobSchema)
		r.diags = append(r.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		ctx := r.scope()
		addr := Addr{Type: TypeJob, Name: b.Name}
		j := &Job{Addr: addr, ID: strings.ReplaceAll(b.Name, "_", "-"), DeclRange: b.DeclRange, Ranges: map[string]hcl.Range{},
			ResponseTimeout: DefaultMethodTimeout, MaxDuration: DefaultJobMaxDuration}
		for name, a := range content.Attributes {
			j.Ranges[name] = a.Expr.Range()
		}
		fail := func(attr, summary, detail string) {
			r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail,
				Subject: rangeOr(j.Ranges, attr, b.DeclRange).Ptr()})
		}
		if a := content.Attributes["job_id"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, true); ok {
				j.ID = s
			}
		}
		if !jobIDRE.MatchString(j.ID) {
			fail("job_id", "Invalid job ID", fmt.Sprintf("%q is not a job ID: IoT Hub allows up to %d ASCII letters, digits and '-'. Set job_id.", j.ID, MaxJobIDLength))
		}
		if prev := ids[j.ID]; prev != nil {
			fail("job_id", "Duplicate job ID", fmt.Sprintf("%s also has the ID %q, at %s. IDs must be unique.", prev.Addr, j.ID, prev.DeclRange))
		}
		ids[j.ID] = j
		if a := content.Attributes["type"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, true); ok {
				j.Type = s
				if s != JobMethod && s != JobTwinUpdate {
					fail("type", "Invalid job type", fmt.Sprintf("%q is not a job type: use %q (call a direct method) or %q (update twins).%s", s, JobMethod, JobTwinUpdate, didYouMean(s, []string{JobMethod, JobTwinUpdate})))
				}
			}
		}
		if a := content.Attributes["query"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, true); ok {
				j.Query = s
				r.checkCondition(a, s)
			}
		}
		if a := content.Attributes["method"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, true); ok {
				j.Method = s
			}
		}
		if a := content.Attributes["payload"]; a != nil {
			if v, ok := r.eval(a.Expr, ctx, 0); ok {
				uv, _ := v.UnmarkDeep()
				p, err := jsonValue(uv, nil)
				if err != nil {
					fail("payload", "Invalid method payload", "The payload cannot be JSON: "+err.reason)
				}
				j.Payload = p
			}
		}
		j.ResponseTimeout = r.duration(content.Attributes["response_timeout"], ctx, j.ResponseTimeout)
		j.ConnectTimeout = r.duration(content.Attributes["connect_timeout"], ctx, 0)
		j.MaxDuration = r.duration(content.Attributes["max_duration"], ctx, j.MaxDuration)
		var sens []string
		if a := content.Attributes["tags"]; a != nil {
			j.Tags, _ = r.twinSection(a, "tags", addr, ctx, 0, &sens)
		}
		if a := content.Attributes["desired"]; a != nil {
			j.Desired, _ = r.twinSection(a, "desired", addr, ctx, 0, &sens)
		}
		if a := content.Attributes["start_time"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, false); ok && s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					fail("start_time", "Invalid start time", fmt.Sprintf("%q is not a time in RFC 3339 form, such as \"2026-12-01T02:00:00Z\".", s))
				}
				j.StartTime = t.UTC()
			}
		}
		switch j.Type {
		case JobMethod:
			if j.Method == "" {
				fail("method", "Missing method", "A method job needs the name of the direct method to call: method = \"reboot\".")
			}
			if j.Tags != nil || j.Desired != nil {
				fail("desired", "Twin content in a method job", "tags and desired belong to twin_update jobs.")
			}
			if j.ResponseTimeout < 5*time.Second || j.ResponseTimeout > 300*time.Second {
				fail("response_timeout", "Invalid response timeout", "A direct method's response timeout is between 5s and 300s.")
			}
			if j.ConnectTimeout < 0 || j.ConnectTimeout > 300*time.Second {
				fail("connect_timeout", "Invalid connect timeout", "A direct method's connect timeout is between 0s and 300s.")
			}
		case JobTwinUpdate:
			if j.Tags == nil && j.Desired == nil {
				fail("desired", "Nothing to update", "A twin_update job needs tags or desired properties to write.")
			}
			if j.Method != "" || j.Payload != nil {
				fail("method", "Method in a twin update job", "method and payload belong to method jobs.")
			}
		}
		if len(sens) > 0 {
			fail("desired", "Sensitive job content", "A job's twin update is readable by everyone who can read the hub's jobs; it cannot hold sensitive values.")
		}
		if j.MaxDuration <= 0 {
			fail("max_duration", "Invalid maximum duration", "max_duration is a positive duration, such as \"1h\".")
		}
		out = append(out, j)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.String() < out[j].Addr.String() })
	return out
}

// checkCondition reports a query condition that does not parse, at its
// column.
func (r *run) checkCondition(a *hcl.Attribute, cond string) {
	if _, err := query.ParseCondition(query.Devices, cond); err != nil {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid query condition",
			Detail: sentence(err.Error()) + " The condition is a WHERE clause of IoT Hub's query language, such as tags.site = 'berlin'.", Subject: a.Expr.Range().Ptr()})
	}
}

// duration evaluates a duration argument written as a string ("30s",
// "1h"), def when absent.
func (r *run) duration(a *hcl.Attribute, ctx *hcl.EvalContext, def time.Duration) time.Duration {
	if a == nil {
		return def
	}
	s, _, ok := r.evalString(a, ctx, 0, false)
	if !ok || s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid duration",
			Detail: fmt.Sprintf("%q is not a duration: write it as a number with a unit, such as \"30s\", \"5m\" or \"1h\".", s), Subject: a.Expr.Range().Ptr()})
		return def
	}
	return d
}

// stringMap evaluates a map of strings.
func (r *run) stringMap(a *hcl.Attribute, ctx *hcl.EvalContext) map[string]string {
	v, ok := r.eval(a.Expr, ctx, 0)
	if !ok {
		return nil
	}
	uv, _ := v.UnmarkDeep()
	if uv.IsNull() {
		return nil
	}
	if !uv.Type().IsObjectType() && !uv.Type().IsMapType() {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
			Detail: fmt.Sprintf("%s must be a map of strings, such as { team = \"ops\" }.", a.Name), Subject: a.Expr.Range().Ptr()})
		return nil
	}
	out := map[string]string{}
	for it := uv.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if ev.IsNull() {
			continue
		}
		if ev.Type() != cty.String {
			r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
				Detail: fmt.Sprintf("%s must be a map of strings; %q is not a string.", a.Name, k.AsString()), Subject: a.Expr.Range().Ptr()})
			continue
		}
		out[k.AsString()] = ev.AsString()
	}
	return out
}

func rangeOr(ranges map[string]hcl.Range, name string, def hcl.Range) hcl.Range {
	if r, ok := ranges[name]; ok {
		return r
	}
	return def
}

// validName checks a block name.
func (r *run) validName(name string, rng hcl.Range) bool {
	if hclsyntax.ValidIdentifier(name) {
		return true
	}
	r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid block name",
		Detail:  fmt.Sprintf("%q is not a valid block name. A name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name),
		Subject: rng.Ptr()})
	return false
}

// ContentHash is the short hash of a configuration's content that its
// default ID carries: the first 8 hex digits of the SHA-256 of its JSON.
func ContentHash(desired map[string]any) string {
	b, _ := json.Marshal(desired) // JSON values always encode; keys sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:4])
}
