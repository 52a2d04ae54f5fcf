package hubtest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

var replaceTests = []test{
	{"Replaces", testReplaceTwin},
	{"EmptySections", testReplaceTwinEmpty},
	{"IfMatch", testReplaceTwinIfMatch},
	{"RefusesNull", testReplaceTwinNull},
	{"Metadata", testReplaceTwinMetadata},
	{"Missing", testReplaceTwinMissing},
	{"ModuleTwin", testReplaceModuleTwin},
}

func replaceTwin(t *testing.T, h hub.Hub, deviceID string, r hub.TwinPatch, ifMatch string) *hub.Twin {
	t.Helper()
	tw, err := h.ReplaceTwin(t.Context(), deviceID, r, ifMatch)
	if err != nil {
		t.Fatalf("ReplaceTwin(%q): %v", deviceID, err)
	}
	return tw
}

// testReplaceTwin checks that a replace keeps nothing of the tags and
// desired properties it replaces, and bumps the versions once.
func testReplaceTwin(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	before := patchTwin(t, h, id, hub.TwinPatch{
		Tags:    map[string]any{"site": "berlin", "location": map[string]any{"floor": 3.0, "room": "a1"}},
		Desired: map[string]any{"interval": 10.0, "cfg": map[string]any{"mode": "eco", "low": 1.0}},
	}, "")

	got := replaceTwin(t, h, id, hub.TwinPatch{
		Tags:    map[string]any{"location": map[string]any{"wing": "west"}},
		Desired: map[string]any{"cfg": map[string]any{"high": 9.0}, "enabled": true},
	}, "")
	if d := cmp.Diff(map[string]any{"location": map[string]any{"wing": "west"}}, got.Tags); d != "" {
		t.Errorf("tags after replace mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"cfg": map[string]any{"high": 9.0}, "enabled": true}, got.Properties.Desired.Properties()); d != "" {
		t.Errorf("desired after replace mismatch (-want +got):\n%s", d)
	}
	if v, want := got.Properties.Desired.Version(), before.Properties.Desired.Version()+1; v != want {
		t.Errorf("desired $version = %d, want %d", v, want)
	}
	if v := got.Properties.Reported.Version(); v != 1 {
		t.Errorf("reported $version = %d, want 1 (the service never writes reported)", v)
	}
	if got.Version <= before.Version {
		t.Errorf("twin version went from %d to %d, want it to grow", before.Version, got.Version)
	}
	if got.ETag == before.ETag {
		t.Errorf("twin etag stayed %q", got.ETag)
	}
	if d := cmp.Diff(got, getTwin(t, h, id), equateEmpty); d != "" {
		t.Errorf("Twin() differs from ReplaceTwin()'s answer (-replace +get):\n%s", d)
	}
}

func testReplaceTwinEmpty(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	before := patchTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"a": 1.0}, Desired: map[string]any{"b": 2.0}}, "")
	got := replaceTwin(t, h, id, hub.TwinPatch{}, "")
	if len(got.Tags) != 0 || len(got.Properties.Desired.Properties()) != 0 {
		t.Errorf("after replacing with nothing: tags %v, desired %v, want both empty", got.Tags, got.Properties.Desired.Properties())
	}
	if v, want := got.Properties.Desired.Version(), before.Properties.Desired.Version()+1; v != want {
		t.Errorf("desired $version = %d, want %d", v, want)
	}
}

func testReplaceTwinIfMatch(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	first := getTwin(t, h, id)
	second := replaceTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"n": 1.0}}, first.ETag)

	_, err := h.ReplaceTwin(t.Context(), id, hub.TwinPatch{Tags: map[string]any{"n": 2.0}}, first.ETag)
	wantError(t, "ReplaceTwin with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)
	if got := getTwin(t, h, id); got.ETag != second.ETag {
		t.Errorf("a refused replace changed the twin's etag from %q to %q", second.ETag, got.ETag)
	}
	for i, ifMatch := range []string{`"` + second.ETag + `"`, "*", ""} {
		n := float64(i + 3)
		if tw := replaceTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"n": n}}, ifMatch); tw.Tags["n"] != n {
			t.Errorf("ReplaceTwin with If-Match %q: tag n = %v, want %v", ifMatch, tw.Tags["n"], n)
		}
	}
}

func testReplaceTwinNull(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	before := getTwin(t, h, id)
	for name, r := range map[string]hub.TwinPatch{
		"null desired": {Desired: map[string]any{"a": nil}},
		"nested null":  {Tags: map[string]any{"a": map[string]any{"b": nil}}},
		"bad key":      {Desired: map[string]any{"a.b": 1.0}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.ReplaceTwin(t.Context(), id, r, "")
			wantError(t, "ReplaceTwin", err, hub.ErrBadRequest, 0)
			if got := getTwin(t, h, id); got.ETag != before.ETag {
				t.Errorf("a refused replace changed the twin's etag from %q to %q", before.ETag, got.ETag)
			}
		})
	}
}

// testReplaceTwinMetadata checks that desired $metadata describes the new
// document only: replaced keys leave no node behind, and every node carries
// the replace's $version.
func testReplaceTwinMetadata(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	patchTwin(t, h, id, hub.TwinPatch{Desired: map[string]any{"old": 1.0, "keep": map[string]any{"x": 1.0}}}, "")
	tw := replaceTwin(t, h, id, hub.TwinPatch{Desired: map[string]any{"keep": map[string]any{"y": 2.0}, "new": "v"}}, "")
	version := float64(tw.Properties.Desired.Version())
	for _, tc := range []struct {
		path    []string
		present bool
	}{
		{nil, true},
		{[]string{"keep"}, true},
		{[]string{"keep", "y"}, true},
		{[]string{"new"}, true},
		{[]string{"old"}, false},
		{[]string{"keep", "x"}, false},
	} {
		node, ok := metadataAt(tw.Properties.Desired, tc.path...)
		name := "desired $metadata at " + pathName(tc.path)
		if ok != tc.present {
			t.Errorf("%s present = %v, want %v", name, ok, tc.present)
			continue
		}
		if !ok {
			continue
		}
		checkLastUpdated(t, name, node)
		if got := node["$lastUpdatedVersion"]; got != version {
			t.Errorf("%s.$lastUpdatedVersion = %v, want %v", name, got, version)
		}
	}
}

func pathName(path []string) string {
	if len(path) == 0 {
		return "the root"
	}
	return strings.Join(path, ".")
}

func testReplaceTwinMissing(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	_, err := h.ReplaceTwin(ctx, testID(t, "missing"), hub.TwinPatch{}, "")
	wantError(t, "ReplaceTwin of a missing device", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	_, err = h.ReplaceModuleTwin(ctx, id, "missing", hub.TwinPatch{}, "")
	wantError(t, "ReplaceModuleTwin of a missing module", err, hub.ErrNotFound, hub.CodeModuleNotFound.Number)
}

func testReplaceModuleTwin(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	createModule(t, h, &hub.Module{DeviceID: id, ModuleID: "m"})
	patchTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"site": "berlin"}}, "")
	before, err := h.PatchModuleTwin(ctx, id, "m", hub.TwinPatch{Tags: map[string]any{"old": true}, Desired: map[string]any{"old": true}}, "")
	if err != nil {
		t.Fatalf("PatchModuleTwin: %v", err)
	}

	got, err := h.ReplaceModuleTwin(ctx, id, "m", hub.TwinPatch{Tags: map[string]any{"role": "sensor"}, Desired: map[string]any{"warn": 75.0}}, before.ETag)
	if err != nil {
		t.Fatalf("ReplaceModuleTwin: %v", err)
	}
	if got.ModuleID != "m" || got.DeviceID != id {
		t.Errorf("replaced twin of %q/%q, want %q/m", got.DeviceID, got.ModuleID, id)
	}
	if d := cmp.Diff(map[string]any{"role": "sensor"}, got.Tags); d != "" {
		t.Errorf("module tags mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"warn": 75.0}, got.Properties.Desired.Properties()); d != "" {
		t.Errorf("module desired mismatch (-want +got):\n%s", d)
	}
	_, err = h.ReplaceModuleTwin(ctx, id, "m", hub.TwinPatch{}, before.ETag)
	wantError(t, "ReplaceModuleTwin with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)
	if d := cmp.Diff(map[string]any{"site": "berlin"}, getTwin(t, h, id).Tags); d != "" {
		t.Errorf("device tags changed by a module twin replace (-want +got):\n%s", d)
	}
}
