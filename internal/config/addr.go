package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// ParseAddr parses a resource or resource instance address as the command
// line gives it: device.gw, device.thermo["a"], device_module.agent[0].
func ParseAddr(s string) (Addr, error) {
	t, diags := hclsyntax.ParseTraversalAbs([]byte(s), "", hcl.InitialPos)
	if diags.HasErrors() {
		return Addr{}, fmt.Errorf("%q is not an address such as device.name or device.name[\"key\"]", s)
	}
	a, err := addrOfTraversal(t)
	if err != nil {
		return Addr{}, fmt.Errorf("%q: %s", s, err)
	}
	return a, nil
}

// addrOfTraversal reads a resource or instance address from a traversal:
// a resource type, a name, and an optional string or whole-number key.
func addrOfTraversal(t hcl.Traversal) (Addr, error) {
	var a Addr
	if len(t) < 2 || len(t) > 3 {
		return a, fmt.Errorf("an address is a resource type, a name and an optional key, as in device.gw or device.thermo[\"a\"]")
	}
	root, ok := t[0].(hcl.TraverseRoot)
	if !ok || (root.Name != TypeDevice && root.Name != TypeModule) {
		return a, fmt.Errorf("an address starts with %s or %s", TypeDevice, TypeModule)
	}
	name, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		return a, fmt.Errorf("the resource type must be followed by a block name, as in %s.name", root.Name)
	}
	a.Type, a.Name = root.Name, name.Name
	if len(t) == 2 {
		return a, nil
	}
	ix, ok := t[2].(hcl.TraverseIndex)
	if !ok {
		return a, fmt.Errorf("only an index key such as [\"a\"] or [0] may follow the block name")
	}
	k := ix.Key
	switch {
	case k.IsNull() || !k.IsKnown():
		return a, fmt.Errorf("the key must be a string or a whole number")
	case k.Type() == cty.String:
		a.Key = k.AsString()
	case k.Type() == cty.Number:
		var n int
		if err := gocty.FromCtyValue(k, &n); err != nil || n < 0 {
			return a, fmt.Errorf("a count index must be a whole number of zero or more")
		}
		a.Key = n
	default:
		return a, fmt.Errorf("the key must be a string or a whole number")
	}
	return a, nil
}
