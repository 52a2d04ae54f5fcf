package localhub

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/hubtest"
)

func TestConformance(t *testing.T) {
	hubtest.Conformance(t, func(t *testing.T) hub.Hub {
		return openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	})
}

// fixedClock is a clock tests move by hand.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFixedClock(t time.Time) *fixedClock { return &fixedClock{t: t} }

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func openTestHub(t *testing.T, path string, opts Options) *Hub {
	t.Helper()
	h, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func mustCreateDevice(t *testing.T, h *Hub, d *hub.Device) *hub.Device {
	t.Helper()
	got, err := h.CreateDevice(t.Context(), d)
	if err != nil {
		t.Fatalf("CreateDevice(%q): %v", d.DeviceID, err)
	}
	return got
}

func mustCreateModule(t *testing.T, h *Hub, m *hub.Module) *hub.Module {
	t.Helper()
	got, err := h.CreateModule(t.Context(), m)
	if err != nil {
		t.Fatalf("CreateModule(%q, %q): %v", m.DeviceID, m.ModuleID, err)
	}
	return got
}

func wantCode(t *testing.T, op string, err error, code hub.ErrorCode) {
	t.Helper()
	var he *hub.Error
	if !errors.As(err, &he) {
		t.Fatalf("%s: got error %v, want *hub.Error %s", op, err, code.Name)
	}
	if he.Code != code.Number || he.Name != code.Name {
		t.Errorf("%s: got %d %s, want %d %s", op, he.Code, he.Name, code.Number, code.Name)
	}
}

func TestOpenCreatesFolderAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "project", ".iotplan")
	path := filepath.Join(dir, "hub.db")
	openTestHub(t, path, Options{})
	for _, tc := range []struct {
		path string
		want fs.FileMode
	}{{dir, 0o700 | fs.ModeDir}, {path, 0o600}} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != tc.want {
			t.Errorf("mode of %s = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestPersistence(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	opts := Options{Now: newFixedClock(t0).Now}
	h, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateDevice(t, h, &hub.Device{DeviceID: "thermo-1", Status: hub.StatusDisabled, StatusReason: "spare"})
	mustCreateModule(t, h, &hub.Module{DeviceID: "thermo-1", ModuleID: "sensor", ManagedBy: "ops"})
	if _, err := h.PatchTwin(ctx, "thermo-1", hub.TwinPatch{Tags: map[string]any{"site": "berlin"}, Desired: map[string]any{"interval": 10.0}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.UpdateReported(ctx, "thermo-1", "sensor", map[string]any{"temp": 21.5}); err != nil {
		t.Fatal(err)
	}
	type snapshot struct {
		Device     *hub.Device
		Twin       *hub.Twin
		Module     *hub.Module
		ModuleTwin *hub.Twin
		Stats      *hub.RegistryStatistics
	}
	take := func(h *Hub) snapshot {
		t.Helper()
		var s snapshot
		var errs [5]error
		s.Device, errs[0] = h.Device(ctx, "thermo-1")
		s.Twin, errs[1] = h.Twin(ctx, "thermo-1")
		s.Module, errs[2] = h.Module(ctx, "thermo-1", "sensor")
		s.ModuleTwin, errs[3] = h.ModuleTwin(ctx, "thermo-1", "sensor")
		s.Stats, errs[4] = h.Statistics(ctx)
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := take(h)
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	after := take(openTestHub(t, path, opts))
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("hub changed across Close and Open (-before +after):\n%s", d)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateDevice(t, w, &hub.Device{DeviceID: "d1"})
	mustCreateModule(t, w, &hub.Module{DeviceID: "d1", ModuleID: "m1"})
	w.Close()

	r1 := openTestHub(t, path, Options{ReadOnly: true})
	r2, err := OpenReadOnly(path, Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("a second read-only Open: %v", err)
	}
	t.Cleanup(func() { r2.Close() })
	for _, r := range []*Hub{r1, r2} {
		if _, err := r.Device(ctx, "d1"); err != nil {
			t.Errorf("Device on a read-only hub: %v", err)
		}
		page, err := r.QueryTwins(ctx, "SELECT * FROM devices", hub.QueryOptions{})
		if err != nil || len(page.Twins) != 1 {
			t.Errorf("QueryTwins on a read-only hub = %v, %v; want 1 twin", page, err)
		}
	}

	writes := map[string]func() error{
		"CreateDevice": func() error { _, err := r1.CreateDevice(ctx, &hub.Device{DeviceID: "d2"}); return err },
		"UpdateDevice": func() error { _, err := r1.UpdateDevice(ctx, &hub.Device{DeviceID: "d1"}, "*"); return err },
		"DeleteDevice": func() error { return r1.DeleteDevice(ctx, "d1", "*") },
		"CreateModule": func() error { _, err := r1.CreateModule(ctx, &hub.Module{DeviceID: "d1", ModuleID: "m2"}); return err },
		"UpdateModule": func() error {
			_, err := r1.UpdateModule(ctx, &hub.Module{DeviceID: "d1", ModuleID: "m1"}, "*")
			return err
		},
		"DeleteModule": func() error { return r1.DeleteModule(ctx, "d1", "m1", "*") },
		"PatchTwin": func() error {
			_, err := r1.PatchTwin(ctx, "d1", hub.TwinPatch{Tags: map[string]any{"a": "b"}}, "")
			return err
		},
		"PatchModuleTwin": func() error {
			_, err := r1.PatchModuleTwin(ctx, "d1", "m1", hub.TwinPatch{Tags: map[string]any{"a": "b"}}, "")
			return err
		},
		"UpdateReported": func() error { _, err := r1.UpdateReported(ctx, "d1", "", map[string]any{"a": "b"}); return err },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			err := write()
			if !errors.Is(err, ErrReadOnly) {
				t.Fatalf("got %v, want an error that Is ErrReadOnly", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the database %s", err, path)
			}
		})
	}
}

func TestOpenReadOnlyMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	_, err := OpenReadOnly(filepath.Join(dir, "hub.db"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly of a missing file: got %v, want an error that Is fs.ErrNotExist", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly created %s", dir)
	}
}

func TestInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	short := Options{Timeout: 100 * time.Millisecond}
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, readOnly := range map[string]bool{"writer": false, "reader": true} {
		t.Run(name+" while a writer holds it", func(t *testing.T) {
			_, err := Open(path, Options{Timeout: short.Timeout, ReadOnly: readOnly})
			if !errors.Is(err, ErrInUse) {
				t.Fatalf("got %v, want an error that Is ErrInUse", err)
			}
			want := "the hub database at " + path + " is in use by another iotplan process"
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		})
	}
	w.Close()

	r := openTestHub(t, path, Options{ReadOnly: true})
	if _, err := Open(path, short); !errors.Is(err, ErrInUse) {
		t.Errorf("Open for writing while a reader holds the file: got %v, want ErrInUse", err)
	}
	r.Close()
	openTestHub(t, path, short)
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	h, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("Open of a database from a newer iotplan: got %v, want a schema version error", err)
	}
}

func TestETagsAndGenerations(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: newFixedClock(t0).Now})
	d := mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
	tw1, err := h.Twin(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := h.UpdateDevice(ctx, d, d.ETag)
	if err != nil {
		t.Fatal(err)
	}
	m := mustCreateModule(t, h, &hub.Module{DeviceID: "d", ModuleID: "m"})
	mt, err := h.ModuleTwin(ctx, "d", "m")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{d.ETag, d2.ETag, tw1.ETag, m.ETag, mt.ETag}
	want := []string{"MA==", "MQ==", "AAAAAAAAAAE=", "MA==", "AAAAAAAAAAI="}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("etags (device, updated device, twin, module, module twin) mismatch (-want +got):\n%s", diff)
	}
	wantGen := fmt.Sprint(t0.UnixNano()/100 + dotNetEpochTicks)
	if d.GenerationID != wantGen {
		t.Errorf("GenerationID = %q, want the creation time in .NET ticks %q", d.GenerationID, wantGen)
	}

	// With the clock standing still a re-created device still gets a new
	// generation ID, and its new twin an etag never handed out before.
	if err := h.DeleteDevice(ctx, "d", "*"); err != nil {
		t.Fatal(err)
	}
	again := mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})
	if again.GenerationID == d.GenerationID || again.GenerationID == m.GenerationID {
		t.Errorf("re-created device got a used generation ID %q", again.GenerationID)
	}
	tw2, err := h.Twin(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if tw2.ETag == tw1.ETag {
		t.Errorf("re-created device's twin repeats etag %q", tw2.ETag)
	}
}

func TestErrorCodes(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	mustCreateDevice(t, h, &hub.Device{DeviceID: "full"})
	for i := range hub.MaxModulesPerDevice {
		mustCreateModule(t, h, &hub.Module{DeviceID: "full", ModuleID: fmt.Sprint("m", i)})
	}
	_, err := h.CreateModule(ctx, &hub.Module{DeviceID: "full", ModuleID: "extra"})
	wantCode(t, "module 51", err, hub.CodeTooManyModulesOnDevice)
	if !errors.Is(err, hub.ErrTooLarge) {
		t.Errorf("module 51: %v does not Is ErrTooLarge", err)
	}

	_, err = h.CreateDevice(ctx, &hub.Device{DeviceID: "bad id"})
	wantCode(t, "invalid ID", err, hub.CodeArgumentInvalid)
	if !strings.Contains(err.Error(), `"bad id"`) {
		t.Errorf("invalid ID error %q does not name the ID", err)
	}
	_, err = h.PatchTwin(ctx, "full", hub.TwinPatch{Tags: map[string]any{"a.b": 1}}, "")
	wantCode(t, "invalid twin key", err, hub.CodeArgumentInvalid)
	_, err = h.PatchTwin(ctx, "full", hub.TwinPatch{Tags: map[string]any{"big": strings.Repeat("x", hub.MaxTwinStringBytes)}}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.PatchTwin(ctx, "full", hub.TwinPatch{Tags: map[string]any{"big2": strings.Repeat("x", hub.MaxTwinStringBytes)}}, "")
	wantCode(t, "tags over 8 KB after the merge", err, hub.CodeArgumentInvalid)
}

func TestUpdateDeviceKeys(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	d := mustCreateDevice(t, h, &hub.Device{DeviceID: "d"})

	kept, err := h.UpdateDevice(ctx, &hub.Device{DeviceID: "d", StatusReason: "x"}, "*")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d.Authentication, kept.Authentication); diff != "" {
		t.Errorf("an update without keys changed them (-before +after):\n%s", diff)
	}

	tp := strings.Repeat("ab", 20)
	x509, err := h.UpdateDevice(ctx, &hub.Device{DeviceID: "d", Authentication: &hub.AuthenticationMechanism{
		Type: hub.AuthSelfSigned, X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: &tp}}}, "*")
	if err != nil {
		t.Fatal(err)
	}
	want := &hub.AuthenticationMechanism{Type: hub.AuthSelfSigned, SymmetricKey: &hub.SymmetricKey{},
		X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: &tp}}
	if diff := cmp.Diff(want, x509.Authentication); diff != "" {
		t.Errorf("selfSigned authentication mismatch (-want +got):\n%s", diff)
	}

	back, err := h.UpdateDevice(ctx, &hub.Device{DeviceID: "d"}, "*")
	if err != nil {
		t.Fatal(err)
	}
	k := back.Authentication.SymmetricKey
	if back.Authentication.Type != hub.AuthSAS || k.PrimaryKey == "" || k.PrimaryKey == d.Authentication.SymmetricKey.PrimaryKey {
		t.Errorf("back to sas: got %+v, want newly generated keys", k)
	}
}

func TestEdgeDeviceScope(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	edge := mustCreateDevice(t, h, &hub.Device{DeviceID: "gw", Capabilities: &hub.DeviceCapabilities{IoTEdge: true}})
	wantScope := "ms-azure-iot-edge://gw-" + edge.GenerationID
	if edge.DeviceScope != wantScope {
		t.Errorf("edge DeviceScope = %q, want %q", edge.DeviceScope, wantScope)
	}
	updated, err := h.UpdateDevice(ctx, &hub.Device{DeviceID: "gw", Capabilities: &hub.DeviceCapabilities{IoTEdge: true}, DeviceScope: "other"}, "*")
	if err != nil {
		t.Fatal(err)
	}
	if updated.DeviceScope != wantScope {
		t.Errorf("edge DeviceScope after update = %q, want it kept as %q", updated.DeviceScope, wantScope)
	}
	leaf := mustCreateDevice(t, h, &hub.Device{DeviceID: "leaf", DeviceScope: wantScope})
	if leaf.DeviceScope != wantScope {
		t.Errorf("leaf DeviceScope = %q, want its parent's %q", leaf.DeviceScope, wantScope)
	}
	tw, err := h.Twin(ctx, "gw")
	if err != nil {
		t.Fatal(err)
	}
	if tw.DeviceScope != wantScope || tw.Capabilities == nil || !tw.Capabilities.IoTEdge {
		t.Errorf("edge twin has scope %q and capabilities %+v", tw.DeviceScope, tw.Capabilities)
	}
	_, err = h.CreateDevice(ctx, &hub.Device{DeviceID: "two-parents", ParentScopes: []string{"a", "b"}})
	wantCode(t, "two parent scopes", err, hub.CodeArgumentInvalid)
}

func TestConcurrentUse(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	const workers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%02d", w, i)
				if _, err := h.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil {
					errs <- err
					continue
				}
				if _, err := h.PatchTwin(ctx, id, hub.TwinPatch{Desired: map[string]any{"i": float64(i)}}, ""); err != nil {
					errs <- err
				}
				if _, err := h.QueryTwins(ctx, "SELECT * FROM devices", hub.QueryOptions{PageSize: 10}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s, err := h.Statistics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.TotalDeviceCount != workers*each {
		t.Errorf("TotalDeviceCount = %d, want %d", s.TotalDeviceCount, workers*each)
	}
}

func TestContextDone(t *testing.T) {
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.CreateDevice(ctx, &hub.Device{DeviceID: "d"}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateDevice with a done context: got %v, want context.Canceled", err)
	}
	if _, err := h.Device(t.Context(), "d"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("a device was created despite the done context: %v", err)
	}
}
