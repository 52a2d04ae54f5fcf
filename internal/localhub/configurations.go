package localhub

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/query"
)

// Configuration returns an automatic configuration. An unknown one is
// 404301 ConfigurationNotFound.
func (h *Hub) Configuration(ctx context.Context, id string) (*hub.Configuration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkConfigurationID(id); err != nil {
		return nil, err
	}
	var out *hub.Configuration
	err := h.view("read configuration", func(tx *bolt.Tx) error {
		r, err := getConfig(tx, id)
		if err != nil {
			return err
		}
		if r == nil {
			return configurationNotFound(id)
		}
		out = r.wire()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Configurations lists the configurations of the hub, sorted by ID: the
// first top of them, or all when top is 0 or less.
func (h *Hub) Configurations(ctx context.Context, top int) ([]hub.Configuration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []hub.Configuration{}
	err := h.view("list configurations", func(tx *bolt.Tx) error {
		recs, err := allConfigs(tx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if top > 0 && len(out) == top {
				break
			}
			out = append(out, *r.wire())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateConfiguration creates an automatic configuration. The hub applies
// it to the twins it targets in its next pass (see ApplyConfigurations);
// the configuration returned has no metrics yet.
//
// Errors: 400401 for a bad target condition, 400402 for bad content,
// 400404 for a bad metric query, 400004 for any other bad field; 409401
// ConfigurationAlreadyExists; 413101 ConfigurationCountLimitExceeded beyond
// hub.MaxConfigurations.
func (h *Hub) CreateConfiguration(ctx context.Context, c *hub.Configuration) (*hub.Configuration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, hub.Errorf(hub.CodeArgumentNull, "the configuration is empty")
	}
	if err := checkConfigurationID(c.ID); err != nil {
		return nil, err
	}
	r := &configRecord{ID: c.ID, SchemaVersion: c.SchemaVersion, ContentType: c.ContentType}
	if r.SchemaVersion == "" {
		r.SchemaVersion = "1.0"
	}
	if c.Content.IsZero() {
		return nil, hub.Errorf(hub.CodeInvalidConfigurationContent, "configuration %q has no content; give deviceContent or moduleContent", c.ID)
	}
	device, module, err := normalizeContent(c.ID, c.Content)
	if err != nil {
		return nil, err
	}
	r.DeviceContent, r.ModuleContent = device, module
	if err := r.setUpdatable(c); err != nil {
		return nil, err
	}
	err = h.update("create configuration", func(tx *bolt.Tx) error {
		prev, err := getConfig(tx, c.ID)
		if err != nil {
			return err
		}
		if prev != nil {
			return hub.Errorf(hub.CodeConfigurationAlreadyExists, "a configuration with ID %q already exists", c.ID)
		}
		if b := tx.Bucket(bucketConfigurations); b != nil && b.Stats().KeyN >= hub.MaxConfigurations {
			return hub.Errorf(hub.CodeConfigurationCountExceeded, "the hub has %d configurations, the most it allows", hub.MaxConfigurations)
		}
		meta := tx.Bucket(bucketMeta)
		r.Seq = counter(meta, keyConfigurationSeq) + 1
		if err := putCounter(meta, keyConfigurationSeq, r.Seq); err != nil {
			return err
		}
		now := h.clock()
		r.Created, r.Updated, r.ETagSeq = now, now, 1
		return putConfig(tx, r)
	})
	if err != nil {
		return nil, err
	}
	h.configs.signal()
	return r.wire(), nil
}

// UpdateConfiguration changes what may change of a configuration: its
// target condition, priority, labels and metric queries. Its content may be
// left out (zero); given, it must be the same as the configuration's, or
// the update is 400403 CannotModifyImmutableConfigurationContent. ifMatch
// is the etag last seen, or "*" or "" to update whatever it is.
func (h *Hub) UpdateConfiguration(ctx context.Context, c *hub.Configuration, ifMatch string) (*hub.Configuration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, hub.Errorf(hub.CodeArgumentNull, "the configuration is empty")
	}
	if err := checkConfigurationID(c.ID); err != nil {
		return nil, err
	}
	var device, module map[string]any
	if !c.Content.IsZero() {
		var err error
		if device, module, err = normalizeContent(c.ID, c.Content); err != nil {
			return nil, err
		}
	}
	var out *hub.Configuration
	err := h.update("update configuration", func(tx *bolt.Tx) error {
		r, err := getConfig(tx, c.ID)
		if err != nil {
			return err
		}
		if r == nil {
			return configurationNotFound(c.ID)
		}
		if etag := identityETag(r.ETagSeq); !etagMatches(ifMatch, etag) {
			return preconditionFailed(fmt.Sprintf("configuration %q", c.ID), etag, ifMatch)
		}
		if !c.Content.IsZero() && (!sameJSON(device, r.DeviceContent) || !sameJSON(module, r.ModuleContent)) {
			return hub.Errorf(hub.CodeImmutableConfigurationContent,
				"the content of configuration %q cannot change after it is created; create a configuration with a new ID instead", c.ID)
		}
		if err := r.setUpdatable(c); err != nil {
			return err
		}
		if c.SchemaVersion != "" {
			r.SchemaVersion = c.SchemaVersion
		}
		r.ETagSeq++
		r.Updated = h.clock()
		out = r.wire()
		return putConfig(tx, r)
	})
	if err != nil {
		return nil, err
	}
	h.configs.signal()
	return out, nil
}

// DeleteConfiguration removes a configuration. The hub's next pass takes
// what it wrote out of the twins it applied to, where no other
// configuration takes its place. ifMatch is the etag last seen, or "*" or
// "" to delete whatever it is.
func (h *Hub) DeleteConfiguration(ctx context.Context, id, ifMatch string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkConfigurationID(id); err != nil {
		return err
	}
	err := h.update("delete configuration", func(tx *bolt.Tx) error {
		r, err := getConfig(tx, id)
		if err != nil {
			return err
		}
		if r == nil {
			return configurationNotFound(id)
		}
		if etag := identityETag(r.ETagSeq); !etagMatches(ifMatch, etag) {
			return preconditionFailed(fmt.Sprintf("configuration %q", id), etag, ifMatch)
		}
		return tx.Bucket(bucketConfigurations).Delete([]byte(id))
	})
	if err != nil {
		return err
	}
	h.configs.signal()
	return nil
}

// TestConfigurationQueries checks a target condition and custom metric
// queries as CreateConfiguration would, and says what is wrong with each;
// it does not run them. The condition decides whether the metrics must
// read devices or devices.modules.
func (h *Hub) TestConfigurationQueries(ctx context.Context, in *hub.ConfigurationQueriesTestInput) (*hub.ConfigurationQueriesTestResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, hub.Errorf(hub.CodeArgumentNull, "the test input is empty")
	}
	out := &hub.ConfigurationQueriesTestResponse{CustomMetricQueryErrors: map[string]string{}}
	modules := moduleTargetForm.MatchString(in.TargetCondition)
	if _, err := compileTarget(in.TargetCondition, modules); err != nil {
		out.TargetConditionError = err.Error()
	}
	for name, q := range in.CustomMetricQueries {
		if _, err := compileMetric(name, q, modules); err != nil {
			out.CustomMetricQueryErrors[name] = err.Error()
		}
	}
	return out, nil
}

// setUpdatable checks and sets the fields an update may change: target
// condition, priority, labels and metric queries. Metric results are kept
// for the queries that stay.
func (r *configRecord) setUpdatable(c *hub.Configuration) error {
	if _, err := compileTarget(c.TargetCondition, r.modules()); err != nil {
		return hub.Errorf(hub.CodeInvalidTargetCondition, "configuration %q: %v", c.ID, err)
	}
	if c.Priority < 0 {
		return hub.Errorf(hub.CodeArgumentInvalid, "configuration %q has priority %d; a priority is a whole number from 0 up", c.ID, c.Priority)
	}
	var queries map[string]string
	if c.Metrics != nil {
		queries = c.Metrics.Queries
	}
	if len(queries) > hub.MaxConfigurationMetrics {
		return hub.Errorf(hub.CodeInvalidMetricsQuery, "configuration %q has %d custom metrics; the most IoT Hub allows is %d", c.ID, len(queries), hub.MaxConfigurationMetrics)
	}
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		if _, err := compileMetric(name, queries[name], r.modules()); err != nil {
			return hub.Errorf(hub.CodeInvalidMetricsQuery, "configuration %q: %v", c.ID, err)
		}
	}
	for k, v := range c.Labels {
		if k == "" || strings.HasPrefix(k, "$") {
			return hub.Errorf(hub.CodeArgumentInvalid, "configuration %q has a label named %q; label names may not be empty or start with '$'", c.ID, k)
		}
		if len(k) > hub.MaxIDLength || len(v) > hub.MaxIDLength {
			return hub.Errorf(hub.CodeArgumentInvalid, "configuration %q: label %q is longer than %d characters, the most IoT Hub allows", c.ID, k, hub.MaxIDLength)
		}
	}
	r.TargetCondition = c.TargetCondition
	r.Priority = c.Priority
	r.Labels = maps.Clone(c.Labels)
	results := map[string]int64{}
	for name := range queries {
		if v, ok := r.Results[name]; ok && r.Metrics[name] == queries[name] {
			results[name] = v
		}
	}
	r.Metrics = maps.Clone(queries)
	r.Results = results
	return nil
}

// compileTarget parses a target condition; "" targets nothing, and gives a
// nil query. A module configuration's condition must be of the form "FROM
// devices.modules WHERE <condition>", and a device configuration's must not.
func compileTarget(cond string, modules bool) (*query.Query, error) {
	if strings.TrimSpace(cond) == "" {
		return nil, nil
	}
	isModules := moduleTargetForm.MatchString(cond)
	switch {
	case modules && !isModules:
		return nil, fmt.Errorf("the targetCondition of a module configuration must read FROM devices.modules WHERE <condition>")
	case !modules && isModules:
		return nil, fmt.Errorf("a targetCondition of the form FROM devices.modules targets modules; give moduleContent instead of deviceContent")
	}
	q, err := parseTargetCondition(cond)
	if err != nil {
		return nil, fmt.Errorf("targetCondition %q: %v", cond, err)
	}
	return q, nil
}

// compileMetric parses a custom metric query, which must read the twins
// the configuration targets and return rows to count: not an aggregate.
func compileMetric(name, q string, modules bool) (*query.Query, error) {
	if name == "" {
		return nil, fmt.Errorf("a custom metric has no name")
	}
	pq, err := query.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("metric %q: %v", name, err)
	}
	want := query.Devices
	if modules {
		want = query.Modules
	}
	if pq.From() != want {
		return nil, fmt.Errorf("metric %q reads FROM %s; the metrics of this configuration read FROM %s", name, pq.From(), want)
	}
	if res, err := pq.Run(func(func(map[string]any) bool) {}); err != nil || len(res.Items) > 0 {
		return nil, fmt.Errorf("metric %q is an aggregate; a metric counts the twins its query returns, as in SELECT deviceId FROM devices WHERE ...", name)
	}
	return pq, nil
}

// normalizeContent checks a configuration's content and returns it as
// plain JSON: the device content or the module content, one of them nil.
func normalizeContent(id string, c hub.ConfigurationContent) (device, module map[string]any, err error) {
	bad := func(format string, args ...any) error {
		return hub.Errorf(hub.CodeInvalidConfigurationContent, "configuration %q: "+format, append([]any{id}, args...)...)
	}
	switch {
	case c.ModulesContent != nil:
		return nil, nil, bad("IoT Edge deployments (modulesContent) are not supported by the local hub; give deviceContent or moduleContent")
	case c.DeviceContent != nil && c.ModuleContent != nil:
		return nil, nil, bad("the content has both deviceContent and moduleContent; give one of them")
	}
	in, member := c.DeviceContent, "deviceContent"
	if c.ModuleContent != nil {
		in, member = c.ModuleContent, "moduleContent"
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, nil, bad("%s: %v", member, err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, nil, bad("%s: %v", member, err)
	}
	if len(out) == 0 {
		return nil, nil, bad("%s sets nothing; give at least one path such as %q", member, hub.ContentPathPrefix+"settings")
	}
	if _, err := contentLeaves(out); err != nil {
		return nil, nil, bad("%s: %v", member, err)
	}
	if c.ModuleContent != nil {
		return nil, out, nil
	}
	return out, nil, nil
}

// contentLeaf is one value a configuration writes: its path below desired
// and the value, a JSON value that is not an object with members.
type contentLeaf struct {
	path  []string
	key   string // path joined by "."
	value any
}

// contentLeaves checks a content's paths and values and returns the leaves
// it writes, sorted by path. Paths start with hub.ContentPathPrefix; no
// path may lie inside another, and the desired properties they make must
// be a valid twin section.
func contentLeaves(content map[string]any) ([]contentLeaf, error) {
	// "properties.desired" with an object sets each of its members, as the
	// Azure SDKs' own tests write content.
	if whole, ok := content[strings.TrimSuffix(hub.ContentPathPrefix, ".")]; ok {
		obj, isObj := whole.(map[string]any)
		if !isObj || len(obj) == 0 {
			return nil, fmt.Errorf("path %q must hold an object of desired properties", strings.TrimSuffix(hub.ContentPathPrefix, "."))
		}
		expanded := make(map[string]any, len(content)+len(obj))
		for k, v := range content {
			if k != strings.TrimSuffix(hub.ContentPathPrefix, ".") {
				expanded[k] = v
			}
		}
		for k, v := range obj {
			if _, dup := expanded[hub.ContentPathPrefix+k]; dup {
				return nil, fmt.Errorf("path %q is set twice, by itself and inside %q", hub.ContentPathPrefix+k, strings.TrimSuffix(hub.ContentPathPrefix, "."))
			}
			expanded[hub.ContentPathPrefix+k] = v
		}
		content = expanded
	}
	desired := map[string]any{}
	keys := slices.Sorted(maps.Keys(content))
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, hub.ContentPathPrefix)
		if !ok || rest == "" {
			return nil, fmt.Errorf("path %q does not name a desired property; paths start with %q, as in %q", k, hub.ContentPathPrefix, hub.ContentPathPrefix+"settings")
		}
		for i := len(hub.ContentPathPrefix); i < len(k); i++ {
			if _, outer := content[k[:i]]; k[i] == '.' && outer {
				return nil, fmt.Errorf("path %q lies inside path %q; set it in that path's value instead", k, k[:i])
			}
		}
		if content[k] == nil {
			return nil, fmt.Errorf("path %q is null; a configuration sets values, it cannot remove them", k)
		}
		segs := strings.Split(rest, ".")
		m := desired
		for _, s := range segs[:len(segs)-1] {
			next, ok := m[s].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[s] = next
			}
			m = next
		}
		m[segs[len(segs)-1]] = content[k]
	}
	if problems := hub.ValidateTwinSection(hub.SectionDesired, desired, false); len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Error()
		}
		return nil, fmt.Errorf("invalid desired properties: %s", strings.Join(msgs, "; "))
	}
	var leaves []contentLeaf
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				walk(append(slices.Clip(path), k), m[k])
			}
			return
		}
		leaves = append(leaves, contentLeaf{path: path, key: strings.Join(path, "."), value: v})
	}
	walk(nil, desired)
	slices.SortFunc(leaves, func(a, b contentLeaf) int { return cmp.Compare(a.key, b.key) })
	return leaves, nil
}

// sameJSON reports whether two decoded JSON values are the same.
func sameJSON(a, b map[string]any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func checkConfigurationID(id string) error {
	if err := hub.ValidateConfigurationID(id); err != nil {
		return hub.Errorf(hub.CodeArgumentInvalid, "invalid configuration ID: %v", err)
	}
	return nil
}

func configurationNotFound(id string) error {
	return hub.Errorf(hub.CodeConfigurationNotFound, "configuration %q does not exist", id)
}
