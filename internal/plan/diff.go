package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
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
	// resource address also selects all its instances) and what they
	// depend on.
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

// wanted is a resource instance as the configuration declares it.
type wanted struct {
	res       *state.Resource // without hub-assigned fields
	lifecycle config.Lifecycle
	declRange hcl.Range
	ranges    map[string]hcl.Range
}

func (w *wanted) rangeOf(attr string) *hcl.Range {
	if r, ok := w.ranges[attr]; ok {
		return &r
	}
	return w.declRange.Ptr()
}

// Diff compares the configuration (desired), the state (prior) and the hub
// (actual) and returns the plan that makes the hub match the configuration.
// Only keys that the configuration declares or that iotplan wrote before are
// compared; everything else on a twin belongs to someone else.
//
// An identity that exists on the hub but not in the state is not taken
// over unless an import block names it: Diff returns an error diagnostic.
func Diff(cfg *config.Config, prior *state.State, actual *Actual, opts Options) (*Plan, hcl.Diagnostics) {
	p := &Plan{Lineage: prior.Lineage, Serial: prior.Serial, Destroy: opts.Destroy, RefreshOnly: opts.RefreshOnly}
	if opts.RefreshOnly {
		p.Changes, p.Unchanged = refreshOnly(prior, actual, opts.Targets)
		return p, nil
	}
	var diags hcl.Diagnostics

	decl := declared(cfg)
	want := decl
	if opts.Destroy {
		want = map[string]*wanted{}
	}
	prior, moves, moveDiags := applyMoves(cfg.Moved, prior, decl)
	diags = append(diags, moveDiags...)

	targets := opts.Targets
	if len(targets) > 0 && !opts.Destroy {
		targets = withDependencies(cfg, targets)
	}

	// Identities the state holds, so that an ID moving from one address to
	// another is not mistaken for one iotplan does not own.
	managed := map[string]bool{}
	for _, r := range prior.Resources {
		managed[r.HubID()] = true
	}
	imports := map[string]*config.Import{}
	for _, im := range cfg.Imports {
		imports[im.To.String()] = im
	}

	addrs := map[string]bool{}
	for a := range want {
		addrs[a] = true
	}
	for a, r := range prior.Resources {
		if r.Type == state.TypeDevice || r.Type == state.TypeModule {
			addrs[a] = true
		}
	}
	for _, addr := range sortedKeys(addrs) {
		if len(targets) > 0 && !Selects(targets, addr) {
			continue
		}
		w, before := want[addr], prior.Resources[addr]
		var ch *Change
		switch {
		case w == nil:
			ch = deleteChange(before, actual.Lookup(before))
		case before == nil:
			t := actual.Lookup(w.res)
			if im := imports[addr]; im != nil {
				if t == nil {
					diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot import non-existent hub object",
						Detail:  fmt.Sprintf("The import block for %s names %q, which the hub does not have. Check the ID, or remove the import block to create it.", addr, im.ID),
						Subject: im.DeclRange.Ptr()})
					continue
				}
				ch = importChange(w, t, actual, im.ID)
				break
			}
			if t != nil && !managed[w.res.HubID()] {
				diags = diags.Append(unmanagedDiag(addr, w))
				continue
			}
			ch = createChange(w.res, nil, "")
		case Selects(opts.Replace, addr) && w.res.HubID() == before.HubID() && actual.Lookup(before) != nil:
			ch = createChange(w.res, before, "replacement requested with -replace")
			ch.Action = Replace
			ch.setETags(actual.Lookup(before))
		default:
			ch = updateChange(w, before, actual, managed)
			if ch == nil {
				diags = diags.Append(unmanagedDiag(addr, w))
				continue
			}
		}
		if from, ok := moves[addr]; ok {
			ch.MovedFrom = from
		}
		p.Changes = append(p.Changes, ch)
	}
	replaceModulesOfReplacedDevices(p.Changes)
	if actual.Configurations != nil {
		auto, d := diffAutomation(cfg, prior, actual, opts)
		diags = append(diags, d...)
		p.Changes = append(p.Changes, auto...)
	} else if len(cfg.Configurations) > 0 || len(cfg.Jobs) > 0 || hasAutomation(prior) {
		diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Configurations and jobs not supported by this hub",
			Detail: "The configuration declares configurations or jobs (or the state holds some), but the hub's configurations and jobs could not be read."})
	}

	// prevent_destroy is checked against the declared lifecycle, in destroy
	// plans too.
	for _, ch := range p.Changes {
		if ch.Action != Delete && ch.Action != Replace || ch.Gone && ch.Action == Delete {
			continue
		}
		if d := decl[ch.Addr]; d != nil && d.lifecycle.PreventDestroy {
			diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Instance cannot be destroyed",
				Detail: fmt.Sprintf("%s has lifecycle.prevent_destroy set, but the plan would %s it (%s). To go on, remove prevent_destroy, or narrow the plan with -target.",
					ch.Addr, map[Action]string{Delete: "destroy", Replace: "replace"}[ch.Action], ch.Reason),
				Subject: d.declRange.Ptr()})
		}
	}

	kept := p.Changes[:0]
	for _, ch := range p.Changes {
		if ch.Action == NoOp && ch.MovedFrom == "" && !ch.Importing {
			p.Unchanged++
			if ch.Type == state.TypeJob {
				p.Jobs = append(p.Jobs, ch)
			}
			continue
		}
		kept = append(kept, ch)
	}
	p.Changes = kept
	return p, diags
}

// declared returns the configuration's resource instances by address.
func declared(cfg *config.Config) map[string]*wanted {
	out := map[string]*wanted{}
	for _, d := range cfg.Devices {
		out[d.Addr.String()] = &wanted{res: desiredDevice(d), lifecycle: d.Lifecycle, declRange: d.DeclRange, ranges: d.Ranges}
	}
	for _, m := range cfg.Modules {
		out[m.Addr.String()] = &wanted{res: desiredModule(m), lifecycle: m.Lifecycle, declRange: m.DeclRange, ranges: m.Ranges}
	}
	return out
}

// withDependencies adds to the targets the instances they depend on,
// transitively, as Terraform's -target does.
func withDependencies(cfg *config.Config, targets []string) []string {
	g := cfg.Graph()
	out := slices.Clone(targets)
	seen := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		out = append(out, n)
		for _, d := range g.Edges[n] {
			visit(d)
		}
	}
	for _, n := range g.Nodes {
		if Selects(targets, n) {
			for _, d := range g.Edges[n] {
				visit(d)
			}
		}
	}
	return out
}

// applyMoves returns a copy of prior with the moved blocks applied, and the
// moves made (new address to old). A move whose source is not in the state,
// or whose destination already is, does nothing.
func applyMoves(moved []*config.Moved, prior *state.State, decl map[string]*wanted) (*state.State, map[string]string, hcl.Diagnostics) {
	moves := map[string]string{}
	if len(moved) == 0 {
		return prior, moves, nil
	}
	st := prior.DeepCopy()
	var diags hcl.Diagnostics
	for _, m := range moved {
		from, to := m.From.String(), m.To.String()
		for _, addr := range st.Addresses() {
			var dest string
			switch {
			case addr == from:
				dest = to
			case m.From.Key == nil && m.To.Key == nil && strings.HasPrefix(addr, from+"["):
				dest = to + strings.TrimPrefix(addr, from)
			default:
				continue
			}
			if st.Resources[dest] != nil {
				diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Moved object still exists",
					Detail:  fmt.Sprintf("The moved block would move %s to %s, but the state already holds %s. Remove one of them from the state (iotplan state rm) or drop the moved block.", addr, dest, dest),
					Subject: m.DeclRange.Ptr()})
				continue
			}
			r := st.Resources[addr]
			delete(st.Resources, addr)
			r.Addr = dest
			st.Resources[dest] = r
			orig := addr
			if o, ok := moves[addr]; ok {
				orig = o
				delete(moves, addr)
			}
			moves[dest] = orig
		}
	}
	return st, moves, diags
}

func unmanagedDiag(addr string, w *wanted) *hcl.Diagnostic {
	what, attr := "device", "device_id"
	if w.res.Type == state.TypeModule {
		what, attr = "module", "module_id"
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("%s already exists", strings.ToUpper(what[:1])+what[1:]),
		Detail: fmt.Sprintf("The hub already has the %s %q, which %s declares, but the state does not record it: iotplan only manages what it created or imported. Add an import block (import { to = %s, id = %q }) to take it over, choose another ID, or delete it from the hub first.",
			what, w.res.HubID(), addr, addr, w.res.HubID()),
		Subject: w.rangeOf(attr),
	}
}

func deleteChange(before *state.Resource, t *hub.Twin) *Change {
	ch := &Change{Addr: before.Addr, Type: before.Type, Action: Delete, Before: redact(before), Reason: "not in the configuration",
		Dependencies: before.Dependencies}
	if t == nil {
		ch.Gone = true
		ch.Reason = "already deleted outside iotplan"
		return ch
	}
	ch.setETags(t)
	return ch
}

func (c *Change) setETags(t *hub.Twin) {
	if t == nil {
		c.Gone = true
		return
	}
	c.DeviceETag, c.TwinETag = t.DeviceETag, t.ETag
}

// createChange plans a new identity; before is the prior resource when it
// is created again.
func createChange(after *state.Resource, before *state.Resource, reason string) *Change {
	ch := &Change{Addr: after.Addr, Type: after.Type, Action: Create, Before: redact(before), After: after, Reason: reason,
		Dependencies: after.Dependencies}
	for _, a := range identityAttrs(after) {
		if a.want != a.zero {
			ch.Attrs = append(ch.Attrs, AttrChange{Path: a.path, Op: OpSet, After: a.want, Sensitive: a.sensitive})
		}
	}
	for _, sec := range []struct {
		name string
		m    map[string]any
	}{{"tags", after.Tags}, {"desired", after.Desired}} {
		l := leaves(sec.m)
		for _, k := range sortedKeys(l) {
			path := sec.name + "." + k
			ch.Attrs = append(ch.Attrs, AttrChange{Path: path, Op: OpSet, After: l[k], Sensitive: isSensitive(after, path)})
		}
	}
	return ch
}

// importChange plans taking over an identity that exists on the hub: what
// the hub has is the "before", and the change brings it to the
// configuration.
func importChange(w *wanted, t *hub.Twin, actual *Actual, id string) *Change {
	before := actualResource(w.res, t, actual)
	before.Tags, before.Desired = nil, nil // nothing is owned yet
	ch := diffResource(w, before, t, actual)
	ch.Importing, ch.ImportID = true, id
	ch.Reason = "import " + strconv.Quote(id)
	return ch
}

// updateChange plans an instance that both the configuration and the state
// hold. It returns nil when the configuration moves the instance to an
// identity that exists on the hub but that iotplan does not manage.
func updateChange(w *wanted, before *state.Resource, actual *Actual, managed map[string]bool) *Change {
	t := actual.Lookup(before)
	if w.res.HubID() != before.HubID() {
		if actual.Lookup(w.res) != nil && !managed[w.res.HubID()] {
			return nil
		}
		attr := "device_id"
		if w.res.DeviceID == before.DeviceID {
			attr = "module_id"
		}
		ch := createChange(w.res, before, attr+" changes: forces replacement")
		ch.Action = Replace
		ch.setETags(t)
		return ch
	}
	if t == nil {
		return createChange(w.res, before, "deleted outside iotplan")
	}
	if got := authOf(t); got != w.res.Auth {
		reason := fmt.Sprintf("auth changes from %s to %s: forces replacement", authName(before.Auth), authName(w.res.Auth))
		if before.Auth == w.res.Auth {
			reason = fmt.Sprintf("auth was changed outside iotplan to %s: forces replacement", authName(got))
		}
		ch := createChange(w.res, before, reason)
		ch.Action = Replace
		ch.setETags(t)
		return ch
	}
	return diffResource(w, before, t, actual)
}

// diffResource compares an existing identity and its twin with the
// configuration. before holds what iotplan last wrote: the keys it owns and
// the values it set.
func diffResource(w *wanted, before *state.Resource, t *hub.Twin, actual *Actual) *Change {
	after := w.res
	ch := &Change{Addr: after.Addr, Type: after.Type, Action: Update, Before: redact(before), After: after,
		Dependencies: after.Dependencies}
	ch.setETags(t)
	got := actualResource(after, t, actual)
	gotAttrs := identityAttrs(got)
	priorAttrs := identityAttrs(before)
	for i, a := range identityAttrs(after) {
		if w.lifecycle.Ignores(a.path) {
			continue
		}
		g, pr := gotAttrs[i], priorAttrs[i]
		if a.fromState {
			// Values the hub does not show (keys, key_version): compare
			// with what iotplan last wrote.
			g = pr
		}
		if a.want == g.want {
			continue
		}
		ac := AttrChange{Path: a.path, Op: OpUpdate, Before: g.want, After: a.want, Sensitive: a.sensitive}
		if g.want == a.zero {
			ac.Op, ac.Before = OpSet, nil
		}
		if !a.fromState && g.want != pr.want {
			ac.Drift, ac.Prior = true, pr.want
		}
		ch.Attrs = append(ch.Attrs, ac)
	}
	ch.section("tags", after, before, t.Tags, w.lifecycle)
	ch.section("desired", after, before, t.Properties.Desired.Properties(), w.lifecycle)
	sort.SliceStable(ch.Attrs, func(i, j int) bool { return attrOrder(ch.Attrs[i].Path) < attrOrder(ch.Attrs[j].Path) })
	if len(ch.Attrs) == 0 {
		ch.Action = NoOp
	}
	return ch
}

// attrValue is one identity attribute of a resource, as a comparable value.
type attrValue struct {
	path      string
	want      any // string, bool or int
	zero      any
	sensitive bool
	// fromState marks attributes the hub does not show in a twin: they are
	// compared with the state, and never count as drift.
	fromState bool
}

// identityAttrs lists the identity attributes of r in a fixed order, so
// that lists of two resources of the same type line up.
func identityAttrs(r *state.Resource) []attrValue {
	var out []attrValue
	if r.Type == state.TypeDevice {
		status := string(r.Status)
		if status == "" {
			status = string(hub.StatusEnabled)
		}
		out = append(out,
			attrValue{path: "status", want: status, zero: ""},
			attrValue{path: "status_reason", want: r.StatusReason, zero: ""},
			attrValue{path: "edge", want: r.Edge, zero: false},
			attrValue{path: "parent", want: r.Parent, zero: ""},
		)
	} else {
		out = append(out, attrValue{path: "managed_by", want: r.ManagedBy, zero: ""})
	}
	out = append(out,
		attrValue{path: "auth.primary_thumbprint", want: r.PrimaryThumbprint, zero: ""},
		attrValue{path: "auth.secondary_thumbprint", want: r.SecondaryThumbprint, zero: ""},
		attrValue{path: "auth.primary_key", want: keyMarker(r, r.PrimaryKey), zero: "", sensitive: true, fromState: true},
		attrValue{path: "auth.secondary_key", want: keyMarker(r, r.SecondaryKey), zero: "", sensitive: true, fromState: true},
		attrValue{path: "key_version", want: r.KeyVersion, zero: 0, fromState: true},
	)
	return out
}

// keyMarker stands for an explicit key in comparisons without carrying it:
// a short fingerprint, or "" for keys the hub generates.
func keyMarker(r *state.Resource, key string) string {
	if !r.ExplicitKeys || key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// actualResource is the resource as the hub's twin shows it (every tag and
// desired key, owned or not), for the attributes of want's type.
func actualResource(want *state.Resource, t *hub.Twin, actual *Actual) *state.Resource {
	r := &state.Resource{Addr: want.Addr, Type: want.Type, DeviceID: t.DeviceID, ModuleID: t.ModuleID, Auth: authOf(t),
		Tags: t.Tags, Desired: t.Properties.Desired.Properties(), ManagedBy: t.ManagedBy,
		// Keys and key_version are not in a twin; take the wanted ones so
		// they never show as drift.
		ExplicitKeys: want.ExplicitKeys, PrimaryKey: want.PrimaryKey, SecondaryKey: want.SecondaryKey, KeyVersion: want.KeyVersion}
	if t.X509Thumbprint.PrimaryThumbprint != nil {
		r.PrimaryThumbprint = strings.ToUpper(*t.X509Thumbprint.PrimaryThumbprint)
	}
	if t.X509Thumbprint.SecondaryThumbprint != nil {
		r.SecondaryThumbprint = strings.ToUpper(*t.X509Thumbprint.SecondaryThumbprint)
	}
	if want.Type == state.TypeDevice {
		r.Status, r.StatusReason = t.Status, t.StatusReason
		if r.Status == "" {
			r.Status = hub.StatusEnabled
		}
		r.Edge = t.Capabilities != nil && t.Capabilities.IoTEdge
		if len(t.ParentScopes) > 0 {
			r.Parent = actual.deviceOfScope(t.ParentScopes[0])
		}
	}
	return r
}

func authOf(t *hub.Twin) hub.AuthType {
	if t.AuthenticationType == "" {
		return hub.AuthSAS
	}
	return t.AuthenticationType
}

func authName(t hub.AuthType) string {
	switch t {
	case hub.AuthSAS:
		return "sas"
	case hub.AuthSelfSigned:
		return "x509_thumbprint"
	case hub.AuthCertificateAuthority:
		return "x509_ca"
	case hub.AuthNone:
		return "none"
	}
	return string(t)
}

// section diffs the owned keys of one twin section.
func (c *Change) section(name string, after, before *state.Resource, got map[string]any, lc config.Lifecycle) {
	want, prior := after.Desired, before.Desired
	if name == "tags" {
		want, prior = after.Tags, before.Tags
	}
	wantL, priorL, gotL := leaves(want), leaves(prior), leaves(got)
	for _, k := range sortedKeys(wantL) {
		path := name + "." + k
		w := wantL[k]
		g, ok := lookup(got, k)
		if ok && valuesEqual(w, g) || lc.Ignores(path) {
			c.Owned++
			continue
		}
		a := AttrChange{Path: path, Op: OpSet, After: w, Sensitive: isSensitive(after, path) || isSensitive(before, path)}
		if ok {
			a.Op, a.Before = OpUpdate, g
		}
		if pv, owned := priorL[k]; owned && !(ok && valuesEqual(pv, g)) {
			a.Drift, a.Prior = true, pv
		}
		c.Attrs = append(c.Attrs, a)
	}
	for _, k := range sortedKeys(priorL) {
		path := name + "." + k
		if covers(wantL, k) || lc.Ignores(path) {
			continue
		}
		g, ok := lookup(got, k)
		if !ok {
			continue // already gone
		}
		c.Attrs = append(c.Attrs, AttrChange{Path: path, Op: OpRemove, Before: g, Sensitive: isSensitive(before, path)})
	}
	for k := range gotL {
		if !covers(wantL, k) && !covers(priorL, k) {
			c.Foreign++
		}
	}
}

// isSensitive reports whether r marks path (or a path above it) sensitive.
func isSensitive(r *state.Resource, path string) bool {
	if r == nil {
		return false
	}
	for _, p := range r.Sensitive {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}

// replaceModulesOfReplacedDevices turns the changes of modules whose device
// is deleted and created again into replacements: deleting a device deletes
// its modules.
func replaceModulesOfReplacedDevices(changes []*Change) {
	recreated := map[string]string{}
	for _, c := range changes {
		if c.Type == state.TypeDevice && (c.Action == Replace || c.Action == Create && c.Before != nil) {
			recreated[c.Before.DeviceID] = c.Addr
		}
	}
	for _, c := range changes {
		if c.Type != state.TypeModule || c.Before == nil || c.After == nil || c.Action == Replace || c.Action == Create {
			continue
		}
		dev, ok := recreated[c.Before.DeviceID]
		if !ok {
			continue
		}
		rc := createChange(c.After, c.Before.DeepCopy(), dev+" is replaced")
		rc.Action, rc.MovedFrom, rc.Gone = Replace, c.MovedFrom, true
		*c = *rc
	}
}

// attrOrder sorts identity fields first, then tags, then desired, each by
// path.
func attrOrder(path string) string {
	switch {
	case strings.HasPrefix(path, "tags."):
		return "2" + path
	case strings.HasPrefix(path, "desired."):
		return "3" + path
	}
	for i, p := range []string{"status", "status_reason", "edge", "parent", "managed_by", "auth.primary_thumbprint",
		"auth.secondary_thumbprint", "auth.primary_key", "auth.secondary_key", "key_version"} {
		if p == path {
			return fmt.Sprintf("1%02d", i)
		}
	}
	return "1" + path
}

// desiredDevice is the device the configuration wants, before the hub
// assigns anything.
func desiredDevice(d *config.Device) *state.Resource {
	status := d.Status
	if status == "" {
		status = hub.StatusEnabled
	}
	r := &state.Resource{
		Addr:         d.Addr.String(),
		Type:         state.TypeDevice,
		DeviceID:     d.DeviceID,
		Status:       status,
		StatusReason: d.StatusReason,
		Edge:         d.Edge,
		Parent:       d.Parent,
		KeyVersion:   d.KeyVersion,
		Tags:         d.Tags,
		Desired:      d.Desired,
		Dependencies: d.Dependencies,
		Sensitive:    d.Sensitive,
	}
	setAuth(r, d.Auth)
	return r
}

// desiredModule is the module the configuration wants.
func desiredModule(m *config.Module) *state.Resource {
	r := &state.Resource{
		Addr:         m.Addr.String(),
		Type:         state.TypeModule,
		DeviceID:     m.DeviceID,
		ModuleID:     m.ModuleID,
		ManagedBy:    m.ManagedBy,
		KeyVersion:   m.KeyVersion,
		Tags:         m.Tags,
		Desired:      m.Desired,
		Dependencies: m.Dependencies,
		Sensitive:    m.Sensitive,
	}
	setAuth(r, m.Auth)
	return r
}

func setAuth(r *state.Resource, a config.Auth) {
	r.Auth = a.Type.HubType()
	r.PrimaryThumbprint, r.SecondaryThumbprint = a.PrimaryThumbprint, a.SecondaryThumbprint
	if a.PrimaryKey != "" {
		r.ExplicitKeys = true
		r.PrimaryKey, r.SecondaryKey = a.PrimaryKey, a.SecondaryKey
	}
}

// redact returns a copy of r without the keys the hub generated, so that a
// plan never carries them. Keys the configuration gives stay: apply needs
// them, and the configuration holds them anyway.
func redact(r *state.Resource) *state.Resource {
	if r == nil {
		return nil
	}
	c := r.DeepCopy()
	if !c.ExplicitKeys {
		c.PrimaryKey, c.SecondaryKey = "", ""
	}
	return c
}

func hasAutomation(st *state.State) bool {
	for _, r := range st.Resources {
		if r.Type == state.TypeConfiguration || r.Type == state.TypeJob {
			return true
		}
	}
	return false
}
