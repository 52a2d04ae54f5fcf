package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

var update = flag.Bool("update", false, "rewrite golden files")

type obj = map[string]any

func addr(key string) config.Addr { return config.Addr{Type: "device", Name: "thermo", Key: key} }

func resource(key, id string, tags, desired obj) *state.Resource {
	return &state.Resource{Addr: addr(key).String(), Type: "device", DeviceID: id, Status: hub.StatusEnabled, Auth: hub.AuthSAS,
		Tags: tags, Desired: desired, PrimaryKey: "c2VjcmV0LXByaW1hcnkta2V5LTEyMzQ=", SecondaryKey: "c2VjcmV0LXNlY29uZGFyeS1rZXk="}
}

func twin(id string, tags, desired obj) *hub.Twin {
	d := hub.TwinCollection{"$version": float64(4)}
	for k, v := range desired {
		d[k] = v
	}
	return &hub.Twin{DeviceID: id, ETag: "AAAAAAAAAAQ=", Status: hub.StatusEnabled, Tags: tags, Properties: hub.TwinProperties{Desired: d}}
}

// goldenCase is a plan the renderers are checked against: configuration,
// state and hub, diffed by the real plan.Diff.
type goldenCase struct {
	cfg         []*config.Device
	modules     []*config.Module
	moved       []*config.Moved
	imports     []*config.Import
	prior       []*state.Resource
	actual      []*hub.Twin
	modTwins    []*hub.Twin
	destroy     bool
	refreshOnly bool
	hub         string
	configs     []*config.Configuration
	jobs        []*config.Job
	// hubConfigs and hubJobs are the hub's configurations and jobs; nil
	// leaves automation out of the refresh.
	hubConfigs []*hub.Configuration
	hubJobs    []*hub.JobResponse
	// noJSONGolden skips plan.json.golden, for plans too large to review
	// as JSON; their JSON is still checked against the schema.
	noJSONGolden bool
}

// secrets are the key material and sensitive values the cases hold; no
// output may show any of them.
var secrets = []string{"c2VjcmV0", "hunter2", "a2V5LW9sZC0x", "a2V5LW5ldy0x", "s3cr3t-old", "s3cr3t-new", "s3cr3t-hub",
	fingerprint("a2V5LW9sZC0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw=="), fingerprint("a2V5LW5ldy0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw==")}

// fingerprint is how plan.Diff stands for an explicit key in comparisons.
func fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

var cases = map[string]goldenCase{
	"automation": {
		configs: []*config.Configuration{
			{Addr: config.Addr{Type: config.TypeConfiguration, Name: "firmware"}, ID: "firmware-2", TargetCondition: "tags.site = 'berlin'",
				Priority: 10, Desired: obj{"firmware": obj{"version": "2.0.1"}}, Metrics: map[string]string{"applied": "SELECT deviceId FROM devices WHERE properties.reported.firmware.version = '2.0.1'"}},
			{Addr: config.Addr{Type: config.TypeConfiguration, Name: "tuning"}, ID: "tuning", TargetCondition: "tags.site = 'oslo'", Priority: 5,
				Desired: obj{"mode": "eco"}},
		},
		jobs: []*config.Job{
			{Addr: config.Addr{Type: config.TypeJob, Name: "reboot_floor_3"}, ID: "reboot-floor-3", Type: config.JobMethod, Query: "tags.floor = 3",
				Method: "reboot", Payload: obj{"delay": 30.0}, ResponseTimeout: 30 * time.Second, MaxDuration: time.Hour,
				StartTime: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)},
			{Addr: config.Addr{Type: config.TypeJob, Name: "done"}, ID: "done", Type: config.JobTwinUpdate, Query: "deviceId = 'x'",
				Desired: obj{"BuildingNo": 45.0}, ResponseTimeout: 30 * time.Second, MaxDuration: time.Hour},
		},
		prior: []*state.Resource{
			{Addr: "configuration.tuning", Type: state.TypeConfiguration, ObjectID: "tuning", Spec: obj{"target_condition": "tags.site = 'oslo'",
				"priority": 1.0, "labels": obj{}, "metrics": obj{}, "desired": obj{"mode": "eco"}}},
			{Addr: "job.done", Type: state.TypeJob, ObjectID: "done", JobStatus: "completed", Spec: obj{"type": "twin_update", "query": "deviceId = 'x'",
				"max_duration": "1h0m0s", "desired": obj{"BuildingNo": 45.0}}},
		},
		hubConfigs: []*hub.Configuration{{ID: "tuning", TargetCondition: "tags.site = 'oslo'", Priority: 1, ETag: "MQ=="}},
		hubJobs: []*hub.JobResponse{{JobID: "done", Status: hub.JobStatusCompleted,
			DeviceJobStatistics: &hub.DeviceJobStatistics{DeviceCount: 1, SucceededCount: 1}}},
	},
	"modules_moves_imports_secrets": {
		cfg: []*config.Device{
			{Addr: config.Addr{Type: "device", Name: "gw"}, DeviceID: "gw-1", Edge: true,
				Auth:      config.Auth{Type: config.AuthSAS, PrimaryKey: "c2VjcmV0LXByaW1hcnkta2V5LTEyMzQ=", SecondaryKey: "c2VjcmV0LXNlY29uZGFyeS1rZXk="},
				Desired:   obj{"token": "hunter2", "interval": 5.0},
				Sensitive: []string{"auth.primary_key", "auth.secondary_key", "desired.token"}},
			{Addr: addr("renamed"), DeviceID: "thermo-r", Tags: obj{"site": "oslo"}},
			{Addr: addr("adopted"), DeviceID: "thermo-old", Tags: obj{"site": "rome"}},
			{Addr: addr("cert"), DeviceID: "thermo-cert", KeyVersion: 0, Parent: "gw-1",
				Auth: config.Auth{Type: config.AuthX509Thumbprint, PrimaryThumbprint: "AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12"}},
		},
		modules: []*config.Module{{Addr: config.Addr{Type: config.TypeModule, Name: "agent"}, DeviceID: "gw-1", ModuleID: "agent",
			ManagedBy: "iotplan", Desired: obj{"level": "debug"}}},
		moved:   []*config.Moved{{From: addr("old-name"), To: addr("renamed")}},
		imports: []*config.Import{{To: addr("adopted"), ID: "thermo-old", DeviceID: "thermo-old"}},
		prior: []*state.Resource{
			resource("old-name", "thermo-r", obj{"site": "oslo"}, nil),
			func() *state.Resource {
				r := resource("cert", "thermo-cert", nil, nil)
				r.KeyVersion = 0
				return r
			}(),
		},
		actual: []*hub.Twin{twin("thermo-r", obj{"site": "oslo"}, nil), twin("thermo-old", obj{"site": "paris", "floor": 2.0}, nil),
			twin("thermo-cert", nil, nil)},
	},
	"no_changes": {
		cfg:    []*config.Device{{Addr: addr("a"), DeviceID: "thermo-a", Tags: obj{"site": "berlin"}}},
		prior:  []*state.Resource{resource("a", "thermo-a", obj{"site": "berlin"}, nil)},
		actual: []*hub.Twin{twin("thermo-a", obj{"site": "berlin"}, nil)},
	},
	"create": {
		cfg: []*config.Device{
			{Addr: addr("b-17"), DeviceID: "thermo-b-17", Tags: obj{"site": "berlin", "floor": 3.0}, Desired: obj{"telemetryInterval": 10.0, "thresholds": obj{"warn": 75.0, "crit": 100.0}}},
			{Addr: addr("c-01"), DeviceID: "thermo-c-01", Status: hub.StatusDisabled, StatusReason: "awaiting install"},
		},
	},
	"mixed": {
		cfg: []*config.Device{
			{Addr: addr("a-01"), DeviceID: "thermo-a-01", Tags: obj{"site": "berlin", "floor": 4.0}, Desired: obj{"telemetryInterval": 10.0, "mode": "eco"}},
			{Addr: addr("a-02"), DeviceID: "thermo-a-02", Desired: obj{"telemetryInterval": 10.0}},
			{Addr: addr("a-03"), DeviceID: "thermo-a-03-new"},
		},
		prior: []*state.Resource{
			resource("a-01", "thermo-a-01", obj{"site": "berlin", "floor": 3.0}, obj{"telemetryInterval": 10.0, "mode": "eco", "legacyMode": true}),
			resource("a-02", "thermo-a-02", nil, obj{"telemetryInterval": 10.0}),
			resource("a-03", "thermo-a-03", nil, nil),
			resource("z-99", "thermo-z-99", obj{"site": "paris"}, nil),
			resource("z-gone", "thermo-z-gone", nil, nil),
		},
		actual: []*hub.Twin{
			twin("thermo-a-01", obj{"site": "berlin", "floor": 3.0, "owner": "ops"}, obj{"telemetryInterval": 10.0, "mode": "eco", "legacyMode": true, "fw": "1.2"}),
			twin("thermo-a-02", nil, obj{"telemetryInterval": 99.0}),
			twin("thermo-a-03", nil, nil),
			twin("thermo-z-99", obj{"site": "paris"}, nil),
		},
	},
	"destroy": {
		prior:   []*state.Resource{resource("a", "thermo-a", obj{"site": "berlin"}, obj{"interval": 5.0})},
		actual:  []*hub.Twin{twin("thermo-a", obj{"site": "berlin"}, obj{"interval": 5.0})},
		destroy: true,
	},
	"grouped":      groupedCase(),
	"review":       reviewCase(),
	"refresh_only": refreshOnlyCase(),
}

// groupedCase is a large uniform change: 1,000 sensors whose telemetry
// interval goes from 10 to 30, two sensors that differ, five identical new
// thermostats, four identical retired valves, and three identical pumps
// (too few to group).
func groupedCase() goldenCase {
	var tc goldenCase
	sensor := func(i int) config.Addr { return config.Addr{Type: "device", Name: "sensor", Key: i} }
	for i := range 1002 {
		id := fmt.Sprintf("sensor-%04d", i)
		want := 30.0
		switch i {
		case 1000:
			want = 60
		}
		tc.cfg = append(tc.cfg, &config.Device{Addr: sensor(i), DeviceID: id, Tags: obj{"site": "berlin"}, Desired: obj{"telemetryInterval": want}})
		r := resource("", id, obj{"site": "berlin"}, obj{"telemetryInterval": 10.0})
		r.Addr = sensor(i).String()
		tc.prior = append(tc.prior, r)
		onHub := 10.0
		if i == 1001 {
			onHub = 99 // changed outside iotplan
		}
		tc.actual = append(tc.actual, twin(id, obj{"site": "berlin"}, obj{"telemetryInterval": onHub}))
	}
	for i := range 5 {
		tc.cfg = append(tc.cfg, &config.Device{Addr: addr(fmt.Sprintf("n-%02d", i+1)), DeviceID: fmt.Sprintf("thermo-n-%02d", i+1),
			Tags: obj{"site": "oslo", "floor": 2.0}, Desired: obj{"telemetryInterval": 30.0}})
	}
	for i := range 4 {
		id := fmt.Sprintf("valve-%d", i)
		r := resource("", id, obj{"site": "paris"}, nil)
		r.Addr = config.Addr{Type: "device", Name: "valve", Key: i}.String()
		tc.prior = append(tc.prior, r)
		tc.actual = append(tc.actual, twin(id, obj{"site": "paris"}, nil))
	}
	for i := range 3 {
		id := fmt.Sprintf("pump-%d", i)
		a := config.Addr{Type: "device", Name: "pump", Key: i}
		tc.cfg = append(tc.cfg, &config.Device{Addr: a, DeviceID: id, Status: hub.StatusDisabled})
		r := resource("", id, nil, nil)
		r.Addr = a.String()
		tc.prior = append(tc.prior, r)
		tc.actual = append(tc.actual, twin(id, nil, nil))
	}
	tc.noJSONGolden = true
	return tc
}

// reviewCase is what a reviewer meets in a pull request: a gateway whose
// keys rotate and whose sensitive token changed on the hub, a module that
// drifted, a move, a move that also changes, an import, a device deleted
// outside iotplan, one to destroy, and values with pipes and backticks.
func reviewCase() goldenCase {
	keyOld, keyNew := "a2V5LW9sZC0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw==", "a2V5LW5ldy0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw=="
	gwAddr := config.Addr{Type: "device", Name: "gw"}
	gw := &config.Device{Addr: gwAddr, DeviceID: "gw-1", Edge: true,
		Auth:    config.Auth{Type: config.AuthSAS, PrimaryKey: keyNew, SecondaryKey: keyNew},
		Desired: obj{"token": "s3cr3t-new", "interval": 5.0}, Tags: obj{"site": "berlin"},
		Sensitive: []string{"auth.primary_key", "auth.secondary_key", "desired.token"}}
	gwPrior := resource("", "gw-1", obj{"site": "berlin"}, obj{"token": "s3cr3t-old", "interval": 5.0})
	gwPrior.Addr, gwPrior.Edge, gwPrior.ExplicitKeys = gwAddr.String(), true, true
	gwPrior.PrimaryKey, gwPrior.SecondaryKey = keyOld, keyOld
	gwPrior.Sensitive = gw.Sensitive
	gwTwin := twin("gw-1", obj{"site": "berlin"}, obj{"token": "s3cr3t-hub", "interval": 5.0})
	gwTwin.Capabilities = &hub.DeviceCapabilities{IoTEdge: true}

	agentAddr := config.Addr{Type: config.TypeModule, Name: "agent"}
	agent := &config.Module{Addr: agentAddr, DeviceID: "gw-1", ModuleID: "agent", Desired: obj{"level": "debug"}}
	agentPrior := &state.Resource{Addr: agentAddr.String(), Type: state.TypeModule, DeviceID: "gw-1", ModuleID: "agent", Auth: hub.AuthSAS,
		Desired: obj{"level": "info"}, PrimaryKey: "c2VjcmV0LW1vZHVsZS1rZXk=", SecondaryKey: "c2VjcmV0LW1vZHVsZS1rZXk="}
	agentTwin := &hub.Twin{DeviceID: "gw-1", ModuleID: "agent", ETag: "AAAAAAAAAAE=",
		Properties: hub.TwinProperties{Desired: hub.TwinCollection{"$version": float64(2), "level": "trace"}}}

	return goldenCase{
		hub: "hub fleet-prod.azure-devices.net",
		cfg: []*config.Device{
			gw,
			{Addr: addr("new"), DeviceID: "thermo-moved", Tags: obj{"site": "oslo"}},
			{Addr: addr("renamed-too"), DeviceID: "thermo-moved-2", Tags: obj{"site": "oslo", "floor": 5.0}},
			{Addr: addr("adopted"), DeviceID: "thermo-adopted", Tags: obj{"site": "rome"}},
			{Addr: addr("recreated"), DeviceID: "thermo-recreated"},
			{Addr: addr("a|b"), DeviceID: "thermo-ab", Tags: obj{"note": "use `x` | y", "owner": "ops|dev"}},
		},
		modules: []*config.Module{agent},
		moved:   []*config.Moved{{From: addr("old"), To: addr("new")}, {From: addr("old-2"), To: addr("renamed-too")}},
		imports: []*config.Import{{To: addr("adopted"), ID: "thermo-adopted", DeviceID: "thermo-adopted"}},
		prior: []*state.Resource{
			gwPrior, agentPrior,
			resource("old", "thermo-moved", obj{"site": "oslo"}, nil),
			resource("old-2", "thermo-moved-2", obj{"site": "oslo", "floor": 4.0}, nil),
			resource("recreated", "thermo-recreated", nil, nil),
			resource("retired", "thermo-retired", obj{"site": "rome"}, nil),
		},
		actual: []*hub.Twin{gwTwin, twin("thermo-moved", obj{"site": "oslo"}, nil), twin("thermo-moved-2", obj{"site": "oslo", "floor": 4.0}, nil),
			twin("thermo-adopted", obj{"site": "naples"}, nil), twin("thermo-retired", obj{"site": "rome"}, nil)},
		modTwins: []*hub.Twin{agentTwin},
	}
}

// refreshOnlyCase: one tag changed on the hub, a sensitive desired value
// changed, and a device deleted.
func refreshOnlyCase() goldenCase {
	a := resource("a", "thermo-a", obj{"site": "berlin"}, obj{"token": "s3cr3t-old"})
	a.Sensitive = []string{"desired.token"}
	return goldenCase{
		refreshOnly: true,
		prior:       []*state.Resource{a, resource("b", "thermo-b", nil, nil), resource("c", "thermo-c", obj{"site": "oslo"}, nil)},
		actual:      []*hub.Twin{twin("thermo-a", obj{"site": "munich"}, obj{"token": "s3cr3t-hub"}), twin("thermo-c", obj{"site": "oslo"}, nil)},
	}
}

// diff makes the plan of a case.
func (tc goldenCase) diff(t testing.TB) *plan.Plan {
	t.Helper()
	prior := &state.State{Lineage: "7c4e0f1e-5a3b-4c1d-9e2f-0a1b2c3d4e5f", Serial: 4, Resources: map[string]*state.Resource{}}
	for _, r := range tc.prior {
		prior.Resources[r.Addr] = r
	}
	actual := &plan.Actual{Devices: map[string]*hub.Twin{}, Modules: map[string]*hub.Twin{}}
	for _, tw := range tc.actual {
		actual.Devices[tw.DeviceID] = tw
	}
	for _, tw := range tc.modTwins {
		actual.Modules[tw.DeviceID+"/"+tw.ModuleID] = tw
	}
	if tc.hubConfigs != nil {
		actual.Configurations, actual.Jobs = map[string]*hub.Configuration{}, map[string]*hub.JobResponse{}
		for _, c := range tc.hubConfigs {
			actual.Configurations[c.ID] = c
		}
		for _, j := range tc.hubJobs {
			actual.Jobs[j.JobID] = j
		}
	}
	cfg := &config.Config{Devices: tc.cfg, Modules: tc.modules, Moved: tc.moved, Imports: tc.imports, Configurations: tc.configs, Jobs: tc.jobs}
	p, diags := plan.Diff(cfg, prior, actual, plan.Options{Destroy: tc.destroy, RefreshOnly: tc.refreshOnly})
	for _, c := range p.Changes {
		if c.Condition != "" {
			c.Preview = 412 // as a hub would count it
		}
	}
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p.Hub = tc.hub
	return p
}

func TestGolden(t *testing.T) {
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := tc.diff(t)
			var human, md, js bytes.Buffer
			if err := Human(&human, p); err != nil {
				t.Fatal(err)
			}
			if err := Markdown(&md, p, Options{Group: true}); err != nil {
				t.Fatal(err)
			}
			if err := JSON(&js, p); err != nil {
				t.Fatal(err)
			}
			outs := map[string]string{"human.golden": human.String(), "markdown.golden": md.String(), "plan.json.golden": js.String()}
			for file, got := range outs {
				for _, s := range secrets {
					if strings.Contains(got, s) {
						t.Errorf("%s shows the secret %q", file, s)
					}
				}
				if file == "plan.json.golden" && tc.noJSONGolden {
					continue
				}
				golden(t, filepath.Join("testdata", name, file), got)
			}
		})
	}
}

// TestGoldenSecrets greps every golden file for the cases' key material,
// so that a golden rewritten by -update is checked too.
func TestGoldenSecrets(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s shows the secret %q", f, s)
			}
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, d)
	}
}

func TestCount(t *testing.T) {
	for in, want := range map[int]string{0: "0", 12: "12", 999: "999", 1000: "1,000", 1202: "1,202", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := Count(in); got != want {
			t.Errorf("Count(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestValue(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want string
	}{
		{"a\"b", `"a\"b"`},
		{3.0, "3"},
		{0.25, "0.25"},
		{true, "true"},
		{nil, "null"},
		{[]any{1.0, "x"}, `[1, "x"]`},
		{obj{"b": 1.0, "a": obj{"c d": false}}, `{ a = { "c d" = false }, b = 1 }`},
		{obj{}, "{}"},
	} {
		if got := Value(tt.in); got != tt.want {
			t.Errorf("Value(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
