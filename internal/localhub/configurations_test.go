package localhub

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotplan/iotplan/internal/hub"
)

func deviceConfig(id, target string, priority int, content map[string]any) *hub.Configuration {
	return &hub.Configuration{ID: id, TargetCondition: target, Priority: priority,
		Content: hub.ConfigurationContent{DeviceContent: content}}
}

func mustCreateConfig(t *testing.T, h *Hub, c *hub.Configuration) *hub.Configuration {
	t.Helper()
	got, err := h.CreateConfiguration(t.Context(), c)
	if err != nil {
		t.Fatalf("CreateConfiguration(%q): %v", c.ID, err)
	}
	return got
}

func mustApply(t *testing.T, h *Hub) {
	t.Helper()
	if err := h.ApplyConfigurations(t.Context()); err != nil {
		t.Fatalf("ApplyConfigurations: %v", err)
	}
}

// twinState is what a test checks of a twin: its desired properties
// without $ members, and its configurations.
type twinState struct {
	Desired        map[string]any
	Configurations map[string]hub.TwinConfiguration
}

func stateOf(t *testing.T, h *Hub, id string) twinState {
	t.Helper()
	tw, err := h.Twin(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return twinState{Desired: tw.Properties.Desired.Properties(), Configurations: tw.Configurations}
}

func applied(ids ...string) map[string]hub.TwinConfiguration {
	return statuses(hub.ConfigurationApplied, ids...)
}

func statuses(s hub.ConfigurationStatus, ids ...string) map[string]hub.TwinConfiguration {
	out := map[string]hub.TwinConfiguration{}
	for _, id := range ids {
		out[id] = hub.TwinConfiguration{Status: s}
	}
	return out
}

func with(m map[string]hub.TwinConfiguration, s hub.ConfigurationStatus, ids ...string) map[string]hub.TwinConfiguration {
	for _, id := range ids {
		m[id] = hub.TwinConfiguration{Status: s}
	}
	return m
}

func metricsOf(t *testing.T, h *Hub, id string) (system, custom map[string]int64) {
	t.Helper()
	c, err := h.Configuration(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.SystemMetrics.Results, c.Metrics.Results
}

func counts(targeted, applied int64) map[string]int64 {
	return map[string]int64{hub.MetricTargetedCount: targeted, hub.MetricAppliedCount: applied}
}

func TestConfigurationPriorities(t *testing.T) {
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	ctx := t.Context()
	for id, tags := range map[string]map[string]any{
		"a": {"site": "berlin", "floor": 1},
		"b": {"site": "berlin", "floor": 2},
		"c": {"site": "paris", "floor": 2},
	} {
		mustCreateDevice(t, h, &hub.Device{DeviceID: id})
		if _, err := h.PatchTwin(ctx, id, hub.TwinPatch{Tags: tags}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.PatchTwin(ctx, "a", hub.TwinPatch{Desired: map[string]any{"own": true}}, ""); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	notified := map[string]int{}
	stop := h.WatchDesired(func(ch DesiredChange) {
		mu.Lock()
		defer mu.Unlock()
		notified[ch.DeviceID]++
	})
	defer stop()

	mustCreateConfig(t, h, deviceConfig("base", "tags.site = 'berlin'", 1, map[string]any{
		"properties.desired.firmware": map[string]any{"version": "1.0", "channel": "stable"},
		"properties.desired.interval": 10,
	}))
	clock.Set(t0.Add(time.Minute))
	mustCreateConfig(t, h, deviceConfig("floor2", "tags.floor = 2", 10, map[string]any{
		"properties.desired.firmware.version": "2.0",
	}))
	// Every path of "shadowed" is taken by "base", of higher priority.
	mustCreateConfig(t, h, deviceConfig("shadowed", "tags.site = 'berlin'", 0, map[string]any{
		"properties.desired.interval": 99,
	}))
	mustApply(t, h)

	firmware := func(version string) map[string]any {
		return map[string]any{"version": version, "channel": "stable"}
	}
	want := map[string]twinState{
		"a": {Desired: map[string]any{"own": true, "firmware": firmware("1.0"), "interval": float64(10)},
			Configurations: with(applied("base"), hub.ConfigurationTargeted, "shadowed")},
		"b": {Desired: map[string]any{"firmware": firmware("2.0"), "interval": float64(10)},
			Configurations: with(applied("base", "floor2"), hub.ConfigurationTargeted, "shadowed")},
		"c": {Desired: map[string]any{"firmware": map[string]any{"version": "2.0"}},
			Configurations: applied("floor2")},
	}
	check := func(step string) {
		t.Helper()
		for _, id := range []string{"a", "b", "c"} {
			if d := cmp.Diff(want[id], stateOf(t, h, id)); d != "" {
				t.Errorf("%s: twin %s (-want +got):\n%s", step, id, d)
			}
		}
	}
	check("first pass")
	for id, wantCounts := range map[string]map[string]int64{"base": counts(2, 2), "floor2": counts(2, 2), "shadowed": counts(2, 0)} {
		if system, _ := metricsOf(t, h, id); !cmp.Equal(system, wantCounts) {
			t.Errorf("%s: system metrics %v, want %v", id, system, wantCounts)
		}
	}
	// A second pass finds nothing to do.
	before, _ := h.Twin(ctx, "b")
	mustApply(t, h)
	after, _ := h.Twin(ctx, "b")
	if before.ETag != after.ETag || before.Version != after.Version {
		t.Errorf("a second pass wrote the twin: etag %s → %s", before.ETag, after.ETag)
	}
	mu.Lock()
	if notified["a"] != 1 || notified["b"] != 1 || notified["c"] != 1 {
		t.Errorf("desired notifications: %v", notified)
	}
	mu.Unlock()

	// The twin's configurations are queried as the metrics do.
	page, err := h.QueryTwins(ctx, "SELECT * FROM devices WHERE configurations.[[floor2]].status = 'Applied'", hub.QueryOptions{})
	if err != nil || len(page.Twins) != 2 {
		t.Errorf("query on configurations: %+v, %v", page, err)
	}

	// b leaves floor 2: "base" takes firmware.version back.
	if _, err := h.PatchTwin(ctx, "b", hub.TwinPatch{Tags: map[string]any{"floor": 1}}, ""); err != nil {
		t.Fatal(err)
	}
	// c moves to berlin: it gets "base", "floor2" keeps its version.
	if _, err := h.PatchTwin(ctx, "c", hub.TwinPatch{Tags: map[string]any{"site": "berlin"}}, ""); err != nil {
		t.Fatal(err)
	}
	mustApply(t, h)
	want["b"] = twinState{Desired: map[string]any{"firmware": firmware("1.0"), "interval": float64(10)},
		Configurations: with(applied("base"), hub.ConfigurationTargeted, "shadowed")}
	want["c"] = twinState{Desired: map[string]any{"firmware": firmware("2.0"), "interval": float64(10)},
		Configurations: with(applied("base", "floor2"), hub.ConfigurationTargeted, "shadowed")}
	check("after the tag changes")

	// A higher priority takes over.
	if _, err := h.UpdateConfiguration(ctx, deviceConfig("shadowed", "tags.site = 'berlin'", 5, nil), "*"); err != nil {
		t.Fatal(err)
	}
	mustApply(t, h)
	for _, id := range []string{"a", "b", "c"} {
		if got := stateOf(t, h, id); got.Desired["interval"] != float64(99) || got.Configurations["shadowed"].Status != hub.ConfigurationApplied {
			t.Errorf("twin %s after the priority change: %+v", id, got)
		}
	}

	// Deleting configurations takes out what they wrote, whole.
	for _, id := range []string{"base", "floor2", "shadowed"} {
		if err := h.DeleteConfiguration(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	mustApply(t, h)
	for id, desired := range map[string]map[string]any{"a": {"own": true}, "b": {}, "c": {}} {
		if d := cmp.Diff(twinState{Desired: desired}, stateOf(t, h, id)); d != "" {
			t.Errorf("twin %s after the deletions (-want +got):\n%s", id, d)
		}
	}
}

func TestConfigurationTies(t *testing.T) {
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
	content := func(v string) map[string]any { return map[string]any{"properties.desired.v": v} }
	// Same priority: the one created later wins, by time, then by order
	// when created at the same instant.
	mustCreateConfig(t, h, deviceConfig("older", "*", 3, content("older")))
	clock.Set(t0.Add(time.Second))
	mustCreateConfig(t, h, deviceConfig("newer", "*", 3, content("newer")))
	mustCreateConfig(t, h, deviceConfig("newest", "*", 3, content("newest")))
	mustCreateConfig(t, h, deviceConfig("lower", "*", 2, content("lower")))
	mustApply(t, h)
	got := stateOf(t, h, "d")
	want := twinState{Desired: map[string]any{"v": "newest"},
		Configurations: with(applied("newest"), hub.ConfigurationTargeted, "older", "newer", "lower")}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestConfigurationLeavesOwnerChanges(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
	mustCreateConfig(t, h, deviceConfig("cfg", "*", 0, map[string]any{"properties.desired.level": 1}))
	mustApply(t, h)
	if _, err := h.PatchTwin(ctx, "d", hub.TwinPatch{Desired: map[string]any{"level": 7}}, ""); err != nil {
		t.Fatal(err)
	}
	mustApply(t, h)
	if got := stateOf(t, h, "d"); got.Desired["level"] != float64(7) {
		t.Errorf("a pass overwrote the owner's change: %v", got.Desired)
	}
}

func TestConfigurationMetrics(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	fleet(t, h, 6) // berlin: dev-000, dev-002, dev-004
	mustCreateConfig(t, h, &hub.Configuration{
		ID: "fw", TargetCondition: "tags.site = 'berlin'", Priority: 1,
		Content: hub.ConfigurationContent{DeviceContent: map[string]any{"properties.desired.firmware.version": "2.0.1"}},
		Metrics: &hub.ConfigurationMetrics{Queries: map[string]string{
			"current": "SELECT deviceId FROM devices WHERE configurations.[[fw]].status = 'Applied' AND properties.reported.firmware.version = '2.0.1'",
			"pending": "SELECT deviceId FROM devices WHERE configurations.[[fw]].status = 'Applied' AND NOT (properties.reported.firmware.version = '2.0.1')",
			"top1":    "SELECT TOP 1 deviceId FROM devices WHERE tags.site = 'berlin'",
			"desired": "SELECT * FROM devices WHERE properties.desired.firmware.version = '2.0.1'",
		}},
	})
	created, err := h.Configuration(ctx, "fw")
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(created.SystemMetrics.Results, counts(0, 0)) {
		t.Errorf("metrics before any pass: %v", created.SystemMetrics.Results)
	}
	wantQueries := map[string]string{
		"targetedCount": "SELECT deviceId FROM devices WHERE tags.site = 'berlin'",
		"appliedCount":  "SELECT deviceId FROM devices WHERE configurations.[[fw]].status = 'Applied'",
	}
	if d := cmp.Diff(wantQueries, created.SystemMetrics.Queries); d != "" {
		t.Errorf("system metric queries (-want +got):\n%s", d)
	}
	mustApply(t, h)
	system, custom := metricsOf(t, h, "fw")
	// pending: reported firmware undefined makes NOT (...) undefined.
	if d := cmp.Diff(counts(3, 3), system); d != "" {
		t.Errorf("system metrics (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int64{"current": 0, "pending": 0, "top1": 1, "desired": 3}, custom); d != "" {
		t.Errorf("custom metrics before reports (-want +got):\n%s", d)
	}
	for id, version := range map[string]string{"dev-000": "2.0.1", "dev-002": "1.9", "dev-001": "2.0.1"} {
		if _, err := h.UpdateReported(ctx, id, "", map[string]any{"firmware": map[string]any{"version": version}}); err != nil {
			t.Fatal(err)
		}
	}
	mustApply(t, h)
	_, custom = metricsOf(t, h, "fw")
	if d := cmp.Diff(map[string]int64{"current": 1, "pending": 1, "top1": 1, "desired": 3}, custom); d != "" {
		t.Errorf("custom metrics after reports (-want +got):\n%s", d)
	}
	// Metrics are not writes: the etag stays.
	if c, _ := h.Configuration(ctx, "fw"); c.ETag != created.ETag {
		t.Errorf("etag %s after a pass, was %s", c.ETag, created.ETag)
	}
	// A metric whose query changes starts again from the next pass.
	up := *created
	up.Content = hub.ConfigurationContent{}
	up.Metrics = &hub.ConfigurationMetrics{Queries: map[string]string{"current": "SELECT deviceId FROM devices WHERE properties.reported.firmware.version = '2.0.1'"}}
	c, err := h.UpdateConfiguration(ctx, &up, created.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int64{"current": 0}, c.Metrics.Results); d != "" {
		t.Errorf("results after the update (-want +got):\n%s", d)
	}
	mustApply(t, h)
	if _, custom := metricsOf(t, h, "fw"); !cmp.Equal(custom, map[string]int64{"current": 2}) {
		t.Errorf("custom metrics after the query changed: %v", custom)
	}
}

func TestModuleConfiguration(t *testing.T) {
	h := openTest(t)
	fleet(t, h, 2)
	mustCreateModule(t, h, &hub.Module{DeviceID: "dev-000", ModuleID: "sensor"})
	mustCreateModule(t, h, &hub.Module{DeviceID: "dev-001", ModuleID: "other"})
	mustCreateConfig(t, h, &hub.Configuration{ID: "sensors", TargetCondition: "FROM devices.modules WHERE moduleId = 'sensor'",
		Content: hub.ConfigurationContent{ModuleContent: map[string]any{"properties.desired.rate": 5}}})
	mustApply(t, h)
	tw, err := h.ModuleTwin(t.Context(), "dev-000", "sensor")
	if err != nil {
		t.Fatal(err)
	}
	if tw.Properties.Desired["rate"] != float64(5) || tw.Configurations["sensors"].Status != hub.ConfigurationApplied {
		t.Errorf("module twin: desired %v, configurations %v", tw.Properties.Desired, tw.Configurations)
	}
	if tw, _ := h.ModuleTwin(t.Context(), "dev-001", "other"); tw.Configurations != nil || tw.Properties.Desired["rate"] != nil {
		t.Errorf("untargeted module: %+v", tw)
	}
	if tw, _ := h.Twin(t.Context(), "dev-000"); tw.Configurations != nil {
		t.Errorf("device twin: %+v", tw.Configurations)
	}
	if system, _ := metricsOf(t, h, "sensors"); !cmp.Equal(system, counts(1, 1)) {
		t.Errorf("metrics: %v", system)
	}
}

func TestConfigurationCRUD(t *testing.T) {
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	ctx := t.Context()
	in := &hub.Configuration{
		ID: "chiller-settings-wa", Labels: map[string]string{"HostPlatform": "Linux"}, Priority: 10,
		TargetCondition: "tags.location.state='Washington'",
		Content: hub.ConfigurationContent{DeviceContent: map[string]any{
			"properties.desired.chillerWaterSettings": map[string]any{"temperature": 38, "pressure": 78}}},
		Metrics: &hub.ConfigurationMetrics{Queries: map[string]string{"compliant": "select deviceId from devices where configurations.[[chiller-settings-wa]].status = 'Applied'"}},
	}
	got := mustCreateConfig(t, h, in)
	created := t0.Truncate(100 * time.Nanosecond)
	want := &hub.Configuration{
		ID: "chiller-settings-wa", SchemaVersion: "1.0", Labels: map[string]string{"HostPlatform": "Linux"},
		Content: hub.ConfigurationContent{DeviceContent: map[string]any{
			"properties.desired.chillerWaterSettings": map[string]any{"temperature": float64(38), "pressure": float64(78)}}},
		TargetCondition: "tags.location.state='Washington'", CreatedTimeUTC: created, LastUpdatedTimeUTC: created, Priority: 10,
		SystemMetrics: &hub.ConfigurationMetrics{Results: counts(0, 0), Queries: map[string]string{
			"targetedCount": "SELECT deviceId FROM devices WHERE tags.location.state='Washington'",
			"appliedCount":  "SELECT deviceId FROM devices WHERE configurations.[[chiller-settings-wa]].status = 'Applied'"}},
		Metrics: &hub.ConfigurationMetrics{Results: map[string]int64{"compliant": 0}, Queries: in.Metrics.Queries},
		ETag:    "MQ==",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("CreateConfiguration (-want +got):\n%s", d)
	}
	if read, err := h.Configuration(ctx, in.ID); err != nil || !cmp.Equal(read, got) {
		t.Errorf("Configuration: %v; %s", err, cmp.Diff(got, read))
	}
	_, err := h.CreateConfiguration(ctx, in)
	wantCode(t, "create again", err, hub.CodeConfigurationAlreadyExists)

	// Updates: etags, immutable content.
	clock.Set(t0.Add(time.Minute))
	up := *got
	up.Priority = 20
	up.TargetCondition = "*"
	_, err = h.UpdateConfiguration(ctx, &up, "MA==")
	wantCode(t, "update with a stale etag", err, hub.CodePreconditionFailed)
	changed := up
	changed.Content = hub.ConfigurationContent{DeviceContent: map[string]any{"properties.desired.chillerWaterSettings": map[string]any{"temperature": 40}}}
	_, err = h.UpdateConfiguration(ctx, &changed, "*")
	wantCode(t, "update of the content", err, hub.CodeImmutableConfigurationContent)
	moved := up
	moved.Content = hub.ConfigurationContent{ModuleContent: got.Content.DeviceContent}
	_, err = h.UpdateConfiguration(ctx, &moved, "*")
	wantCode(t, "content moved to modules", err, hub.CodeImmutableConfigurationContent)
	updated, err := h.UpdateConfiguration(ctx, &up, `"MQ=="`)
	if err != nil {
		t.Fatal(err)
	}
	if updated.ETag != "Mg==" || updated.Priority != 20 || updated.TargetCondition != "*" ||
		!updated.LastUpdatedTimeUTC.Equal(t0.Add(time.Minute).Truncate(100)) || !updated.CreatedTimeUTC.Equal(created) {
		t.Errorf("updated: %+v", updated)
	}
	up.Content = hub.ConfigurationContent{}
	if u, err := h.UpdateConfiguration(ctx, &up, ""); err != nil || u.ETag != "Mw==" || u.Content.DeviceContent == nil {
		t.Errorf("update without content: %+v, %v", u, err)
	}
	missing := up
	missing.ID = "missing"
	_, err = h.UpdateConfiguration(ctx, &missing, "*")
	wantCode(t, "update of a missing configuration", err, hub.CodeConfigurationNotFound)

	// Listing.
	mustCreateConfig(t, h, deviceConfig("another", "", 0, map[string]any{"properties.desired.x": 1}))
	list, err := h.Configurations(ctx, 0)
	if err != nil || len(list) != 2 || list[0].ID != "another" || list[1].ID != "chiller-settings-wa" {
		t.Errorf("Configurations(0): %v, %v", list, err)
	}
	if list, _ := h.Configurations(ctx, 1); len(list) != 1 {
		t.Errorf("Configurations(1): %d", len(list))
	}

	// Deletion.
	err = h.DeleteConfiguration(ctx, in.ID, "MQ==")
	wantCode(t, "delete with a stale etag", err, hub.CodePreconditionFailed)
	if err := h.DeleteConfiguration(ctx, in.ID, "Mw=="); err != nil {
		t.Fatal(err)
	}
	_, err = h.Configuration(ctx, in.ID)
	wantCode(t, "read after delete", err, hub.CodeConfigurationNotFound)
	err = h.DeleteConfiguration(ctx, in.ID, "*")
	wantCode(t, "delete again", err, hub.CodeConfigurationNotFound)
	_, err = h.Configuration(ctx, "Upper")
	wantCode(t, "read with an invalid ID", err, hub.CodeArgumentInvalid)
}

func TestConfigurationCountLimit(t *testing.T) {
	h := openTest(t)
	for i := range hub.MaxConfigurations {
		mustCreateConfig(t, h, deviceConfig(fmt.Sprintf("c%03d", i), "", 0, map[string]any{"properties.desired.x": i}))
	}
	_, err := h.CreateConfiguration(t.Context(), deviceConfig("one-more", "", 0, map[string]any{"properties.desired.x": 1}))
	wantCode(t, "create over the limit", err, hub.CodeConfigurationCountExceeded)
}

func TestCreateConfigurationRejects(t *testing.T) {
	ok := map[string]any{"properties.desired.x": 1}
	metrics := func(q map[string]string) *hub.Configuration {
		c := deviceConfig("c", "*", 0, ok)
		c.Metrics = &hub.ConfigurationMetrics{Queries: q}
		return c
	}
	tests := map[string]struct {
		c    *hub.Configuration
		want hub.ErrorCode
	}{
		"nil":                     {nil, hub.CodeArgumentNull},
		"upper-case ID":           {deviceConfig("Cfg", "*", 0, ok), hub.CodeArgumentInvalid},
		"ID with a dot":           {deviceConfig("a.b", "*", 0, ok), hub.CodeArgumentInvalid},
		"ID too long":             {deviceConfig(strings.Repeat("a", 129), "*", 0, ok), hub.CodeArgumentInvalid},
		"negative priority":       {deviceConfig("c", "*", -1, ok), hub.CodeArgumentInvalid},
		"bad condition":           {deviceConfig("c", "tags.x = ", 0, ok), hub.CodeInvalidTargetCondition},
		"module condition":        {deviceConfig("c", "FROM devices.modules WHERE moduleId = 'm'", 0, ok), hub.CodeInvalidTargetCondition},
		"device module condition": {&hub.Configuration{ID: "c", TargetCondition: "tags.x = 1", Content: hub.ConfigurationContent{ModuleContent: ok}}, hub.CodeInvalidTargetCondition},
		"no content":              {&hub.Configuration{ID: "c", TargetCondition: "*"}, hub.CodeInvalidConfigurationContent},
		"empty content":           {deviceConfig("c", "*", 0, map[string]any{}), hub.CodeInvalidConfigurationContent},
		"edge deployment":         {&hub.Configuration{ID: "c", Content: hub.ConfigurationContent{ModulesContent: map[string]map[string]any{"$edgeAgent": {}}}}, hub.CodeInvalidConfigurationContent},
		"both contents":           {&hub.Configuration{ID: "c", Content: hub.ConfigurationContent{DeviceContent: ok, ModuleContent: ok}}, hub.CodeInvalidConfigurationContent},
		"not desired":             {deviceConfig("c", "*", 0, map[string]any{"properties.reported.x": 1}), hub.CodeInvalidConfigurationContent},
		"tags":                    {deviceConfig("c", "*", 0, map[string]any{"tags.x": 1}), hub.CodeInvalidConfigurationContent},
		"desired root":            {deviceConfig("c", "*", 0, map[string]any{"properties.desired.": 1}), hub.CodeInvalidConfigurationContent},
		"path inside a path":      {deviceConfig("c", "*", 0, map[string]any{"properties.desired.a": map[string]any{}, "properties.desired.a-b": 1, "properties.desired.a.b": 2}), hub.CodeInvalidConfigurationContent},
		"null value":              {deviceConfig("c", "*", 0, map[string]any{"properties.desired.a": nil}), hub.CodeInvalidConfigurationContent},
		"bad key":                 {deviceConfig("c", "*", 0, map[string]any{"properties.desired.a$b": 1}), hub.CodeInvalidConfigurationContent},
		"empty segment":           {deviceConfig("c", "*", 0, map[string]any{"properties.desired.a..b": 1}), hub.CodeInvalidConfigurationContent},
		"too big":                 {deviceConfig("c", "*", 0, map[string]any{"properties.desired.a": strings.Repeat("x", 5000)}), hub.CodeInvalidConfigurationContent},
		"metric syntax":           {metrics(map[string]string{"m": "SELECT deviceId FROM devices WHERE"}), hub.CodeInvalidMetricsQuery},
		"metric source":           {metrics(map[string]string{"m": "SELECT * FROM devices.modules"}), hub.CodeInvalidMetricsQuery},
		"metric aggregate":        {metrics(map[string]string{"m": "SELECT COUNT() FROM devices"}), hub.CodeInvalidMetricsQuery},
		"metric without name":     {metrics(map[string]string{"": "SELECT deviceId FROM devices"}), hub.CodeInvalidMetricsQuery},
		"six metrics": {metrics(map[string]string{"a": "SELECT * FROM devices", "b": "SELECT * FROM devices", "c": "SELECT * FROM devices",
			"d": "SELECT * FROM devices", "e": "SELECT * FROM devices", "f": "SELECT * FROM devices"}), hub.CodeInvalidMetricsQuery},
		"label with $": {&hub.Configuration{ID: "c", Labels: map[string]string{"$x": "y"}, Content: hub.ConfigurationContent{DeviceContent: ok}}, hub.CodeArgumentInvalid},
	}
	h := openTest(t)
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := h.CreateConfiguration(t.Context(), tt.c)
			wantCode(t, "CreateConfiguration", err, tt.want)
		})
	}
	if list, err := h.Configurations(t.Context(), 0); err != nil || len(list) != 0 {
		t.Errorf("after rejected creations: %v, %v", list, err)
	}
	// Valid IDs use the documented characters.
	mustCreateConfig(t, h, deviceConfig("a-z+0%9_*!'", "*", 0, ok))
}

func TestTestConfigurationQueries(t *testing.T) {
	h := openTest(t)
	tests := map[string]struct {
		in         *hub.ConfigurationQueriesTestInput
		targetErr  bool
		metricErrs []string
	}{
		"all good": {&hub.ConfigurationQueriesTestInput{TargetCondition: "tags.a = 1",
			CustomMetricQueries: map[string]string{"m": "SELECT deviceId FROM devices WHERE properties.reported.x = 1"}}, false, nil},
		"empty":      {&hub.ConfigurationQueriesTestInput{}, false, nil},
		"bad target": {&hub.ConfigurationQueriesTestInput{TargetCondition: "tags.a ="}, true, nil},
		"bad metrics": {&hub.ConfigurationQueriesTestInput{TargetCondition: "*",
			CustomMetricQueries: map[string]string{"ok": "SELECT * FROM devices", "bad": "SELECT", "modules": "SELECT * FROM devices.modules"}}, false, []string{"bad", "modules"}},
		"module target": {&hub.ConfigurationQueriesTestInput{TargetCondition: "FROM devices.modules WHERE moduleId = 'x'",
			CustomMetricQueries: map[string]string{"ok": "SELECT deviceId, moduleId FROM devices.modules", "devices": "SELECT * FROM devices"}}, false, []string{"devices"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := h.TestConfigurationQueries(t.Context(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if (got.TargetConditionError != "") != tt.targetErr {
				t.Errorf("targetConditionError %q", got.TargetConditionError)
			}
			var names []string
			for n, msg := range got.CustomMetricQueryErrors {
				if msg == "" {
					t.Errorf("metric %s: empty error", n)
				}
				names = append(names, n)
			}
			if d := cmp.Diff(tt.metricErrs, names, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("metric errors (-want +got):\n%s", d)
			}
		})
	}
}

func TestRunConfigurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := openTest(t)
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
		go func() { done <- h.RunConfigurations(ctx) }()
		synctest.Wait()

		mustCreateConfig(t, h, deviceConfig("prod", "tags.env = 'prod'", 0, map[string]any{"properties.desired.level": "high"}))
		synctest.Wait() // a configuration change starts a pass at once
		if got := stateOf(t, h, "d"); got.Configurations != nil {
			t.Fatalf("untargeted twin: %+v", got)
		}
		if _, err := h.PatchTwin(t.Context(), "d", hub.TwinPatch{Tags: map[string]any{"env": "prod"}}, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(configPoll)
		synctest.Wait()
		if got := stateOf(t, h, "d"); got.Desired["level"] != "high" || got.Configurations["prod"].Status != hub.ConfigurationApplied {
			t.Errorf("a second after the tag change: %+v", got)
		}
		// A device created later is targeted within a poll.
		mustCreateDevice(t, h, &hub.Device{DeviceID: "e"})
		if _, err := h.PatchTwin(t.Context(), "e", hub.TwinPatch{Tags: map[string]any{"env": "prod"}}, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(configPoll)
		synctest.Wait()
		if got := stateOf(t, h, "e"); got.Desired["level"] != "high" {
			t.Errorf("a new device: %+v", got)
		}
		// Reports count in the metrics at the latest in five minutes.
		c, _ := h.Configuration(t.Context(), "prod")
		c.Content = hub.ConfigurationContent{}
		c.Metrics = &hub.ConfigurationMetrics{Queries: map[string]string{"high": "SELECT deviceId FROM devices WHERE properties.reported.level = 'high'"}}
		if _, err := h.UpdateConfiguration(t.Context(), c, "*"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := h.UpdateReported(t.Context(), "d", "", map[string]any{"level": "high"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(configPeriod)
		synctest.Wait()
		if system, custom := metricsOf(t, h, "prod"); !cmp.Equal(system, counts(2, 2)) || custom["high"] != 1 {
			t.Errorf("metrics: %v %v", system, custom)
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("RunConfigurations: %v", err)
		}
	})
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := openTest(t)
		mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
		h.SetMethodRouter(&answering{})
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- h.Run(ctx) }()
		if _, err := h.CreateJob(t.Context(), methodJob("j", "*")); err != nil {
			t.Fatal(err)
		}
		mustCreateConfig(t, h, deviceConfig("c", "*", 0, map[string]any{"properties.desired.x": 1}))
		synctest.Wait()
		if j, _ := h.Job(t.Context(), "j"); j.Status != hub.JobStatusCompleted {
			t.Errorf("job: %s", j.Status)
		}
		if got := stateOf(t, h, "d"); got.Desired["x"] != float64(1) {
			t.Errorf("twin: %+v", got)
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestConfigurationPassStopsWithContext(t *testing.T) {
	h := openTest(t)
	fleet(t, h, 10)
	mustCreateConfig(t, h, deviceConfig("c", "*", 0, map[string]any{"properties.desired.x": 1}))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.ApplyConfigurations(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("ApplyConfigurations with a done context: %v", err)
	}
}

func TestConfigurationWholeDesiredContent(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	mustCreateDevice(t, h, &hub.Device{DeviceID: "dev"})
	c := &hub.Configuration{ID: "whole", TargetCondition: "*", Priority: 1,
		Content: hub.ConfigurationContent{DeviceContent: map[string]any{"properties.desired": map[string]any{"settings": map[string]any{"level": "high"}}}}}
	if _, err := h.CreateConfiguration(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := h.ApplyConfigurations(ctx); err != nil {
		t.Fatal(err)
	}
	tw, err := h.Twin(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if got := tw.Properties.Desired["settings"]; !reflect.DeepEqual(got, map[string]any{"level": "high"}) {
		t.Errorf("desired.settings = %v, want {level: high}", got)
	}
	bad := &hub.Configuration{ID: "bad", TargetCondition: "*", Content: hub.ConfigurationContent{DeviceContent: map[string]any{"properties.desired": 5.0}}}
	if _, err := h.CreateConfiguration(ctx, bad); !errors.Is(err, hub.ErrBadRequest) {
		t.Errorf("content with a non-object properties.desired: err = %v, want 400", err)
	}
}
