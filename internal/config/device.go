package config

import (
	"fmt"
	"maps"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub"
)

// deviceSchema is the body of a device block.
var deviceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "for_each"},
		{Name: "device_id", Required: true},
		{Name: "status"},
		{Name: "status_reason"},
		{Name: "tags"},
		{Name: "desired"},
	},
}

// decodeDevices decodes the device blocks, expands for_each and checks device IDs.
// The result is sorted by address.
func (r *run) decodeDevices(blocks []*deviceBlock) []*Device {
	ctx := r.scope()
	seen := map[string]*deviceBlock{}
	var out []*Device
	for _, b := range blocks {
		if prev := seen[b.Name]; prev != nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate device block",
				Detail:   fmt.Sprintf("A device block named %q was already declared at %s. Block names must be unique; rename or remove one of them.", b.Name, prev.DeclRange),
				Subject:  b.DeclRange.Ptr(),
			})
			continue
		}
		seen[b.Name] = b
		if !hclsyntax.ValidIdentifier(b.Name) {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid device name",
				Detail:   fmt.Sprintf("%q is not a valid block name. A name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", b.Name),
				Subject:  b.NameRange.Ptr(),
			})
		}
		out = append(out, r.device(b, ctx)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr.String() < out[j].Addr.String() })
	r.checkUniqueIDs(out)
	return out
}

// device decodes one device block into its instances: one without for_each,
// one per key with it.
func (r *run) device(b *deviceBlock, ctx *hcl.EvalContext) []*Device {
	content, diags := b.Body.Content(deviceSchema)
	r.diags = append(r.diags, diags...)
	attrs := content.Attributes
	ranges := make(map[string]hcl.Range, len(attrs))
	for name, a := range attrs {
		ranges[name] = a.Expr.Range()
	}
	addr := Addr{Type: "device", Name: b.Name}

	fe := attrs["for_each"]
	if fe == nil {
		return []*Device{r.deviceInstance(b, attrs, ranges, addr, ctx, false)}
	}
	insts := r.forEach(fe, ctx)
	out := make([]*Device, 0, len(insts))
	for _, in := range insts {
		ictx := ctx.NewChild()
		ictx.Variables = map[string]cty.Value{
			"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.key), "value": in.value}),
		}
		addr.Key = in.key
		out = append(out, r.deviceInstance(b, attrs, ranges, addr, ictx, true))
	}
	return out
}

// deviceInstance evaluates the arguments of one instance of a device block.
func (r *run) deviceInstance(b *deviceBlock, attrs hcl.Attributes, ranges map[string]hcl.Range, addr Addr, ctx *hcl.EvalContext, each bool) *Device {
	d := &Device{
		Addr:      addr,
		Status:    hub.StatusEnabled,
		DeclRange: b.DeclRange,
		Ranges:    maps.Clone(ranges),
	}
	if a := attrs["device_id"]; a != nil {
		if id, ok := r.evalString(a, ctx, each, true); ok {
			d.DeviceID = id
			if err := hub.ValidateID(id); err != nil {
				detail := sentence(err.Error()) + " " + hub.IDRule
				if addr.Key != nil {
					detail = sentence(fmt.Sprintf("in %s, %s", addr, err)) + " " + hub.IDRule
				}
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity:    hcl.DiagError,
					Summary:     "Invalid device ID",
					Detail:      detail,
					Subject:     a.Expr.Range().Ptr(),
					Expression:  a.Expr,
					EvalContext: ctx,
				})
			}
		}
	}
	if a := attrs["status"]; a != nil {
		if s, ok := r.evalString(a, ctx, each, false); ok {
			switch st := hub.Status(s); st {
			case hub.StatusEnabled, hub.StatusDisabled:
				d.Status = st
			default:
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity:    hcl.DiagError,
					Summary:     "Invalid device status",
					Detail:      fmt.Sprintf("The status %q is not one IoT Hub knows. Use %q or %q.", s, hub.StatusEnabled, hub.StatusDisabled),
					Subject:     a.Expr.Range().Ptr(),
					Expression:  a.Expr,
					EvalContext: ctx,
				})
			}
		}
	}
	if a := attrs["status_reason"]; a != nil {
		if s, ok := r.evalString(a, ctx, each, false); ok {
			d.StatusReason = s
			if err := hub.ValidateStatusReason(s); err != nil {
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity:    hcl.DiagError,
					Summary:     "Invalid status reason",
					Detail:      sentence(err.Error()) + " Shorten it.",
					Subject:     a.Expr.Range().Ptr(),
					Expression:  a.Expr,
					EvalContext: ctx,
				})
			}
		}
	}
	if a := attrs["tags"]; a != nil {
		d.Tags = r.twinSection(a, hub.SectionTags, addr, ctx, each)
	}
	if a := attrs["desired"]; a != nil {
		d.Desired = r.twinSection(a, hub.SectionDesired, addr, ctx, each)
	}
	return d
}

// instance is one key of a for_each value.
type instance struct {
	key   string
	value cty.Value
}

// forEach evaluates a for_each argument into instances sorted by key. As in
// Terraform it takes a map (or object), whose elements are each.value, or a
// set of strings, where each.value is each.key. Lists are refused: their
// indexes would make addresses that shift when an element is removed.
func (r *run) forEach(attr *hcl.Attribute, ctx *hcl.EvalContext) []instance {
	v, ok := r.eval(attr.Expr, ctx, false)
	if !ok {
		return nil
	}
	fail := func(detail string) []instance {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Invalid for_each argument",
			Detail:      detail,
			Subject:     attr.Expr.Range().Ptr(),
			Expression:  attr.Expr,
			EvalContext: ctx,
		})
		return nil
	}
	ty := v.Type()
	switch {
	case v.IsNull():
		return fail(`The given "for_each" argument value is null. A map, or set of strings, is allowed.`)
	case ty.IsMapType() || ty.IsObjectType():
		var out []instance
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out = append(out, instance{key: k.AsString(), value: ev})
		}
		return out
	case ty.IsSetType():
		if v.LengthInt() == 0 {
			return nil
		}
		if !ty.ElementType().Equals(cty.String) {
			return fail(fmt.Sprintf(`The given "for_each" argument value is unsuitable: "for_each" supports maps and sets of strings, but you have provided a set containing type %s. Convert the elements to strings, for example with toset([for x in ... : tostring(x)]).`, ty.ElementType().FriendlyName()))
		}
		var out []instance
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if ev.IsNull() {
				return fail(`The given "for_each" argument value is unsuitable: "for_each" sets must not contain null values. Remove the null elements.`)
			}
			out = append(out, instance{key: ev.AsString(), value: ev})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
		return out
	case ty.IsListType() || ty.IsTupleType():
		return fail(fmt.Sprintf(`The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type %s. Convert it to a set of strings with toset(...), or to a map with a for expression, such as { for d in LIST : d.id => d }.`, ty.FriendlyName()))
	default:
		return fail(fmt.Sprintf(`The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type %s.`, ty.FriendlyName()))
	}
}

// checkUniqueIDs reports device IDs declared by more than one instance. The
// devices are in address order, and the later address gets the diagnostic.
func (r *run) checkUniqueIDs(devices []*Device) {
	first := map[string]*Device{}
	for _, d := range devices {
		if d.DeviceID == "" {
			continue
		}
		prev := first[d.DeviceID]
		if prev == nil {
			first[d.DeviceID] = d
			continue
		}
		subject := d.Ranges["device_id"]
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate device ID",
			Detail: fmt.Sprintf("Device ID %q is declared by both %s and %s (at %s). IDs must be unique in a hub; change one of them.",
				d.DeviceID, prev.Addr, d.Addr, prev.Ranges["device_id"]),
			Subject: &subject,
		})
	}
}
