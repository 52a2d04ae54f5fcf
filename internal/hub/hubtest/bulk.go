package hubtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

var bulkTests = []test{
	{"CreateWithTwin", testBulkCreate},
	{"PartialFailure", testBulkPartialFailure},
	{"UpdateAndDelete", testBulkUpdateDelete},
	{"UpdateTwin", testBulkUpdateTwin},
	{"Modules", testBulkModules},
	{"TooMany", testBulkTooMany},
	{"DefinedTwice", testBulkDuplicate},
	{"InvalidEntries", testBulkInvalid},
}

// bulk runs a bulk registry call that must not fail as a whole, and
// deletes the devices it names when the test ends.
func bulk(t *testing.T, h hub.Hub, entries ...hub.ExportImportDevice) *hub.BulkRegistryOperationResult {
	t.Helper()
	for _, e := range entries {
		if e.ModuleID == "" {
			id := e.ID
			t.Cleanup(func() { _ = h.DeleteDevice(context.Background(), id, "*") })
		}
	}
	res, err := h.BulkRegistry(t.Context(), entries)
	if err != nil {
		t.Fatalf("BulkRegistry: %v", err)
	}
	return res
}

// entryErrors returns the result's errors as "device/module: code" lines.
func entryErrors(res *hub.BulkRegistryOperationResult) []string {
	var out []string
	for _, e := range res.Errors {
		out = append(out, fmt.Sprintf("%s/%s: %s", e.DeviceID, e.ModuleID, e.ErrorCode))
	}
	return out
}

func wantSuccess(t *testing.T, res *hub.BulkRegistryOperationResult) {
	t.Helper()
	if !res.IsSuccessful || len(res.Errors) != 0 {
		t.Fatalf("bulk call: isSuccessful %v, errors %v, want success", res.IsSuccessful, entryErrors(res))
	}
}

// wantFailed checks that exactly the named entries failed.
func wantFailed(t *testing.T, res *hub.BulkRegistryOperationResult, keys ...string) {
	t.Helper()
	if res.IsSuccessful {
		t.Errorf("isSuccessful = true with failing entries")
	}
	var got []string
	for _, e := range res.Errors {
		got = append(got, e.DeviceID+"/"+e.ModuleID)
		if e.ErrorCode == "" {
			t.Errorf("entry %s/%s failed without an error code", e.DeviceID, e.ModuleID)
		}
	}
	if d := cmp.Diff(keys, got, equateEmpty); d != "" {
		t.Errorf("failed entries mismatch (-want +got):\n%s", d)
	}
}

func testBulkCreate(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	a, b, c := testID(t, "a"), testID(t, "b"), testID(t, "c")
	res := bulk(t, h,
		hub.ExportImportDevice{ID: a, ImportMode: hub.ImportCreate,
			Tags:       map[string]any{"site": "berlin", "floor": 3.0},
			Properties: &hub.PropertyContainer{Desired: map[string]any{"interval": 10.0, "cfg": map[string]any{"mode": "eco"}}}},
		hub.ExportImportDevice{ID: b, ImportMode: "Create", Status: hub.StatusDisabled, StatusReason: "spare"},
		hub.ExportImportDevice{ID: c, ImportMode: hub.ImportCreate, Authentication: sasKeys(key('p', 32), key('s', 32))},
	)
	wantSuccess(t, res)

	tw := getTwin(t, h, a)
	if d := cmp.Diff(map[string]any{"site": "berlin", "floor": 3.0}, tw.Tags); d != "" {
		t.Errorf("seeded tags mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"interval": 10.0, "cfg": map[string]any{"mode": "eco"}}, tw.Properties.Desired.Properties()); d != "" {
		t.Errorf("seeded desired mismatch (-want +got):\n%s", d)
	}
	da, err := h.Device(ctx, a)
	if err != nil {
		t.Fatalf("Device(%q): %v", a, err)
	}
	checkSASKeys(t, a, da.Authentication)
	if da.Status != hub.StatusEnabled {
		t.Errorf("status of %s = %q, want enabled", a, da.Status)
	}
	db, err := h.Device(ctx, b)
	if err != nil {
		t.Fatalf("Device(%q): %v", b, err)
	}
	if db.Status != hub.StatusDisabled || db.StatusReason != "spare" {
		t.Errorf("status of %s = %q, %q, want disabled, spare", b, db.Status, db.StatusReason)
	}
	dc, err := h.Device(ctx, c)
	if err != nil {
		t.Fatalf("Device(%q): %v", c, err)
	}
	if d := cmp.Diff(&hub.SymmetricKey{PrimaryKey: key('p', 32), SecondaryKey: key('s', 32)}, dc.Authentication.SymmetricKey); d != "" {
		t.Errorf("keys of %s mismatch (-want +got):\n%s", c, d)
	}
}

// testBulkPartialFailure checks that a failing entry does not stop the
// others: a bulk call is not atomic.
func testBulkPartialFailure(t *testing.T, h hub.Hub) {
	existing, fresh := testID(t, "existing"), testID(t, "fresh")
	createDevice(t, h, &hub.Device{DeviceID: existing})
	res := bulk(t, h,
		hub.ExportImportDevice{ID: existing, ImportMode: hub.ImportCreate},
		hub.ExportImportDevice{ID: fresh, ImportMode: hub.ImportCreate},
	)
	wantFailed(t, res, existing+"/")
	if len(res.Errors) == 1 {
		if e := res.Errors[0]; e.ErrorCode != hub.CodeDeviceAlreadyExists.Name || e.ErrorStatus == "" {
			t.Errorf("error of the existing device = %q, %q, want %s with a text", e.ErrorCode, e.ErrorStatus, hub.CodeDeviceAlreadyExists.Name)
		}
	}
	if _, err := h.Device(t.Context(), fresh); err != nil {
		t.Errorf("the entry after a failing one was not carried out: %v", err)
	}
}

func testBulkUpdateDelete(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	a, b, c, d := testID(t, "a"), testID(t, "b"), testID(t, "c"), testID(t, "d")
	da := createDevice(t, h, &hub.Device{DeviceID: a})
	db := createDevice(t, h, &hub.Device{DeviceID: b})
	createDevice(t, h, &hub.Device{DeviceID: c})
	createDevice(t, h, &hub.Device{DeviceID: d})
	if _, err := h.UpdateDevice(ctx, &hub.Device{DeviceID: d, StatusReason: "moved on"}, "*"); err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}
	res := bulk(t, h,
		// The Node SDK spells the modes with a capital.
		hub.ExportImportDevice{ID: a, ImportMode: "Update", Status: hub.StatusDisabled, StatusReason: "maintenance"},
		hub.ExportImportDevice{ID: b, ImportMode: hub.ImportUpdateIfMatchETag, ETag: db.ETag, StatusReason: "checked"},
		hub.ExportImportDevice{ID: c, ImportMode: "Delete"},
		hub.ExportImportDevice{ID: d, ImportMode: hub.ImportDeleteIfMatchETag, ETag: da.ETag},
	)
	wantFailed(t, res, d+"/")

	got, err := h.Device(ctx, a)
	if err != nil {
		t.Fatalf("Device(%q): %v", a, err)
	}
	if got.Status != hub.StatusDisabled || got.StatusReason != "maintenance" {
		t.Errorf("%s after update: %q, %q, want disabled, maintenance", a, got.Status, got.StatusReason)
	}
	if d := cmp.Diff(da.Authentication, got.Authentication); d != "" {
		t.Errorf("%s's keys changed by an update without keys (-before +after):\n%s", a, d)
	}
	if got, err := h.Device(ctx, b); err != nil || got.StatusReason != "checked" || got.ETag == db.ETag {
		t.Errorf("%s after updateIfMatchETag: %+v, %v; want status reason checked and a new etag", b, got, err)
	}
	_, err = h.Device(ctx, c)
	wantError(t, "Device after a bulk delete", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
	if _, err := h.Device(ctx, d); err != nil {
		t.Errorf("%s deleted although its eTag was stale: %v", d, err)
	}

	res = bulk(t, h,
		hub.ExportImportDevice{ID: c, ImportMode: hub.ImportDelete},
		hub.ExportImportDevice{ID: c + "-never", ImportMode: hub.ImportUpdate},
	)
	wantFailed(t, res, c+"/", c+"-never/")
}

func testBulkUpdateTwin(t *testing.T, h hub.Hub) {
	a, b := testID(t, "a"), testID(t, "b")
	createDevice(t, h, &hub.Device{DeviceID: a})
	createDevice(t, h, &hub.Device{DeviceID: b})
	before := patchTwin(t, h, a, hub.TwinPatch{Tags: map[string]any{"old": 1.0}, Desired: map[string]any{"keep": 1.0}}, "")
	bt := getTwin(t, h, b)
	patchTwin(t, h, b, hub.TwinPatch{Tags: map[string]any{"moved": true}}, "")

	res := bulk(t, h,
		hub.ExportImportDevice{ID: a, ImportMode: hub.ImportUpdateTwin, Tags: map[string]any{"site": "paris"}},
		hub.ExportImportDevice{ID: b, ImportMode: hub.ImportUpdateTwinIfMatchETag, TwinETag: bt.ETag, Tags: map[string]any{"x": 1.0}},
	)
	wantFailed(t, res, b+"/")
	got := getTwin(t, h, a)
	if d := cmp.Diff(map[string]any{"site": "paris"}, got.Tags); d != "" {
		t.Errorf("tags after updateTwin mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(before.Properties.Desired.Properties(), got.Properties.Desired.Properties()); d != "" {
		t.Errorf("desired changed by an updateTwin entry without desired properties (-before +after):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"moved": true}, getTwin(t, h, b).Tags); d != "" {
		t.Errorf("tags changed by an updateTwinIfMatchETag entry with a stale twinETag (-want +got):\n%s", d)
	}

	current := getTwin(t, h, b)
	res = bulk(t, h, hub.ExportImportDevice{ID: b, ImportMode: hub.ImportUpdateTwinIfMatchETag, TwinETag: current.ETag,
		Properties: &hub.PropertyContainer{Desired: map[string]any{"interval": 5.0}}})
	wantSuccess(t, res)
	got = getTwin(t, h, b)
	if d := cmp.Diff(map[string]any{"interval": 5.0}, got.Properties.Desired.Properties()); d != "" {
		t.Errorf("desired after updateTwinIfMatchETag mismatch (-want +got):\n%s", d)
	}
	if got.Properties.Desired.Version() != current.Properties.Desired.Version()+1 {
		t.Errorf("desired $version = %d, want %d", got.Properties.Desired.Version(), current.Properties.Desired.Version()+1)
	}
}

func testBulkModules(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	res := bulk(t, h,
		hub.ExportImportDevice{ID: id, ImportMode: hub.ImportCreate},
		hub.ExportImportDevice{ID: id, ModuleID: "a", ImportMode: hub.ImportCreate, Tags: map[string]any{"role": "sensor"}},
		hub.ExportImportDevice{ID: id, ModuleID: "b", ImportMode: hub.ImportCreate},
	)
	wantSuccess(t, res)
	mods, err := h.Modules(ctx, id)
	if err != nil {
		t.Fatalf("Modules: %v", err)
	}
	if len(mods) != 2 {
		t.Errorf("device has %d modules after a bulk create of 2", len(mods))
	}
	tw, err := h.ModuleTwin(ctx, id, "a")
	if err != nil {
		t.Fatalf("ModuleTwin: %v", err)
	}
	if d := cmp.Diff(map[string]any{"role": "sensor"}, tw.Tags); d != "" {
		t.Errorf("seeded module tags mismatch (-want +got):\n%s", d)
	}

	res = bulk(t, h,
		hub.ExportImportDevice{ID: id, ModuleID: "a", ImportMode: hub.ImportDelete},
		hub.ExportImportDevice{ID: id, ModuleID: "b", ImportMode: hub.ImportCreate},
	)
	wantFailed(t, res, id+"/b")
	_, err = h.Module(ctx, id, "a")
	wantError(t, "Module after a bulk delete", err, hub.ErrNotFound, hub.CodeModuleNotFound.Number)
	if _, err := h.Device(ctx, id); err != nil {
		t.Errorf("deleting a module deleted its device: %v", err)
	}
}

func testBulkTooMany(t *testing.T, h hub.Hub) {
	prefix := testID(t, "")
	entries := make([]hub.ExportImportDevice, hub.MaxBulkDevices+1)
	for i := range entries {
		entries[i] = hub.ExportImportDevice{ID: fmt.Sprintf("%s%03d", prefix, i), ImportMode: hub.ImportCreate}
	}
	_, err := h.BulkRegistry(t.Context(), entries)
	wantError(t, "BulkRegistry of too many entries", err, hub.ErrTooLarge, hub.CodeTooManyDevices.Number)
	if _, err := h.Device(t.Context(), entries[0].ID); err == nil {
		_ = h.DeleteDevice(context.Background(), entries[0].ID, "*")
		t.Errorf("a refused bulk call created %s", entries[0].ID)
	}
}

func testBulkDuplicate(t *testing.T, h hub.Hub) {
	id, other := testID(t, "d"), testID(t, "other")
	_, err := h.BulkRegistry(t.Context(), []hub.ExportImportDevice{
		{ID: other, ImportMode: hub.ImportCreate},
		{ID: id, ImportMode: hub.ImportCreate},
		{ID: id, ImportMode: hub.ImportUpdate},
	})
	wantError(t, "BulkRegistry naming a device twice", err, hub.ErrBadRequest, hub.CodeDeviceDefinedMultipleTimes.Number)
	if _, err := h.Device(t.Context(), other); err == nil {
		_ = h.DeleteDevice(context.Background(), other, "*")
		t.Errorf("a refused bulk call created %s", other)
	}
}

func testBulkInvalid(t *testing.T, h hub.Hub) {
	good := testID(t, "good")
	res := bulk(t, h,
		hub.ExportImportDevice{ID: testID(t, "mode"), ImportMode: "createOrUpdate"},
		hub.ExportImportDevice{ID: testID(t, "bad") + " x", ImportMode: hub.ImportCreate},
		hub.ExportImportDevice{ID: testID(t, "null"), ImportMode: hub.ImportCreate, Tags: map[string]any{"a": nil}},
		hub.ExportImportDevice{ID: testID(t, "key"), ImportMode: hub.ImportCreate, Authentication: sasKeys(key('p', 32), "")},
		hub.ExportImportDevice{ID: good, ImportMode: hub.ImportCreate},
	)
	if res.IsSuccessful || len(res.Errors) != 4 {
		t.Errorf("errors = %v, want the 4 invalid entries", entryErrors(res))
	}
	if _, err := h.Device(t.Context(), good); err != nil {
		t.Errorf("the valid entry was not carried out: %v", err)
	}
}
