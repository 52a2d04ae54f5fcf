package plan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

func module(key, deviceID, moduleID string, desired map[string]any) *config.Module {
	return &config.Module{Addr: config.Addr{Type: config.TypeModule, Name: "m", Key: key}, DeviceID: deviceID, ModuleID: moduleID, Desired: desired}
}

func moduleRes(key, deviceID, moduleID string, desired map[string]any) *state.Resource {
	return &state.Resource{Addr: config.Addr{Type: config.TypeModule, Name: "m", Key: key}.String(), Type: state.TypeModule,
		DeviceID: deviceID, ModuleID: moduleID, Auth: hub.AuthSAS, Desired: desired}
}

func moduleTwin(deviceID, moduleID string, desired map[string]any) *hub.Twin {
	t := twin(deviceID, nil, desired)
	t.ModuleID = moduleID
	t.Status = ""
	return t
}

func TestDiffResources(t *testing.T) {
	a, ma := `device.d["a"]`, `device_module.m["a"]`
	tests := map[string]struct {
		desired []*config.Device
		modules []*config.Module
		moved   []*config.Moved
		imports []*config.Import
		prior   []*state.Resource
		actual  []*hub.Twin
		opts    Options
		want    []wantChange
		moves   map[string]string
		diags   []string
	}{
		"new module": {
			desired: []*config.Device{dev("a", "dev-a", nil, nil)},
			modules: []*config.Module{module("a", "dev-a", "agent", obj{"x": 1.0})},
			want:    []wantChange{{Addr: a, Action: Create}, {Addr: ma, Action: Create}},
		},
		"module twin drift": {
			desired: []*config.Device{dev("a", "dev-a", nil, nil)},
			modules: []*config.Module{module("a", "dev-a", "agent", obj{"x": 1.0})},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil), moduleRes("a", "dev-a", "agent", obj{"x": 1.0})},
			actual:  []*hub.Twin{twin("dev-a", nil, nil), moduleTwin("dev-a", "agent", obj{"x": 2.0})},
			want:    []wantChange{{Addr: ma, Action: Update, Attrs: []string{"update desired.x n2->n1 drift"}}},
		},
		"a module moving with its device is replaced": {
			desired: []*config.Device{dev("a", "dev-b", nil, nil)},
			modules: []*config.Module{module("a", "dev-b", "agent", obj{"x": 1.0})},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil), moduleRes("a", "dev-a", "agent", obj{"x": 1.0})},
			actual:  []*hub.Twin{twin("dev-a", nil, nil), moduleTwin("dev-a", "agent", obj{"x": 1.0})},
			want:    []wantChange{{Addr: a, Action: Replace}, {Addr: ma, Action: Replace}},
		},
		"modules of a replaced device are replaced": {
			desired: []*config.Device{{Addr: config.Addr{Type: "device", Name: "d", Key: "a"}, DeviceID: "dev-a", Auth: config.Auth{Type: config.AuthNone}}},
			modules: []*config.Module{module("a", "dev-a", "agent", obj{"x": 1.0})},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil), moduleRes("a", "dev-a", "agent", obj{"x": 1.0})},
			actual:  []*hub.Twin{twin("dev-a", nil, nil), moduleTwin("dev-a", "agent", obj{"x": 1.0})},
			want:    []wantChange{{Addr: a, Action: Replace}, {Addr: ma, Action: Replace, Gone: true}},
		},
		"ignore_changes": {
			desired: []*config.Device{{Addr: config.Addr{Type: "device", Name: "d", Key: "a"}, DeviceID: "dev-a", Status: hub.StatusEnabled,
				Tags:      obj{"site": "berlin", "lastService": "2026-01-01"},
				Lifecycle: config.Lifecycle{IgnoreChanges: []string{"status", "tags.lastService"}}}},
			prior: []*state.Resource{res("a", "dev-a", obj{"site": "berlin", "lastService": "2026-01-01"}, nil)},
			actual: []*hub.Twin{func() *hub.Twin {
				t := twin("dev-a", obj{"site": "paris", "lastService": "2026-11-01"}, nil)
				t.Status = hub.StatusDisabled
				return t
			}()},
			want: []wantChange{{Addr: a, Action: Update, Attrs: []string{"update tags.site paris->berlin drift"}, Owned: 1}},
		},
		"prevent_destroy blocks a replacement": {
			desired: []*config.Device{{Addr: config.Addr{Type: "device", Name: "d", Key: "a"}, DeviceID: "dev-new", Lifecycle: config.Lifecycle{PreventDestroy: true}}},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			want:    []wantChange{{Addr: a, Action: Replace}},
			diags:   []string{"Instance cannot be destroyed"},
		},
		"prevent_destroy blocks destroy": {
			desired: []*config.Device{{Addr: config.Addr{Type: "device", Name: "d", Key: "a"}, DeviceID: "dev-a", Lifecycle: config.Lifecycle{PreventDestroy: true}}},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			opts:    Options{Destroy: true},
			want:    []wantChange{{Addr: a, Action: Delete}},
			diags:   []string{"Instance cannot be destroyed"},
		},
		"auth type change forces replacement": {
			desired: []*config.Device{{Addr: config.Addr{Type: "device", Name: "d", Key: "a"}, DeviceID: "dev-a",
				Auth: config.Auth{Type: config.AuthX509Thumbprint, PrimaryThumbprint: "AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12"}}},
			prior:  []*state.Resource{res("a", "dev-a", nil, nil)},
			actual: []*hub.Twin{twin("dev-a", nil, nil)},
			want:   []wantChange{{Addr: a, Action: Replace}},
		},
		"key_version bump rotates keys in place": {
			desired: []*config.Device{{Addr: config.Addr{Type: "device", Name: "d", Key: "a"}, DeviceID: "dev-a", KeyVersion: 2}},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"add key_version nil->obj"}}},
		},
		"edge and parent": {
			desired: []*config.Device{
				{Addr: config.Addr{Type: "device", Name: "d", Key: "gw"}, DeviceID: "gw", Edge: true},
				{Addr: config.Addr{Type: "device", Name: "d", Key: "leaf"}, DeviceID: "leaf", Parent: "gw"},
			},
			prior:  []*state.Resource{res("gw", "gw", nil, nil), res("leaf", "leaf", nil, nil)},
			actual: []*hub.Twin{twin("gw", nil, nil), twin("leaf", nil, nil)},
			want: []wantChange{
				{Addr: `device.d["gw"]`, Action: Update, Attrs: []string{"add edge nil->true"}},
				{Addr: `device.d["leaf"]`, Action: Update, Attrs: []string{"add parent nil->gw"}},
			},
		},
		"moved: no hub change": {
			desired: []*config.Device{{Addr: config.Addr{Type: "device", Name: "e", Key: "a"}, DeviceID: "dev-a"}},
			moved:   []*config.Moved{{From: config.Addr{Type: "device", Name: "d"}, To: config.Addr{Type: "device", Name: "e"}}},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			want:    []wantChange{{Addr: `device.e["a"]`, Action: NoOp}},
			moves:   map[string]string{`device.e["a"]`: a},
		},
		"import": {
			desired: []*config.Device{dev("a", "dev-a", obj{"site": "berlin"}, nil)},
			imports: []*config.Import{{To: config.Addr{Type: "device", Name: "d", Key: "a"}, ID: "dev-a", DeviceID: "dev-a"}},
			actual:  []*hub.Twin{twin("dev-a", obj{"site": "paris", "x": 1.0}, nil)},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"update tags.site paris->berlin"}, Foreign: 1}},
		},
		"import of a missing device": {
			desired: []*config.Device{dev("a", "dev-a", nil, nil)},
			imports: []*config.Import{{To: config.Addr{Type: "device", Name: "d", Key: "a"}, ID: "dev-a", DeviceID: "dev-a"}},
			diags:   []string{"Cannot import non-existent hub object"},
		},
		"target includes dependencies": {
			desired: []*config.Device{dev("a", "dev-a", nil, nil), dev("b", "dev-b", nil, nil)},
			modules: []*config.Module{func() *config.Module {
				m := module("a", "dev-a", "agent", nil)
				m.Dependencies = []string{a}
				return m
			}()},
			opts: Options{Targets: []string{"device_module.m"}},
			want: []wantChange{{Addr: a, Action: Create}, {Addr: ma, Action: Create}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			prior := &state.State{Lineage: "l", Serial: 3, Resources: map[string]*state.Resource{}}
			for _, r := range tt.prior {
				prior.Resources[r.Addr] = r
			}
			actual := &Actual{Devices: map[string]*hub.Twin{}, Modules: map[string]*hub.Twin{}}
			for _, tw := range tt.actual {
				if tw.ModuleID != "" {
					actual.Modules[tw.DeviceID+"/"+tw.ModuleID] = tw
				} else {
					actual.Devices[tw.DeviceID] = tw
				}
			}
			if tw := actual.Devices["gw"]; tw != nil {
				tw.DeviceScope = "ms-azure-iot-edge://gw-1"
				if leaf := actual.Devices["leaf"]; leaf != nil && name != "edge and parent" {
					leaf.ParentScopes = []string{tw.DeviceScope}
				}
			}
			cfg := &config.Config{Devices: tt.desired, Modules: tt.modules, Moved: tt.moved, Imports: tt.imports}
			p, diags := Diff(cfg, prior, actual, tt.opts)
			if d := cmp.Diff(tt.diags, summaries(diags)); d != "" {
				t.Fatalf("diagnostics (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.want, summarize(p)); d != "" {
				t.Errorf("Diff() mismatch (-want +got):\n%s", d)
			}
			moves := map[string]string{}
			for _, c := range p.Changes {
				if c.MovedFrom != "" {
					moves[c.Addr] = c.MovedFrom
				}
			}
			if tt.moves == nil {
				tt.moves = map[string]string{}
			}
			if d := cmp.Diff(tt.moves, moves); d != "" {
				t.Errorf("moves (-want +got):\n%s", d)
			}
		})
	}
}

func summaries(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Summary)
	}
	return out
}
