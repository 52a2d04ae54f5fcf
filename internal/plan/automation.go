package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/query"
	"github.com/iotplan/iotplan/internal/state"
)

// AutomationReader is what refresh needs of a hub to plan configurations
// and jobs.
type AutomationReader interface {
	Configurations(ctx context.Context, top int) ([]hub.Configuration, error)
	Job(ctx context.Context, id string) (*hub.JobResponse, error)
}

// Counter counts the devices a condition matches, for the previews of
// jobs and configurations.
type Counter interface {
	Query(ctx context.Context, query string, opts hub.QueryOptions) (*hub.QueryPage, error)
}

// RefreshAutomation reads the hub's configurations (one call) and the jobs
// the state or the configuration names (one call each).
func RefreshAutomation(ctx context.Context, r AutomationReader, prior *state.State, cfg *config.Config, a *Actual) error {
	cs, err := r.Configurations(ctx, 1000)
	if err != nil {
		return fmt.Errorf("read configurations: %w", err)
	}
	a.Configurations = map[string]*hub.Configuration{}
	for i := range cs {
		a.Configurations[cs[i].ID] = &cs[i]
	}
	a.Jobs = map[string]*hub.JobResponse{}
	ids := map[string]bool{}
	for _, r := range prior.Resources {
		if r.Type == state.TypeJob {
			ids[r.ObjectID] = true
		}
	}
	for _, j := range cfg.Jobs {
		ids[j.ID] = true
	}
	for id := range ids {
		j, err := r.Job(ctx, id)
		if errors.Is(err, hub.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read job %s: %w", id, err)
		}
		a.Jobs[id] = j
	}
	return nil
}

// configurationSpec is what the state records of a configuration.
func configurationSpec(c *config.Configuration) map[string]any {
	labels := map[string]any{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	metrics := map[string]any{}
	for k, v := range c.Metrics {
		metrics[k] = v
	}
	return map[string]any{
		"target_condition": c.TargetCondition,
		"priority":         float64(c.Priority),
		"labels":           labels,
		"metrics":          metrics,
		"desired":          jsonCopy(c.Desired),
	}
}

// jobSpec is what the state records of a job.
func jobSpec(j *config.Job) map[string]any {
	spec := map[string]any{
		"type":         j.Type,
		"query":        j.Query,
		"max_duration": j.MaxDuration.String(),
	}
	if !j.StartTime.IsZero() {
		spec["start_time"] = j.StartTime.Format(time.RFC3339)
	}
	switch j.Type {
	case config.JobMethod:
		spec["method"] = j.Method
		spec["payload"] = jsonCopy(j.Payload)
		spec["response_timeout"] = j.ResponseTimeout.String()
		spec["connect_timeout"] = j.ConnectTimeout.String()
	case config.JobTwinUpdate:
		if j.Tags != nil {
			spec["tags"] = jsonCopy(j.Tags)
		}
		if j.Desired != nil {
			spec["desired"] = jsonCopy(j.Desired)
		}
	}
	return spec
}

// jsonCopy returns v as encoding/json decodes it, so that specs compare
// equal whether they come from the configuration or from the state file.
func jsonCopy(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("plan: a JSON value does not encode: %v", err))
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("plan: JSON does not decode: %v", err))
	}
	return out
}

// diffAutomation plans the configurations and jobs.
func diffAutomation(cfg *config.Config, prior *state.State, actual *Actual, opts Options) ([]*Change, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var changes []*Change
	wantCfg := map[string]*config.Configuration{}
	wantJob := map[string]*config.Job{}
	if !opts.Destroy {
		for _, c := range cfg.Configurations {
			wantCfg[c.Addr.String()] = c
		}
		for _, j := range cfg.Jobs {
			wantJob[j.Addr.String()] = j
		}
	}
	managed := map[string]bool{}
	addrs := map[string]bool{}
	for a, r := range prior.Resources {
		if r.Type == state.TypeConfiguration || r.Type == state.TypeJob {
			addrs[a] = true
			managed[r.Type+"\x00"+r.ObjectID] = true
		}
	}
	for a := range wantCfg {
		addrs[a] = true
	}
	for a := range wantJob {
		addrs[a] = true
	}
	for _, addr := range sortedKeys(addrs) {
		if len(opts.Targets) > 0 && !Selects(opts.Targets, addr) {
			continue
		}
		before := prior.Resources[addr]
		switch {
		case strings.HasPrefix(addr, state.TypeConfiguration+"."):
			ch, d := configurationChange(wantCfg[addr], before, actual, managed)
			diags = diags.Extend(d)
			if ch != nil {
				changes = append(changes, ch)
			}
		default:
			ch, d := jobChange(wantJob[addr], before, actual, managed)
			diags = diags.Extend(d)
			if ch != nil {
				changes = append(changes, ch)
			}
		}
	}
	if !opts.Destroy {
		diags = diags.Extend(overlapWarnings(cfg, actual))
	}
	return changes, diags
}

func configurationChange(want *config.Configuration, before *state.Resource, actual *Actual, managed map[string]bool) (*Change, hcl.Diagnostics) {
	var after *state.Resource
	if want != nil {
		after = &state.Resource{Addr: want.Addr.String(), Type: state.TypeConfiguration, ObjectID: want.ID, Spec: configurationSpec(want)}
	}
	switch {
	case want == nil:
		ch := &Change{Addr: before.Addr, Type: before.Type, Action: Delete, Before: before.DeepCopy(), Reason: "not in the configuration"}
		if actual.Configurations[before.ObjectID] == nil {
			ch.Gone, ch.Reason = true, "already deleted outside iotplan"
		}
		return ch, nil
	case before == nil:
		if actual.Configurations[want.ID] != nil && !managed[state.TypeConfiguration+"\x00"+want.ID] {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Configuration already exists",
				Detail:  fmt.Sprintf("The hub already has a configuration %q, which %s declares, but the state does not record it. Delete it from the hub or set another configuration_id.", want.ID, want.Addr),
				Subject: want.DeclRange.Ptr()}}
		}
		return &Change{Addr: after.Addr, Type: after.Type, Action: Create, After: after, Preview: -1, Condition: want.TargetCondition}, nil
	}
	got := actual.Configurations[before.ObjectID]
	if got == nil {
		return &Change{Addr: after.Addr, Type: after.Type, Action: Create, Before: before.DeepCopy(), After: after, Preview: -1,
			Condition: want.TargetCondition, Reason: "deleted outside iotplan"}, nil
	}
	wantSpec := after.Spec
	if before.ObjectID != want.ID || !reflect.DeepEqual(jsonCopy(before.Spec["desired"]), wantSpec["desired"]) {
		ch := &Change{Addr: after.Addr, Type: after.Type, Action: Replace, Before: before.DeepCopy(), After: after, Preview: -1,
			Condition: want.TargetCondition, Reason: "its content changes, which IoT Hub allows only by replacing the configuration"}
		// A new ID lets the new configuration be created before the old one
		// goes, so devices never lose their desired properties.
		ch.CreateBeforeDestroy = before.ObjectID != want.ID
		ch.Attrs = append(ch.Attrs, AttrChange{Path: "desired", Op: OpUpdate, Before: before.Spec["desired"], After: wantSpec["desired"]})
		return ch, nil
	}
	ch := &Change{Addr: after.Addr, Type: after.Type, Action: Update, Before: before.DeepCopy(), After: after, DeviceETag: got.ETag, Preview: -1,
		Condition: want.TargetCondition}
	have := map[string]any{"target_condition": got.TargetCondition, "priority": float64(got.Priority), "labels": map[string]any{}, "metrics": map[string]any{}}
	for k, v := range got.Labels {
		have["labels"].(map[string]any)[k] = v
	}
	if got.Metrics != nil {
		for k, v := range got.Metrics.Queries {
			have["metrics"].(map[string]any)[k] = v
		}
	}
	for _, k := range []string{"target_condition", "priority", "labels", "metrics"} {
		w, g := wantSpec[k], have[k]
		if reflect.DeepEqual(w, g) {
			continue
		}
		a := AttrChange{Path: k, Op: OpUpdate, Before: g, After: w}
		if pv := jsonCopy(before.Spec[k]); !reflect.DeepEqual(pv, g) {
			a.Drift, a.Prior = true, pv
		}
		ch.Attrs = append(ch.Attrs, a)
	}
	if len(ch.Attrs) == 0 {
		ch.Action = NoOp
	}
	return ch, nil
}

func jobChange(want *config.Job, before *state.Resource, actual *Actual, managed map[string]bool) (*Change, hcl.Diagnostics) {
	var after *state.Resource
	if want != nil {
		after = &state.Resource{Addr: want.Addr.String(), Type: state.TypeJob, ObjectID: want.ID, Spec: jobSpec(want)}
	}
	switch {
	case want == nil:
		ch := &Change{Addr: before.Addr, Type: before.Type, Action: Delete, Before: before.DeepCopy(),
			Reason: "not in the configuration: the job is forgotten (and cancelled if it has not ended)"}
		if j := actual.Jobs[before.ObjectID]; j == nil {
			ch.Gone = true
		} else {
			ch.JobStatus = string(j.Status)
		}
		return ch, nil
	case before == nil:
		if actual.Jobs[want.ID] != nil && !managed[state.TypeJob+"\x00"+want.ID] {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Job already exists",
				Detail:  fmt.Sprintf("The hub already has a job %q, which %s declares. A job runs once and its ID is never reused: give the block a new name or set another job_id.", want.ID, want.Addr),
				Subject: want.DeclRange.Ptr()}}
		}
		return &Change{Addr: after.Addr, Type: after.Type, Action: Create, After: after, Preview: -1, Condition: want.Query}, nil
	}
	j := actual.Jobs[before.ObjectID]
	status := before.JobStatus
	if j != nil {
		status = string(j.Status)
	}
	if before.ObjectID != want.ID || !reflect.DeepEqual(jsonCopy(before.Spec), jsonCopy(after.Spec)) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Job arguments changed",
			Detail: fmt.Sprintf("%s was created already as job %q (status: %s). A job runs once: to run it again with other arguments, give the block a new name (or set a new job_id).",
				want.Addr, before.ObjectID, status),
			Subject: want.DeclRange.Ptr()}}
	}
	ch := &Change{Addr: after.Addr, Type: after.Type, Action: NoOp, Before: before.DeepCopy(), After: after, JobStatus: status}
	if j != nil {
		ch.JobStats = j.DeviceJobStatistics
	}
	return ch, nil
}

// Preview counts, for each job and configuration that the plan creates or
// changes, the devices its condition matches now.
func Preview(ctx context.Context, c Counter, p *Plan) error {
	for _, ch := range p.Changes {
		if ch.Condition == "" || ch.Action == Delete || ch.Action == NoOp {
			continue
		}
		cond := strings.TrimSpace(ch.Condition)
		q := "SELECT COUNT() AS n FROM devices"
		if cond != "*" {
			q += " WHERE " + cond
		}
		page, err := c.Query(ctx, q, hub.QueryOptions{})
		if err != nil {
			return fmt.Errorf("count the devices %s targets: %w", ch.Addr, err)
		}
		ch.Preview = 0
		if len(page.Items) == 1 {
			var row struct {
				N float64 `json:"n"`
			}
			if err := json.Unmarshal(page.Items[0], &row); err == nil {
				ch.Preview = int(row.N)
			}
		}
	}
	return nil
}

// overlapWarnings warns when a configuration targets a device whose
// desired properties a device block also owns, at the same keys: both
// would write them, and the last writer wins.
func overlapWarnings(cfg *config.Config, actual *Actual) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, c := range cfg.Configurations {
		q, err := query.ParseCondition(query.Devices, c.TargetCondition)
		if err != nil || len(c.Desired) == 0 {
			continue
		}
		cl := leaves(c.Desired)
		for _, d := range cfg.Devices {
			if len(d.Desired) == 0 {
				continue
			}
			doc := map[string]any{"deviceId": d.DeviceID, "tags": jsonCopy(d.Tags)}
			if t := actual.Devices[d.DeviceID]; t != nil {
				if m, ok := jsonCopy(t).(map[string]any); ok {
					doc = m
					if d.Tags != nil {
						tags, _ := doc["tags"].(map[string]any)
						if tags == nil {
							tags = map[string]any{}
						}
						for k, v := range jsonCopy(d.Tags).(map[string]any) {
							tags[k] = v
						}
						doc["tags"] = tags
					}
				}
			}
			if !q.Match(doc) {
				continue
			}
			var both []string
			for k := range leaves(d.Desired) {
				if covers(cl, k) {
					both = append(both, "desired."+k)
				}
			}
			if len(both) == 0 {
				continue
			}
			sort.Strings(both)
			rng := d.DeclRange
			if r, ok := d.Ranges["desired"]; ok {
				rng = r
			}
			diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Desired properties set twice",
				Detail: fmt.Sprintf("%s owns %s, which %s (configuration %q) also sets on device %q: whichever writes last wins, and the other will see drift. Leave the keys to one of them.",
					d.Addr, strings.Join(both, ", "), c.Addr, c.ID, d.DeviceID),
				Subject: rng.Ptr()})
		}
	}
	return diags
}
