package config

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

type localsBlock struct {
	Attrs hcl.Attributes `hcl:",remain"`
}

// local is a declared local value.
type local struct {
	attr  *hcl.Attribute
	order int // declaration order, for stable diagnostics
	// refs are the resources and instances the value is computed from,
	// directly or through other locals.
	refs []resourceRef
}

// declareLocals declares the local values of blocks, in declaration order.
func (r *run) declareLocals(blocks []*localsBlock) []string {
	var names []string
	for _, b := range blocks {
		attrs := make([]*hcl.Attribute, 0, len(b.Attrs))
		for _, a := range b.Attrs {
			attrs = append(attrs, a)
		}
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].Range.Start.Byte < attrs[j].Range.Start.Byte })
		for _, a := range attrs {
			if prev := r.locals[a.Name]; prev != nil {
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate local value",
					Detail:   fmt.Sprintf("A local value named %q was already declared at %s. Local value names must be unique; rename or remove one of them.", a.Name, prev.attr.NameRange),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			r.locals[a.Name] = &local{attr: a, order: len(names)}
			names = append(names, a.Name)
		}
	}
	// Until evaluated, a local is unknown: only a cycle's members are ever
	// read in that state, after the cycle has been reported.
	for _, n := range names {
		r.localVals[n] = cycleVal
	}
	return names
}

// evalLocal evaluates one local value. Its value may be unknown when it
// depends on what only the hub knows; it is then usable in outputs only.
func (r *run) evalLocal(name string) {
	lv := r.locals[name]
	v, _ := r.evalAny(lv.attr.Expr, r.scope(), allowResources)
	r.localVals[name] = v
	lv.refs = r.resourceRefs([]hcl.Expression{lv.attr.Expr})
	r.ctx = nil
}
