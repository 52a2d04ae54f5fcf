package hubtest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

var twinTests = []test{
	{"New", testNewTwin},
	{"Missing", testTwinMissing},
	{"PatchMerges", testPatchMerges},
	{"Versions", testTwinVersions},
	{"IfMatch", testTwinIfMatch},
	{"ConcurrentIfMatch", testTwinConcurrentIfMatch},
	{"Metadata", testTwinMetadata},
	{"InvalidContent", testTwinInvalid},
	{"MirrorsIdentity", testTwinMirrorsIdentity},
	{"ModuleTwin", testModuleTwin},
}

func testNewTwin(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	d := createDevice(t, h, &hub.Device{DeviceID: id})
	tw := getTwin(t, h, id)
	if tw.DeviceID != id || tw.ModuleID != "" {
		t.Errorf("twin of %q/%q, want %q", tw.DeviceID, tw.ModuleID, id)
	}
	if tw.ETag == "" {
		t.Errorf("twin has no etag")
	}
	if tw.DeviceETag != d.ETag {
		t.Errorf("DeviceETag = %q, want the device's etag %q", tw.DeviceETag, d.ETag)
	}
	if tw.Status != hub.StatusEnabled || tw.ConnectionState != "Disconnected" || tw.AuthenticationType != hub.AuthSAS {
		t.Errorf("Status, ConnectionState, AuthenticationType = %q, %q, %q, want enabled, Disconnected, sas", tw.Status, tw.ConnectionState, tw.AuthenticationType)
	}
	if len(tw.Tags) != 0 {
		t.Errorf("new twin has tags %v", tw.Tags)
	}
	for name, c := range map[string]hub.TwinCollection{"desired": tw.Properties.Desired, "reported": tw.Properties.Reported} {
		if p := c.Properties(); len(p) != 0 {
			t.Errorf("new twin has %s properties %v", name, p)
		}
		if v := c.Version(); v != 1 {
			t.Errorf("new twin's %s $version = %d, want 1", name, v)
		}
		if _, ok := c["$metadata"].(map[string]any); !ok {
			t.Errorf("new twin's %s has no $metadata object: %v", name, c)
		}
	}
}

func testTwinMissing(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "missing")
	_, err := h.Twin(ctx, id)
	wantError(t, "Twin of a missing device", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
	_, err = h.PatchTwin(ctx, id, hub.TwinPatch{Tags: map[string]any{"a": "b"}}, "")
	wantError(t, "PatchTwin of a missing device", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)

	dev := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: dev})
	_, err = h.ModuleTwin(ctx, dev, "missing")
	wantError(t, "ModuleTwin of a missing module", err, hub.ErrNotFound, hub.CodeModuleNotFound.Number)
	_, err = h.PatchModuleTwin(ctx, dev, "missing", hub.TwinPatch{Tags: map[string]any{"a": "b"}}, "")
	wantError(t, "PatchModuleTwin of a missing module", err, hub.ErrNotFound, hub.CodeModuleNotFound.Number)
}

// testPatchMerges applies patches one after the other and checks the tags
// and desired properties after each: objects merge recursively, other
// values replace, nil removes a key.
func testPatchMerges(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	steps := []struct {
		name                 string
		patch                hub.TwinPatch
		wantTags, wantDesire map[string]any
	}{
		{
			name: "first values",
			patch: hub.TwinPatch{
				Tags:    map[string]any{"site": "berlin", "location": map[string]any{"floor": 3.0, "room": "a1"}},
				Desired: map[string]any{"interval": 10.0, "cfg": map[string]any{"mode": "eco", "limits": map[string]any{"low": 1.0, "high": 9.0}}},
			},
			wantTags:   map[string]any{"site": "berlin", "location": map[string]any{"floor": 3.0, "room": "a1"}},
			wantDesire: map[string]any{"interval": 10.0, "cfg": map[string]any{"mode": "eco", "limits": map[string]any{"low": 1.0, "high": 9.0}}},
		},
		{
			name: "nested merge and removal",
			patch: hub.TwinPatch{
				Tags:    map[string]any{"location": map[string]any{"room": nil, "wing": "west"}},
				Desired: map[string]any{"interval": nil, "cfg": map[string]any{"limits": map[string]any{"high": nil, "max": 12.0}}, "enabled": true},
			},
			wantTags:   map[string]any{"site": "berlin", "location": map[string]any{"floor": 3.0, "wing": "west"}},
			wantDesire: map[string]any{"enabled": true, "cfg": map[string]any{"mode": "eco", "limits": map[string]any{"low": 1.0, "max": 12.0}}},
		},
		{
			name: "tags only",
			patch: hub.TwinPatch{
				Tags: map[string]any{"site": "paris"},
			},
			wantTags:   map[string]any{"site": "paris", "location": map[string]any{"floor": 3.0, "wing": "west"}},
			wantDesire: map[string]any{"enabled": true, "cfg": map[string]any{"mode": "eco", "limits": map[string]any{"low": 1.0, "max": 12.0}}},
		},
		{
			name: "object replaces value and value replaces object",
			patch: hub.TwinPatch{
				Tags:    map[string]any{"site": map[string]any{"city": "paris", "zip": "75001"}, "location": "basement"},
				Desired: map[string]any{"enabled": map[string]any{"from": "08:00"}, "cfg": "factory"},
			},
			wantTags:   map[string]any{"site": map[string]any{"city": "paris", "zip": "75001"}, "location": "basement"},
			wantDesire: map[string]any{"enabled": map[string]any{"from": "08:00"}, "cfg": "factory"},
		},
		{
			name: "removing a missing key changes nothing else",
			patch: hub.TwinPatch{
				Tags: map[string]any{"nothing": nil},
			},
			wantTags:   map[string]any{"site": map[string]any{"city": "paris", "zip": "75001"}, "location": "basement"},
			wantDesire: map[string]any{"enabled": map[string]any{"from": "08:00"}, "cfg": "factory"},
		},
		{
			name: "remove everything",
			patch: hub.TwinPatch{
				Tags:    map[string]any{"site": nil, "location": nil},
				Desired: map[string]any{"enabled": nil, "cfg": nil},
			},
			wantTags:   nil,
			wantDesire: nil,
		},
	}
	for _, st := range steps {
		patched := patchTwin(t, h, id, st.patch, "")
		if d := cmp.Diff(st.wantTags, patched.Tags, equateEmpty); d != "" {
			t.Errorf("%s: tags mismatch (-want +got):\n%s", st.name, d)
		}
		if d := cmp.Diff(st.wantDesire, patched.Properties.Desired.Properties(), equateEmpty); d != "" {
			t.Errorf("%s: desired mismatch (-want +got):\n%s", st.name, d)
		}
		if d := cmp.Diff(patched, getTwin(t, h, id), equateEmpty); d != "" {
			t.Errorf("%s: Twin() differs from PatchTwin()'s answer (-patch +get):\n%s", st.name, d)
		}
	}
}

func testTwinVersions(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	prev := getTwin(t, h, id)
	steps := []struct {
		name        string
		patch       hub.TwinPatch
		wantDesired int64
	}{
		{"desired", hub.TwinPatch{Desired: map[string]any{"a": 1.0}}, 2},
		{"tags", hub.TwinPatch{Tags: map[string]any{"a": 1.0}}, 2},
		{"desired again", hub.TwinPatch{Desired: map[string]any{"a": 2.0}}, 3},
		{"tags and desired", hub.TwinPatch{Tags: map[string]any{"b": 1.0}, Desired: map[string]any{"b": 1.0}}, 4},
		{"desired removal", hub.TwinPatch{Desired: map[string]any{"a": nil}}, 5},
	}
	for _, st := range steps {
		tw := patchTwin(t, h, id, st.patch, "")
		if got := tw.Properties.Desired.Version(); got != st.wantDesired {
			t.Errorf("%s: desired $version = %d, want %d", st.name, got, st.wantDesired)
		}
		if got := tw.Properties.Reported.Version(); got != 1 {
			t.Errorf("%s: reported $version = %d, want 1 (the service never writes reported)", st.name, got)
		}
		if tw.Version <= prev.Version {
			t.Errorf("%s: twin version went from %d to %d, want it to grow", st.name, prev.Version, tw.Version)
		}
		if tw.ETag == prev.ETag {
			t.Errorf("%s: twin etag stayed %q", st.name, tw.ETag)
		}
		prev = tw
	}
}

func testTwinIfMatch(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	first := getTwin(t, h, id)
	second := patchTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"n": 1.0}}, first.ETag)

	_, err := h.PatchTwin(ctx, id, hub.TwinPatch{Tags: map[string]any{"n": 2.0}}, first.ETag)
	wantError(t, "PatchTwin with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)
	if got := getTwin(t, h, id); got.ETag != second.ETag || got.Tags["n"] != 1.0 {
		t.Errorf("a refused patch changed the twin: etag %q, tags %v", got.ETag, got.Tags)
	}

	// A quoted etag (as the SDKs send it), "*", and no condition at all:
	// If-Match is optional on twin writes.
	for i, ifMatch := range []string{`"` + second.ETag + `"`, "*", ""} {
		n := float64(i + 3)
		tw := patchTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"n": n}}, ifMatch)
		if tw.Tags["n"] != n {
			t.Errorf("PatchTwin with If-Match %q: tag n = %v, want %v", ifMatch, tw.Tags["n"], n)
		}
	}
}

// testTwinConcurrentIfMatch races writers holding the same etag: exactly
// one may win.
func testTwinConcurrentIfMatch(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	etag := getTwin(t, h, id).ETag
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = h.PatchTwin(t.Context(), id, hub.TwinPatch{Desired: map[string]any{"writer": float64(i)}}, etag)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, hub.ErrPreconditionFailed):
			t.Errorf("writer %d: got error %v, want one that Is %q", i, err, hub.ErrPreconditionFailed)
		}
	}
	if won != 1 {
		t.Errorf("%d writers with the same etag succeeded, want 1", won)
	}
	if v := getTwin(t, h, id).Properties.Desired.Version(); v != 2 {
		t.Errorf("desired $version = %d after one successful write, want 2", v)
	}
}

// testTwinMetadata checks that desired $metadata mirrors every level with
// $lastUpdated and $lastUpdatedVersion, and that a removal keeps its trace
// in the parent only.
func testTwinMetadata(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	patchTwin(t, h, id, hub.TwinPatch{Desired: map[string]any{"a": map[string]any{"b": 1.0, "c": "x"}, "d": true}}, "")
	tw := patchTwin(t, h, id, hub.TwinPatch{Desired: map[string]any{"a": map[string]any{"b": nil}}}, "")

	desired := tw.Properties.Desired
	if v := desired.Version(); v != 3 {
		t.Fatalf("desired $version = %d, want 3", v)
	}
	for _, tc := range []struct {
		path        []string
		wantVersion float64 // 0: the node must be absent
	}{
		{nil, 3},
		{[]string{"a"}, 3},
		{[]string{"a", "b"}, 0},
		{[]string{"a", "c"}, 2},
		{[]string{"d"}, 2},
	} {
		name := "$metadata." + strings.Join(tc.path, ".")
		node, ok := metadataAt(desired, tc.path...)
		if tc.wantVersion == 0 {
			if ok {
				t.Errorf("%s = %v, want it removed with its key", name, node)
			}
			continue
		}
		if !ok {
			t.Errorf("%s is missing", name)
			continue
		}
		checkLastUpdated(t, name, node)
		if got := node["$lastUpdatedVersion"]; got != tc.wantVersion {
			t.Errorf("%s.$lastUpdatedVersion = %v, want %v", name, got, tc.wantVersion)
		}
	}
	if node, ok := metadataAt(tw.Properties.Reported); !ok {
		t.Errorf("reported has no $metadata")
	} else {
		checkLastUpdated(t, "reported $metadata", node)
	}
}

// metadataAt returns the $metadata node of a collection at a key path.
func metadataAt(c hub.TwinCollection, path ...string) (map[string]any, bool) {
	node, ok := c["$metadata"].(map[string]any)
	for _, k := range path {
		if !ok {
			return nil, false
		}
		node, ok = node[k].(map[string]any)
	}
	return node, ok
}

func checkLastUpdated(t *testing.T, name string, node map[string]any) {
	t.Helper()
	s, ok := node["$lastUpdated"].(string)
	if !ok {
		t.Errorf("%s.$lastUpdated = %v, want a timestamp", name, node["$lastUpdated"])
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		t.Errorf("%s.$lastUpdated = %q, not an ISO-8601 UTC time: %v", name, s, err)
	}
}

func testTwinInvalid(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	before := getTwin(t, h, id)
	// MaxTwinDepth+1 objects nested inside desired: one level more than
	// the reference's deepest valid example (tags.one.two...ten.property).
	deep := map[string]any{"leaf": 1.0}
	for range hub.MaxTwinDepth + 1 {
		deep = map[string]any{"n": deep}
	}
	bigTags := map[string]any{}
	for i := range 3 {
		bigTags[string(rune('a'+i))] = strings.Repeat("x", hub.MaxTwinStringBytes-10)
	}
	tests := map[string]struct {
		patch hub.TwinPatch
		// sentinel is the error the reference documents, nil where it
		// documents only that the write is refused.
		sentinel error
	}{
		"dot in key":      {hub.TwinPatch{Tags: map[string]any{"a.b": 1.0}}, hub.ErrBadRequest},
		"dollar in key":   {hub.TwinPatch{Desired: map[string]any{"$a": 1.0}}, hub.ErrBadRequest},
		"space in key":    {hub.TwinPatch{Desired: map[string]any{"a b": 1.0}}, hub.ErrBadRequest},
		"nested bad key":  {hub.TwinPatch{Desired: map[string]any{"a": map[string]any{"b.c": 1.0}}}, hub.ErrBadRequest},
		"too deep":        {hub.TwinPatch{Desired: deep}, nil},
		"string too long": {hub.TwinPatch{Desired: map[string]any{"s": strings.Repeat("x", hub.MaxTwinStringBytes+1)}}, nil},
		"tags too large":  {hub.TwinPatch{Tags: bigTags}, nil},
		"integer too big": {hub.TwinPatch{Desired: map[string]any{"n": float64(1 << 53)}}, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := h.PatchTwin(t.Context(), id, tt.patch, "")
			if tt.sentinel != nil {
				wantError(t, "PatchTwin", err, tt.sentinel, 0)
			} else if err == nil {
				t.Errorf("PatchTwin succeeded, want an error")
			}
			if got := getTwin(t, h, id); got.ETag != before.ETag {
				t.Errorf("a refused patch changed the twin's etag from %q to %q", before.ETag, got.ETag)
			}
		})
	}
}

func testTwinMirrorsIdentity(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	created := createDevice(t, h, &hub.Device{DeviceID: id})
	in := *created
	in.Status, in.StatusReason = hub.StatusDisabled, "stolen"
	updated, err := h.UpdateDevice(t.Context(), &in, created.ETag)
	if err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}
	tw := getTwin(t, h, id)
	got := []any{tw.DeviceETag, tw.Status, tw.StatusReason, tw.StatusUpdateTime.UTC(), tw.AuthenticationType}
	want := []any{updated.ETag, updated.Status, updated.StatusReason, updated.StatusUpdatedTime.UTC(), updated.Authentication.Type}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("twin's identity fields (deviceEtag, status, statusReason, statusUpdateTime, authenticationType) mismatch (-device +twin):\n%s", d)
	}
}

func testModuleTwin(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	createModule(t, h, &hub.Module{DeviceID: id, ModuleID: "m"})
	patchTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"site": "berlin"}, Desired: map[string]any{"device": true}}, "")

	before, err := h.ModuleTwin(ctx, id, "m")
	if err != nil {
		t.Fatalf("ModuleTwin: %v", err)
	}
	if before.ModuleID != "m" || before.DeviceID != id {
		t.Errorf("module twin of %q/%q, want %q/m", before.DeviceID, before.ModuleID, id)
	}
	if len(before.Tags) != 0 || len(before.Properties.Desired.Properties()) != 0 {
		t.Errorf("module twin took the device's tags %v or desired %v", before.Tags, before.Properties.Desired.Properties())
	}

	patched, err := h.PatchModuleTwin(ctx, id, "m", hub.TwinPatch{
		Tags:    map[string]any{"role": "sensor"},
		Desired: map[string]any{"threshold": map[string]any{"warn": 75.0}},
	}, before.ETag)
	if err != nil {
		t.Fatalf("PatchModuleTwin: %v", err)
	}
	if d := cmp.Diff(map[string]any{"role": "sensor"}, patched.Tags); d != "" {
		t.Errorf("module tags mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"threshold": map[string]any{"warn": 75.0}}, patched.Properties.Desired.Properties()); d != "" {
		t.Errorf("module desired mismatch (-want +got):\n%s", d)
	}
	if v := patched.Properties.Desired.Version(); v != 2 {
		t.Errorf("module desired $version = %d, want 2", v)
	}
	if patched.ETag == before.ETag {
		t.Errorf("module twin etag stayed %q", patched.ETag)
	}
	_, err = h.PatchModuleTwin(ctx, id, "m", hub.TwinPatch{Tags: map[string]any{"role": "x"}}, before.ETag)
	wantError(t, "PatchModuleTwin with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)

	dev := getTwin(t, h, id)
	if d := cmp.Diff(map[string]any{"site": "berlin"}, dev.Tags); d != "" {
		t.Errorf("device tags changed by a module twin patch (-want +got):\n%s", d)
	}
}
