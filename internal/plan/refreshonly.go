package plan

import (
	"github.com/iotplan/iotplan/internal/state"
)

// refreshOnly lists, for each resource in the state, how the hub differs
// from what iotplan last wrote. Applying such a change records the hub's
// values; Before is the state, After the state updated to the hub.
func refreshOnly(prior *state.State, actual *Actual, targets []string) (changes []*Change, unchanged int) {
	for _, addr := range prior.Addresses() {
		if len(targets) > 0 && !Selects(targets, addr) {
			continue
		}
		r := prior.Resources[addr]
		if r.Type != state.TypeDevice && r.Type != state.TypeModule {
			continue
		}
		t := actual.Lookup(r)
		if t == nil {
			changes = append(changes, &Change{Addr: addr, Type: r.Type, Action: Delete, Before: redact(r), Gone: true,
				Reason: "deleted outside iotplan"})
			continue
		}
		got := actualResource(r, t, actual)
		after := redact(r)
		after.Status, after.StatusReason, after.Edge, after.Parent = got.Status, got.StatusReason, got.Edge, got.Parent
		after.ManagedBy, after.PrimaryThumbprint, after.SecondaryThumbprint = got.ManagedBy, got.PrimaryThumbprint, got.SecondaryThumbprint
		after.Tags = adopt(r.Tags, t.Tags)
		after.Desired = adopt(r.Desired, t.Properties.Desired.Properties())
		ch := &Change{Addr: addr, Type: r.Type, Action: Update, Before: redact(r), After: after, Reason: "changed outside iotplan"}
		ch.setETags(t)
		was := identityAttrs(r)
		for i, a := range identityAttrs(after) {
			if a.fromState || a.want == was[i].want {
				continue
			}
			ch.Attrs = append(ch.Attrs, AttrChange{Path: a.path, Op: OpUpdate, Before: was[i].want, After: a.want, Drift: true, Prior: was[i].want, Sensitive: a.sensitive})
		}
		for _, sec := range []struct {
			name       string
			was, isNow map[string]any
		}{{"tags", r.Tags, after.Tags}, {"desired", r.Desired, after.Desired}} {
			was, isNow := leaves(sec.was), leaves(sec.isNow)
			for _, k := range sortedKeys(was) {
				path := sec.name + "." + k
				v, ok := isNow[k]
				switch {
				case !ok:
					ch.Attrs = append(ch.Attrs, AttrChange{Path: path, Op: OpRemove, Before: was[k], Drift: true, Prior: was[k], Sensitive: isSensitive(r, path)})
				case !valuesEqual(was[k], v):
					ch.Attrs = append(ch.Attrs, AttrChange{Path: path, Op: OpUpdate, Before: was[k], After: v, Drift: true, Prior: was[k], Sensitive: isSensitive(r, path)})
				}
			}
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
