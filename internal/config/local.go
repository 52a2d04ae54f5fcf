package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// local is a declared local value.
type local struct {
	attr  *hcl.Attribute
	order int // declaration order, for stable diagnostics
	deps  []string
}

// decodeLocals declares the local values of blocks and evaluates them. A local may
// use any other, wherever it is declared: they are evaluated in dependency
// order, the strongly connected components of the reference graph in the
// order Tarjan's algorithm finds them (dependencies first). A component of
// more than one local, or a local that refers to itself, is a cycle.
func (r *run) decodeLocals(blocks []*localsBlock) {
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
	for _, name := range names {
		lv := r.locals[name]
		seen := map[string]bool{}
		for _, t := range lv.attr.Expr.Variables() {
			if t.RootName() != "local" {
				continue
			}
			if dep, ok := attrStep(t); ok && r.locals[dep] != nil && !seen[dep] {
				seen[dep] = true
				lv.deps = append(lv.deps, dep)
			}
		}
		// Until evaluated, a local is unknown: only a cycle's members are
		// ever read in that state, after the cycle has been reported.
		r.localVals[name] = cty.DynamicVal
	}

	for _, scc := range stronglyConnected(names, func(n string) []string { return r.locals[n].deps }) {
		if len(scc) > 1 || refersToItself(r.locals[scc[0]]) {
			r.reportCycle(scc)
			continue
		}
		lv := r.locals[scc[0]]
		v, _ := r.eval(lv.attr.Expr, r.scope(), false)
		r.localVals[scc[0]] = v
	}
}

func refersToItself(lv *local) bool {
	for _, d := range lv.deps {
		if d == lv.attr.Name {
			return true
		}
	}
	return false
}

func (r *run) reportCycle(scc []string) {
	sort.Slice(scc, func(i, j int) bool { return r.locals[scc[i]].order < r.locals[scc[j]].order })
	first := r.locals[scc[0]].attr
	var detail string
	if len(scc) == 1 {
		detail = fmt.Sprintf("The local value local.%s refers to itself. Remove the reference.", scc[0])
	} else {
		refs := make([]string, len(scc))
		for i, n := range scc {
			refs[i] = "local." + n
		}
		detail = fmt.Sprintf("The local values %s and %s refer to each other in a cycle, so none of them can be computed. Remove one of the references.",
			strings.Join(refs[:len(refs)-1], ", "), refs[len(refs)-1])
	}
	r.diags = append(r.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cycle in local values",
		Detail:   detail,
		Subject:  first.Expr.Range().Ptr(),
	})
}

// stronglyConnected returns the strongly connected components of the graph
// over nodes with the given edges, each component after every component it
// has an edge to (Tarjan's algorithm). Nodes are visited in the given order.
func stronglyConnected(nodes []string, edges func(string) []string) [][]string {
	var (
		index   = map[string]int{}
		lowlink = map[string]int{}
		onStack = map[string]bool{}
		stack   []string
		out     [][]string
		visit   func(n string)
	)
	visit = func(n string) {
		index[n] = len(index)
		lowlink[n] = index[n]
		stack = append(stack, n)
		onStack[n] = true
		for _, m := range edges(n) {
			if _, seen := index[m]; !seen {
				visit(m)
				lowlink[n] = min(lowlink[n], lowlink[m])
			} else if onStack[m] {
				lowlink[n] = min(lowlink[n], index[m])
			}
		}
		if lowlink[n] == index[n] {
			var scc []string
			for {
				m := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[m] = false
				scc = append(scc, m)
				if m == n {
					break
				}
			}
			out = append(out, scc)
		}
	}
	for _, n := range nodes {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	return out
}
