package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

// Writer is what apply needs of a hub.
type Writer interface {
	Device(ctx context.Context, id string) (*hub.Device, error)
	CreateDevice(ctx context.Context, d *hub.Device) (*hub.Device, error)
	UpdateDevice(ctx context.Context, d *hub.Device, ifMatch string) (*hub.Device, error)
	DeleteDevice(ctx context.Context, id, ifMatch string) error
	PatchTwin(ctx context.Context, deviceID string, patch hub.TwinPatch, ifMatch string) (*hub.Twin, error)
}

// Hook hears about each change as apply works on it. Its methods are called
// from several goroutines at once.
type Hook interface {
	Start(c *plan.Change)
	Done(c *plan.Change, err error, elapsed time.Duration)
}

// NilHook is a Hook that does nothing.
type NilHook struct{}

func (NilHook) Start(*plan.Change)                      {}
func (NilHook) Done(*plan.Change, error, time.Duration) {}

// Options control an apply.
type Options struct {
	// Parallelism bounds the hub calls in flight; 10 when zero.
	Parallelism int
	// BatchSize is the number of changes after which the state is saved;
	// 100 when zero.
	BatchSize int
	// Save persists a snapshot of the state. It is called after every batch
	// and once at the end.
	Save func(*state.State) error
	// Stop, when closed, stops apply from starting more changes; changes in
	// flight finish and the state is saved. Cancelling ctx instead abandons
	// calls in flight.
	Stop <-chan struct{}
	Hook Hook
}

// Result counts what apply did.
type Result struct {
	Added, Changed, Destroyed int
	// NotStarted counts the changes left undone because apply was stopped.
	NotStarted int
}

// ErrStopped is returned when apply was stopped before it finished.
var ErrStopped = errors.New("apply stopped before it finished")

// Apply makes the hub match p, recording each step in st. It goes on with
// independent changes when one fails and returns all failures joined.
func Apply(ctx context.Context, w Writer, p *plan.Plan, st *state.Sync, opts Options) (Result, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 10
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.Hook == nil {
		opts.Hook = NilHook{}
	}
	a := &applier{w: w, st: st, opts: opts}
	if p.RefreshOnly {
		return a.record(p)
	}

	// Deletes go first, so that a device ID freed by one resource can be
	// taken by another.
	var deletes, writes []*plan.Change
	for _, c := range p.Changes {
		switch c.Action {
		case plan.NoOp:
		case plan.Delete:
			deletes = append(deletes, c)
		case plan.Create, plan.Update, plan.Replace:
			writes = append(writes, c)
		default:
			panic(fmt.Sprintf("apply: unknown action %v", c.Action))
		}
	}
	var errs []error
	for _, phase := range [][]*plan.Change{deletes, writes} {
		for start := 0; start < len(phase); start += opts.BatchSize {
			if a.stopped() || ctx.Err() != nil {
				a.res.NotStarted += len(phase) - start
				break
			}
			batch := phase[start:min(start+opts.BatchSize, len(phase))]
			errs = append(errs, a.batch(ctx, batch)...)
			if err := a.save(); err != nil {
				return a.res, errors.Join(append(errs, err)...)
			}
		}
	}
	if a.res.NotStarted > 0 {
		errs = append(errs, ErrStopped)
	}
	return a.res, errors.Join(errs...)
}

type applier struct {
	w    Writer
	st   *state.Sync
	opts Options
	res  Result
}

func (a *applier) stopped() bool {
	if a.opts.Stop == nil {
		return false
	}
	select {
	case <-a.opts.Stop:
		return true
	default:
		return false
	}
}

func (a *applier) save() error {
	if a.opts.Save == nil {
		return nil
	}
	if err := a.opts.Save(a.st.Snapshot()); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

func (a *applier) batch(ctx context.Context, batch []*plan.Change) []error {
	var g errgroup.Group
	g.SetLimit(a.opts.Parallelism)
	errs := make([]error, len(batch))
	done := make([]bool, len(batch))
	for i, c := range batch {
		if a.stopped() || ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			a.opts.Hook.Start(c)
			t0 := time.Now()
			err := a.one(ctx, c)
			a.opts.Hook.Done(c, err, time.Since(t0))
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", c.Addr, err)
			}
			done[i] = true
			return nil
		})
	}
	_ = g.Wait() // goroutines report through errs
	for i, c := range batch {
		switch {
		case !done[i]:
			a.res.NotStarted++
		case errs[i] != nil:
		case c.Action == plan.Create:
			a.res.Added++
		case c.Action == plan.Update:
			a.res.Changed++
		case c.Action == plan.Delete:
			a.res.Destroyed++
		case c.Action == plan.Replace:
			a.res.Added++
			a.res.Destroyed++
		}
	}
	return errs
}

func (a *applier) one(ctx context.Context, c *plan.Change) error {
	switch c.Action {
	case plan.Create:
		return a.create(ctx, c)
	case plan.Update:
		return a.update(ctx, c)
	case plan.Delete:
		return a.delete(ctx, c)
	case plan.Replace:
		if err := a.delete(ctx, c); err != nil {
			return err
		}
		return a.create(ctx, c)
	case plan.NoOp:
		return nil
	default:
		panic(fmt.Sprintf("apply: unknown action %v", c.Action))
	}
}

func (a *applier) create(ctx context.Context, c *plan.Change) error {
	want := c.After
	d, err := a.w.CreateDevice(ctx, &hub.Device{
		DeviceID:       want.DeviceID,
		Status:         want.Status,
		StatusReason:   want.StatusReason,
		Authentication: &hub.AuthenticationMechanism{Type: want.Auth},
	})
	if err != nil {
		return fmt.Errorf("create device %q: %w", want.DeviceID, err)
	}
	r := &state.Resource{Addr: c.Addr, Type: c.Type, DeviceID: d.DeviceID, GenerationID: d.GenerationID, ETag: d.ETag,
		Status: want.Status, StatusReason: want.StatusReason, Auth: want.Auth}
	if d.Authentication != nil && d.Authentication.SymmetricKey != nil {
		r.PrimaryKey, r.SecondaryKey = d.Authentication.SymmetricKey.PrimaryKey, d.Authentication.SymmetricKey.SecondaryKey
	}
	// Recorded before the twin is written, so that a failure there leaves a
	// state that the next plan completes rather than a device nobody owns.
	a.st.Set(r)
	if len(want.Tags) == 0 && len(want.Desired) == 0 {
		return nil
	}
	t, err := a.w.PatchTwin(ctx, d.DeviceID, hub.TwinPatch{Tags: want.Tags, Desired: want.Desired}, "")
	if err != nil {
		return fmt.Errorf("write twin of %q: %w", want.DeviceID, err)
	}
	r.Tags, r.Desired, r.TwinETag = want.Tags, want.Desired, t.ETag
	a.st.Set(r)
	return nil
}

func (a *applier) update(ctx context.Context, c *plan.Change) error {
	r := a.st.Resource(c.Addr)
	if r == nil {
		return fmt.Errorf("the state no longer holds %s", c.Addr)
	}
	id := c.After.DeviceID
	if tags, desired := c.Patch(); tags != nil || desired != nil {
		t, err := a.w.PatchTwin(ctx, id, hub.TwinPatch{Tags: tags, Desired: desired}, c.TwinETag)
		if errors.Is(err, hub.ErrPreconditionFailed) {
			return fmt.Errorf("the twin of %q changed on the hub after the plan was made; run plan again", id)
		}
		if err != nil {
			return fmt.Errorf("write twin of %q: %w", id, err)
		}
		r.Tags, r.Desired, r.TwinETag = c.After.Tags, c.After.Desired, t.ETag
		a.st.Set(r)
	}
	if c.RegistryChanged() {
		d, err := a.w.Device(ctx, id)
		if err != nil {
			return fmt.Errorf("read device %q: %w", id, err)
		}
		d.Status, d.StatusReason = c.After.Status, c.After.StatusReason
		d, err = a.w.UpdateDevice(ctx, d, d.ETag)
		if err != nil {
			return fmt.Errorf("update device %q: %w", id, err)
		}
		r.Status, r.StatusReason, r.ETag = c.After.Status, c.After.StatusReason, d.ETag
		a.st.Set(r)
	}
	return nil
}

func (a *applier) delete(ctx context.Context, c *plan.Change) error {
	id := c.Before.DeviceID
	if !c.Gone {
		err := a.w.DeleteDevice(ctx, id, "*")
		if err != nil && !errors.Is(err, hub.ErrNotFound) {
			return fmt.Errorf("delete device %q: %w", id, err)
		}
	}
	a.st.Remove(c.Addr)
	return nil
}

// record applies a refresh-only plan: the state takes the hub's values,
// and nothing is written to the hub.
func (a *applier) record(p *plan.Plan) (Result, error) {
	for _, c := range p.Changes {
		switch c.Action {
		case plan.Delete:
			a.st.Remove(c.Addr)
		case plan.Update:
			r := a.st.Resource(c.Addr)
			if r == nil {
				continue
			}
			r.Status, r.StatusReason = c.After.Status, c.After.StatusReason
			r.Tags, r.Desired = c.After.Tags, c.After.Desired
			r.ETag, r.TwinETag = c.DeviceETag, c.TwinETag
			a.st.Set(r)
		case plan.NoOp, plan.Create, plan.Replace:
			panic(fmt.Sprintf("apply: %v in a refresh-only plan", c.Action))
		default:
			panic(fmt.Sprintf("apply: unknown action %v", c.Action))
		}
	}
	if err := a.save(); err != nil {
		return a.res, err
	}
	return a.res, nil
}
