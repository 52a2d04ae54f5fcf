package localhub

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

// TestReplaceTwinExact replaces a twin with a fixed clock and compares the
// whole twin and the desired-change notification.
func TestReplaceTwinExact(t *testing.T) {
	ctx := t.Context()
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	t0 := t0.Truncate(100 * time.Nanosecond)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)

	d := mustCreateDevice(t, h, &hub.Device{DeviceID: "thermo-1"})
	clock.Set(t1)
	if _, err := h.PatchTwin(ctx, "thermo-1", hub.TwinPatch{
		Tags:    map[string]any{"site": "berlin"},
		Desired: map[string]any{"interval": 10, "cfg": map[string]any{"mode": "eco"}},
	}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.UpdateReported(ctx, "thermo-1", "", map[string]any{"temp": 20}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var seen []DesiredChange
	stop := h.WatchDesired(func(c DesiredChange) { mu.Lock(); seen = append(seen, c); mu.Unlock() })
	defer stop()

	clock.Set(t2)
	got, err := h.ReplaceTwin(ctx, "thermo-1", hub.TwinPatch{
		Tags:    map[string]any{"floor": 3},
		Desired: map[string]any{"cfg": map[string]any{"limits": map[string]any{"high": 9}}, "on": true},
	}, `"AAAAAAAAAAM="`)
	if err != nil {
		t.Fatal(err)
	}
	want := &hub.Twin{
		DeviceID:           "thermo-1",
		DeviceETag:         d.ETag,
		ETag:               "AAAAAAAAAAQ=",
		Version:            4,
		Status:             hub.StatusEnabled,
		ConnectionState:    "Disconnected",
		AuthenticationType: hub.AuthSAS,
		Capabilities:       &hub.DeviceCapabilities{},
		Tags:               map[string]any{"floor": 3.0},
		Properties: hub.TwinProperties{
			Desired: hub.TwinCollection{
				"cfg":      map[string]any{"limits": map[string]any{"high": 9.0}},
				"on":       true,
				"$version": 3.0,
				"$metadata": meta(t2, 3,
					"cfg", meta(t2, 3, "limits", meta(t2, 3, "high", meta(t2, 3))),
					"on", meta(t2, 3)),
			},
			Reported: hub.TwinCollection{
				"temp":      20.0,
				"$version":  2.0,
				"$metadata": meta(t1, 0, "temp", meta(t1, 0)),
			},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("replaced twin mismatch (-want +got):\n%s", d)
	}
	read, err := h.Twin(ctx, "thermo-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, read); d != "" {
		t.Errorf("Twin() differs from ReplaceTwin()'s answer (-replace +read):\n%s", d)
	}
	wantChanges := []DesiredChange{{
		DeviceID: "thermo-1", Replace: true, Version: 3,
		Patch: map[string]any{"cfg": map[string]any{"limits": map[string]any{"high": 9.0}}, "on": true},
	}}
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff(wantChanges, seen); d != "" {
		t.Errorf("desired changes mismatch (-want +got):\n%s", d)
	}
}

func TestReplaceTwinErrors(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
	mustCreateModule(t, h, &hub.Module{DeviceID: "d", ModuleID: "m"})
	big := map[string]any{}
	for i := range 10 {
		big[string(rune('a'+i))] = strings.Repeat("x", 1000)
	}
	tests := map[string]struct {
		call func() error
		want hub.ErrorCode
	}{
		"missing device": {func() error { _, err := h.ReplaceTwin(ctx, "nobody", hub.TwinPatch{}, ""); return err }, hub.CodeDeviceNotFound},
		"missing module": {func() error { _, err := h.ReplaceModuleTwin(ctx, "d", "nobody", hub.TwinPatch{}, ""); return err }, hub.CodeModuleNotFound},
		"empty module":   {func() error { _, err := h.ReplaceModuleTwin(ctx, "d", "", hub.TwinPatch{}, ""); return err }, hub.CodeArgumentInvalid},
		"stale etag":     {func() error { _, err := h.ReplaceTwin(ctx, "d", hub.TwinPatch{}, "AAAAAAAAAAA="); return err }, hub.CodePreconditionFailed},
		"null value": {func() error {
			_, err := h.ReplaceTwin(ctx, "d", hub.TwinPatch{Desired: map[string]any{"a": nil}}, "")
			return err
		}, hub.CodeArgumentInvalid},
		"tags too large": {func() error { _, err := h.ReplaceTwin(ctx, "d", hub.TwinPatch{Tags: big}, ""); return err }, hub.CodeArgumentInvalid},
		"unencodable": {func() error {
			_, err := h.ReplaceTwin(ctx, "d", hub.TwinPatch{Desired: map[string]any{"f": func() {}}}, "")
			return err
		}, hub.CodeArgumentInvalid},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			wantCode(t, name, tt.call(), tt.want)
		})
	}
}

func TestReplaceTwinReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateDevice(t, w, &hub.Device{DeviceID: "d"})
	w.Close()
	r := openTestHub(t, path, Options{ReadOnly: true})
	if _, err := r.ReplaceTwin(t.Context(), "d", hub.TwinPatch{}, ""); err == nil {
		t.Errorf("ReplaceTwin on a read-only hub succeeded")
	}
}
