package plan

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

// dev is a configured device at device.d["<key>"].
func dev(key, id string, tags, desired map[string]any) *config.Device {
	return &config.Device{Addr: config.Addr{Type: "device", Name: "d", Key: key}, DeviceID: id, Tags: tags, Desired: desired}
}

// res is a managed device as the state records it.
func res(key, id string, tags, desired map[string]any) *state.Resource {
	return &state.Resource{Addr: config.Addr{Type: "device", Name: "d", Key: key}.String(), Type: "device", DeviceID: id,
		Status: hub.StatusEnabled, Auth: hub.AuthSAS, Tags: tags, Desired: desired, PrimaryKey: "secret-primary", SecondaryKey: "secret-secondary"}
}

// twin is a device twin on the hub.
func twin(id string, tags, desired map[string]any) *hub.Twin {
	d := hub.TwinCollection{"$version": float64(1)}
	for k, v := range desired {
		d[k] = v
	}
	return &hub.Twin{DeviceID: id, ETag: "AAAAAAAAAAE=", DeviceETag: "MA==", Status: hub.StatusEnabled, Tags: tags,
		Properties: hub.TwinProperties{Desired: d, Reported: hub.TwinCollection{"$version": float64(1)}}}
}

type obj = map[string]any

type wantChange struct {
	Addr           string
	Action         Action
	Attrs          []string // "op path before->after [drift]"
	Gone           bool
	Owned, Foreign int
}

func summarize(p *Plan) []wantChange {
	var out []wantChange
	for _, c := range p.Changes {
		w := wantChange{Addr: c.Addr, Action: c.Action, Gone: c.Gone, Owned: c.Owned, Foreign: c.Foreign}
		if c.Action == Update {
			for _, a := range c.Attrs {
				s := a.Op.String() + " " + a.Path + " " + valueString(a.Before) + "->" + valueString(a.After)
				if a.Drift {
					s += " drift"
				}
				w.Attrs = append(w.Attrs, s)
			}
		}
		out = append(out, w)
	}
	return out
}

func valueString(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case string:
		return v
	case float64:
		return "n" + string(rune('0'+int(v)%10))
	case bool:
		if v {
			return "true"
		}
		return "false"
	default:
		return "obj"
	}
}

func TestDiff(t *testing.T) {
	a := `device.d["a"]`
	tests := map[string]struct {
		desired []*config.Device
		prior   []*state.Resource
		actual  []*hub.Twin
		destroy bool
		want    []wantChange
		diags   int
	}{
		"new device": {
			desired: []*config.Device{dev("a", "dev-a", obj{"site": "berlin"}, nil)},
			want:    []wantChange{{Addr: a, Action: Create}},
		},
		"no changes": {
			desired: []*config.Device{dev("a", "dev-a", obj{"site": "berlin"}, obj{"interval": 10.0})},
			prior:   []*state.Resource{res("a", "dev-a", obj{"site": "berlin"}, obj{"interval": 10.0})},
			actual:  []*hub.Twin{twin("dev-a", obj{"site": "berlin", "other": "x"}, obj{"interval": 10.0})},
		},
		"changed tag touches only that key": {
			desired: []*config.Device{dev("a", "dev-a", obj{"site": "berlin", "floor": 4.0}, nil)},
			prior:   []*state.Resource{res("a", "dev-a", obj{"site": "berlin", "floor": 3.0}, nil)},
			actual:  []*hub.Twin{twin("dev-a", obj{"site": "berlin", "floor": 3.0, "owner": "ops"}, nil)},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"update tags.floor n3->n4"}, Owned: 1, Foreign: 1}},
		},
		"removed desired key is removed": {
			desired: []*config.Device{dev("a", "dev-a", nil, obj{"interval": 10.0})},
			prior:   []*state.Resource{res("a", "dev-a", nil, obj{"interval": 10.0, "legacy": true})},
			actual:  []*hub.Twin{twin("dev-a", nil, obj{"interval": 10.0, "legacy": true})},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"remove desired.legacy true->nil"}, Owned: 1}},
		},
		"removed key already gone from the hub": {
			desired: []*config.Device{dev("a", "dev-a", nil, obj{"interval": 10.0})},
			prior:   []*state.Resource{res("a", "dev-a", nil, obj{"interval": 10.0, "legacy": true})},
			actual:  []*hub.Twin{twin("dev-a", nil, obj{"interval": 10.0})},
		},
		"owned key changed outside is drift": {
			desired: []*config.Device{dev("a", "dev-a", nil, obj{"interval": 1.0})},
			prior:   []*state.Resource{res("a", "dev-a", nil, obj{"interval": 1.0})},
			actual:  []*hub.Twin{twin("dev-a", nil, obj{"interval": 9.0})},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"update desired.interval n9->n1 drift"}}},
		},
		"owned key removed outside is drift": {
			desired: []*config.Device{dev("a", "dev-a", obj{"site": "berlin"}, nil)},
			prior:   []*state.Resource{res("a", "dev-a", obj{"site": "berlin"}, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"add tags.site nil->berlin drift"}}},
		},
		"nested keys: others' siblings are foreign": {
			desired: []*config.Device{dev("a", "dev-a", nil, obj{"cfg": obj{"a": 1.0}})},
			prior:   []*state.Resource{res("a", "dev-a", nil, obj{"cfg": obj{"a": 1.0}})},
			actual:  []*hub.Twin{twin("dev-a", nil, obj{"cfg": obj{"a": 2.0, "b": 3.0}})},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"update desired.cfg.a n2->n1 drift"}, Foreign: 1}},
		},
		"object replaced by a value: no separate removal": {
			desired: []*config.Device{dev("a", "dev-a", nil, obj{"cfg": 5.0})},
			prior:   []*state.Resource{res("a", "dev-a", nil, obj{"cfg": obj{"a": 1.0}})},
			actual:  []*hub.Twin{twin("dev-a", nil, obj{"cfg": obj{"a": 1.0}})},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"update desired.cfg obj->n5"}}},
		},
		"status change": {
			desired: []*config.Device{{Addr: config.Addr{Type: "device", Name: "d", Key: "a"}, DeviceID: "dev-a", Status: hub.StatusDisabled, StatusReason: "repair"}},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			want:    []wantChange{{Addr: a, Action: Update, Attrs: []string{"update status enabled->disabled", "add status_reason nil->repair"}}},
		},
		"removed from the configuration": {
			prior:  []*state.Resource{res("a", "dev-a", nil, nil)},
			actual: []*hub.Twin{twin("dev-a", nil, nil)},
			want:   []wantChange{{Addr: a, Action: Delete}},
		},
		"removed from the configuration and gone from the hub": {
			prior: []*state.Resource{res("a", "dev-a", nil, nil)},
			want:  []wantChange{{Addr: a, Action: Delete, Gone: true}},
		},
		"deleted outside is created again": {
			desired: []*config.Device{dev("a", "dev-a", nil, nil)},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			want:    []wantChange{{Addr: a, Action: Create}},
		},
		"device ID change forces replacement": {
			desired: []*config.Device{dev("a", "dev-b", nil, nil)},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			want:    []wantChange{{Addr: a, Action: Replace}},
		},
		"device on the hub but not in the state is refused": {
			desired: []*config.Device{dev("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			diags:   1,
		},
		"ID moving between addresses is not refused": {
			desired: []*config.Device{dev("b", "dev-a", nil, nil)},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil)},
			want:    []wantChange{{Addr: a, Action: Delete}, {Addr: `device.d["b"]`, Action: Create}},
		},
		"destroy deletes what the state holds": {
			desired: []*config.Device{dev("a", "dev-a", nil, nil), dev("b", "dev-b", nil, nil)},
			prior:   []*state.Resource{res("a", "dev-a", nil, nil)},
			actual:  []*hub.Twin{twin("dev-a", nil, nil), twin("other", nil, nil)},
			destroy: true,
			want:    []wantChange{{Addr: a, Action: Delete}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			prior := &state.State{Lineage: "l", Serial: 3, Resources: map[string]*state.Resource{}}
			for _, r := range tt.prior {
				prior.Resources[r.Addr] = r
			}
			actual := &Actual{Devices: map[string]*hub.Twin{}}
			for _, tw := range tt.actual {
				actual.Devices[tw.DeviceID] = tw
			}
			p, diags := Diff(&config.Config{Devices: tt.desired}, prior, actual, Options{Destroy: tt.destroy})
			if len(diags) != tt.diags {
				t.Fatalf("Diff() diagnostics = %v, want %d", diags, tt.diags)
			}
			if d := cmp.Diff(tt.want, summarize(p)); d != "" {
				t.Errorf("Diff() mismatch (-want +got):\n%s", d)
			}
			for _, c := range p.Changes {
				if c.Before != nil && (c.Before.PrimaryKey != "" || c.Before.SecondaryKey != "") {
					t.Errorf("%s: plan carries a key", c.Addr)
				}
			}
			if p.Lineage != "l" || p.Serial != 3 {
				t.Errorf("plan lineage/serial = %s/%d, want l/3", p.Lineage, p.Serial)
			}
		})
	}
}

func TestPatch(t *testing.T) {
	c := &Change{Attrs: []AttrChange{
		{Path: "status", Op: OpUpdate, Before: "enabled", After: "disabled"},
		{Path: "tags.site", Op: OpUpdate, Before: "a", After: "b"},
		{Path: "desired.cfg.interval", Op: OpSet, After: 5.0},
		{Path: "desired.cfg.old", Op: OpRemove, Before: true},
	}}
	tags, desired := c.Patch()
	if d := cmp.Diff(obj{"site": "b"}, tags); d != "" {
		t.Errorf("tags patch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(obj{"cfg": obj{"interval": 5.0, "old": nil}}, desired); d != "" {
		t.Errorf("desired patch (-want +got):\n%s", d)
	}
	if !c.RegistryChanged() {
		t.Error("RegistryChanged() = false, want true")
	}
}
