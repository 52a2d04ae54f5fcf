package hubtest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

var deviceTests = []test{
	{"Create", testCreateDevice},
	{"CreateExisting", testCreateDeviceExisting},
	{"CreateInvalid", testCreateDeviceInvalid},
	{"GetMissing", testGetDeviceMissing},
	{"Update", testUpdateDevice},
	{"UpdateResetsOmittedFields", testUpdateDeviceResets},
	{"UpdateKeys", testUpdateDeviceKeys},
	{"UpdateMissing", testUpdateDeviceMissing},
	{"Delete", testDeleteDevice},
	{"DeleteRemovesModulesAndTwin", testDeleteDeviceCascades},
	{"Statistics", testStatistics},
}

const thumbprint = "0123456789abcdef0123456789abcdef01234567"

func testCreateDevice(t *testing.T, h hub.Hub) {
	tests := map[string]struct {
		in    func(id string) *hub.Device
		check func(t *testing.T, d *hub.Device)
	}{
		"minimal": {
			in: func(id string) *hub.Device { return &hub.Device{DeviceID: id} },
			check: func(t *testing.T, d *hub.Device) {
				if d.Status != hub.StatusEnabled {
					t.Errorf("Status = %q, want %q", d.Status, hub.StatusEnabled)
				}
				if d.ConnectionState != "Disconnected" {
					t.Errorf("ConnectionState = %q, want Disconnected", d.ConnectionState)
				}
				checkSASKeys(t, d.DeviceID, d.Authentication)
			},
		},
		"disabled with reason": {
			in: func(id string) *hub.Device {
				return &hub.Device{DeviceID: id, Status: hub.StatusDisabled, StatusReason: "not yet installed"}
			},
			check: func(t *testing.T, d *hub.Device) {
				if d.Status != hub.StatusDisabled || d.StatusReason != "not yet installed" {
					t.Errorf("Status, StatusReason = %q, %q, want disabled, \"not yet installed\"", d.Status, d.StatusReason)
				}
			},
		},
		"sas with empty keys": {
			in: func(id string) *hub.Device {
				return &hub.Device{DeviceID: id, Authentication: &hub.AuthenticationMechanism{Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{}}}
			},
			check: func(t *testing.T, d *hub.Device) { checkSASKeys(t, d.DeviceID, d.Authentication) },
		},
		"sas with keys": {
			in: func(id string) *hub.Device {
				return &hub.Device{DeviceID: id, Authentication: &hub.AuthenticationMechanism{
					Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{PrimaryKey: key('p', 32), SecondaryKey: key('s', 16)}}}
			},
			check: func(t *testing.T, d *hub.Device) {
				want := &hub.SymmetricKey{PrimaryKey: key('p', 32), SecondaryKey: key('s', 16)}
				if diff := cmp.Diff(want, d.Authentication.SymmetricKey); diff != "" {
					t.Errorf("keys mismatch (-want +got):\n%s", diff)
				}
			},
		},
		"self-signed": {
			in: func(id string) *hub.Device {
				return &hub.Device{DeviceID: id, Authentication: &hub.AuthenticationMechanism{
					Type: hub.AuthSelfSigned, X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: ptr(thumbprint)}}}
			},
			check: func(t *testing.T, d *hub.Device) {
				a := d.Authentication
				if a.Type != hub.AuthSelfSigned || a.X509Thumbprint == nil || a.X509Thumbprint.PrimaryThumbprint == nil ||
					!strings.EqualFold(*a.X509Thumbprint.PrimaryThumbprint, thumbprint) {
					t.Errorf("authentication = %+v, want selfSigned with primary thumbprint %s", a, thumbprint)
				}
			},
		},
		"certificate authority": {
			in: func(id string) *hub.Device {
				return &hub.Device{DeviceID: id, Authentication: &hub.AuthenticationMechanism{Type: hub.AuthCertificateAuthority}}
			},
			check: func(t *testing.T, d *hub.Device) {
				if d.Authentication.Type != hub.AuthCertificateAuthority {
					t.Errorf("authentication type = %q, want certificateAuthority", d.Authentication.Type)
				}
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			id := testID(t, "d")
			created := createDevice(t, h, tt.in(id))
			if created.DeviceID != id {
				t.Errorf("DeviceID = %q, want %q", created.DeviceID, id)
			}
			if created.GenerationID == "" || created.ETag == "" {
				t.Errorf("GenerationID, ETag = %q, %q, want both set by the hub", created.GenerationID, created.ETag)
			}
			tt.check(t, created)
			got, err := h.Device(t.Context(), id)
			if err != nil {
				t.Fatalf("Device(%q): %v", id, err)
			}
			if d := cmp.Diff(created, got); d != "" {
				t.Errorf("Device() differs from CreateDevice()'s answer (-create +get):\n%s", d)
			}
		})
	}
}

func testCreateDeviceExisting(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	createDevice(t, h, &hub.Device{DeviceID: id})
	_, err := h.CreateDevice(t.Context(), &hub.Device{DeviceID: id})
	wantError(t, "CreateDevice of an existing ID", err, hub.ErrAlreadyExists, hub.CodeDeviceAlreadyExists.Number)
}

func testCreateDeviceInvalid(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	selfSigned := &hub.AuthenticationMechanism{Type: hub.AuthSelfSigned}
	tests := map[string]*hub.Device{
		"empty ID":          {},
		"space in ID":       {DeviceID: id + " x"},
		"non-ASCII ID":      {DeviceID: id + "é"},
		"ID too long":       {DeviceID: strings.Repeat("a", hub.MaxIDLength+1)},
		"one key only":      {DeviceID: id, Authentication: sasKeys(key('p', 32), "")},
		"key too short":     {DeviceID: id, Authentication: sasKeys(key('p', 8), key('s', 32))},
		"key too long":      {DeviceID: id, Authentication: sasKeys(key('p', 32), key('s', 65))},
		"key not base64":    {DeviceID: id, Authentication: sasKeys("not base64!", key('s', 32))},
		"status reason":     {DeviceID: id, StatusReason: strings.Repeat("r", hub.MaxStatusReasonLength+1)},
		"unknown status":    {DeviceID: id, Status: "paused"},
		"no thumbprint":     {DeviceID: id, Authentication: selfSigned},
		"unknown auth type": {DeviceID: id, Authentication: &hub.AuthenticationMechanism{Type: "password"}},
	}
	for name, d := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := h.CreateDevice(t.Context(), d)
			wantError(t, "CreateDevice", err, hub.ErrBadRequest, 0)
			if err == nil {
				_ = h.DeleteDevice(t.Context(), d.DeviceID, "*")
			}
		})
	}
}

func sasKeys(primary, secondary string) *hub.AuthenticationMechanism {
	return &hub.AuthenticationMechanism{Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{PrimaryKey: primary, SecondaryKey: secondary}}
}

func testGetDeviceMissing(t *testing.T, h hub.Hub) {
	_, err := h.Device(t.Context(), testID(t, "missing"))
	wantError(t, "Device of a missing ID", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
}

func testUpdateDevice(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	created := createDevice(t, h, &hub.Device{DeviceID: id})

	in := *created
	in.Status, in.StatusReason = hub.StatusDisabled, "maintenance"
	updated, err := h.UpdateDevice(ctx, &in, created.ETag)
	if err != nil {
		t.Fatalf("UpdateDevice with the current etag: %v", err)
	}
	if updated.Status != hub.StatusDisabled || updated.StatusReason != "maintenance" {
		t.Errorf("Status, StatusReason = %q, %q, want disabled, maintenance", updated.Status, updated.StatusReason)
	}
	if updated.ETag == created.ETag {
		t.Errorf("ETag stayed %q after an update", updated.ETag)
	}
	if updated.GenerationID != created.GenerationID {
		t.Errorf("GenerationID changed from %q to %q", created.GenerationID, updated.GenerationID)
	}
	if updated.StatusUpdatedTime.Equal(created.StatusUpdatedTime) {
		t.Errorf("StatusUpdatedTime stayed %v although the status changed", updated.StatusUpdatedTime)
	}
	if d := cmp.Diff(created.Authentication, updated.Authentication); d != "" {
		t.Errorf("authentication changed although it was sent back unchanged (-before +after):\n%s", d)
	}
	got, err := h.Device(ctx, id)
	if err != nil {
		t.Fatalf("Device: %v", err)
	}
	if d := cmp.Diff(updated, got); d != "" {
		t.Errorf("Device() differs from UpdateDevice()'s answer (-update +get):\n%s", d)
	}

	_, err = h.UpdateDevice(ctx, &in, created.ETag)
	wantError(t, "UpdateDevice with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)

	for _, condition := range []func(etag string) string{
		func(string) string { return "*" },
		func(etag string) string { return `"` + etag + `"` }, // as the SDKs send it
	} {
		in := *got
		ifMatch := condition(got.ETag)
		in.StatusReason = "ifMatch " + ifMatch
		next, err := h.UpdateDevice(ctx, &in, ifMatch)
		if err != nil {
			t.Fatalf("UpdateDevice with If-Match %s: %v", ifMatch, err)
		}
		if next.StatusReason != in.StatusReason {
			t.Errorf("StatusReason = %q, want %q", next.StatusReason, in.StatusReason)
		}
		got = next
	}
}

func testUpdateDeviceResets(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	created := createDevice(t, h, &hub.Device{DeviceID: id, Status: hub.StatusDisabled, StatusReason: "spare"})
	in := &hub.Device{DeviceID: id, Authentication: created.Authentication}
	updated, err := h.UpdateDevice(t.Context(), in, created.ETag)
	if err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}
	if updated.Status != hub.StatusEnabled || updated.StatusReason != "" {
		t.Errorf("after an update without them, Status, StatusReason = %q, %q, want enabled, \"\"", updated.Status, updated.StatusReason)
	}
}

func testUpdateDeviceKeys(t *testing.T, h hub.Hub) {
	id := testID(t, "d")
	created := createDevice(t, h, &hub.Device{DeviceID: id})
	in := *created
	in.Authentication = sasKeys(created.Authentication.SymmetricKey.SecondaryKey, key('n', 32))
	updated, err := h.UpdateDevice(t.Context(), &in, created.ETag)
	if err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}
	if d := cmp.Diff(in.Authentication.SymmetricKey, updated.Authentication.SymmetricKey); d != "" {
		t.Errorf("keys after rotation mismatch (-want +got):\n%s", d)
	}
	in.Authentication = sasKeys(key('n', 32), "")
	_, err = h.UpdateDevice(t.Context(), &in, "*")
	wantError(t, "UpdateDevice with one key", err, hub.ErrBadRequest, 0)
}

func testUpdateDeviceMissing(t *testing.T, h hub.Hub) {
	_, err := h.UpdateDevice(t.Context(), &hub.Device{DeviceID: testID(t, "missing")}, "*")
	wantError(t, "UpdateDevice of a missing ID", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
}

func testDeleteDevice(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	created := createDevice(t, h, &hub.Device{DeviceID: id})
	in := *created
	in.StatusReason = "about to go"
	updated, err := h.UpdateDevice(ctx, &in, created.ETag)
	if err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}

	err = h.DeleteDevice(ctx, id, created.ETag)
	wantError(t, "DeleteDevice with a stale etag", err, hub.ErrPreconditionFailed, hub.CodePreconditionFailed.Number)
	if _, err := h.Device(ctx, id); err != nil {
		t.Fatalf("Device after a refused delete: %v", err)
	}

	if err := h.DeleteDevice(ctx, id, updated.ETag); err != nil {
		t.Fatalf("DeleteDevice with the current etag: %v", err)
	}
	_, err = h.Device(ctx, id)
	wantError(t, "Device after delete", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
	_, err = h.Twin(ctx, id)
	wantError(t, "Twin after delete", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
	err = h.DeleteDevice(ctx, id, "*")
	wantError(t, "DeleteDevice of a deleted device", err, hub.ErrNotFound, hub.CodeDeviceNotFound.Number)
}

func testDeleteDeviceCascades(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	id := testID(t, "d")
	first := createDevice(t, h, &hub.Device{DeviceID: id})
	for _, mid := range []string{"m1", "m2"} {
		createModule(t, h, &hub.Module{DeviceID: id, ModuleID: mid})
	}
	patchTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"site": "berlin"}, Desired: map[string]any{"interval": 10.0}}, "")

	if err := h.DeleteDevice(ctx, id, "*"); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	for _, mid := range []string{"m1", "m2"} {
		_, err := h.Module(ctx, id, mid)
		wantError(t, "Module of a deleted device", err, hub.ErrNotFound, 0)
		_, err = h.ModuleTwin(ctx, id, mid)
		wantError(t, "ModuleTwin of a deleted device", err, hub.ErrNotFound, 0)
	}

	again := createDevice(t, h, &hub.Device{DeviceID: id})
	if again.GenerationID == first.GenerationID {
		t.Errorf("a re-created device kept GenerationID %q", again.GenerationID)
	}
	mods, err := h.Modules(ctx, id)
	if err != nil {
		t.Fatalf("Modules: %v", err)
	}
	if len(mods) != 0 {
		t.Errorf("a re-created device has %d modules, want none", len(mods))
	}
	tw := getTwin(t, h, id)
	if len(tw.Tags) != 0 || len(tw.Properties.Desired.Properties()) != 0 {
		t.Errorf("a re-created device's twin kept tags %v and desired %v", tw.Tags, tw.Properties.Desired.Properties())
	}
}

func testStatistics(t *testing.T, h hub.Hub) {
	ctx := t.Context()
	stats := func() hub.RegistryStatistics {
		t.Helper()
		s, err := h.Statistics(ctx)
		if err != nil {
			t.Fatalf("Statistics: %v", err)
		}
		return *s
	}
	delta := func(before, after hub.RegistryStatistics) hub.RegistryStatistics {
		return hub.RegistryStatistics{
			TotalDeviceCount:    after.TotalDeviceCount - before.TotalDeviceCount,
			EnabledDeviceCount:  after.EnabledDeviceCount - before.EnabledDeviceCount,
			DisabledDeviceCount: after.DisabledDeviceCount - before.DisabledDeviceCount,
		}
	}
	before := stats()
	a := createDevice(t, h, &hub.Device{DeviceID: testID(t, "a")})
	createDevice(t, h, &hub.Device{DeviceID: testID(t, "b")})
	c := createDevice(t, h, &hub.Device{DeviceID: testID(t, "c"), Status: hub.StatusDisabled})
	createModule(t, h, &hub.Module{DeviceID: a.DeviceID, ModuleID: "m"})
	if d := cmp.Diff(hub.RegistryStatistics{TotalDeviceCount: 3, EnabledDeviceCount: 2, DisabledDeviceCount: 1}, delta(before, stats())); d != "" {
		t.Errorf("counts after 3 creates (modules not counted) mismatch (-want +got):\n%s", d)
	}

	in := *a
	in.Status = hub.StatusDisabled
	if _, err := h.UpdateDevice(ctx, &in, "*"); err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}
	if err := h.DeleteDevice(ctx, c.DeviceID, "*"); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	if d := cmp.Diff(hub.RegistryStatistics{TotalDeviceCount: 2, EnabledDeviceCount: 1, DisabledDeviceCount: 1}, delta(before, stats())); d != "" {
		t.Errorf("counts after a disable and a delete mismatch (-want +got):\n%s", d)
	}
}
