package apply

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
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

	Module(ctx context.Context, deviceID, moduleID string) (*hub.Module, error)
	CreateModule(ctx context.Context, m *hub.Module) (*hub.Module, error)
	UpdateModule(ctx context.Context, m *hub.Module, ifMatch string) (*hub.Module, error)
	DeleteModule(ctx context.Context, deviceID, moduleID, ifMatch string) error
	PatchModuleTwin(ctx context.Context, deviceID, moduleID string, patch hub.TwinPatch, ifMatch string) (*hub.Twin, error)

	BulkRegistry(ctx context.Context, entries []hub.ExportImportDevice) (*hub.BulkRegistryOperationResult, error)
	QueryTwins(ctx context.Context, query string, opts hub.QueryOptions) (*hub.TwinPage, error)
}

// Hook hears about each change as apply works on it. Its methods are called
// from several goroutines at once. deleting is true for a deletion and for
// the deletion half of a replacement.
type Hook interface {
	Start(c *plan.Change, deleting bool)
	Done(c *plan.Change, deleting bool, err error, elapsed time.Duration)
}

// NilHook is a Hook that does nothing.
type NilHook struct{}

func (NilHook) Start(*plan.Change, bool)                      {}
func (NilHook) Done(*plan.Change, bool, error, time.Duration) {}

// Options control an apply.
type Options struct {
	// Parallelism bounds the hub calls in flight; 10 when zero.
	Parallelism int
	// BatchSize is the number of changes run between two chances to save
	// the state; 100 when zero.
	BatchSize int
	// SaveInterval is the least time between two saves of the state after
	// a batch: 1 s when zero, and at least four times as long as the last
	// save took, so that saving a large state never dominates the run; a
	// negative interval saves after every batch.
	SaveInterval time.Duration
	// Save persists a snapshot of the state. It is called after batches (see
	// SaveInterval) and once at the end, before Apply returns.
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

// Apply makes the hub match p, recording each step in st. Moves are
// recorded first; then deletions run, dependents before what they depend
// on; then creations, updates and imports, dependencies first. Within a
// level, changes run in parallel. Apply goes on with independent changes
// when one fails and returns all failures joined; a change whose
// dependency failed is not attempted.
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
	a := &applier{w: w, st: st, opts: opts, failed: map[string]bool{}, lastSave: time.Now()}
	if p.RefreshOnly {
		return a.record(p)
	}

	// Deletions go first (jobs and configurations, then modules and
	// devices, dependents first), so that an ID freed by one resource can
	// be taken by another; then identities and twins, dependencies first;
	// then configurations and jobs, which target the devices; and last the
	// old halves of replacements made before their destruction.
	var autoDeletes, deletes, writes, autoWrites, jobWrites, lateDeletes []*plan.Change
	moved := false
	for _, c := range p.Changes {
		if c.MovedFrom != "" {
			a.move(c)
			moved = true
		}
		auto := isAutomation(c)
		switch c.Action {
		case plan.NoOp:
			if c.Importing {
				writes = append(writes, c)
			}
		case plan.Delete:
			if auto {
				autoDeletes = append(autoDeletes, c)
			} else {
				deletes = append(deletes, c)
			}
		case plan.Replace:
			switch {
			case auto && c.CreateBeforeDestroy:
				lateDeletes = append(lateDeletes, c)
			case auto:
				autoDeletes = append(autoDeletes, c)
			default:
				deletes = append(deletes, c)
			}
			fallthrough
		case plan.Create, plan.Update:
			switch {
			case c.Type == state.TypeJob:
				jobWrites = append(jobWrites, c)
			case auto:
				autoWrites = append(autoWrites, c)
			default:
				writes = append(writes, c)
			}
		default:
			panic(fmt.Sprintf("apply: unknown action %v", c.Action))
		}
	}
	var errs []error
	if moved {
		if err := a.save(); err != nil {
			return a.res, err
		}
	}
	for _, ph := range []struct {
		changes  []*plan.Change
		deleting bool
	}{{autoDeletes, true}, {deletes, true}, {writes, false}, {autoWrites, false}, {jobWrites, false}, {lateDeletes, true}} {
		for _, level := range levels(ph.changes, ph.deleting) {
			for start := 0; start < len(level); start += opts.BatchSize {
				if a.stopped() || ctx.Err() != nil {
					a.res.NotStarted += len(level) - start
					break
				}
				batch := level[start:min(start+opts.BatchSize, len(level))]
				errs = append(errs, a.batch(ctx, batch, ph.deleting)...)
				if err := a.maybeSave(); err != nil {
					return a.res, errors.Join(append(errs, err)...)
				}
			}
		}
	}
	if a.unsaved {
		if err := a.save(); err != nil {
			return a.res, errors.Join(append(errs, err)...)
		}
	}
	if a.res.NotStarted > 0 {
		errs = append(errs, ErrStopped)
	}
	return a.res, errors.Join(errs...)
}

// levels orders changes by their dependencies: each level depends only on
// earlier ones. For deletions the order is reversed: a resource goes
// before those it depends on.
func levels(changes []*plan.Change, deleting bool) [][]*plan.Change {
	in := map[string]*plan.Change{}
	for _, c := range changes {
		in[c.Addr] = c
	}
	deps := map[string][]string{} // addr → addrs that must go first
	for _, c := range changes {
		for _, d := range c.Dependencies {
			if in[d] == nil || d == c.Addr {
				continue
			}
			if deleting {
				deps[d] = append(deps[d], c.Addr)
			} else {
				deps[c.Addr] = append(deps[c.Addr], d)
			}
		}
	}
	level := map[string]int{}
	var depth func(addr string, seen map[string]bool) int
	depth = func(addr string, seen map[string]bool) int {
		if l, ok := level[addr]; ok {
			return l
		}
		if seen[addr] {
			return 0 // a cycle in stale dependencies: break it
		}
		seen[addr] = true
		l := 0
		for _, d := range deps[addr] {
			l = max(l, depth(d, seen)+1)
		}
		level[addr] = l
		return l
	}
	var out [][]*plan.Change
	for _, c := range changes {
		l := depth(c.Addr, map[string]bool{})
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], c)
	}
	for _, lv := range out {
		sort.SliceStable(lv, func(i, j int) bool { return lv[i].Addr < lv[j].Addr })
	}
	return out
}

type applier struct {
	w    Writer
	st   *state.Sync
	opts Options
	res  Result

	lastSave time.Time
	saveTook time.Duration
	unsaved  bool

	// failed holds the addresses whose change failed, so that what
	// depends on them is not attempted. Only written between batches.
	failed map[string]bool
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

// save persists the state now.
func (a *applier) save() error {
	a.unsaved = false
	if a.opts.Save == nil {
		return nil
	}
	t0 := time.Now()
	if err := a.opts.Save(a.st.Snapshot()); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	a.lastSave, a.saveTook = time.Now(), time.Since(t0)
	return nil
}

// maybeSave persists the state when the save interval has passed.
func (a *applier) maybeSave() error {
	a.unsaved = true
	interval := a.opts.SaveInterval
	if interval == 0 {
		interval = time.Second
	}
	if interval > 0 && time.Since(a.lastSave) < max(interval, 4*a.saveTook) {
		return nil
	}
	return a.save()
}

// move records a moved block: the resource changes address in the state.
func (a *applier) move(c *plan.Change) {
	r := a.st.Resource(c.MovedFrom)
	if r == nil {
		return
	}
	a.st.Remove(c.MovedFrom)
	r.Addr = c.Addr
	a.st.Set(r)
}

func (a *applier) batch(ctx context.Context, batch []*plan.Change, deleting bool) []error {
	var g errgroup.Group
	g.SetLimit(a.opts.Parallelism)
	errs := make([]error, len(batch))
	done := make([]bool, len(batch))
	run := func(i int, c *plan.Change) {
		if dep := a.failedDependency(c, deleting); dep != "" {
			errs[i] = fmt.Errorf("%s: not attempted: %s failed", c.Addr, dep)
			done[i] = true
			return
		}
		g.Go(func() error {
			a.opts.Hook.Start(c, deleting)
			t0 := time.Now()
			err := a.one(ctx, c, deleting)
			a.opts.Hook.Done(c, deleting, err, time.Since(t0))
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", c.Addr, err)
			}
			done[i] = true
			return nil
		})
	}
	// New devices go to the registry a hundred at a time, with their twins,
	// in one bulk call each.
	var bulk []int
	flush := func() {
		if len(bulk) == 0 {
			return
		}
		idx := bulk
		bulk = nil
		g.Go(func() error {
			a.bulkCreate(ctx, batch, idx, errs, done)
			return nil
		})
	}
	for i, c := range batch {
		if a.stopped() || ctx.Err() != nil {
			break
		}
		if !deleting && bulkCreatable(c) && a.failedDependency(c, deleting) == "" {
			bulk = append(bulk, i)
			if len(bulk) == hub.MaxBulkDevices {
				flush()
			}
			continue
		}
		run(i, c)
	}
	flush()
	_ = g.Wait() // goroutines report through errs
	for i, c := range batch {
		switch {
		case !done[i]:
			a.res.NotStarted++
		case errs[i] != nil:
			a.failed[c.Addr] = true
		case deleting && c.Action == plan.Replace:
			// counted when its creation is done
		case c.Action == plan.Create:
			a.res.Added++
		case c.Action == plan.Update || c.Action == plan.NoOp:
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

// bulkCreatable reports whether a change can go in a bulk create: a new
// device whose creation needs nothing read first (a parent's scope).
func bulkCreatable(c *plan.Change) bool {
	return (c.Action == plan.Create || c.Action == plan.Replace) && c.After != nil && c.After.Type == state.TypeDevice && c.After.Parent == ""
}

// bulkCreate creates the devices of batch[idx] in one bulk registry call,
// twins included. SAS keys that the configuration does not give are made
// here, as the hub would make them, so that the state holds them without
// reading every device back.
func (a *applier) bulkCreate(ctx context.Context, batch []*plan.Change, idx []int, errs []error, done []bool) {
	t0 := time.Now()
	entries := make([]hub.ExportImportDevice, len(idx))
	res := make([]*state.Resource, len(idx))
	for j, i := range idx {
		c := batch[i]
		a.opts.Hook.Start(c, false)
		want := c.After
		r := &state.Resource{Addr: c.Addr}
		fromConfig(r, want)
		auth := authFor(want)
		if want.Auth == hub.AuthSAS && !want.ExplicitKeys {
			auth.SymmetricKey = &hub.SymmetricKey{PrimaryKey: newKey(), SecondaryKey: newKey()}
		}
		if auth.SymmetricKey != nil {
			r.PrimaryKey, r.SecondaryKey = auth.SymmetricKey.PrimaryKey, auth.SymmetricKey.SecondaryKey
		}
		r.Tags, r.Desired = want.Tags, want.Desired
		e := hub.ExportImportDevice{ID: want.DeviceID, ImportMode: hub.ImportCreate, Status: want.Status, StatusReason: want.StatusReason,
			Authentication: auth, Capabilities: &hub.DeviceCapabilities{IoTEdge: want.Edge}, Tags: want.Tags}
		if len(want.Desired) > 0 {
			e.Properties = &hub.PropertyContainer{Desired: want.Desired}
		}
		entries[j], res[j] = e, r
	}
	out, err := a.w.BulkRegistry(ctx, entries)
	failed := map[string]error{}
	if err == nil && out != nil {
		for _, e := range out.Errors {
			he := &hub.Error{StatusCode: 400, Name: e.ErrorCode, Message: e.ErrorStatus}
			if code, ok := hub.LookupErrorName(e.ErrorCode); ok {
				he.StatusCode, he.Code = code.Number/1000, code.Number
			}
			failed[e.DeviceID] = fmt.Errorf("create device %q: %w", e.DeviceID, he)
		}
	}
	// The etags of what was created, read back with one query: a bulk call
	// does not return them.
	if err == nil {
		ids := make([]string, 0, len(idx))
		for _, i := range idx {
			if _, bad := failed[batch[i].After.DeviceID]; !bad {
				ids = append(ids, "'"+strings.ReplaceAll(batch[i].After.DeviceID, "'", "''")+"'")
			}
		}
		etags := map[string]*hub.Twin{}
		q := "SELECT * FROM devices WHERE deviceId IN [" + strings.Join(ids, ", ") + "]"
		opts := hub.QueryOptions{PageSize: hub.MaxBulkDevices}
		for len(ids) > 0 {
			page, qerr := a.w.QueryTwins(ctx, q, opts)
			if qerr != nil {
				break // the etags are a convenience; the next refresh reads them
			}
			for k := range page.Twins {
				etags[page.Twins[k].DeviceID] = &page.Twins[k]
			}
			if page.Continuation == "" {
				break
			}
			opts.Continuation = page.Continuation
		}
		for j, i := range idx {
			if t := etags[batch[i].After.DeviceID]; t != nil {
				res[j].ETag, res[j].TwinETag = t.DeviceETag, t.ETag
			}
		}
	}
	for j, i := range idx {
		c := batch[i]
		cerr := err
		if cerr != nil {
			cerr = fmt.Errorf("create device %q: %w", c.After.DeviceID, cerr)
		} else if ferr, ok := failed[c.After.DeviceID]; ok {
			cerr = ferr
		}
		if cerr == nil {
			a.st.Set(res[j])
		} else {
			errs[i] = fmt.Errorf("%s: %w", c.Addr, cerr)
		}
		done[i] = true
		a.opts.Hook.Done(c, false, cerr, time.Since(t0))
	}
}

// failedDependency returns a dependency of c whose change failed, or "".
func (a *applier) failedDependency(c *plan.Change, deleting bool) string {
	if a.failed[c.Addr] {
		return c.Addr // the deletion half of its replacement failed
	}
	if deleting {
		return ""
	}
	for _, d := range c.Dependencies {
		if a.failed[d] {
			return d
		}
	}
	return ""
}

func (a *applier) one(ctx context.Context, c *plan.Change, deleting bool) error {
	if isAutomation(c) {
		switch {
		case deleting:
			return a.deleteAutomation(ctx, c)
		case c.Action == plan.Update:
			return a.updateAutomation(ctx, c)
		default:
			return a.createAutomation(ctx, c)
		}
	}
	if deleting {
		return a.delete(ctx, c)
	}
	switch c.Action {
	case plan.Create, plan.Replace:
		return a.create(ctx, c)
	case plan.Update, plan.NoOp:
		if c.Importing {
			if err := a.adopt(ctx, c); err != nil {
				return err
			}
		}
		return a.update(ctx, c)
	case plan.Delete:
		return a.delete(ctx, c)
	default:
		panic(fmt.Sprintf("apply: unknown action %v", c.Action))
	}
}

// fromConfig copies into r what the configuration decides and the hub does
// not report back.
func fromConfig(r, after *state.Resource) {
	r.Type, r.DeviceID, r.ModuleID = after.Type, after.DeviceID, after.ModuleID
	r.Status, r.StatusReason, r.Auth = after.Status, after.StatusReason, after.Auth
	r.PrimaryThumbprint, r.SecondaryThumbprint = after.PrimaryThumbprint, after.SecondaryThumbprint
	r.ExplicitKeys, r.KeyVersion = after.ExplicitKeys, after.KeyVersion
	r.Edge, r.Parent, r.ManagedBy = after.Edge, after.Parent, after.ManagedBy
	r.Dependencies, r.Sensitive = after.Dependencies, after.Sensitive
	if after.ExplicitKeys {
		r.PrimaryKey, r.SecondaryKey = after.PrimaryKey, after.SecondaryKey
	}
}

func (a *applier) create(ctx context.Context, c *plan.Change) error {
	want := c.After
	r := &state.Resource{Addr: c.Addr}
	fromConfig(r, want)
	auth := authFor(want)
	if want.Type == state.TypeModule {
		m, err := a.w.CreateModule(ctx, &hub.Module{DeviceID: want.DeviceID, ModuleID: want.ModuleID, ManagedBy: want.ManagedBy, Authentication: auth})
		if err != nil {
			return fmt.Errorf("create module %q: %w", want.HubID(), err)
		}
		r.GenerationID, r.ETag = m.GenerationID, m.ETag
		keysOf(r, m.Authentication)
	} else {
		d := &hub.Device{DeviceID: want.DeviceID, Status: want.Status, StatusReason: want.StatusReason, Authentication: auth,
			Capabilities: &hub.DeviceCapabilities{IoTEdge: want.Edge}}
		if err := a.setParent(ctx, d, want.Parent); err != nil {
			return err
		}
		d, err := a.w.CreateDevice(ctx, d)
		if err != nil {
			return fmt.Errorf("create device %q: %w", want.DeviceID, err)
		}
		r.GenerationID, r.ETag = d.GenerationID, d.ETag
		keysOf(r, d.Authentication)
	}
	// Recorded before the twin is written, so that a failure there leaves a
	// state that the next plan completes rather than an identity nobody
	// owns.
	a.st.Set(r)
	if len(want.Tags) == 0 && len(want.Desired) == 0 {
		return nil
	}
	t, err := a.patch(ctx, want, hub.TwinPatch{Tags: want.Tags, Desired: want.Desired}, "")
	if err != nil {
		return fmt.Errorf("write twin of %q: %w", want.HubID(), err)
	}
	r.Tags, r.Desired, r.TwinETag = want.Tags, want.Desired, t.ETag
	a.st.Set(r)
	return nil
}

// adopt records an imported identity in the state, as the hub has it,
// before the update brings it to the configuration.
func (a *applier) adopt(ctx context.Context, c *plan.Change) error {
	r := &state.Resource{Addr: c.Addr}
	fromConfig(r, c.After)
	r.TwinETag = c.TwinETag
	if c.After.Type == state.TypeModule {
		m, err := a.w.Module(ctx, c.After.DeviceID, c.After.ModuleID)
		if err != nil {
			return fmt.Errorf("import module %q: %w", c.ImportID, err)
		}
		r.GenerationID, r.ETag = m.GenerationID, m.ETag
		keysOf(r, m.Authentication)
	} else {
		d, err := a.w.Device(ctx, c.After.DeviceID)
		if err != nil {
			return fmt.Errorf("import device %q: %w", c.ImportID, err)
		}
		r.GenerationID, r.ETag = d.GenerationID, d.ETag
		r.Status, r.StatusReason = d.Status, d.StatusReason
		keysOf(r, d.Authentication)
	}
	a.st.Set(r)
	return nil
}

func (a *applier) update(ctx context.Context, c *plan.Change) error {
	r := a.st.Resource(c.Addr)
	if r == nil {
		return fmt.Errorf("the state no longer holds %s", c.Addr)
	}
	want := c.After
	if tags, desired := c.Patch(); tags != nil || desired != nil {
		t, err := a.patch(ctx, want, hub.TwinPatch{Tags: tags, Desired: desired}, c.TwinETag)
		if errors.Is(err, hub.ErrPreconditionFailed) {
			return fmt.Errorf("the twin of %q changed on the hub after the plan was made; run plan again", want.HubID())
		}
		if err != nil {
			return fmt.Errorf("write twin of %q: %w", want.HubID(), err)
		}
		r.TwinETag = t.ETag
	}
	r.Tags, r.Desired = want.Tags, want.Desired
	a.st.Set(r)
	if c.RegistryChanged() {
		if err := a.updateIdentity(ctx, c, r); err != nil {
			return err
		}
	}
	fromConfig(r, want)
	a.st.Set(r)
	return nil
}

// updateIdentity writes the identity fields of c to the registry: a read,
// the change, and a write conditional on the etag read.
func (a *applier) updateIdentity(ctx context.Context, c *plan.Change, r *state.Resource) error {
	want := c.After
	rotate := false
	for _, at := range c.Attrs {
		rotate = rotate || at.Path == "key_version"
	}
	if want.Type == state.TypeModule {
		m, err := a.w.Module(ctx, want.DeviceID, want.ModuleID)
		if err != nil {
			return fmt.Errorf("read module %q: %w", want.HubID(), err)
		}
		m.ManagedBy = want.ManagedBy
		m.Authentication = updatedAuth(m.Authentication, want, rotate)
		m, err = a.w.UpdateModule(ctx, m, m.ETag)
		if err != nil {
			return fmt.Errorf("update module %q: %w", want.HubID(), err)
		}
		r.ETag = m.ETag
		keysOf(r, m.Authentication)
		return nil
	}
	d, err := a.w.Device(ctx, want.DeviceID)
	if err != nil {
		return fmt.Errorf("read device %q: %w", want.DeviceID, err)
	}
	d.Status, d.StatusReason = want.Status, want.StatusReason
	d.Capabilities = &hub.DeviceCapabilities{IoTEdge: want.Edge}
	d.Authentication = updatedAuth(d.Authentication, want, rotate)
	if want.Edge {
		d.ParentScopes = nil // an edge device keeps its own scope
	} else {
		d.DeviceScope, d.ParentScopes = "", nil
	}
	if err := a.setParent(ctx, d, want.Parent); err != nil {
		return err
	}
	d, err = a.w.UpdateDevice(ctx, d, d.ETag)
	if err != nil {
		return fmt.Errorf("update device %q: %w", want.DeviceID, err)
	}
	r.ETag = d.ETag
	keysOf(r, d.Authentication)
	return nil
}

// setParent puts a device behind the edge device parent: its parentScopes
// (and, for a leaf device, its deviceScope) is the parent's deviceScope.
func (a *applier) setParent(ctx context.Context, d *hub.Device, parent string) error {
	if parent == "" {
		return nil
	}
	p, err := a.w.Device(ctx, parent)
	if err != nil {
		return fmt.Errorf("read parent device %q: %w", parent, err)
	}
	if p.DeviceScope == "" {
		return fmt.Errorf("parent device %q is not an IoT Edge device (it has no device scope)", parent)
	}
	d.ParentScopes = []string{p.DeviceScope}
	if d.Capabilities == nil || !d.Capabilities.IoTEdge {
		d.DeviceScope = p.DeviceScope
	}
	return nil
}

func (a *applier) patch(ctx context.Context, r *state.Resource, p hub.TwinPatch, ifMatch string) (*hub.Twin, error) {
	if r.Type == state.TypeModule {
		return a.w.PatchModuleTwin(ctx, r.DeviceID, r.ModuleID, p, ifMatch)
	}
	return a.w.PatchTwin(ctx, r.DeviceID, p, ifMatch)
}

func (a *applier) delete(ctx context.Context, c *plan.Change) error {
	b := c.Before
	if !c.Gone {
		var err error
		if b.Type == state.TypeModule {
			err = a.w.DeleteModule(ctx, b.DeviceID, b.ModuleID, "*")
		} else {
			err = a.w.DeleteDevice(ctx, b.DeviceID, "*")
		}
		// Gone already: deleting a device deletes its modules.
		if err != nil && !errors.Is(err, hub.ErrNotFound) {
			return fmt.Errorf("delete %s %q: %w", b.Type, b.HubID(), err)
		}
	}
	a.st.Remove(c.Addr)
	return nil
}

// authFor is the credential to create an identity with.
func authFor(r *state.Resource) *hub.AuthenticationMechanism {
	m := &hub.AuthenticationMechanism{Type: r.Auth}
	switch r.Auth {
	case hub.AuthSAS:
		if r.ExplicitKeys {
			m.SymmetricKey = &hub.SymmetricKey{PrimaryKey: r.PrimaryKey, SecondaryKey: r.SecondaryKey}
		}
	case hub.AuthSelfSigned:
		m.X509Thumbprint = &hub.X509Thumbprint{PrimaryThumbprint: optional(r.PrimaryThumbprint), SecondaryThumbprint: optional(r.SecondaryThumbprint)}
	}
	return m
}

// updatedAuth is the credential to update an identity with: the current one
// with the configuration's keys or thumbprints, or new keys when they are
// rotated.
func updatedAuth(cur *hub.AuthenticationMechanism, want *state.Resource, rotate bool) *hub.AuthenticationMechanism {
	m := authFor(want)
	if want.Auth == hub.AuthSAS && !want.ExplicitKeys {
		switch {
		case rotate:
			m.SymmetricKey = &hub.SymmetricKey{PrimaryKey: newKey(), SecondaryKey: newKey()}
		case cur != nil && cur.SymmetricKey != nil:
			m.SymmetricKey = cur.SymmetricKey
		}
	}
	return m
}

// newKey returns a new SAS key: 32 random bytes, base64, as the hub makes
// them.
func newKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("apply: no randomness for a key: %v", err))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func keysOf(r *state.Resource, m *hub.AuthenticationMechanism) {
	if m != nil && m.SymmetricKey != nil && m.SymmetricKey.PrimaryKey != "" {
		r.PrimaryKey, r.SecondaryKey = m.SymmetricKey.PrimaryKey, m.SymmetricKey.SecondaryKey
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
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
			r.Edge, r.Parent, r.ManagedBy = c.After.Edge, c.After.Parent, c.After.ManagedBy
			r.PrimaryThumbprint, r.SecondaryThumbprint = c.After.PrimaryThumbprint, c.After.SecondaryThumbprint
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
