package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub"
)

// twinSection evaluates a tags or desired argument into twin properties and
// checks them against the hub's rules. A null argument is as if not written
// (nil); see jsonValue for null members. v is the evaluated value with its
// marks, for references; the paths of its sensitive parts go to sens.
func (r *run) twinSection(attr *hcl.Attribute, section string, addr Addr, ctx *hcl.EvalContext, a allow, sens *[]string) (props map[string]any, v cty.Value) {
	v, ok := r.eval(attr.Expr, ctx, a)
	if !ok {
		return nil, cty.DynamicVal
	}
	uv, pvm := v.UnmarkDeepWithPaths()
	if uv.IsNull() {
		return nil, cty.EmptyObjectVal
	}
	diag := func(summary, detail string) { r.argDiag(summary, detail, attr.Expr, ctx, addr) }
	if ty := uv.Type(); !ty.IsObjectType() && !ty.IsMapType() {
		diag("Incorrect attribute value type", fmt.Sprintf("the %s argument must be an object of properties, such as { site = \"berlin\" }, not %s", attr.Name, ty.FriendlyName()))
		return nil, cty.DynamicVal
	}
	j, err := jsonValue(uv, nil)
	if err != nil {
		diag("Invalid twin property", fmt.Sprintf("the property %s cannot be stored in a twin: %s", err.path(attr.Name), err.reason))
		return nil, cty.DynamicVal
	}
	props = j.(map[string]any)
	for _, e := range hub.ValidateTwinSection(section, props, false) {
		if len(e.Path) == 0 {
			diag("Twin section too large", e.Reason+". Remove or shorten properties")
			continue
		}
		diag("Invalid twin property", fmt.Sprintf("the property %s cannot be stored in a twin: %s", keyPath(attr.Name, e.Path), e.Reason))
	}
	*sens = append(*sens, sensitivePaths(attr.Name, pvm)...)
	return props, v
}

// jsonError is a value that has no JSON form in a twin.
type jsonError struct {
	at     []string
	reason string
}

func (e *jsonError) path(section string) string { return keyPath(section, e.at) }

// jsonValue converts a known value to the JSON value a twin holds: string,
// float64, bool, map[string]any, []any, or nil for null.
//
// Object and map members that are null are dropped, as if not written: in a
// twin a null removes a property, and the configuration says what the twin
// holds, so a null member is how a conditional leaves a property out, as in
// { floor = var.floor } with a null var.floor. Null elements of lists are
// kept as JSON null, so that the other elements keep their positions.
func jsonValue(v cty.Value, at []string) (any, *jsonError) {
	if v.IsNull() {
		return nil, nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString(), nil
	case ty == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return f, nil
	case ty == cty.Bool:
		return v.True(), nil
	case ty.IsObjectType() || ty.IsMapType():
		m := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if ev.IsNull() {
				continue
			}
			key := k.AsString()
			j, err := jsonValue(ev, append(at[:len(at):len(at)], key))
			if err != nil {
				return nil, err
			}
			m[key] = j
		}
		return m, nil
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		l := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			j, err := jsonValue(ev, append(at[:len(at):len(at)], fmt.Sprintf("[%d]", len(l))))
			if err != nil {
				return nil, err
			}
			l = append(l, j)
		}
		return l, nil
	}
	return nil, &jsonError{at: at, reason: fmt.Sprintf("values of type %s have no twin form", ty.FriendlyName())}
}

// keyPath writes a property path as an HCL traversal from the section:
// desired.conditions.temperature, tags["a.b"], desired.list[0].
func keyPath(section string, path []string) string {
	var b strings.Builder
	b.WriteString(section)
	for _, p := range path {
		switch {
		case isIndexStep(p):
			b.WriteString(p)
		case hclsyntax.ValidIdentifier(p):
			b.WriteString("." + p)
		default:
			b.WriteString("[" + strconv.Quote(p) + "]")
		}
	}
	return b.String()
}

// isIndexStep tells a list index, as hub.ValueError writes it ("[3]"), from
// a key.
func isIndexStep(p string) bool {
	if len(p) < 3 || p[0] != '[' || p[len(p)-1] != ']' {
		return false
	}
	_, err := strconv.Atoi(p[1 : len(p)-1])
	return err == nil
}
