package config

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

type resourceBlock struct {
	Name      string    `hcl:"name,label"`
	Body      hcl.Body  `hcl:",remain"` // decoded with the schema of its type
	DeclRange hcl.Range `hcl:",def_range"`
	NameRange hcl.Range `hcl:"name,label_range"`
}

// resource is a declared device or device_module block.
type resource struct {
	typ, name string
	block     *resourceBlock
	attrs     hcl.Attributes
	auth      *authDecl
	lifecycle Lifecycle
	dependsOn []dependsOnRef
	// forEach and count are the expansion arguments; at most one is set.
	forEach, count *hcl.Attribute
	ranges         map[string]hcl.Range

	// value is what references to the block read: the instance object of a
	// block without count or for_each, an object by key with for_each, a
	// tuple with count. cycleVal until evaluated.
	value   cty.Value
	devices []*Device
	modules []*Module
	// refs are the resources and instances the block's arguments refer
	// to, directly or through locals.
	refs []resourceRef
}

// dependsOnRef is one address of a depends_on argument.
type dependsOnRef struct {
	addr Addr // Key nil and whole true for a whole resource
	rng  hcl.Range
}

// resourceRef is a resource a block refers to: one instance, or all of
// them when whole is set.
type resourceRef struct {
	res   *resource
	key   any
	whole bool
}

func (res *resource) addr() Addr { return Addr{Type: res.typ, Name: res.name} }

// multi tells whether the block has count or for_each, so that its
// instances are taken by key.
func (res *resource) multi() bool { return res.forEach != nil || res.count != nil }

func (res *resource) attrNames() []string {
	if res.typ == TypeModule {
		return moduleAttrNames
	}
	return deviceAttrNames
}

func (res *resource) hasAttr(name string) bool { return slices.Contains(res.attrNames(), name) }

// exprs returns the expressions of the block's arguments that are
// evaluated, for its dependencies.
func (res *resource) exprs() []hcl.Expression {
	var out []hcl.Expression
	for _, name := range slices.Sorted(maps.Keys(res.attrs)) {
		if name != "depends_on" {
			out = append(out, res.attrs[name].Expr)
		}
	}
	if res.auth != nil {
		for _, a := range res.auth.exprs() {
			out = append(out, a)
		}
	}
	return out
}

// declareResources decodes the skeleton of each block of type typ: its
// arguments, nested blocks, lifecycle and depends_on. Evaluation comes
// later, in dependency order.
func (r *run) declareResources(typ string, blocks []*resourceBlock) {
	schema := deviceSchema
	if typ == TypeModule {
		schema = moduleSchema
	}
	for _, b := range blocks {
		key := typ + "." + b.Name
		if prev := r.resources[key]; prev != nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s block", typ),
				Detail:   fmt.Sprintf("A %s block named %q was already declared at %s. Block names must be unique; rename or remove one of them.", typ, b.Name, prev.block.DeclRange),
				Subject:  b.DeclRange.Ptr(),
			})
			continue
		}
		if !hclsyntax.ValidIdentifier(b.Name) {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid %s name", typ),
				Detail:   fmt.Sprintf("%q is not a valid block name. A name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", b.Name),
				Subject:  b.NameRange.Ptr(),
			})
			continue
		}
		content, diags := b.Body.Content(schema)
		r.diags = append(r.diags, diags...)
		res := &resource{typ: typ, name: b.Name, block: b, attrs: content.Attributes, value: cycleVal, ranges: map[string]hcl.Range{}}
		for name, a := range content.Attributes {
			res.ranges[name] = a.Expr.Range()
		}
		res.forEach, res.count = res.attrs["for_each"], res.attrs["count"]
		if res.forEach != nil && res.count != nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  `Invalid combination of "count" and "for_each"`,
				Detail:   `The "count" and "for_each" arguments are mutually exclusive: only one should be used to make several instances of a block.`,
				Subject:  res.count.NameRange.Ptr(),
			})
		}
		var lifecycles, auths []*hcl.Block
		for _, blk := range content.Blocks {
			switch blk.Type {
			case "lifecycle":
				lifecycles = append(lifecycles, blk)
			case "auth":
				auths = append(auths, blk)
			}
		}
		if len(lifecycles) > 0 {
			res.lifecycle = r.decodeLifecycle(typ, lifecycles)
		}
		res.auth = r.declareAuth(res.attrs["auth"], auths)
		if res.auth != nil {
			maps.Copy(res.ranges, res.auth.ranges())
		}
		if a := res.attrs["depends_on"]; a != nil {
			res.dependsOn = r.decodeDependsOn(a)
		}
		r.resources[key] = res
		r.resOrder = append(r.resOrder, res)
	}
}

// decodeDependsOn reads the addresses of a depends_on argument. Whether
// they name declared resources is checked once all blocks are declared.
func (r *run) decodeDependsOn(attr *hcl.Attribute) []dependsOnRef {
	ts, diags := traversals(attr.Expr)
	r.diags = append(r.diags, diags...)
	var out []dependsOnRef
	for _, t := range ts {
		a, err := addrOfTraversal(t)
		if err != nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid depends_on reference",
				Detail:   sentence(err.Error()),
				Subject:  t.SourceRange().Ptr(),
			})
			continue
		}
		out = append(out, dependsOnRef{addr: a, rng: t.SourceRange()})
	}
	return out
}

// checkDependsOn reports depends_on addresses that name no declared block.
func (r *run) checkDependsOn() {
	for _, res := range r.resOrder {
		for _, d := range res.dependsOn {
			if r.resources[d.addr.Resource().String()] == nil {
				var names []string
				for _, o := range r.resOrder {
					names = append(names, o.addr().String())
				}
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared resource",
					Detail:   fmt.Sprintf("depends_on names %s, which the configuration does not declare.%s", d.addr.Resource(), didYouMean(d.addr.Resource().String(), names)),
					Subject:  d.rng.Ptr(),
				})
			}
		}
	}
}

// maxRegistrySize is the most devices and modules a hub holds together.
const maxRegistrySize = 1_000_000

// instanceKey is one instance of a block: its key and the each or count
// object its arguments see.
type instanceKey struct {
	key  any // nil, string or int
	vars map[string]cty.Value
}

// expand evaluates count or for_each into the block's instances, sorted by
// key. ok is false when the argument could not be evaluated.
func (r *run) expand(res *resource) ([]instanceKey, bool) {
	ctx := r.scope()
	switch {
	case res.forEach != nil && res.count != nil:
		return nil, false
	case res.forEach != nil:
		insts, ok := r.forEach(res.forEach, ctx)
		out := make([]instanceKey, len(insts))
		for i, in := range insts {
			out[i] = instanceKey{key: in.key, vars: map[string]cty.Value{
				"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.key), "value": in.value}),
			}}
		}
		return out, ok
	case res.count != nil:
		n, _, ok := r.evalWhole(res.count, ctx, allowResources, Addr{})
		if !ok {
			if v, _ := res.count.Expr.Value(ctx); v.IsKnown() && v.IsNull() {
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid count argument",
					Detail:   `The given "count" argument value is null. A whole number of zero or more is required.`,
					Subject:  res.count.Expr.Range().Ptr(),
				})
			}
			return nil, false
		}
		if n > maxRegistrySize {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid count argument",
				Detail:   fmt.Sprintf("count is %d; a hub holds at most %d devices and modules together.", n, maxRegistrySize),
				Subject:  res.count.Expr.Range().Ptr(),
			})
			return nil, false
		}
		out := make([]instanceKey, n)
		for i := range out {
			out[i] = instanceKey{key: i, vars: map[string]cty.Value{
				"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))}),
			}}
		}
		return out, true
	}
	return []instanceKey{{}}, true
}

// forEachInstance is one key of a for_each value.
type forEachInstance struct {
	key   string
	value cty.Value
}

// forEach evaluates a for_each argument into instances sorted by key. As in
// Terraform it takes a map (or object), whose elements are each.value, or a
// set of strings, where each.value is each.key. Lists are refused: their
// indexes would make addresses that shift when an element is removed.
func (r *run) forEach(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]forEachInstance, bool) {
	// The keys must be known; the values may hold what only the hub
	// knows, as long as the arguments that use them do not need it: a
	// for_each over device.thermo is fine.
	v, ok := r.evalAny(attr.Expr, ctx, allowResources)
	if !ok {
		return nil, false
	}
	if !v.IsKnown() || v.Type().IsSetType() && !v.IsWhollyKnown() {
		r.unknownDiag(attr.Expr, ctx, v)
		return nil, false
	}
	fail := func(detail string) ([]forEachInstance, bool) {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Invalid for_each argument",
			Detail:      detail,
			Subject:     attr.Expr.Range().Ptr(),
			Expression:  attr.Expr,
			EvalContext: ctx,
		})
		return nil, false
	}
	if v.IsMarked() {
		return fail(`Sensitive values, or values computed from them, cannot be used as for_each arguments: the keys would show in instance addresses. Use a value that is not sensitive, or make only the elements sensitive.`)
	}
	ty := v.Type()
	switch {
	case v.IsNull():
		return fail(`The given "for_each" argument value is null. A map, or set of strings, is allowed.`)
	case ty.IsMapType() || ty.IsObjectType():
		var out []forEachInstance
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out = append(out, forEachInstance{key: k.AsString(), value: ev})
		}
		return out, true
	case ty.IsSetType():
		if v.LengthInt() == 0 {
			return nil, true
		}
		if !ty.ElementType().Equals(cty.String) {
			return fail(fmt.Sprintf(`The given "for_each" argument value is unsuitable: "for_each" supports maps and sets of strings, but you have provided a set containing type %s. Convert the elements to strings, for example with toset([for x in ... : tostring(x)]).`, ty.ElementType().FriendlyName()))
		}
		var out []forEachInstance
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			uv, _ := ev.Unmark()
			if uv.IsNull() {
				return fail(`The given "for_each" argument value is unsuitable: "for_each" sets must not contain null values. Remove the null elements.`)
			}
			out = append(out, forEachInstance{key: uv.AsString(), value: ev})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
		return out, true
	case ty.IsListType() || ty.IsTupleType():
		return fail(fmt.Sprintf(`The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type %s. Convert it to a set of strings with toset(...), or to a map with a for expression, such as { for d in LIST : d.id => d }.`, ty.FriendlyName()))
	default:
		return fail(fmt.Sprintf(`The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type %s.`, ty.FriendlyName()))
	}
}

// evalResource expands a block and evaluates each instance.
func (r *run) evalResource(res *resource) {
	defer func() { r.ctx = nil }()
	res.refs = r.resourceRefs(res.exprs())
	keys, ok := r.expand(res)
	if !ok {
		res.value = cty.DynamicVal
		return
	}
	a := allowResources
	switch {
	case res.forEach != nil:
		a |= allowEach
	case res.count != nil:
		a |= allowCount
	}
	base := r.scope()
	objs := make([]cty.Value, len(keys))
	for i, k := range keys {
		ctx := base
		if k.vars != nil {
			ctx = base.NewChild()
			ctx.Variables = k.vars
		}
		addr := Addr{Type: res.typ, Name: res.name, Key: k.key}
		if res.typ == TypeModule {
			var m *Module
			m, objs[i] = r.moduleInstance(res, addr, ctx, a)
			res.modules = append(res.modules, m)
		} else {
			var d *Device
			d, objs[i] = r.deviceInstance(res, addr, ctx, a)
			res.devices = append(res.devices, d)
		}
	}
	switch {
	case res.forEach != nil:
		m := make(map[string]cty.Value, len(keys))
		for i, k := range keys {
			m[k.key.(string)] = objs[i]
		}
		res.value = objectOf(m)
	case res.count != nil:
		res.value = cty.TupleVal(objs)
		if len(objs) == 0 {
			res.value = cty.EmptyTupleVal
		}
	default:
		res.value = objs[0]
	}
}

// resourceRefs returns the resources and instances exprs refer to,
// directly or through locals. A reference with a literal key, or to a
// block without count or for_each, is to one instance; any other is to all
// of the block's instances.
func (r *run) resourceRefs(exprs []hcl.Expression) []resourceRef {
	var out []resourceRef
	for _, e := range exprs {
		for _, t := range e.Variables() {
			root := t.RootName()
			if root == "local" {
				if name, ok := attrStep(t); ok && r.locals[name] != nil {
					out = append(out, r.locals[name].refs...)
				}
				continue
			}
			if root != TypeDevice && root != TypeModule {
				continue
			}
			name, ok := attrStep(t)
			res := r.resources[root+"."+name]
			if !ok || res == nil {
				continue
			}
			ref := resourceRef{res: res, whole: true}
			switch {
			case !res.multi():
				ref.whole = false
			case len(t) > 2:
				if ix, ok := t[2].(hcl.TraverseIndex); ok {
					if k, ok := literalKey(ix.Key); ok {
						ref.key, ref.whole = k, false
					}
				}
			}
			out = append(out, ref)
		}
	}
	return out
}

// literalKey reads an instance key from an index: a string, or a whole
// number.
func literalKey(v cty.Value) (any, bool) {
	if !v.IsKnown() || v.IsNull() {
		return nil, false
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Number:
		i, acc := v.AsBigFloat().Int64()
		if acc == big.Exact && i >= 0 {
			return int(i), true
		}
	}
	return nil, false
}

// knownAttrs returns the attributes opts.Known reports for an instance, when
// they are about the same identity as the configuration declares: the same
// IDs, auth type and key version.
func (r *run) knownAttrs(addr Addr, match map[string]cty.Value) map[string]cty.Value {
	if r.opts.Known == nil {
		return nil
	}
	attrs, ok := r.opts.Known(addr.String())
	if !ok {
		return nil
	}
	for name, want := range match {
		got, ok := attrs[name]
		if !ok || got.IsNull() || !got.IsKnown() {
			if name == "device_id" || name == "module_id" {
				return nil
			}
			continue
		}
		got, _ = got.UnmarkDeep()
		if got.Type() == cty.String && got.AsString() == "" && name != "device_id" && name != "module_id" {
			continue // not recorded
		}
		gotConv, err := convert.Convert(got, want.Type())
		if err != nil || !gotConv.RawEquals(want) {
			return nil
		}
	}
	return attrs
}

// computedAttr is the value of an attribute only the hub knows: the known
// value when there is one, else unknown with a computedMark naming it.
func computedAttr(addr Addr, name string, known map[string]cty.Value) cty.Value {
	if v, ok := known[name]; ok && v.IsKnown() {
		v, _ = v.UnmarkDeep()
		if v.IsNull() {
			return cty.NullVal(cty.String)
		}
		if s, err := convert.Convert(v, cty.String); err == nil {
			return s
		}
	}
	return cty.UnknownVal(cty.String).Mark(computedMark{addr: addr.String(), attr: name})
}

// argVal is the value references read for an argument: def when it is
// not written or null, cty.DynamicVal when it could not be evaluated, else
// its value with its marks.
func argVal(written bool, v cty.Value, ok bool, def cty.Value) cty.Value {
	switch {
	case !written:
		return def
	case ok:
		return v
	}
	if uv, _ := v.Unmark(); uv.IsKnown() && uv.IsNull() {
		return def
	}
	return cty.DynamicVal
}
