package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// cycleVal is the value of a local or resource not evaluated (yet): unknown,
// with no mark, so that what uses it stays silent after the cycle that
// caused it has been reported.
var cycleVal = cty.DynamicVal

// node is a local value or a resource block in the evaluation order.
type node struct {
	key   string // local.name, device.name, device_module.name
	deps  []string
	rng   hcl.Range
	local string    // the local's name, for a local
	res   *resource // the resource, for a resource
}

// evaluate evaluates the locals and resources in dependency order: the
// strongly connected components of the reference graph in the order
// Tarjan's algorithm finds them (dependencies first). A component of more
// than one node, or a node that refers to itself, is a cycle: reported,
// and left unevaluated.
func (r *run) evaluate(localNames []string) {
	nodes := map[string]*node{}
	var keys []string
	add := func(n *node) {
		nodes[n.key] = n
		keys = append(keys, n.key)
	}
	for _, name := range localNames {
		lv := r.locals[name]
		add(&node{key: "local." + name, deps: r.nodeDeps([]hcl.Expression{lv.attr.Expr}), rng: lv.attr.Expr.Range(), local: name})
	}
	for _, res := range r.resOrder {
		deps := r.nodeDeps(res.exprs())
		for _, d := range res.dependsOn {
			if r.resources[d.addr.Resource().String()] != nil {
				deps = append(deps, d.addr.Resource().String())
			}
		}
		add(&node{key: res.addr().String(), deps: dedupeStrings(deps), rng: res.block.DeclRange, res: res})
	}
	for _, scc := range stronglyConnected(keys, func(k string) []string { return nodes[k].deps }) {
		if len(scc) > 1 || slices.Contains(nodes[scc[0]].deps, scc[0]) {
			sort.Slice(scc, func(i, j int) bool { return rangeLess(nodes[scc[i]].rng, nodes[scc[j]].rng) })
			r.reportCycle(scc, nodes)
			continue
		}
		n := nodes[scc[0]]
		if n.res != nil {
			r.evalResource(n.res)
		} else {
			r.evalLocal(n.local)
		}
	}
}

// rangeLess orders ranges by file name, then position.
func rangeLess(a, b hcl.Range) bool {
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	return a.Start.Byte < b.Start.Byte
}

// nodeDeps returns the locals and resources exprs refer to, as node keys.
func (r *run) nodeDeps(exprs []hcl.Expression) []string {
	var deps []string
	for _, e := range exprs {
		for _, t := range e.Variables() {
			switch root := t.RootName(); root {
			case "local":
				if name, ok := attrStep(t); ok && r.locals[name] != nil {
					deps = append(deps, "local."+name)
				}
			case TypeDevice, TypeModule:
				if name, ok := attrStep(t); ok && r.resources[root+"."+name] != nil {
					deps = append(deps, root+"."+name)
				}
			}
		}
	}
	return dedupeStrings(deps)
}

func (r *run) reportCycle(scc []string, nodes map[string]*node) {
	first := nodes[scc[0]]
	allLocals := true
	for _, k := range scc {
		if nodes[k].res != nil {
			allLocals = false
		}
	}
	var summary, detail string
	switch {
	case len(scc) == 1 && allLocals:
		summary = "Cycle in local values"
		detail = fmt.Sprintf("The local value %s refers to itself. Remove the reference.", scc[0])
	case len(scc) == 1:
		summary = "Self-referential block"
		detail = fmt.Sprintf("%s refers to itself. An instance may refer to other blocks, not to its own block or its other instances; move the shared value into a local value or another block.", scc[0])
	case allLocals:
		summary = "Cycle in local values"
		detail = fmt.Sprintf("The local values %s refer to each other in a cycle, so none of them can be computed. Remove one of the references.", joinAnd(scc))
	default:
		summary = "Dependency cycle"
		detail = fmt.Sprintf("%s refer to each other in a cycle (%s), so none of them can be evaluated. Remove one of the references.",
			joinAnd(scc), strings.Join(cyclePath(scc, func(k string) []string { return nodes[k].deps }), " → "))
	}
	r.diags = append(r.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  first.rng.Ptr(),
	})
}

// cyclePath returns a cycle through the members of a strongly connected
// component, from its first member back to it, following edges: a → b → a.
func cyclePath(scc []string, edges func(string) []string) []string {
	in := map[string]bool{}
	for _, n := range scc {
		in[n] = true
	}
	start := scc[0]
	seen := map[string]bool{}
	var path []string
	var walk func(n string) bool
	walk = func(n string) bool {
		path = append(path, n)
		seen[n] = true
		for _, m := range edges(n) {
			if m == start {
				path = append(path, start)
				return true
			}
			if in[m] && !seen[m] && walk(m) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if !walk(start) {
		return append(slices.Clone(scc), start)
	}
	return path
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

// dedupeStrings returns s without repeats, first occurrences kept in order.
func dedupeStrings(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
