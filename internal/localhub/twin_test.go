package localhub

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

// meta builds an expected $metadata node: its time, its
// $lastUpdatedVersion (0 for none) and its children as name, node pairs.
func meta(at time.Time, version float64, children ...any) map[string]any {
	m := map[string]any{"$lastUpdated": at.Format("2006-01-02T15:04:05.0000000Z")}
	if version != 0 {
		m["$lastUpdatedVersion"] = version
	}
	for i := 0; i < len(children); i += 2 {
		m[children[i].(string)] = children[i+1]
	}
	return m
}

// TestTwinExact follows one twin through its life with a fixed clock and
// compares the whole twin after each step.
func TestTwinExact(t *testing.T) {
	ctx := t.Context()
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	t0 := t0.Truncate(100 * time.Nanosecond)
	t1, t2, t3, t4 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute), t0.Add(4*time.Minute)

	d := mustCreateDevice(t, h, &hub.Device{DeviceID: "thermo-1"})
	base := hub.Twin{
		DeviceID:           "thermo-1",
		DeviceETag:         d.ETag,
		Status:             hub.StatusEnabled,
		ConnectionState:    "Disconnected",
		AuthenticationType: hub.AuthSAS,
		Capabilities:       &hub.DeviceCapabilities{},
	}
	want := func(version int64, etag string, tags map[string]any, desired, reported hub.TwinCollection) *hub.Twin {
		tw := base
		tw.Version, tw.ETag, tw.Tags = version, etag, tags
		tw.Properties = hub.TwinProperties{Desired: desired, Reported: reported}
		return &tw
	}
	newReported := hub.TwinCollection{"$version": 1.0, "$metadata": meta(t0, 0)}

	steps := []struct {
		name  string
		at    time.Time
		write func() (*hub.Twin, error)
		want  *hub.Twin
	}{
		{
			name:  "new",
			at:    t0,
			write: func() (*hub.Twin, error) { return h.Twin(ctx, "thermo-1") },
			want:  want(1, "AAAAAAAAAAE=", nil, hub.TwinCollection{"$version": 1.0, "$metadata": meta(t0, 1)}, newReported),
		},
		{
			name: "desired and tags",
			at:   t1,
			write: func() (*hub.Twin, error) {
				return h.PatchTwin(ctx, "thermo-1", hub.TwinPatch{
					Tags:    map[string]any{"site": "berlin"},
					Desired: map[string]any{"interval": 10, "cfg": map[string]any{"mode": "eco", "limits": map[string]any{"low": 1}}},
				}, "")
			},
			want: want(2, "AAAAAAAAAAI=", map[string]any{"site": "berlin"},
				hub.TwinCollection{
					"interval": 10.0,
					"cfg":      map[string]any{"mode": "eco", "limits": map[string]any{"low": 1.0}},
					"$version": 2.0,
					"$metadata": meta(t1, 2,
						"interval", meta(t1, 2),
						"cfg", meta(t1, 2, "mode", meta(t1, 2), "limits", meta(t1, 2, "low", meta(t1, 2)))),
				},
				newReported),
		},
		{
			name: "desired removal and nested write",
			at:   t2,
			write: func() (*hub.Twin, error) {
				return h.PatchTwin(ctx, "thermo-1", hub.TwinPatch{
					Desired: map[string]any{"cfg": map[string]any{"limits": map[string]any{"low": nil, "high": 9}}},
				}, "AAAAAAAAAAI=")
			},
			want: want(3, "AAAAAAAAAAM=", map[string]any{"site": "berlin"},
				hub.TwinCollection{
					"interval": 10.0,
					"cfg":      map[string]any{"mode": "eco", "limits": map[string]any{"high": 9.0}},
					"$version": 3.0,
					"$metadata": meta(t2, 3,
						"interval", meta(t1, 2),
						"cfg", meta(t2, 3, "mode", meta(t1, 2), "limits", meta(t2, 3, "high", meta(t2, 3)))),
				},
				newReported),
		},
		{
			name: "reported by the device",
			at:   t3,
			write: func() (*hub.Twin, error) {
				return h.UpdateReported(ctx, "thermo-1", "", map[string]any{"temp": 21.5, "fw": map[string]any{"version": "1.0"}})
			},
			want: want(4, "AAAAAAAAAAQ=", map[string]any{"site": "berlin"},
				hub.TwinCollection{
					"interval": 10.0,
					"cfg":      map[string]any{"mode": "eco", "limits": map[string]any{"high": 9.0}},
					"$version": 3.0,
					"$metadata": meta(t2, 3,
						"interval", meta(t1, 2),
						"cfg", meta(t2, 3, "mode", meta(t1, 2), "limits", meta(t2, 3, "high", meta(t2, 3)))),
				},
				hub.TwinCollection{
					"temp":      21.5,
					"fw":        map[string]any{"version": "1.0"},
					"$version":  2.0,
					"$metadata": meta(t3, 0, "temp", meta(t3, 0), "fw", meta(t3, 0, "version", meta(t3, 0))),
				}),
		},
		{
			name: "tags only leave desired metadata alone",
			at:   t4,
			write: func() (*hub.Twin, error) {
				return h.PatchTwin(ctx, "thermo-1", hub.TwinPatch{Tags: map[string]any{"site": nil, "floor": 3}}, "*")
			},
			want: want(5, "AAAAAAAAAAU=", map[string]any{"floor": 3.0},
				hub.TwinCollection{
					"interval": 10.0,
					"cfg":      map[string]any{"mode": "eco", "limits": map[string]any{"high": 9.0}},
					"$version": 3.0,
					"$metadata": meta(t2, 3,
						"interval", meta(t1, 2),
						"cfg", meta(t2, 3, "mode", meta(t1, 2), "limits", meta(t2, 3, "high", meta(t2, 3)))),
				},
				hub.TwinCollection{
					"temp":      21.5,
					"fw":        map[string]any{"version": "1.0"},
					"$version":  2.0,
					"$metadata": meta(t3, 0, "temp", meta(t3, 0), "fw", meta(t3, 0, "version", meta(t3, 0))),
				}),
		},
	}
	for _, st := range steps {
		clock.Set(st.at)
		got, err := st.write()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if d := cmp.Diff(st.want, got); d != "" {
			t.Errorf("%s: twin mismatch (-want +got):\n%s", st.name, d)
		}
		read, err := h.Twin(ctx, "thermo-1")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(got, read); d != "" {
			t.Errorf("%s: Twin() differs from the write's answer (-write +read):\n%s", st.name, d)
		}
	}
}

func TestApplyMerge(t *testing.T) {
	at := t0
	tests := map[string]struct {
		before, patch map[string]any
		want          map[string]any
	}{
		"add to empty": {
			patch: map[string]any{"a": 1.0},
			want:  map[string]any{"a": 1.0},
		},
		"removal empties an object, which stays": {
			before: map[string]any{"a": map[string]any{"b": 1.0}},
			patch:  map[string]any{"a": map[string]any{"b": nil}},
			want:   map[string]any{"a": map[string]any{}},
		},
		"empty object in a patch is stored": {
			before: map[string]any{"a": 1.0},
			patch:  map[string]any{"b": map[string]any{}},
			want:   map[string]any{"a": 1.0, "b": map[string]any{}},
		},
		"empty object merges into an object without change": {
			before: map[string]any{"a": map[string]any{"b": 1.0}},
			patch:  map[string]any{"a": map[string]any{}},
			want:   map[string]any{"a": map[string]any{"b": 1.0}},
		},
		"nulls inside a new object are dropped": {
			patch: map[string]any{"a": map[string]any{"b": nil, "c": 2.0}},
			want:  map[string]any{"a": map[string]any{"c": 2.0}},
		},
		"arrays replace wholesale": {
			before: map[string]any{"a": []any{1.0, 2.0, 3.0}},
			patch:  map[string]any{"a": []any{4.0}},
			want:   map[string]any{"a": []any{4.0}},
		},
		"removing the last key": {
			before: map[string]any{"a": 1.0},
			patch:  map[string]any{"a": nil},
			want:   nil,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tw := newTwin(at, 1)
			tw.apply(twinChange{desired: tt.before, tags: tt.before}, at)
			tw.apply(twinChange{desired: tt.patch, tags: tt.patch}, at)
			if d := cmp.Diff(tt.want, tw.Desired.Props); d != "" {
				t.Errorf("desired mismatch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.want, tw.Tags); d != "" {
				t.Errorf("tags mismatch (-want +got):\n%s", d)
			}
			// $metadata mirrors every object level of the result.
			var walk func(path string, props map[string]any, m *metaNode)
			walk = func(path string, props map[string]any, m *metaNode) {
				if len(m.Children) != len(props) {
					t.Errorf("$metadata%s has %d children for %d members", path, len(m.Children), len(props))
				}
				for k, v := range props {
					c := m.Children[k]
					if c == nil {
						t.Errorf("$metadata%s.%s is missing", path, k)
						continue
					}
					if o, ok := v.(map[string]any); ok {
						walk(path+"."+k, o, c)
					} else if len(c.Children) != 0 {
						t.Errorf("$metadata%s.%s of a leaf has children", path, k)
					}
				}
			}
			walk("", tw.Desired.Props, tw.Desired.Meta)
		})
	}
}

func TestPatchNormalizesValues(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
	patch := map[string]any{
		"int":   7,
		"int64": int64(1 << 40),
		"list":  []string{"a", "b"},
		"typed": map[string]string{"k": "v"},
	}
	tw, err := h.PatchTwin(ctx, "d", hub.TwinPatch{Desired: patch}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"int":   7.0,
		"int64": float64(1 << 40),
		"list":  []any{"a", "b"},
		"typed": map[string]any{"k": "v"},
	}
	if d := cmp.Diff(want, tw.Properties.Desired.Properties()); d != "" {
		t.Errorf("stored desired mismatch (-want +got):\n%s", d)
	}
	patch["int"] = 8 // the hub keeps no reference to the caller's map
	if got, _ := h.Twin(ctx, "d"); got.Properties.Desired["int"] != 7.0 {
		t.Errorf("changing the caller's patch changed the twin: %v", got.Properties.Desired["int"])
	}

	_, err = h.PatchTwin(ctx, "d", hub.TwinPatch{Desired: map[string]any{"nan": math.NaN()}}, "")
	wantCode(t, "NaN", err, hub.CodeArgumentInvalid)
}

func TestUpdateReported(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
	mustCreateModule(t, h, &hub.Module{DeviceID: "d", ModuleID: "m"})
	if _, err := h.PatchTwin(ctx, "d", hub.TwinPatch{Desired: map[string]any{"interval": 5.0}}, ""); err != nil {
		t.Fatal(err)
	}
	before, err := h.Twin(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}

	tw, err := h.UpdateReported(ctx, "d", "", map[string]any{"fw": map[string]any{"version": "1.0", "state": "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	tw, err = h.UpdateReported(ctx, "d", "", map[string]any{"fw": map[string]any{"state": nil}, "temp": 20.0})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]any{"fw": map[string]any{"version": "1.0"}, "temp": 20.0}, tw.Properties.Reported.Properties()); d != "" {
		t.Errorf("reported mismatch (-want +got):\n%s", d)
	}
	got := []int64{tw.Properties.Reported.Version(), tw.Properties.Desired.Version(), tw.Version}
	if d := cmp.Diff([]int64{3, 2, before.Version + 2}, got); d != "" {
		t.Errorf("versions (reported, desired, twin) mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(before.Properties.Desired, tw.Properties.Desired); d != "" {
		t.Errorf("a report changed desired (-before +after):\n%s", d)
	}
	if tw.ETag == before.ETag {
		t.Errorf("twin etag stayed %q after a report", tw.ETag)
	}
	if _, ok := tw.Properties.Reported["$metadata"].(map[string]any)["$lastUpdatedVersion"]; ok {
		t.Errorf("reported $metadata carries $lastUpdatedVersion")
	}

	mt, err := h.UpdateReported(ctx, "d", "m", map[string]any{"ready": true})
	if err != nil {
		t.Fatal(err)
	}
	if mt.ModuleID != "m" || mt.Properties.Reported["ready"] != true || mt.Properties.Reported.Version() != 2 {
		t.Errorf("module report: got twin %s/%s reported %v", mt.DeviceID, mt.ModuleID, mt.Properties.Reported)
	}

	for _, tc := range []struct {
		name             string
		device, module   string
		patch            map[string]any
		sentinel         error
		code             hub.ErrorCode
		wantUnchangedTag bool
	}{
		{name: "missing device", device: "nope", patch: map[string]any{"a": 1.0}, sentinel: hub.ErrNotFound, code: hub.CodeDeviceNotFound},
		{name: "missing module", device: "d", module: "nope", patch: map[string]any{"a": 1.0}, sentinel: hub.ErrNotFound, code: hub.CodeModuleNotFound},
		{name: "bad key", device: "d", patch: map[string]any{"a$": 1.0}, sentinel: hub.ErrBadRequest, code: hub.CodeArgumentInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.UpdateReported(ctx, tc.device, tc.module, tc.patch)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("got %v, want an error that Is %v", err, tc.sentinel)
			}
			wantCode(t, tc.name, err, tc.code)
		})
	}
}
