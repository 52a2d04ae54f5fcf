package hubtest

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotplan/iotplan/internal/hub"
)

// Conformance runs the contract tests of hub.Hub. newHub is called once per
// test and returns the hub to test; it may return a fresh hub each time or
// the same one, and it arranges with t.Cleanup for whatever must be closed.
func Conformance(t *testing.T, newHub func(t *testing.T) hub.Hub) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Devices", deviceTests},
		{"Modules", moduleTests},
		{"Twins", twinTests},
		{"ReplaceTwin", replaceTests},
		{"Query", queryTests},
		{"Bulk", bulkTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.run(t, newHub(t))
				})
			}
		})
	}
}

// test is one contract test.
type test struct {
	name string
	run  func(t *testing.T, h hub.Hub)
}

// equateEmpty makes nil and empty maps and slices equal: a hub may omit an
// empty section that another sends as {}.
var equateEmpty = cmpopts.EquateEmpty()

// testID returns a device or module ID unique to the running test: its name
// with the characters IDs may not hold replaced, then suffix.
func testID(t *testing.T, suffix string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	id := b.String() + "-" + suffix
	if len(id) > hub.MaxIDLength {
		id = id[len(id)-hub.MaxIDLength:]
	}
	return id
}

// createDevice registers d and deletes it when the test ends.
func createDevice(t *testing.T, h hub.Hub, d *hub.Device) *hub.Device {
	t.Helper()
	got, err := h.CreateDevice(t.Context(), d)
	if err != nil {
		t.Fatalf("CreateDevice(%q): %v", d.DeviceID, err)
	}
	t.Cleanup(func() {
		// The test context is done by the time cleanups run.
		_ = h.DeleteDevice(context.Background(), d.DeviceID, "*")
	})
	return got
}

// createModule registers m; its device's cleanup removes it.
func createModule(t *testing.T, h hub.Hub, m *hub.Module) *hub.Module {
	t.Helper()
	got, err := h.CreateModule(t.Context(), m)
	if err != nil {
		t.Fatalf("CreateModule(%q, %q): %v", m.DeviceID, m.ModuleID, err)
	}
	return got
}

func getTwin(t *testing.T, h hub.Hub, deviceID string) *hub.Twin {
	t.Helper()
	tw, err := h.Twin(t.Context(), deviceID)
	if err != nil {
		t.Fatalf("Twin(%q): %v", deviceID, err)
	}
	return tw
}

func patchTwin(t *testing.T, h hub.Hub, deviceID string, p hub.TwinPatch, ifMatch string) *hub.Twin {
	t.Helper()
	tw, err := h.PatchTwin(t.Context(), deviceID, p, ifMatch)
	if err != nil {
		t.Fatalf("PatchTwin(%q): %v", deviceID, err)
	}
	return tw
}

// wantError checks that err Is sentinel and, when code is not 0, that it
// is a *hub.Error with that IoT Hub error code.
func wantError(t *testing.T, op string, err, sentinel error, code int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want one that Is %q", op, sentinel)
		return
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: got error %v, want one that Is %q", op, err, sentinel)
	}
	if code == 0 {
		return
	}
	var he *hub.Error
	if !errors.As(err, &he) {
		t.Errorf("%s: got error %v of type %T, want a *hub.Error", op, err, err)
		return
	}
	if he.Code != code {
		t.Errorf("%s: got error code %d (%s), want %d", op, he.Code, he.Name, code)
	}
}

// checkSASKeys checks that an identity got two valid, different SAS keys.
func checkSASKeys(t *testing.T, what string, a *hub.AuthenticationMechanism) {
	t.Helper()
	if a == nil || a.Type != hub.AuthSAS || a.SymmetricKey == nil {
		t.Fatalf("%s: authentication = %+v, want type sas with keys", what, a)
	}
	k := a.SymmetricKey
	for _, key := range []string{k.PrimaryKey, k.SecondaryKey} {
		if err := hub.ValidateSymmetricKey(key); err != nil {
			t.Errorf("%s: generated key not valid: %v", what, err)
		}
	}
	if k.PrimaryKey == k.SecondaryKey {
		t.Errorf("%s: primary and secondary keys are the same", what)
	}
}

// key returns a valid SAS key made of n copies of byte c.
func key(c byte, n int) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(c), n)))
}

func ptr[T any](v T) *T { return &v }
