package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// cases are the plans the renderers are checked against: configuration,
// state and hub, diffed by the real plan.Diff.
var cases = map[string]struct {
	cfg     []*config.Device
	modules []*config.Module
	moved   []*config.Moved
	imports []*config.Import
	prior   []*state.Resource
	actual  []*hub.Twin
	destroy bool
}{
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
}

func TestGolden(t *testing.T) {
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			prior := &state.State{Lineage: "7c4e0f1e-5a3b-4c1d-9e2f-0a1b2c3d4e5f", Serial: 4, Resources: map[string]*state.Resource{}}
			for _, r := range tc.prior {
				prior.Resources[r.Addr] = r
			}
			actual := &plan.Actual{Devices: map[string]*hub.Twin{}}
			for _, tw := range tc.actual {
				actual.Devices[tw.DeviceID] = tw
			}
			actual.Modules = map[string]*hub.Twin{}
			cfg := &config.Config{Devices: tc.cfg, Modules: tc.modules, Moved: tc.moved, Imports: tc.imports}
			p, diags := plan.Diff(cfg, prior, actual, plan.Options{Destroy: tc.destroy})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var human, js bytes.Buffer
			if err := Human(&human, p); err != nil {
				t.Fatal(err)
			}
			if err := JSON(&js, p); err != nil {
				t.Fatal(err)
			}
			for file, got := range map[string]string{"human.golden": human.String(), "plan.json.golden": js.String()} {
				if strings.Contains(got, "c2VjcmV0") || strings.Contains(got, "hunter2") {
					t.Errorf("%s shows a secret", file)
				}
				golden(t, filepath.Join("testdata", name, file), got)
			}
		})
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
