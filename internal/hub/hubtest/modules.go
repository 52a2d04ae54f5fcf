package hubtest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

var moduleTests = []test{
	{"Create", testCreateModule},
	{"CreateOnMissingDevice", testCreateModuleMissingDevice},
	{"CreateInvalid", testCreateModuleInvalid},
	{"List", testListModules},
	{"Update", testUpdateModule},
	{"Delete", testDeleteModule},
	{"Limit", testModuleLimit},
}

func testCreateModule(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	created := createModule(t, h, &hub.Module{DeviceID: id, ModuleID: "sensor", ManagedBy: "ops"})
	if created.DeviceID != id || created.ModuleID != "sensor" || created.ManagedBy != "ops" {
		t.Errorf("created module is %q/%q managed by %q, want %q/sensor managed by ops", created.DeviceID, created.ModuleID, created.ManagedBy, id)
	}
	if created.GenerationID == "" || created.ETag == "" {
		t.Errorf("GenerationID, ETag = %q, %q, want both set by the hub", created.GenerationID, created.ETag)
	}
	checkSASKeys(t, "module", created.Authentication)

	got, err := h.Module(ctx, id, "sensor")
	if err != nil {
		t.Fatalf("Module: %v", err)
	}
	if d := cmp.Diff(created, got); d != "" {
		t.Errorf("Module() differs from CreateModule()'s answer (-create +get):\n%s", d)
	}

	_, err = h.CreateModule(ctx, &hub.Module{DeviceID: id, ModuleID: "sensor"})
	wantError(t, "CreateModule of an existing ID", err, hub.ErrAlreadyExists, hub.CodeModuleAlreadyExists.Number)

	_, err = h.Module(ctx, id, "missing")
	wantError(t, "Module of a missing ID", err, hub.ErrNotFound, hub.CodeModuleNotFound.Number)

	tw, err := h.ModuleTwin(ctx, id, "sensor")
	if err != nil {
		t.Fatalf("ModuleTwin: %v", err)
	}
	if tw.DeviceID != id || tw.ModuleID != "sensor" {
		t.Errorf("module twin is of %q/%q, want %q/sensor", tw.DeviceID, tw.ModuleID, id)
	}
}

func testCreateModuleMissingDevice(t *testing.T, h hub.Hub) {
	_, err := h.CreateModule(t.Context(), &hub.Module{DeviceID: testID(t, "missing"), ModuleID: "m"})
	wantError(t, "CreateModule on a missing device", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
}

func testCreateModuleInvalid(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	tests := map[string]*hub.Module{
		"empty ID":     {DeviceID: id},
		"space in ID":  {DeviceID: id, ModuleID: "a b"},
		"one key only": {DeviceID: id, ModuleID: "m", Authentication: sasKeys("", key('s', 32))},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := h.CreateModule(t.Context(), m)
			wantError(t, "CreateModule", err, hub.ErrBadRequest, 0)
		})
	}
}

func testListModules(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	other := testID(t, "other")
	createDevice(t, h, &hub.Device{DeviceID: other})
	createModule(t, h, &hub.Module{DeviceID: other, ModuleID: "x"})

	mods, err := h.Modules(ctx, id)
	if err != nil {
		t.Fatalf("Modules of a device without modules: %v", err)
	}
	if len(mods) != 0 {
		t.Errorf("Modules of a device without modules = %v, want none", mods)
	}

	for _, mid := range []string{"charlie", "alpha", "bravo"} {
		createModule(t, h, &hub.Module{DeviceID: id, ModuleID: mid})
	}
	mods, err = h.Modules(ctx, id)
	if err != nil {
		t.Fatalf("Modules: %v", err)
	}
	var got []string
	for _, m := range mods {
		if m.DeviceID != id {
			t.Errorf("Modules(%q) returned a module of %q", id, m.DeviceID)
		}
		got = append(got, m.ModuleID)
	}
	if d := cmp.Diff([]string{"alpha", "bravo", "charlie"}, got); d != "" {
		t.Errorf("Modules() IDs mismatch (-want +got):\n%s", d)
	}

	_, err = h.Modules(ctx, testID(t, "missing"))
	wantError(t, "Modules of a missing device", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
}

func testUpdateModule(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	created := createModule(t, h, &hub.Module{DeviceID: id, ModuleID: "m"})

	in := *created
	in.ManagedBy = "IotEdge"
	updated, err := h.UpdateModule(ctx, &in, created.ETag)
	if err != nil {
		t.Fatalf("UpdateModule with the current etag: %v", err)
	}
	if updated.ManagedBy != "IotEdge" {
		t.Errorf("ManagedBy = %q, want IotEdge", updated.ManagedBy)
	}
	if updated.ETag == created.ETag {
		t.Errorf("ETag stayed %q after an update", updated.ETag)
	}
	if updated.GenerationID != created.GenerationID {
		t.Errorf("GenerationID changed from %q to %q", created.GenerationID, updated.GenerationID)
	}
	got, err := h.Module(ctx, id, "m")
	if err != nil {
		t.Fatalf("Module: %v", err)
	}
	if d := cmp.Diff(updated, got); d != "" {
		t.Errorf("Module() differs from UpdateModule()'s answer (-update +get):\n%s", d)
	}

	_, err = h.UpdateModule(ctx, &in, created.ETag)
	wantError(t, "UpdateModule with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)
	if _, err := h.UpdateModule(ctx, &in, "*"); err != nil {
		t.Errorf("UpdateModule with If-Match *: %v", err)
	}
	_, err = h.UpdateModule(ctx, &hub.Module{DeviceID: id, ModuleID: "missing"}, "*")
	wantError(t, "UpdateModule of a missing module", err, hub.ErrNotFound, hub.CodeModuleNotFound.Number)
}

func testDeleteModule(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	created := createModule(t, h, &hub.Module{DeviceID: id, ModuleID: "m"})
	createModule(t, h, &hub.Module{DeviceID: id, ModuleID: "keep"})
	in := *created
	in.ManagedBy = "someone"
	updated, err := h.UpdateModule(ctx, &in, "*")
	if err != nil {
		t.Fatalf("UpdateModule: %v", err)
	}

	err = h.DeleteModule(ctx, id, "m", created.ETag)
	wantError(t, "DeleteModule with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)
	if err := h.DeleteModule(ctx, id, "m", updated.ETag); err != nil {
		t.Fatalf("DeleteModule with the current etag: %v", err)
	}
	_, err = h.Module(ctx, id, "m")
	wantError(t, "Module after delete", err, hub.ErrNotFound, hub.CodeModuleNotFound.Number)
	_, err = h.ModuleTwin(ctx, id, "m")
	wantError(t, "ModuleTwin after delete", err, hub.ErrNotFound, 0)
	err = h.DeleteModule(ctx, id, "m", "*")
	wantError(t, "DeleteModule of a deleted module", err, hub.ErrNotFound, hub.CodeModuleNotFound.Number)

	if _, err := h.Device(ctx, id); err != nil {
		t.Errorf("Device after deleting one of its modules: %v", err)
	}
	if _, err := h.Module(ctx, id, "keep"); err != nil {
		t.Errorf("Module of the other module: %v", err)
	}
}

// testModuleLimit fills a device with hub.MaxModulesPerDevice modules. The
// reference documents the limit; which error code the service answers over
// it is left to each implementation's own tests.
func testModuleLimit(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	for i := range hub.MaxModulesPerDevice {
		createModule(t, h, &hub.Module{DeviceID: id, ModuleID: fmt.Sprintf("m%02d", i)})
	}
	if _, err := h.CreateModule(ctx, &hub.Module{DeviceID: id, ModuleID: "one-too-many"}); err == nil {
		t.Errorf("CreateModule number %d succeeded, want an error", hub.MaxModulesPerDevice+1)
	}
	mods, err := h.Modules(ctx, id)
	if err != nil {
		t.Fatalf("Modules: %v", err)
	}
	if len(mods) != hub.MaxModulesPerDevice {
		t.Errorf("device has %d modules, want %d", len(mods), hub.MaxModulesPerDevice)
	}
}
