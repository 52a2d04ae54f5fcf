package hubtest

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

var configurationTests = []test{
	{"CRUD", testConfigurationCRUD},
	{"AppliedByPriority", testConfigurationPriority},
	{"TestQueries", testConfigurationQueries},
}

// configurationID returns a configuration ID for the running test: its
// name in lower case in the characters configuration IDs allow, then
// suffix and random digits.
func configurationID(t *testing.T, suffix string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	tail := "-" + suffix + "-" + randomHex(8)
	name := b.String()
	if max := hub.MaxConfigurationID - len(tail); len(name) > max {
		name = name[len(name)-max:]
	}
	return name + tail
}

// createConfiguration creates c and deletes it when the test ends.
func createConfiguration(t *testing.T, h hub.Hub, c *hub.Configuration) *hub.Configuration {
	t.Helper()
	got, err := h.CreateConfiguration(t.Context(), c)
	if err != nil {
		t.Fatalf("CreateConfiguration(%q): %v", c.ID, err)
	}
	t.Cleanup(func() { _ = h.DeleteConfiguration(context.Background(), c.ID, "*") })
	return got
}

// plainJSON returns v as plain JSON values.
func plainJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func testConfigurationCRUD(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := configurationID(t, "c")
	in := &hub.Configuration{
		ID:              id,
		Labels:          map[string]string{"team": "heating"},
		Content:         hub.ConfigurationContent{DeviceContent: map[string]any{"properties.desired.chiller": map[string]any{"temperature": 38.0}}},
		TargetCondition: "tags.site = 'nowhere-" + randomHex(8) + "'",
		Priority:        5,
		Metrics:         &hub.ConfigurationMetrics{Queries: map[string]string{"compliant": "SELECT deviceId FROM devices WHERE properties.reported.chiller.temperature = 38"}},
	}
	created := createConfiguration(t, h, in)
	if created.ID != id || created.ETag == "" || created.CreatedTimeUTC.IsZero() {
		t.Errorf("created configuration %q, etag %q, created %v: want %q with an etag and a creation time", created.ID, created.ETag, created.CreatedTimeUTC, id)
	}
	check := func(what string, got *hub.Configuration, priority int) {
		t.Helper()
		if got.TargetCondition != in.TargetCondition || got.Priority != priority || !maps.Equal(got.Labels, in.Labels) {
			t.Errorf("%s: target %q, priority %d, labels %v; want %q, %d, %v", what, got.TargetCondition, got.Priority, got.Labels, in.TargetCondition, priority, in.Labels)
		}
		if d := cmp.Diff(plainJSON(t, in.Content), plainJSON(t, got.Content)); d != "" {
			t.Errorf("%s: content mismatch (-want +got):\n%s", what, d)
		}
		if got.Metrics == nil || !maps.Equal(got.Metrics.Queries, in.Metrics.Queries) {
			t.Errorf("%s: metrics %+v, want the queries sent", what, got.Metrics)
		}
	}
	check("CreateConfiguration", created, 5)

	got, err := h.Configuration(ctx, id)
	if err != nil {
		t.Fatalf("Configuration: %v", err)
	}
	check("Configuration", got, 5)
	if got.ETag != created.ETag {
		t.Errorf("Configuration etag %q, want the create's %q", got.ETag, created.ETag)
	}
	list, err := h.Configurations(ctx, 0)
	if err != nil {
		t.Fatalf("Configurations: %v", err)
	}
	found := 0
	for _, c := range list {
		if c.ID == id {
			found++
		}
	}
	if found != 1 {
		t.Errorf("Configurations listed %q %d times, want once", id, found)
	}
	if top, err := h.Configurations(ctx, 1); err != nil || len(top) != 1 {
		t.Errorf("Configurations(top 1) = %d configurations, %v; want 1", len(top), err)
	}

	_, err = h.CreateConfiguration(ctx, in)
	wantError(t, "CreateConfiguration with an ID in use", err, hub.ErrAlreadyExists, hub.CodeConfigurationAlreadyExists.Number)

	up := *got
	up.Priority = 7
	updated, err := h.UpdateConfiguration(ctx, &up, got.ETag)
	if err != nil {
		t.Fatalf("UpdateConfiguration: %v", err)
	}
	check("UpdateConfiguration", updated, 7)
	if updated.ETag == got.ETag {
		t.Errorf("the update kept etag %q", got.ETag)
	}
	_, err = h.UpdateConfiguration(ctx, &up, got.ETag)
	wantError(t, "UpdateConfiguration with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)

	changed := *updated
	changed.Content = hub.ConfigurationContent{DeviceContent: map[string]any{"properties.desired.chiller": map[string]any{"temperature": 40.0}}}
	_, err = h.UpdateConfiguration(ctx, &changed, "*")
	wantError(t, "UpdateConfiguration of the content", err, hub.ErrBadRequest, hub.CodeImmutableConfigurationContent.Number)

	err = h.DeleteConfiguration(ctx, id, got.ETag)
	wantError(t, "DeleteConfiguration with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)
	if err := h.DeleteConfiguration(ctx, id, updated.ETag); err != nil {
		t.Fatalf("DeleteConfiguration: %v", err)
	}
	_, err = h.Configuration(ctx, id)
	wantError(t, "Configuration after DeleteConfiguration", err, hub.ErrNotFound, hub.CodeConfigurationNotFound.Number)
	err = h.DeleteConfiguration(ctx, id, "*")
	wantError(t, "DeleteConfiguration of a deleted configuration", err, hub.ErrNotFound, hub.CodeConfigurationNotFound.Number)
}

// waitTwin reads a twin until cond holds.
func waitTwin(t *testing.T, h hub.Hub, id, what string, cond func(*hub.Twin) bool) *hub.Twin {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		tw := getTwin(t, h, id)
		if cond(tw) {
			return tw
		}
		if time.Now().After(deadline) {
			t.Fatalf("twin %s: %s did not happen in %v; desired %v, configurations %v", id, what, waitTimeout, tw.Properties.Desired.Properties(), tw.Configurations)
		}
		time.Sleep(pollInterval)
	}
}

// waitConfiguration reads a configuration until cond holds.
func waitConfiguration(t *testing.T, h hub.Hub, id, what string, cond func(*hub.Configuration) bool) *hub.Configuration {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := h.Configuration(t.Context(), id)
		if err != nil {
			t.Fatalf("Configuration(%q): %v", id, err)
		}
		if cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("configuration %s: %s did not happen in %v; system metrics %+v, metrics %+v", id, what, waitTimeout, c.SystemMetrics, c.Metrics)
		}
		time.Sleep(pollInterval)
	}
}

// results returns a metrics' results, nil-safe.
func results(m *hub.ConfigurationMetrics) map[string]int64 {
	if m == nil {
		return nil
	}
	return m.Results
}

func testConfigurationPriority(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	site, key := "s"+randomHex(10), "cfg"+randomHex(10)
	a, b, c := testID(t, "a"), testID(t, "b"), testID(t, "c")
	for _, id := range []string{a, b, c} {
		createDevice(t, h, &hub.Device{DeviceID: id})
	}
	patchTwin(t, h, a, hub.TwinPatch{Tags: map[string]any{"site": site, "ring": "canary"}}, "")
	patchTwin(t, h, b, hub.TwinPatch{Tags: map[string]any{"site": site}}, "")
	patchTwin(t, h, c, hub.TwinPatch{Tags: map[string]any{"site": "elsewhere"}}, "")

	// Both set the same paths, so that the higher priority wins them all
	// where both apply.
	content := func(mode string, level float64) hub.ConfigurationContent {
		return hub.ConfigurationContent{DeviceContent: map[string]any{
			"properties.desired." + key + ".mode":  mode,
			"properties.desired." + key + ".level": level,
		}}
	}
	low, high := configurationID(t, "low"), configurationID(t, "high")
	createConfiguration(t, h, &hub.Configuration{ID: low, Content: content("base", 1), Priority: 1,
		TargetCondition: "tags.site = '" + site + "'",
		Metrics:         &hub.ConfigurationMetrics{Queries: map[string]string{"applied": "SELECT deviceId FROM devices WHERE configurations.[[" + low + "]].status = 'Applied'"}}})
	createConfiguration(t, h, &hub.Configuration{ID: high, Content: content("canary", 2), Priority: 10,
		TargetCondition: "tags.site = '" + site + "' AND tags.ring = 'canary'"})

	has := func(mode string, level float64) func(*hub.Twin) bool {
		return func(tw *hub.Twin) bool {
			m, _ := tw.Properties.Desired.Properties()[key].(map[string]any)
			return m["mode"] == mode && m["level"] == level
		}
	}
	status := func(tw *hub.Twin, id string) hub.ConfigurationStatus { return tw.Configurations[id].Status }
	tw := waitTwin(t, h, a, "the higher priority's content", has("canary", 2))
	tw = waitTwin(t, h, a, "both configurations recorded", func(tw *hub.Twin) bool { return status(tw, low) != "" && status(tw, high) != "" })
	if status(tw, high) != hub.ConfigurationApplied || status(tw, low) != hub.ConfigurationTargeted {
		t.Errorf("twin %s configurations %v, want %s Applied and %s Targeted", a, tw.Configurations, high, low)
	}
	tw = waitTwin(t, h, b, "the lower priority's content", has("base", 1))
	tw = waitTwin(t, h, b, "the configuration recorded", func(tw *hub.Twin) bool { return status(tw, low) != "" })
	if status(tw, low) != hub.ConfigurationApplied || status(tw, high) != "" {
		t.Errorf("twin %s configurations %v, want only %s Applied", b, tw.Configurations, low)
	}
	if tw := getTwin(t, h, c); tw.Properties.Desired.Properties()[key] != nil || len(tw.Configurations) != 0 {
		t.Errorf("twin %s, which no configuration targets, has desired %v, configurations %v", c, tw.Properties.Desired.Properties()[key], tw.Configurations)
	}
	counts := func(targeted, applied int64, custom map[string]int64) func(*hub.Configuration) bool {
		return func(c *hub.Configuration) bool {
			r := results(c.SystemMetrics)
			return r[hub.MetricTargetedCount] == targeted && r[hub.MetricAppliedCount] == applied && maps.Equal(results(c.Metrics), custom)
		}
	}
	waitConfiguration(t, h, low, "targeted 2, applied 1, metric applied 1", counts(2, 1, map[string]int64{"applied": 1}))
	waitConfiguration(t, h, high, "targeted 1, applied 1", counts(1, 1, nil))

	// A twin that leaves a target loses what the configuration wrote.
	patchTwin(t, h, b, hub.TwinPatch{Tags: map[string]any{"site": nil}}, "")
	waitTwin(t, h, b, "the content removed", func(tw *hub.Twin) bool {
		return tw.Properties.Desired.Properties()[key] == nil && status(tw, low) == ""
	})
	// Without the higher priority, the lower one applies.
	if err := h.DeleteConfiguration(ctx, high, "*"); err != nil {
		t.Fatal(err)
	}
	tw = waitTwin(t, h, a, "the lower priority's content", has("base", 1))
	tw = waitTwin(t, h, a, "the deleted configuration forgotten", func(tw *hub.Twin) bool { return status(tw, high) == "" })
	if status(tw, low) != hub.ConfigurationApplied {
		t.Errorf("twin %s configurations %v, want %s Applied", a, tw.Configurations, low)
	}
	waitConfiguration(t, h, low, "targeted 1, applied 1, metric applied 1", counts(1, 1, map[string]int64{"applied": 1}))
}

func testConfigurationQueries(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	res, err := h.TestConfigurationQueries(ctx, &hub.ConfigurationQueriesTestInput{
		TargetCondition:     "tags.site = 'berlin'",
		CustomMetricQueries: map[string]string{"ok": "SELECT deviceId FROM devices WHERE properties.reported.ok = true"},
	})
	if err != nil {
		t.Fatalf("TestConfigurationQueries: %v", err)
	}
	if res.TargetConditionError != "" || res.CustomMetricQueryErrors["ok"] != "" {
		t.Errorf("valid queries: %+v, want no errors", res)
	}
	res, err = h.TestConfigurationQueries(ctx, &hub.ConfigurationQueriesTestInput{
		TargetCondition:     "tags.site = = 'berlin'",
		CustomMetricQueries: map[string]string{"bad": "SELECT deviceId FROM", "ok": "SELECT deviceId FROM devices"},
	})
	if err != nil {
		t.Fatalf("TestConfigurationQueries: %v", err)
	}
	if res.TargetConditionError == "" || res.CustomMetricQueryErrors["bad"] == "" || res.CustomMetricQueryErrors["ok"] != "" {
		t.Errorf("a bad condition and a bad metric: %+v, want errors for the condition and for bad only", res)
	}
}
