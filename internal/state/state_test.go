package state

import (
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

func TestNew(t *testing.T) {
	uuidV4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		s := New()
		if !uuidV4.MatchString(s.Lineage) {
			t.Fatalf("New().Lineage = %q, want a version 4 UUID", s.Lineage)
		}
		if seen[s.Lineage] {
			t.Fatalf("New().Lineage %q repeated", s.Lineage)
		}
		seen[s.Lineage] = true
		if s.Serial != 0 || s.Resources == nil || len(s.Resources) != 0 {
			t.Fatalf("New() = %+v, want serial 0 and an empty, non-nil map", s)
		}
	}
}

func TestAddresses(t *testing.T) {
	tests := map[string]struct {
		s    *State
		want []string
	}{
		"nil map": {s: &State{}, want: nil},
		"empty":   {s: &State{Resources: map[string]*Resource{}}, want: nil},
		"sorted": {s: stateWith(`device.b`, `device.a["2"]`, `device.a`, `device.a["10"]`),
			want: []string{`device.a`, `device.a["10"]`, `device.a["2"]`, `device.b`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.s.Addresses()); d != "" {
				t.Errorf("Addresses() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestDeepCopy(t *testing.T) {
	tests := map[string]*State{
		"nil":           nil,
		"nil resources": {Lineage: "l", Serial: 3},
		"empty":         {Lineage: "l", Resources: map[string]*Resource{}},
		"full": {Lineage: "l", Serial: 9, Resources: map[string]*Resource{
			"device.a": fullResource("device.a"),
			"device.b": {Addr: "device.b", Tags: map[string]any{}, Desired: map[string]any{"x": []any(nil), "y": map[string]any(nil)}},
			"device.c": nil,
		}},
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			c := s.DeepCopy()
			if d := cmp.Diff(s, c); d != "" {
				t.Errorf("DeepCopy() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestDeepCopyShares(t *testing.T) {
	s := &State{Lineage: "l", Resources: map[string]*Resource{"device.a": fullResource("device.a")}}
	want := &State{Lineage: "l", Resources: map[string]*Resource{"device.a": fullResource("device.a")}}
	c := s.DeepCopy()

	// Change every level of the copy; the original must not move.
	c.Serial = 100
	c.Resources["device.z"] = &Resource{Addr: "device.z"}
	r := c.Resources["device.a"]
	r.DeviceID = "changed"
	r.Tags["site"] = "changed"
	r.Tags["nested"].(map[string]any)["deep"].(map[string]any)["leaf"] = "changed"
	r.Tags["list"].([]any)[0] = "changed"
	r.Tags["list"].([]any)[2].(map[string]any)["in"] = "changed"
	r.Desired["interval"] = -1.0
	delete(r.Desired, "flag")

	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("changing a DeepCopy changed the original (-want +got):\n%s", d)
	}
}

func fullResource(addr string) *Resource {
	return &Resource{
		Addr: addr, Type: "device", DeviceID: "dev", GenerationID: "g", ETag: "e", TwinETag: "te",
		Status: hub.StatusDisabled, StatusReason: "why", Auth: hub.AuthSAS,
		Tags: map[string]any{
			"site":   "berlin",
			"nested": map[string]any{"deep": map[string]any{"leaf": 1.0}},
			"list":   []any{"a", 2.0, map[string]any{"in": true}, nil, []any{}},
		},
		Desired:    map[string]any{"interval": 10.0, "flag": false, "none": nil},
		PrimaryKey: "p", SecondaryKey: "s",
	}
}

// stateWith returns a state with a bare resource at each address.
func stateWith(addrs ...string) *State {
	s := &State{Lineage: "l", Resources: map[string]*Resource{}}
	for _, a := range addrs {
		s.Resources[a] = &Resource{Addr: a, Type: "device"}
	}
	return s
}
