package localhub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

func openTest(t *testing.T) *Hub {
	t.Helper()
	h, err := Open(filepath.Join(t.TempDir(), "hub.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// routerFunc adapts a function to MethodRouter.
type routerFunc func(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error)

func (f routerFunc) InvokeMethod(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error) {
	return f(ctx, deviceID, moduleID, req)
}

func TestInvokeMethod(t *testing.T) {
	h := openTest(t)
	ctx := context.Background()
	if _, err := h.CreateDevice(ctx, &hub.Device{DeviceID: "dev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CreateDevice(ctx, &hub.Device{DeviceID: "off", Status: hub.StatusDisabled}); err != nil {
		t.Fatal(err)
	}
	req := hub.MethodRequest{MethodName: "reboot", Payload: json.RawMessage(`{"delay":1}`)}

	// No router: every device is offline.
	_, err := h.InvokeDeviceMethod(ctx, "dev", req)
	var he *hub.Error
	if !errors.As(err, &he) || he.Code != 404103 {
		t.Fatalf("offline: err = %v, want 404103", err)
	}

	var got hub.MethodRequest
	h.SetMethodRouter(routerFunc(func(_ context.Context, deviceID, moduleID string, r hub.MethodRequest) (*hub.MethodResult, error) {
		got = r
		return &hub.MethodResult{Status: 201, Payload: json.RawMessage(`"ok"`)}, nil
	}))
	res, err := h.InvokeDeviceMethod(ctx, "dev", req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || got.ResponseTimeoutInSeconds != hub.DefaultMethodResponseTimeout {
		t.Errorf("result %+v, request %+v", res, got)
	}

	for name, tt := range map[string]struct {
		id     string
		req    hub.MethodRequest
		status int
	}{
		"unknown device":  {"nobody", req, http.StatusNotFound},
		"disabled device": {"off", req, http.StatusNotFound},
		"no name":         {"dev", hub.MethodRequest{}, http.StatusBadRequest},
		"bad payload":     {"dev", hub.MethodRequest{MethodName: "m", Payload: json.RawMessage(`{`)}, http.StatusBadRequest},
		"timeout too low": {"dev", hub.MethodRequest{MethodName: "m", ResponseTimeoutInSeconds: 2}, http.StatusBadRequest},
		"too large":       {"dev", hub.MethodRequest{MethodName: "m", Payload: json.RawMessage(`"` + string(make([]byte, 130*1024)) + `"`)}, http.StatusRequestEntityTooLarge},
	} {
		_, err := h.InvokeDeviceMethod(ctx, tt.id, tt.req)
		if !errors.As(err, &he) || he.StatusCode != tt.status {
			t.Errorf("%s: err = %v, want status %d", name, err, tt.status)
		}
	}
	if _, err := h.InvokeModuleMethod(ctx, "dev", "nomodule", req); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("unknown module: err = %v, want not found", err)
	}
}

func TestPolicies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	h, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := h.Policies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	var names []string
	for _, p := range ps {
		names = append(names, p.KeyName)
		if hub.ValidateSymmetricKey(p.PrimaryKey) != nil || hub.ValidateSymmetricKey(p.SecondaryKey) != nil || p.PrimaryKey == p.SecondaryKey {
			t.Errorf("policy %s has bad keys", p.KeyName)
		}
	}
	if d := cmp.Diff([]string{"iothubowner", "service", "device", "registryRead", "registryReadWrite"}, names); d != "" {
		t.Errorf("policies (-want +got):\n%s", d)
	}
	owner := hub.FindPolicy(ps, "IOTHUBOWNER")
	if owner == nil || !owner.Has(hub.RegistryWrite) || !owner.Has(hub.ServiceConnect) {
		t.Errorf("iothubowner = %+v", owner)
	}
	if rw := hub.FindPolicy(ps, "registryReadWrite"); !rw.Has(hub.RegistryRead) || rw.Has(hub.ServiceConnect) {
		t.Errorf("registryReadWrite rights wrong: %+v", rw.Rights)
	}
	// Keys survive reopening.
	h2, err := OpenReadOnly(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	again, err := h2.Policies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ps, again); d != "" {
		t.Errorf("policies changed on reopen (-want +got):\n%s", d)
	}
}

func TestWatchDesiredAndConnectionState(t *testing.T) {
	h := openTest(t)
	ctx := context.Background()
	if _, err := h.CreateDevice(ctx, &hub.Device{DeviceID: "dev"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []DesiredChange
	stop := h.WatchDesired(func(c DesiredChange) { mu.Lock(); seen = append(seen, c); mu.Unlock() })
	if _, err := h.PatchTwin(ctx, "dev", hub.TwinPatch{Tags: map[string]any{"t": 1.0}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.PatchTwin(ctx, "dev", hub.TwinPatch{Desired: map[string]any{"x": 1.0, "y": nil}}, ""); err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := h.PatchTwin(ctx, "dev", hub.TwinPatch{Desired: map[string]any{"x": 2.0}}, ""); err != nil {
		t.Fatal(err)
	}
	want := []DesiredChange{{DeviceID: "dev", Patch: map[string]any{"x": 1.0, "y": nil}, Version: 2}}
	if d := cmp.Diff(want, seen); d != "" {
		t.Errorf("desired changes (-want +got):\n%s", d)
	}

	before, _ := h.Twin(ctx, "dev")
	if err := h.SetConnectionState(ctx, "dev", "", true); err != nil {
		t.Fatal(err)
	}
	d, _ := h.Device(ctx, "dev")
	after, _ := h.Twin(ctx, "dev")
	if d.ConnectionState != Connected || after.ConnectionState != Connected || d.LastActivityTime.IsZero() {
		t.Errorf("after connect: device %s/%v, twin %s", d.ConnectionState, d.LastActivityTime, after.ConnectionState)
	}
	if after.ETag != before.ETag || after.Version != before.Version {
		t.Errorf("connection state changed the twin's etag or version")
	}
	if err := h.SetConnectionState(ctx, "nobody", "", true); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("unknown device: err = %v", err)
	}
}

func TestNoteActivities(t *testing.T) {
	h := openTest(t)
	ctx := context.Background()
	if _, err := h.CreateDevice(ctx, &hub.Device{DeviceID: "dev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CreateModule(ctx, &hub.Module{DeviceID: "dev", ModuleID: "m"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	marks := []Activity{{DeviceID: "dev", At: at}, {DeviceID: "dev", ModuleID: "m", At: at.Add(time.Second)}, {DeviceID: "gone", At: at}}
	if err := h.NoteActivities(ctx, marks); err != nil {
		t.Fatal(err)
	}
	// An older mark never moves the time back.
	if err := h.NoteActivities(ctx, []Activity{{DeviceID: "dev", At: at.Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	d, _ := h.Device(ctx, "dev")
	m, _ := h.Module(ctx, "dev", "m")
	if !d.LastActivityTime.Equal(at) || !m.LastActivityTime.Equal(at.Add(time.Second)) {
		t.Errorf("lastActivityTime: device %v, module %v", d.LastActivityTime, m.LastActivityTime)
	}
}
