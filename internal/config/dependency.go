package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// linkDependencies sets the Dependencies of every instance: the instances
// its arguments refer to, directly or through locals; those depends_on
// names; for a device with a parent, the device with that ID; for a module,
// the device with its device_id. A cycle among instances is an error.
func (r *run) linkDependencies(devices []*Device, modules []*Module) {
	byID := map[string]string{}
	for _, d := range devices {
		if _, dup := byID[d.DeviceID]; !dup && d.DeviceID != "" {
			byID[d.DeviceID] = d.Addr.String()
		}
	}
	for _, res := range r.resOrder {
		var base []string
		for _, ref := range res.refs {
			if ref.whole {
				base = append(base, instancesOf(ref.res)...)
			} else {
				base = append(base, Addr{Type: ref.res.typ, Name: ref.res.name, Key: ref.key}.String())
			}
		}
		for _, d := range res.dependsOn {
			target := r.resources[d.addr.Resource().String()]
			if target == nil {
				continue
			}
			if d.addr.Key == nil && target.multi() {
				base = append(base, instancesOf(target)...)
				continue
			}
			if !slices.Contains(instancesOf(target), d.addr.String()) {
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared resource instance",
					Detail:   fmt.Sprintf("depends_on names %s, which is not an instance of %s. Its instances are %s.", d.addr, target.addr(), instanceList(target)),
					Subject:  d.rng.Ptr(),
				})
				continue
			}
			base = append(base, d.addr.String())
		}
		for _, d := range res.devices {
			deps := slices.Clone(base)
			if p, ok := byID[d.Parent]; ok && d.Parent != "" {
				deps = append(deps, p)
			}
			d.Dependencies = cleanDeps(deps, d.Addr.String())
		}
		for _, m := range res.modules {
			deps := slices.Clone(base)
			if p, ok := byID[m.DeviceID]; ok {
				deps = append(deps, p)
			}
			m.Dependencies = cleanDeps(deps, m.Addr.String())
		}
	}

	g := (&Config{Devices: devices, Modules: modules}).Graph()
	ranges := map[string]hcl.Range{}
	for _, d := range devices {
		ranges[d.Addr.String()] = d.DeclRange
	}
	for _, m := range modules {
		ranges[m.Addr.String()] = m.DeclRange
	}
	for _, c := range g.Cycles {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Dependency cycle",
			Detail: fmt.Sprintf("%s depend on each other in a cycle (%s), through references, depends_on, parent devices or the devices of modules, so they cannot be created in any order. Remove one of the dependencies.",
				joinAnd(c), strings.Join(cyclePath(c, func(n string) []string { return g.Edges[n] }), " → ")),
			Subject: ranges[c[0]].Ptr(),
		})
	}
}

// cleanDeps sorts deps and drops repeats and self.
func cleanDeps(deps []string, self string) []string {
	sort.Strings(deps)
	deps = slices.Compact(deps)
	if i := slices.Index(deps, self); i >= 0 {
		deps = slices.Delete(deps, i, i+1)
	}
	if len(deps) == 0 {
		return nil
	}
	return deps
}

// instancesOf returns the addresses of a resource's instances.
func instancesOf(res *resource) []string {
	var out []string
	for _, d := range res.devices {
		out = append(out, d.Addr.String())
	}
	for _, m := range res.modules {
		out = append(out, m.Addr.String())
	}
	return out
}

func instanceList(res *resource) string {
	insts := instancesOf(res)
	if len(insts) == 0 {
		return "none"
	}
	if len(insts) > 5 {
		return strings.Join(insts[:5], ", ") + fmt.Sprintf(" and %d more", len(insts)-5)
	}
	return joinAnd(insts)
}
