package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/hub"
)

type importBlock struct {
	To        *hcl.Attribute `hcl:"to,optional"` // required, checked by decodeImports
	ID        *hcl.Attribute `hcl:"id,optional"` // required, checked by decodeImports
	DeclRange hcl.Range      `hcl:",def_range"`
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
		to, ok := r.movedAddr(b.To.Expr, "to")
		if !ok {
			continue
		}
		imp := &Import{To: to, DeclRange: b.DeclRange}
		id, _, ok := r.evalString(b.ID, r.scope(), 0, true)
		if !ok {
			continue
		}
		imp.ID = id
		idRange := b.ID.Expr.Range()
		fail := func(summary, detail string, subject hcl.Range) {
			r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &subject})
		}

		res := r.resources[to.Resource().String()]
		switch {
		case res == nil:
			fail("Import target not declared", fmt.Sprintf("%s is not declared in the configuration. Declare the block the object is imported into, then import it.", to.Resource()), b.To.Expr.Range())
			continue
		case to.Key == nil && res.multi():
			fail("Import target is not an instance", fmt.Sprintf("%s has count or for_each, so the import must name one of its instances, such as %s.", res.addr(), instanceList(res)), b.To.Expr.Range())
			continue
		}

		var wantDev, wantMod string
		if to.Type == TypeModule {
			dev, mod, found := strings.Cut(id, "/")
			if !found {
				fail("Invalid import ID", fmt.Sprintf("%q is not a module import ID: write the device ID and the module ID separated by a slash, as in \"gw-01/tempSensor\".", id), idRange)
				continue
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
			continue
		}
		if devByAddr[to.String()] == nil && modByAddr[to.String()] == nil {
			fail("Import target not declared", fmt.Sprintf("The configuration declares no instance %s. The instances of %s are %s.", to, res.addr(), instanceList(res)), b.To.Expr.Range())
			continue
		}
		if wantDev != "" && (wantDev != imp.DeviceID || wantMod != imp.ModuleID) {
			want := wantDev
			if to.Type == TypeModule {
				want += "/" + wantMod
			}
			fail("Import ID does not match the configuration",
				fmt.Sprintf("%s declares the ID %q, and the import brings in %q. IDs cannot change in place, so the imported object would be replaced at once. Import the object the block declares, or change the block.", to, want, id), idRange)
			continue
		}
		if prev := byTo[to.String()]; prev != nil {
			fail("Duplicate import", fmt.Sprintf("%s is already the target of the import at %s. An instance is imported once.", to, prev.DeclRange), b.DeclRange)
			continue
		}
		key := to.Type + "\x00" + id
		if prev := byID[key]; prev != nil {
			fail("Duplicate import", fmt.Sprintf("%q is already imported into %s at %s. One hub object can be managed by one instance only.", id, prev.To, prev.DeclRange), idRange)
			continue
		}
		byTo[to.String()], byID[key] = imp, imp
		out = append(out, imp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].To.String() < out[j].To.String() })
	return out
}
