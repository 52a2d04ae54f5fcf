package apply_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/apply"
	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

type obj = map[string]any

func openHub(t *testing.T) *localhub.Hub {
	t.Helper()
	h, err := localhub.Open(filepath.Join(t.TempDir(), "hub.db"), localhub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func device(key, id string, tags, desired obj) *config.Device {
	return &config.Device{Addr: config.Addr{Type: "device", Name: "d", Key: key}, DeviceID: id, Tags: tags, Desired: desired}
}

// converge plans cfg against the hub and st, applies it and returns the
// new state and the number of saves.
func converge(t *testing.T, h *localhub.Hub, st *state.State, devs ...*config.Device) (*state.State, plan.Plan) {
	t.Helper()
	ctx := context.Background()
	actual, err := plan.Refresh(ctx, h, 7)
	if err != nil {
		t.Fatal(err)
	}
	p, diags := plan.Diff(&config.Config{Devices: devs}, st, actual, plan.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sync := state.NewSync(st)
	if _, err := apply.Apply(ctx, h, p, sync, apply.Options{BatchSize: 3}); err != nil {
		t.Fatal(err)
	}
	return sync.Close(), *p
}

func TestApplyConverges(t *testing.T) {
	h := openHub(t)
	ctx := context.Background()
	st := state.New()

	var devs []*config.Device
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		devs = append(devs, device(k, "dev-"+k, obj{"site": "berlin"}, obj{"interval": 10.0, "cfg": obj{"mode": "eco"}}))
	}
	st, _ = converge(t, h, st, devs...)
	if len(st.Resources) != 7 {
		t.Fatalf("state holds %d resources, want 7", len(st.Resources))
	}
	r := st.Resources[`device.d["a"]`]
	if r.PrimaryKey == "" || r.SecondaryKey == "" || r.ETag == "" || r.TwinETag == "" {
		t.Errorf("state resource lacks hub-assigned fields: %+v", r)
	}
	// Nothing left to do.
	if _, p := converge(t, h, st, devs...); p.HasChanges() {
		t.Fatalf("second plan has changes: %+v", p.Changes)
	}

	// Another writer adds keys; iotplan changes one of its own and drops one.
	if _, err := h.PatchTwin(ctx, "dev-a", hub.TwinPatch{Tags: obj{"owner": "ops"}, Desired: obj{"cfg": obj{"fromApp": 1.0}}}, "*"); err != nil {
		t.Fatal(err)
	}
	devs[0] = device("a", "dev-a", obj{"site": "paris"}, obj{"interval": 10.0})
	st, _ = converge(t, h, st, devs...)
	tw, err := h.Twin(ctx, "dev-a")
	if err != nil {
		t.Fatal(err)
	}
	// The keys in the state are the device's keys.
	if d, err := h.Device(ctx, "dev-b"); err != nil || d.Authentication.SymmetricKey.PrimaryKey != st.Resources[`device.d["b"]`].PrimaryKey {
		t.Errorf("state key of dev-b differs from the hub's (%v)", err)
	}
	if d := cmp.Diff(obj{"site": "paris", "owner": "ops"}, tw.Tags); d != "" {
		t.Errorf("tags (-want +got):\n%s", d)
	}
	if d := cmp.Diff(obj{"interval": 10.0, "cfg": obj{"fromApp": 1.0}}, tw.Properties.Desired.Properties()); d != "" {
		t.Errorf("desired (-want +got):\n%s", d)
	}

	// Replace one device, delete the rest.
	st, _ = converge(t, h, st, device("a", "dev-a2", nil, nil))
	if _, err := h.Device(ctx, "dev-a"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("old device after replace: err = %v, want not found", err)
	}
	stats, err := h.Statistics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.TotalDeviceCount != 1 || len(st.Resources) != 1 || st.Resources[`device.d["a"]`].DeviceID != "dev-a2" {
		t.Errorf("after replace: %d devices on the hub, state %v", stats.TotalDeviceCount, st.Addresses())
	}
}

func TestApplyRefusesChangedTwin(t *testing.T) {
	h := openHub(t)
	ctx := context.Background()
	st, _ := converge(t, h, state.New(), device("a", "dev-a", obj{"site": "berlin"}, nil))

	actual, err := plan.Refresh(ctx, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := plan.Diff(&config.Config{Devices: []*config.Device{device("a", "dev-a", obj{"site": "paris"}, nil)}}, st, actual, plan.Options{})
	// The twin changes after the plan was made.
	if _, err := h.PatchTwin(ctx, "dev-a", hub.TwinPatch{Tags: obj{"other": true}}, ""); err != nil {
		t.Fatal(err)
	}
	_, err = apply.Apply(ctx, h, p, state.NewSync(st), apply.Options{})
	if err == nil {
		t.Fatal("Apply() overwrote a twin that changed after the plan")
	}
	tw, _ := h.Twin(ctx, "dev-a")
	if tw.Tags["site"] != "berlin" {
		t.Errorf("tags.site = %v, want berlin kept", tw.Tags["site"])
	}
}

// recordingHook counts hook calls.
type recordingHook struct {
	mu          sync.Mutex
	start, done int
	failed      []string
}

func (r *recordingHook) Start(*plan.Change, bool) { r.mu.Lock(); r.start++; r.mu.Unlock() }
func (r *recordingHook) Done(c *plan.Change, _ bool, err error, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if err != nil {
		r.failed = append(r.failed, c.Addr)
	}
}

func TestApplySavesAfterEachBatchAndStops(t *testing.T) {
	h := openHub(t)
	ctx := context.Background()
	var devs []*config.Device
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		devs = append(devs, device(k, "dev-"+k, nil, nil))
	}
	actual, err := plan.Refresh(ctx, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := plan.Diff(&config.Config{Devices: devs}, state.New(), actual, plan.Options{})

	stop := make(chan struct{})
	var saves []int
	hook := &recordingHook{}
	res, err := apply.Apply(ctx, h, p, state.NewSync(state.New()), apply.Options{
		BatchSize:    4,
		SaveInterval: -1,
		Parallelism:  2,
		Hook:         hook,
		Stop:         stop,
		Save: func(s *state.State) error {
			saves = append(saves, len(s.Resources))
			if len(saves) == 1 {
				close(stop) // interrupted during the first batch's save
			}
			return nil
		},
	})
	if !errors.Is(err, apply.ErrStopped) {
		t.Fatalf("Apply() error = %v, want ErrStopped", err)
	}
	if d := cmp.Diff([]int{4}, saves); d != "" {
		t.Errorf("saves (-want +got):\n%s", d)
	}
	if res.Added != 4 || res.NotStarted != 6 || hook.done != 4 {
		t.Errorf("result %+v, hook done %d; want 4 added, 6 not started", res, hook.done)
	}
}

func TestApplyGoesOnAfterAFailure(t *testing.T) {
	h := openHub(t)
	ctx := context.Background()
	actual, _ := plan.Refresh(ctx, h, 0)
	p, _ := plan.Diff(&config.Config{Devices: []*config.Device{device("a", "dev-a", nil, nil), device("b", "dev-b", nil, nil)}}, state.New(), actual, plan.Options{})
	// Someone registers dev-a between plan and apply.
	if _, err := h.CreateDevice(ctx, &hub.Device{DeviceID: "dev-a"}); err != nil {
		t.Fatal(err)
	}
	sync := state.NewSync(state.New())
	hook := &recordingHook{}
	res, err := apply.Apply(ctx, h, p, sync, apply.Options{Hook: hook})
	if !errors.Is(err, hub.ErrAlreadyExists) {
		t.Fatalf("Apply() error = %v, want already exists", err)
	}
	if res.Added != 1 || len(hook.failed) != 1 || hook.failed[0] != `device.d["a"]` {
		t.Errorf("result %+v, failed %v", res, hook.failed)
	}
	if got := sync.Close().Addresses(); !cmp.Equal(got, []string{`device.d["b"]`}) {
		t.Errorf("state addresses = %v, want only device.d[\"b\"]", got)
	}
}
