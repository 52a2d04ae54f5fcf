package localhub

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

// TestBulkSeededTwin checks the exact twin of a device created with tags
// and desired properties: a new twin, version 1, whose desired $metadata is
// stamped at creation.
func TestBulkSeededTwin(t *testing.T) {
	ctx := t.Context()
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	t0 := t0.Truncate(100 * time.Nanosecond)

	res, err := h.BulkRegistry(ctx, []hub.ExportImportDevice{{
		ID: "thermo-1", ImportMode: hub.ImportCreate,
		Tags:       map[string]any{"site": "berlin", "floor": 3},
		Properties: &hub.PropertyContainer{Desired: map[string]any{"interval": 10, "cfg": map[string]any{"mode": "eco"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := &hub.BulkRegistryOperationResult{IsSuccessful: true, Errors: []hub.DeviceRegistryOperationError{}, Warnings: []hub.DeviceRegistryOperationWarning{}}
	if d := cmp.Diff(want, res); d != "" {
		t.Errorf("result mismatch (-want +got):\n%s", d)
	}
	d, err := h.Device(ctx, "thermo-1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Twin(ctx, "thermo-1")
	if err != nil {
		t.Fatal(err)
	}
	wantTwin := &hub.Twin{
		DeviceID:           "thermo-1",
		DeviceETag:         d.ETag,
		ETag:               "AAAAAAAAAAE=",
		Version:            1,
		Status:             hub.StatusEnabled,
		ConnectionState:    "Disconnected",
		AuthenticationType: hub.AuthSAS,
		Capabilities:       &hub.DeviceCapabilities{},
		Tags:               map[string]any{"site": "berlin", "floor": 3.0},
		Properties: hub.TwinProperties{
			Desired: hub.TwinCollection{
				"interval":  10.0,
				"cfg":       map[string]any{"mode": "eco"},
				"$version":  1.0,
				"$metadata": meta(t0, 1, "interval", meta(t0, 1), "cfg", meta(t0, 1, "mode", meta(t0, 1))),
			},
			Reported: hub.TwinCollection{"$version": 1.0, "$metadata": meta(t0, 0)},
		},
	}
	if diff := cmp.Diff(wantTwin, got); diff != "" {
		t.Errorf("seeded twin mismatch (-want +got):\n%s", diff)
	}
	if d.ETag != "MA==" || d.Authentication.Type != hub.AuthSAS || d.Authentication.SymmetricKey.PrimaryKey == "" {
		t.Errorf("created device: etag %q, auth %+v; want MA== and generated SAS keys", d.ETag, d.Authentication)
	}
}

// TestBulkEntryErrors checks the error code, text and operation reported
// for each kind of failing entry, each in a call of its own after a common
// setup.
func TestBulkEntryErrors(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	mustCreateDevice(t, h, &hub.Device{DeviceID: "dev"})
	mustCreateModule(t, h, &hub.Module{DeviceID: "dev", ModuleID: "mod"})
	full := mustCreateDevice(t, h, &hub.Device{DeviceID: "full"})
	for i := range hub.MaxModulesPerDevice {
		mustCreateModule(t, h, &hub.Module{DeviceID: full.DeviceID, ModuleID: fmt.Sprintf("m%02d", i)})
	}
	tests := map[string]struct {
		entry     hub.ExportImportDevice
		code      hub.ErrorCode
		operation string
	}{
		"device exists":              {hub.ExportImportDevice{ID: "dev", ImportMode: "CREATE"}, hub.CodeDeviceAlreadyExists, "create"},
		"module exists":              {hub.ExportImportDevice{ID: "dev", ModuleID: "mod", ImportMode: hub.ImportCreate}, hub.CodeModuleAlreadyExists, "create"},
		"module on missing device":   {hub.ExportImportDevice{ID: "nobody", ModuleID: "m", ImportMode: hub.ImportCreate}, hub.CodeDeviceNotFound, "create"},
		"too many modules":           {hub.ExportImportDevice{ID: "full", ModuleID: "more", ImportMode: hub.ImportCreate}, hub.CodeTooManyModulesOnDevice, "create"},
		"update missing":             {hub.ExportImportDevice{ID: "nobody", ImportMode: hub.ImportUpdate}, hub.CodeDeviceNotFound, "update"},
		"update missing module":      {hub.ExportImportDevice{ID: "dev", ModuleID: "nobody", ImportMode: hub.ImportUpdate}, hub.CodeModuleNotFound, "update"},
		"stale etag":                 {hub.ExportImportDevice{ID: "dev", ImportMode: hub.ImportUpdateIfMatchETag, ETag: "MQ=="}, hub.CodePreconditionFailed, "updateIfMatchETag"},
		"no etag":                    {hub.ExportImportDevice{ID: "dev", ImportMode: hub.ImportDeleteIfMatchETag}, hub.CodeArgumentInvalid, "deleteIfMatchETag"},
		"stale module etag":          {hub.ExportImportDevice{ID: "dev", ModuleID: "mod", ImportMode: hub.ImportDeleteIfMatchETag, ETag: "MQ=="}, hub.CodePreconditionFailed, "deleteIfMatchETag"},
		"stale twin etag":            {hub.ExportImportDevice{ID: "dev", ImportMode: hub.ImportUpdateTwinIfMatchETag, TwinETag: "AAAAAAAAAAA=", Tags: map[string]any{"a": 1}}, hub.CodePreconditionFailed, "updateTwinIfMatchETag"},
		"no twin etag":               {hub.ExportImportDevice{ID: "dev", ImportMode: hub.ImportUpdateTwinIfMatchETag, Tags: map[string]any{"a": 1}}, hub.CodeArgumentInvalid, "updateTwinIfMatchETag"},
		"update twin with nothing":   {hub.ExportImportDevice{ID: "dev", ImportMode: hub.ImportUpdateTwin}, hub.CodeArgumentInvalid, "updateTwin"},
		"twin content on update":     {hub.ExportImportDevice{ID: "dev", ImportMode: hub.ImportUpdate, Tags: map[string]any{"a": 1}}, hub.CodeArgumentInvalid, "update"},
		"reported":                   {hub.ExportImportDevice{ID: "x", ImportMode: hub.ImportCreate, Properties: &hub.PropertyContainer{Reported: map[string]any{"a": 1}}}, hub.CodeArgumentInvalid, "create"},
		"unknown mode":               {hub.ExportImportDevice{ID: "x", ImportMode: "createOrUpdate"}, hub.CodeArgumentInvalid, "createOrUpdate"},
		"invalid id":                 {hub.ExportImportDevice{ID: "a b", ImportMode: hub.ImportCreate}, hub.CodeArgumentInvalid, "create"},
		"invalid module id":          {hub.ExportImportDevice{ID: "dev", ModuleID: "a/b", ImportMode: hub.ImportCreate}, hub.CodeArgumentInvalid, "create"},
		"bad status":                 {hub.ExportImportDevice{ID: "x", ImportMode: hub.ImportCreate, Status: "paused"}, hub.CodeArgumentInvalid, "create"},
		"status on a module":         {hub.ExportImportDevice{ID: "dev", ModuleID: "new", ImportMode: hub.ImportCreate, Status: hub.StatusDisabled}, hub.CodeArgumentInvalid, "create"},
		"one key":                    {hub.ExportImportDevice{ID: "x", ImportMode: hub.ImportCreate, Authentication: &hub.AuthenticationMechanism{Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{PrimaryKey: "AAAAAAAAAAAAAAAAAAAAAA=="}}}, hub.CodeArgumentInvalid, "create"},
		"one key on update":          {hub.ExportImportDevice{ID: "dev", ImportMode: hub.ImportUpdate, Authentication: &hub.AuthenticationMechanism{Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{PrimaryKey: "AAAAAAAAAAAAAAAAAAAAAA=="}}}, hub.CodeArgumentInvalid, "update"},
		"invalid twin key":           {hub.ExportImportDevice{ID: "x", ImportMode: hub.ImportCreate, Tags: map[string]any{"a.b": 1}}, hub.CodeArgumentInvalid, "create"},
		"null in seeded desired":     {hub.ExportImportDevice{ID: "x", ImportMode: hub.ImportCreate, Properties: &hub.PropertyContainer{Desired: map[string]any{"a": nil}}}, hub.CodeArgumentInvalid, "create"},
		"delete missing module":      {hub.ExportImportDevice{ID: "dev", ModuleID: "nobody", ImportMode: hub.ImportDelete}, hub.CodeModuleNotFound, "delete"},
		"update twin missing":        {hub.ExportImportDevice{ID: "nobody", ImportMode: hub.ImportUpdateTwin, Tags: map[string]any{"a": 1}}, hub.CodeDeviceNotFound, "updateTwin"},
		"update twin missing module": {hub.ExportImportDevice{ID: "dev", ModuleID: "nobody", ImportMode: hub.ImportUpdateTwin, Tags: map[string]any{"a": 1}}, hub.CodeModuleNotFound, "updateTwin"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			before, err := h.Statistics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			res, err := h.BulkRegistry(ctx, []hub.ExportImportDevice{tt.entry})
			if err != nil {
				t.Fatalf("BulkRegistry: %v", err)
			}
			if res.IsSuccessful || len(res.Errors) != 1 {
				t.Fatalf("result %+v, want one error", res)
			}
			e := res.Errors[0]
			got := []string{e.DeviceID, e.ModuleID, e.ErrorCode, e.Operation}
			want := []string{tt.entry.ID, tt.entry.ModuleID, tt.code.Name, tt.operation}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("error (deviceId, moduleId, errorCode, operation) mismatch (-want +got):\n%s", d)
			}
			if e.ErrorStatus == "" {
				t.Errorf("error has no errorStatus text")
			}
			if c := e.Code(); c != tt.code {
				t.Errorf("Code() = %v, want %v", c, tt.code)
			}
			after, err := h.Statistics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(before, after); d != "" {
				t.Errorf("a failed entry changed the statistics (-before +after):\n%s", d)
			}
		})
	}
}

// TestBulkKeepsCountsAndCascades checks the device counts after a mixed
// call and that a bulk delete removes the device's modules.
func TestBulkKeepsCountsAndCascades(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	mustCreateDevice(t, h, &hub.Device{DeviceID: "old"})
	mustCreateModule(t, h, &hub.Module{DeviceID: "old", ModuleID: "m"})
	mustCreateDevice(t, h, &hub.Device{DeviceID: "flip"})
	res, err := h.BulkRegistry(ctx, []hub.ExportImportDevice{
		{ID: "a", ImportMode: hub.ImportCreate},
		{ID: "b", ImportMode: hub.ImportCreate, Status: hub.StatusDisabled},
		{ID: "old", ImportMode: hub.ImportDelete},
		{ID: "flip", ImportMode: hub.ImportUpdate, Status: hub.StatusDisabled},
	})
	if err != nil || !res.IsSuccessful {
		t.Fatalf("BulkRegistry: %+v, %v", res, err)
	}
	st, err := h.Statistics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&hub.RegistryStatistics{TotalDeviceCount: 3, EnabledDeviceCount: 1, DisabledDeviceCount: 2}, st); d != "" {
		t.Errorf("statistics mismatch (-want +got):\n%s", d)
	}
	mustCreateDevice(t, h, &hub.Device{DeviceID: "old"})
	mods, err := h.Modules(ctx, "old")
	if err != nil || len(mods) != 0 {
		t.Errorf("re-created device has modules %v (%v), want none", mods, err)
	}
}

func TestBulkNotifiesDesiredReplace(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
	mustCreateModule(t, h, &hub.Module{DeviceID: "d", ModuleID: "m"})
	var mu sync.Mutex
	var seen []DesiredChange
	stop := h.WatchDesired(func(c DesiredChange) { mu.Lock(); seen = append(seen, c); mu.Unlock() })
	defer stop()
	res, err := h.BulkRegistry(ctx, []hub.ExportImportDevice{
		{ID: "new", ImportMode: hub.ImportCreate, Properties: &hub.PropertyContainer{Desired: map[string]any{"a": 1}}},
		{ID: "d", ImportMode: hub.ImportUpdateTwin, Tags: map[string]any{"t": 1}},
		{ID: "d", ModuleID: "m", ImportMode: hub.ImportUpdateTwin, Properties: &hub.PropertyContainer{Desired: map[string]any{"b": 2}}},
		{ID: "nobody", ImportMode: hub.ImportUpdateTwin, Properties: &hub.PropertyContainer{Desired: map[string]any{"c": 3}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 {
		t.Errorf("errors %+v, want the missing device's only", res.Errors)
	}
	want := []DesiredChange{{DeviceID: "d", ModuleID: "m", Patch: map[string]any{"b": 2.0}, Replace: true, Version: 2}}
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff(want, seen); d != "" {
		t.Errorf("desired changes mismatch (-want +got):\n%s", d)
	}
}

func TestBulkWholeCallErrors(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	many := make([]hub.ExportImportDevice, hub.MaxBulkDevices+1)
	for i := range many {
		many[i] = hub.ExportImportDevice{ID: fmt.Sprintf("d%03d", i), ImportMode: hub.ImportCreate}
	}
	_, err := h.BulkRegistry(ctx, many)
	wantCode(t, "too many", err, hub.CodeTooManyDevices)
	_, err = h.BulkRegistry(ctx, many[:hub.MaxBulkDevices])
	if err != nil {
		t.Errorf("BulkRegistry of %d entries: %v", hub.MaxBulkDevices, err)
	}
	_, err = h.BulkRegistry(ctx, []hub.ExportImportDevice{
		{ID: "x", ModuleID: "m", ImportMode: hub.ImportCreate},
		{ID: "x", ImportMode: hub.ImportCreate},
		{ID: "x", ModuleID: "m", ImportMode: hub.ImportDelete},
	})
	wantCode(t, "defined twice", err, hub.CodeDeviceDefinedMultipleTimes)
	res, err := h.BulkRegistry(ctx, nil)
	if err != nil || !res.IsSuccessful {
		t.Errorf("empty call: %+v, %v; want success", res, err)
	}
}

func TestBulkReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	r := openTestHub(t, path, Options{ReadOnly: true})
	_, err = r.BulkRegistry(t.Context(), []hub.ExportImportDevice{{ID: "d", ImportMode: hub.ImportCreate}})
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("BulkRegistry on a read-only hub: %v, want ErrReadOnly", err)
	}
}

func TestDevicesList(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	for _, id := range []string{"c", "a", "b"} {
		mustCreateDevice(t, h, &hub.Device{DeviceID: id})
	}
	for top, want := range map[int][]string{0: {"a", "b", "c"}, 2: {"a", "b"}, 5: {"a", "b", "c"}} {
		devs, err := h.Devices(ctx, top)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range devs {
			got = append(got, d.DeviceID)
			if d.Authentication == nil || d.Authentication.SymmetricKey.PrimaryKey == "" {
				t.Errorf("listed device %s has no keys", d.DeviceID)
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Devices(%d) mismatch (-want +got):\n%s", top, d)
		}
	}
}

func TestConnectedDevices(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		mustCreateDevice(t, h, &hub.Device{DeviceID: id})
	}
	mustCreateModule(t, h, &hub.Module{DeviceID: "c", ModuleID: "m"})
	for _, id := range []string{"a", "b"} {
		if err := h.SetConnectionState(ctx, id, "", true); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.SetConnectionState(ctx, "b", "", false); err != nil {
		t.Fatal(err)
	}
	if err := h.SetConnectionState(ctx, "c", "m", true); err != nil {
		t.Fatal(err)
	}
	n, err := h.ConnectedDevices(ctx)
	if err != nil || n != 1 {
		t.Errorf("ConnectedDevices = %d, %v; want 1 (modules not counted)", n, err)
	}
}
