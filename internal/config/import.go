package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub"
)

type importBlock struct {
	ForEach   *hcl.Attribute `hcl:"for_each,optional"`
	To        *hcl.Attribute `hcl:"to,optional"` // required, checked by decodeImports
	ID        *hcl.Attribute `hcl:"id,optional"` // required, checked by decodeImports
	DeclRange hcl.Range      `hcl:",def_range"`
}

// importTarget is one import an import block asks for: with for_each, one
// per element.
type importTarget struct {
	to   Addr
	id   string
	each string // the for_each key, for messages; "" without for_each
}

// importTargets evaluates an import block's to and id, once per element of
// its for_each when it has one. With for_each, to may index the resource
// with an expression of each: device.fleet[each.key].
func (r *run) importTargets(b *importBlock) []importTarget {
	if b.ForEach == nil {
		to, ok := r.movedAddr(b.To.Expr, "to")
		if !ok {
			return nil
		}
		id, _, ok := r.evalString(b.ID, r.scope(), 0, true)
		if !ok {
			return nil
		}
		return []importTarget{{to: to, id: id}}
	}
	instances, ok := r.forEach(b.ForEach, r.scope())
	if !ok {
		return nil
	}
	var out []importTarget
	for _, in := range instances {
		ctx := r.scope().NewChild()
		ctx.Variables = map[string]cty.Value{
			"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.key), "value": in.value}),
		}
		to, ok := r.indexedAddr(b.To.Expr, ctx)
		if !ok {
			return nil
		}
		id, _, ok := r.evalString(b.ID, ctx, allowEach, true)
		if !ok {
			return nil
		}
		out = append(out, importTarget{to: to, id: id, each: in.key})
	}
	return out
}

// indexedAddr reads a resource instance address whose key may be an
// expression, such as device.fleet[each.key].
func (r *run) indexedAddr(expr hcl.Expression, ctx *hcl.EvalContext) (Addr, bool) {
	ix, ok := expr.(*hclsyntax.IndexExpr)
	if !ok {
		return r.movedAddr(expr, "to")
	}
	base, ok := r.movedAddr(ix.Collection, "to")
	if !ok {
		return Addr{}, false
	}
	if base.Key != nil {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid address",
			Detail: "to indexes the resource once: write device.name[KEY].", Subject: expr.Range().Ptr()})
		return Addr{}, false
	}
	k, ok := r.eval(ix.Key, ctx, allowEach)
	if !ok {
		return Addr{}, false
	}
	k, _ = k.Unmark()
	switch {
	case k.Type() == cty.String && k.IsKnown() && !k.IsNull():
		base.Key = k.AsString()
	case k.Type() == cty.Number && k.IsKnown() && !k.IsNull():
		bf := k.AsBigFloat()
		n, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || n < 0 {
			r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid address",
				Detail: "A count index is a whole number, 0 or more.", Subject: ix.Key.Range().Ptr()})
			return Addr{}, false
		}
		base.Key = int(n)
	default:
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid address",
			Detail: "The index of to must be a string (a for_each key) or a whole number (a count index).", Subject: ix.Key.Range().Ptr()})
		return Addr{}, false
	}
	return base, true
}

// decodeImports reads the import blocks, sorted by target, and checks
// them: the target is an instance the configuration declares, the ID is a
// valid device ID (or deviceId/moduleId for a module) and matches the IDs
// the target declares, and no target or ID is imported twice.
func (r *run) decodeImports(blocks []*importBlock, devices []*Device, modules []*Module) []*Import {
	devByAddr := map[string]*Device{}
	for _, d := range devices {
		devByAddr[d.Addr.String()] = d
	}
	modByAddr := map[string]*Module{}
	for _, m := range modules {
		modByAddr[m.Addr.String()] = m
	}
	byTo := map[string]*Import{}
	byID := map[string]*Import{}
	var out []*Import
	for _, b := range blocks {
		if !r.required(b.To, "to", "an import block", b.DeclRange) || !r.required(b.ID, "id", "an import block", b.DeclRange) {
			continue
		}
		for _, tg := range r.importTargets(b) {
			if imp := r.checkImport(b, tg, devByAddr, modByAddr, byTo, byID); imp != nil {
				byTo[imp.To.String()], byID[imp.To.Type+"\x00"+imp.ID] = imp, imp
				out = append(out, imp)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].To.String() < out[j].To.String() })
	return out
}

// checkImport checks one import target and returns it, or nil after a
// diagnostic.
func (r *run) checkImport(b *importBlock, tg importTarget, devByAddr map[string]*Device, modByAddr map[string]*Module,
	byTo, byID map[string]*Import) *Import {
	to, id := tg.to, tg.id
	imp := &Import{To: to, ID: id, DeclRange: b.DeclRange}
	idRange := b.ID.Expr.Range()
	fail := func(summary, detail string, subject hcl.Range) {
		r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &subject})
	}

	res := r.resources[to.Resource().String()]
	switch {
	case res == nil:
		fail("Import target not declared", fmt.Sprintf("%s is not declared in the configuration. Declare the block the object is imported into, then import it.", to.Resource()), b.To.Expr.Range())
		return nil
	case to.Key == nil && res.multi():
		fail("Import target is not an instance", fmt.Sprintf("%s has count or for_each, so the import must name one of its instances, such as %s.", res.addr(), instanceList(res)), b.To.Expr.Range())
		return nil
	}

	var wantDev, wantMod string
	if to.Type == TypeModule {
		dev, mod, found := strings.Cut(id, "/")
		if !found {
			fail("Invalid import ID", fmt.Sprintf("%q is not a module import ID: write the device ID and the module ID separated by a slash, as in \"gw-01/tempSensor\".", id), idRange)
			return nil
		}
		imp.DeviceID, imp.ModuleID = dev, mod
		if m := modByAddr[to.String()]; m != nil {
			wantDev, wantMod = m.DeviceID, m.ModuleID
		}
	} else {
		imp.DeviceID = id
		if d := devByAddr[to.String()]; d != nil {
			wantDev = d.DeviceID
		}
	}
	parts := []string{imp.DeviceID}
	if to.Type == TypeModule {
		parts = append(parts, imp.ModuleID)
	}
	valid := true
	for _, part := range parts {
		if err := hub.ValidateID(part); err != nil {
			fail("Invalid import ID", sentence(err.Error())+" "+hub.IDRule, idRange)
			valid = false
			break
		}
	}
	if !valid {
		return nil
	}
	if devByAddr[to.String()] == nil && modByAddr[to.String()] == nil {
		fail("Import target not declared", fmt.Sprintf("The configuration declares no instance %s. The instances of %s are %s.", to, res.addr(), instanceList(res)), b.To.Expr.Range())
		return nil
	}
	if wantDev != "" && (wantDev != imp.DeviceID || wantMod != imp.ModuleID) {
		want := wantDev
		if to.Type == TypeModule {
			want += "/" + wantMod
		}
		fail("Import ID does not match the configuration",
			fmt.Sprintf("%s declares the ID %q, and the import brings in %q. IDs cannot change in place, so the imported object would be replaced at once. Import the object the block declares, or change the block.", to, want, id), idRange)
		return nil
	}
	if prev := byTo[to.String()]; prev != nil {
		fail("Duplicate import", fmt.Sprintf("%s is already the target of the import at %s. An instance is imported once.", to, prev.DeclRange), b.DeclRange)
		return nil
	}
	if prev := byID[to.Type+"\x00"+id]; prev != nil {
		fail("Duplicate import", fmt.Sprintf("%q is already imported into %s at %s. One hub object can be managed by one instance only.", id, prev.To, prev.DeclRange), idRange)
		return nil
	}
	return imp
}
