package config

import (
	"slices"
	"sort"
)

// Graph is the dependency graph of the resource instances of a Config:
// an edge goes from an instance to each instance it depends on.
type Graph struct {
	// Nodes are the instance addresses, sorted.
	Nodes []string
	// Edges maps each address to the addresses it depends on, sorted.
	// Every address in it is a node.
	Edges map[string][]string
	// Levels group the nodes so that each depends only on nodes of earlier
	// levels; each level is sorted. Instances of one level may be applied
	// in parallel; deletions go in the reverse order.
	Levels [][]string
	// Order is Levels flattened: a topological order, dependencies first.
	Order []string
	// Cycles lists the sets of instances that depend on each other, each
	// sorted. Load reports them as errors, so the graph of a Config loaded
	// without errors has none; the nodes of a cycle are left out of Levels
	// and Order.
	Cycles [][]string
}

// Graph returns the dependency graph of the configuration's devices and
// modules, built from their Dependencies. Dependencies on addresses that
// are not instances of the configuration are left out.
func (c *Config) Graph() *Graph {
	g := &Graph{Edges: map[string][]string{}}
	deps := map[string][]string{}
	for _, d := range c.Devices {
		g.Nodes = append(g.Nodes, d.Addr.String())
		deps[d.Addr.String()] = d.Dependencies
	}
	for _, m := range c.Modules {
		g.Nodes = append(g.Nodes, m.Addr.String())
		deps[m.Addr.String()] = m.Dependencies
	}
	sort.Strings(g.Nodes)
	g.Nodes = slices.Compact(g.Nodes)
	for _, n := range g.Nodes {
		var out []string
		for _, d := range deps[n] {
			if _, ok := deps[d]; ok {
				out = append(out, d)
			}
		}
		sort.Strings(out)
		g.Edges[n] = slices.Compact(out)
	}

	// A node's level is one more than the highest level of its
	// dependencies; the nodes of cycles, and those depending on them, get
	// none.
	for _, scc := range stronglyConnected(g.Nodes, func(n string) []string { return g.Edges[n] }) {
		if len(scc) > 1 || slices.Contains(g.Edges[scc[0]], scc[0]) {
			sort.Strings(scc)
			g.Cycles = append(g.Cycles, scc)
		}
	}
	sort.Slice(g.Cycles, func(i, j int) bool { return g.Cycles[i][0] < g.Cycles[j][0] })
	level := map[string]int{}
	inCycle := map[string]bool{}
	for _, scc := range g.Cycles {
		for _, n := range scc {
			inCycle[n] = true
		}
	}
	var visit func(n string) int
	visit = func(n string) int {
		if l, ok := level[n]; ok {
			return l
		}
		if inCycle[n] {
			level[n] = -1
			return -1
		}
		level[n] = -1 // guards against cycles not yet found; none remain here
		l := 0
		for _, d := range g.Edges[n] {
			dl := visit(d)
			if dl < 0 {
				l = -1
				break
			}
			l = max(l, dl+1)
		}
		level[n] = l
		return l
	}
	for _, n := range g.Nodes {
		l := visit(n)
		if l < 0 {
			continue
		}
		for len(g.Levels) <= l {
			g.Levels = append(g.Levels, nil)
		}
		g.Levels[l] = append(g.Levels[l], n)
	}
	for _, l := range g.Levels {
		g.Order = append(g.Order, l...)
	}
	return g
}
