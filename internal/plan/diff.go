package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

// Options change what Diff plans.
type Options struct {
	// Destroy plans the deletion of everything the state holds.
	Destroy bool
	// RefreshOnly plans no change to the hub: it reports what changed
	// outside iotplan, and applying it records the hub's values in the
	// state.
	RefreshOnly bool
	// Targets, when not empty, limits the plan to these addresses (a
	// resource address also selects all its instances).
	Targets []string
	// Replace forces the replacement of these resource instances.
	Replace []string
}

// Selects reports whether the addresses select addr: it is one of them or
// an instance of one.
func Selects(addrs []string, addr string) bool {
	for _, a := range addrs {
		if addr == a || strings.HasPrefix(addr, a+"[") {
			return true
		}
	}
	return false
}

// Diff compares the configuration (desired), the state (prior) and the hub
// (actual) and returns the plan that makes the hub match the configuration.
// Only keys that the configuration declares or that iotplan wrote before are
// compared; everything else on a twin belongs to someone else.
//
// A device that exists on the hub but not in the state is not taken over:
// Diff returns an error diagnostic for it.
func Diff(cfg *config.Config, prior *state.State, actual *Actual, opts Options) (*Plan, hcl.Diagnostics) {
	p := &Plan{Lineage: prior.Lineage, Serial: prior.Serial, Destroy: opts.Destroy, RefreshOnly: opts.RefreshOnly}
	var diags hcl.Diagnostics
	if opts.RefreshOnly {
		p.Changes, p.Unchanged = refreshOnly(prior, actual, opts.Targets)
		return p, nil
	}

	wanted := map[string]*config.Device{}
	if !opts.Destroy {
		for _, d := range cfg.Devices {
			wanted[d.Addr.String()] = d
		}
	}
	// Device IDs the state holds, so that an ID moving from one address to
	// another is not mistaken for a device iotplan does not own.
	managed := map[string]bool{}
	for _, r := range prior.Resources {
		managed[r.DeviceID] = true
	}

	addrs := map[string]bool{}
	for a := range wanted {
		addrs[a] = true
	}
	for a := range prior.Resources {
		addrs[a] = true
	}
	for _, addr := range sortedKeys(addrs) {
		if len(opts.Targets) > 0 && !Selects(opts.Targets, addr) {
			continue
		}
		want, before := wanted[addr], prior.Resources[addr]
		var ch *Change
		switch {
		case want == nil:
			ch = deleteChange(before, actual.Devices[before.DeviceID])
		case before == nil:
			if t := actual.Devices[want.DeviceID]; t != nil && !managed[want.DeviceID] {
				diags = diags.Append(unmanagedDiag(want))
				continue
			}
			ch = createChange(want, nil, "")
		case Selects(opts.Replace, addr) && want.DeviceID == before.DeviceID && actual.Devices[before.DeviceID] != nil:
			ch = createChange(want, before, "replacement requested with -replace")
			ch.Action = Replace
			t := actual.Devices[before.DeviceID]
			ch.DeviceETag, ch.TwinETag = t.DeviceETag, t.ETag
		default:
			ch = updateChange(want, before, actual, managed)
			if ch == nil {
				diags = diags.Append(unmanagedDiag(want))
				continue
			}
		}
		if ch.Action == NoOp {
			p.Unchanged++
			continue
		}
		p.Changes = append(p.Changes, ch)
	}
	return p, diags
}

func unmanagedDiag(d *config.Device) *hcl.Diagnostic {
	rng := d.DeclRange
	if r, ok := d.Ranges["device_id"]; ok {
		rng = r
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Device already exists",
		Detail: fmt.Sprintf("The hub already has a device %q, which %s declares, but the state does not record it: iotplan only manages devices it created. Choose another device ID, or delete the device from the hub first.",
			d.DeviceID, d.Addr),
		Subject: rng.Ptr(),
	}
}

func deleteChange(before *state.Resource, t *hub.Twin) *Change {
	ch := &Change{Addr: before.Addr, Type: before.Type, Action: Delete, Before: redact(before), Reason: "not in the configuration"}
	if t == nil {
		ch.Gone = true
		ch.Reason = "already deleted outside iotplan"
		return ch
	}
	ch.DeviceETag, ch.TwinETag = t.DeviceETag, t.ETag
	return ch
}

// createChange plans a new device; before is the prior resource when the
// device is re-created.
func createChange(want *config.Device, before *state.Resource, reason string) *Change {
	after := desiredResource(want)
	ch := &Change{Addr: after.Addr, Type: after.Type, Action: Create, Before: redact(before), After: after, Reason: reason}
	ch.Attrs = append(ch.Attrs, AttrChange{Path: "status", Op: OpSet, After: string(after.Status)})
	if after.StatusReason != "" {
		ch.Attrs = append(ch.Attrs, AttrChange{Path: "status_reason", Op: OpSet, After: after.StatusReason})
	}
	for _, sec := range []struct {
		name string
		m    map[string]any
	}{{"tags", after.Tags}, {"desired", after.Desired}} {
		l := leaves(sec.m)
		for _, k := range sortedKeys(l) {
			ch.Attrs = append(ch.Attrs, AttrChange{Path: sec.name + "." + k, Op: OpSet, After: l[k]})
		}
	}
	return ch
}

// updateChange plans a device that both the configuration and the state
// hold. It returns nil when the configuration moves the resource to a device
// ID that exists on the hub but that iotplan does not manage.
func updateChange(want *config.Device, before *state.Resource, actual *Actual, managed map[string]bool) *Change {
	t := actual.Devices[before.DeviceID]
	if want.DeviceID != before.DeviceID {
		if actual.Devices[want.DeviceID] != nil && !managed[want.DeviceID] {
			return nil
		}
		ch := createChange(want, before, fmt.Sprintf("device_id changes from %q: forces replacement", before.DeviceID))
		ch.Action = Replace
		if t != nil {
			ch.DeviceETag, ch.TwinETag = t.DeviceETag, t.ETag
		} else {
			ch.Gone = true
		}
		return ch
	}
	if t == nil {
		return createChange(want, before, "deleted outside iotplan")
	}

	after := desiredResource(want)
	ch := &Change{Addr: after.Addr, Type: after.Type, Action: Update, Before: redact(before), After: after,
		DeviceETag: t.DeviceETag, TwinETag: t.ETag}
	status := t.Status
	if status == "" {
		status = hub.StatusEnabled
	}
	ch.attr("status", string(after.Status), string(status), string(before.Status))
	ch.attr("status_reason", after.StatusReason, t.StatusReason, before.StatusReason)
	ch.section("tags", after.Tags, before.Tags, t.Tags)
	ch.section("desired", after.Desired, before.Desired, t.Properties.Desired.Properties())
	sort.SliceStable(ch.Attrs, func(i, j int) bool { return attrOrder(ch.Attrs[i].Path) < attrOrder(ch.Attrs[j].Path) })
	if len(ch.Attrs) == 0 {
		ch.Action = NoOp
	}
	return ch
}

// attr records a change of an identity field (compared as strings).
func (c *Change) attr(path, want, got, prior string) {
	if want == got {
		return
	}
	op := OpUpdate
	if got == "" {
		op = OpSet
	}
	c.Attrs = append(c.Attrs, AttrChange{Path: path, Op: op, Before: got, After: want, Drift: got != prior, Prior: prior})
}

// section diffs the owned keys of one twin section.
func (c *Change) section(name string, want, prior, got map[string]any) {
	wantL, priorL, gotL := leaves(want), leaves(prior), leaves(got)
	for _, k := range sortedKeys(wantL) {
		w := wantL[k]
		g, ok := lookup(got, k)
		if ok && valuesEqual(w, g) {
			c.Owned++
			continue
		}
		a := AttrChange{Path: name + "." + k, Op: OpSet, After: w}
		if ok {
			a.Op, a.Before = OpUpdate, g
		}
		if pv, owned := priorL[k]; owned && !(ok && valuesEqual(pv, g)) {
			a.Drift, a.Prior = true, pv
		}
		c.Attrs = append(c.Attrs, a)
	}
	for _, k := range sortedKeys(priorL) {
		if covers(wantL, k) {
			continue
		}
		g, ok := lookup(got, k)
		if !ok {
			continue // already gone
		}
		c.Attrs = append(c.Attrs, AttrChange{Path: name + "." + k, Op: OpRemove, Before: g})
	}
	for k := range gotL {
		if !covers(wantL, k) && !covers(priorL, k) {
			c.Foreign++
		}
	}
}

// attrOrder sorts identity fields first, then tags, then desired, each by
// path.
func attrOrder(path string) string {
	switch {
	case path == "status":
		return "0"
	case path == "status_reason":
		return "1"
	case strings.HasPrefix(path, "tags."):
		return "2" + path
	}
	return "3" + path
}

// desiredResource is the resource the configuration wants, before the hub
// assigns anything.
func desiredResource(d *config.Device) *state.Resource {
	status := d.Status
	if status == "" {
		status = hub.StatusEnabled
	}
	return &state.Resource{
		Addr:         d.Addr.String(),
		Type:         d.Addr.Type,
		DeviceID:     d.DeviceID,
		Status:       status,
		StatusReason: d.StatusReason,
		Auth:         hub.AuthSAS,
		Tags:         d.Tags,
		Desired:      d.Desired,
	}
}

// redact returns a copy of r without its secrets, so that a plan never
// carries keys.
func redact(r *state.Resource) *state.Resource {
	if r == nil {
		return nil
	}
	c := *r
	c.PrimaryKey, c.SecondaryKey = "", ""
	return &c
}

// refreshOnly lists, for each resource in the state, how the hub differs
// from what iotplan last wrote. Applying such a change records the hub's
// values; Before is the state, After the state updated to the hub.
func refreshOnly(prior *state.State, actual *Actual, targets []string) (changes []*Change, unchanged int) {
	for _, addr := range prior.Addresses() {
		if len(targets) > 0 && !Selects(targets, addr) {
			continue
		}
		r := prior.Resources[addr]
		t := actual.Devices[r.DeviceID]
		if t == nil {
			changes = append(changes, &Change{Addr: addr, Type: r.Type, Action: Delete, Before: redact(r), Gone: true,
				Reason: "deleted outside iotplan"})
			continue
		}
		after := redact(r)
		after.Status = t.Status
		if after.Status == "" {
			after.Status = hub.StatusEnabled
		}
		after.StatusReason = t.StatusReason
		after.Tags = adopt(r.Tags, t.Tags)
		after.Desired = adopt(r.Desired, t.Properties.Desired.Properties())
		ch := &Change{Addr: addr, Type: r.Type, Action: Update, Before: redact(r), After: after, DeviceETag: t.DeviceETag, TwinETag: t.ETag,
			Reason: "changed outside iotplan"}
		ch.attr("status", string(after.Status), string(r.Status), string(r.Status))
		ch.attr("status_reason", after.StatusReason, r.StatusReason, r.StatusReason)
		for _, sec := range []struct {
			name       string
			was, isNow map[string]any
		}{{"tags", r.Tags, after.Tags}, {"desired", r.Desired, after.Desired}} {
			was, isNow := leaves(sec.was), leaves(sec.isNow)
			for _, k := range sortedKeys(was) {
				v, ok := isNow[k]
				switch {
				case !ok:
					ch.Attrs = append(ch.Attrs, AttrChange{Path: sec.name + "." + k, Op: OpRemove, Before: was[k], Drift: true, Prior: was[k]})
				case !valuesEqual(was[k], v):
					ch.Attrs = append(ch.Attrs, AttrChange{Path: sec.name + "." + k, Op: OpUpdate, Before: was[k], After: v, Drift: true, Prior: was[k]})
				}
			}
		}
		for i := range ch.Attrs {
			ch.Attrs[i].Drift = true
		}
		if len(ch.Attrs) == 0 {
			unchanged++
			continue
		}
		changes = append(changes, ch)
	}
	return changes, unchanged
}

// adopt returns the hub's values of the owned keys: the owned leaves as
// they are on the hub now, without those the hub no longer has.
func adopt(owned, got map[string]any) map[string]any {
	if owned == nil {
		return nil
	}
	out := map[string]any{}
	for k := range leaves(owned) {
		if v, ok := lookup(got, k); ok {
			setPath(out, k, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
