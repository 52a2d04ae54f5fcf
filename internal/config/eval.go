package config

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// run is one evaluation of a configuration: the declared variables, locals
// and resources, their values, and the diagnostics found so far.
//
// Values that could not be computed are cty.DynamicVal (unknown), always with
// an error diagnostic already recorded. The only other unknown values are the
// attributes only the hub knows after apply (keys, generation IDs,
// connection strings); those carry a computedMark naming the attribute, so
// that a diagnostic can say which one a value depends on.
type run struct {
	l     *Loader
	opts  LoadOptions
	funcs map[string]function.Function
	diags hcl.Diagnostics

	vars     map[string]*variable
	varOrder []string
	varVals  map[string]cty.Value
	missing  []MissingVariable

	locals    map[string]*local
	localVals map[string]cty.Value

	resources map[string]*resource // by resource address, as device.gw
	resOrder  []*resource          // in declaration order

	ctx *hcl.EvalContext // the scope as it stands; nil when stale
}

func newRun(l *Loader, opts LoadOptions) *run {
	return &run{
		l:         l,
		opts:      opts,
		funcs:     functions(l.fsys, opts.Env),
		vars:      map[string]*variable{},
		varVals:   map[string]cty.Value{},
		locals:    map[string]*local{},
		localVals: map[string]cty.Value{},
		resources: map[string]*resource{},
	}
}

// computedMark marks an unknown value that only the hub knows after apply:
// the attribute attr of the instance addr.
type computedMark struct {
	addr, attr string
}

// allow says what an expression may refer to besides variables, locals and
// path.
type allow uint8

const (
	allowEach      allow = 1 << iota // each.key, each.value
	allowCount                       // count.index
	allowResources                   // device.x, device_module.x
)

// scope returns an evaluation context with var, local, device,
// device_module and path as they stand.
func (r *run) scope() *hcl.EvalContext {
	if r.ctx != nil {
		return r.ctx
	}
	byType := map[string]map[string]cty.Value{TypeDevice: {}, TypeModule: {}}
	for _, res := range r.resOrder {
		byType[res.typ][res.name] = res.value
	}
	r.ctx = &hcl.EvalContext{
		Functions: r.funcs,
		Variables: map[string]cty.Value{
			"var":      objectOf(r.varVals),
			"local":    objectOf(r.localVals),
			TypeDevice: objectOf(byType[TypeDevice]),
			TypeModule: objectOf(byType[TypeModule]),
			"path": cty.ObjectVal(map[string]cty.Value{
				"module": cty.StringVal("."),
				"root":   cty.StringVal("."),
			}),
		},
	}
	return r.ctx
}

// staticScope is a context with functions and variables only, for the
// arguments that are read before any local or resource is evaluated.
func (r *run) staticScope() *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: r.funcs,
		Variables: map[string]cty.Value{"var": objectOf(r.varVals)},
	}
}

func objectOf(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// checkRefs reports references to undeclared variables, locals and
// resources, to attributes resources do not have, and to each, count and
// resources where a is without them, with messages clearer than a failed
// attribute lookup gives.
func (r *run) checkRefs(expr hcl.Expression, a allow) hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(t hcl.Traversal, summary, detail string) {
		rng := t.SourceRange()
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng})
	}
	for _, t := range expr.Variables() {
		switch t.RootName() {
		case "var":
			name, ok := attrStep(t)
			if ok && r.vars[name] == nil {
				add(t, "Reference to undeclared input variable",
					fmt.Sprintf("An input variable named %q is not declared. Declare it with a variable %q block, or correct the name.%s", name, name, didYouMean(name, r.varOrder)))
			}
		case "local":
			name, ok := attrStep(t)
			if ok && r.locals[name] == nil {
				var names []string
				for n := range r.locals {
					names = append(names, n)
				}
				add(t, "Reference to undeclared local value",
					fmt.Sprintf("A local value named %q is not declared. Declare it in a locals block, or correct the name.%s", name, didYouMean(name, names)))
			}
		case "each":
			if a&allowEach == 0 {
				add(t, `Invalid reference to "each"`,
					`The "each" object exists only in the arguments of a resource block that sets for_each, and not in for_each itself. Remove the reference, or add for_each to the block.`)
			}
		case "count":
			if a&allowCount == 0 {
				add(t, `Invalid reference to "count"`,
					`The "count" object exists only in the arguments of a resource block that sets count, and not in count itself. Remove the reference, or add count to the block.`)
			} else if name, ok := attrStep(t); ok && name != "index" {
				add(t, "Unsupported attribute", fmt.Sprintf(`The "count" object has only the attribute "index", not %q.`, name))
			}
		case "path":
			if name, ok := attrStep(t); ok && name != "module" && name != "root" {
				add(t, "Unsupported attribute", fmt.Sprintf(`The "path" object has the attributes "module" and "root" (both "."), not %q.%s`, name, didYouMean(name, []string{"module", "root"})))
			}
		case TypeDevice, TypeModule:
			if a&allowResources == 0 {
				add(t, "Invalid reference", fmt.Sprintf("%s may refer only to variables, local values and functions here, not to resources.", t.RootName()))
				continue
			}
			if summary, detail := r.checkResourceRef(t); summary != "" {
				add(t, summary, detail)
			}
		}
	}
	return diags
}

// checkResourceRef checks a reference to a resource: that the block is
// declared, that instances of blocks with count or for_each are taken by
// key, and that the attribute exists.
func (r *run) checkResourceRef(t hcl.Traversal) (summary, detail string) {
	typ := t.RootName()
	if len(t) < 2 {
		return "Invalid reference", fmt.Sprintf("A reference to a resource type must be followed by a block name, as in %s.name.", typ)
	}
	nameStep, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		return "Invalid reference", fmt.Sprintf("A reference to a resource type must be followed by a block name, as in %s.name.", typ)
	}
	res := r.resources[typ+"."+nameStep.Name]
	if res == nil {
		var names []string
		for _, o := range r.resOrder {
			if o.typ == typ {
				names = append(names, o.name)
			}
		}
		return "Reference to undeclared resource",
			fmt.Sprintf("A %s block named %q is not declared. Declare it, or correct the name.%s", typ, nameStep.Name, didYouMean(nameStep.Name, names))
	}
	steps := t[2:]
	if res.multi() {
		if len(steps) == 0 {
			return "", ""
		}
		if _, ok := steps[0].(hcl.TraverseAttr); ok {
			by, example := "for_each", fmt.Sprintf(`%s[each.key] or %s["a"]`, res.addr(), res.addr())
			if res.count != nil {
				by, example = "count", fmt.Sprintf(`%s[count.index] or %s[0]`, res.addr(), res.addr())
			}
			return "Missing resource instance key",
				fmt.Sprintf("Because %s has %s set, its attributes must be read from one of its instances, as in %s.", res.addr(), by, example)
		}
		steps = steps[1:]
	} else if len(steps) > 0 {
		if _, ok := steps[0].(hcl.TraverseIndex); ok {
			return "Unexpected resource instance key",
				fmt.Sprintf("Because %s has neither count nor for_each set, it has one instance, read without a key, as in %s.device_id.", res.addr(), res.addr())
		}
	}
	if len(steps) == 0 {
		return "", ""
	}
	if at, ok := steps[0].(hcl.TraverseAttr); ok && !res.hasAttr(at.Name) {
		return "Unsupported attribute",
			fmt.Sprintf("A %s has no attribute named %q.%s Its attributes are %s.", typ, at.Name, didYouMean(at.Name, res.attrNames()), strings.Join(res.attrNames(), ", "))
	}
	return "", ""
}

// refersTo tells whether expr refers to the root variable name.
func refersTo(expr hcl.Expression, name string) bool {
	for _, t := range expr.Variables() {
		if t.RootName() == name {
			return true
		}
	}
	return false
}

// attrStep returns the name of the attribute a traversal reads from its root,
// as in var.name.
func attrStep(t hcl.Traversal) (string, bool) {
	if len(t) < 2 {
		return "", false
	}
	if a, ok := t[1].(hcl.TraverseAttr); ok {
		return a.Name, true
	}
	if ix, ok := t[1].(hcl.TraverseIndex); ok && ix.Key.Type() == cty.String && ix.Key.IsKnown() && !ix.Key.IsNull() {
		return ix.Key.AsString(), true
	}
	return "", false
}

// evalAny evaluates expr in ctx; the value may be unknown and keeps its
// marks. ok is false when an error was reported.
func (r *run) evalAny(expr hcl.Expression, ctx *hcl.EvalContext, a allow) (cty.Value, bool) {
	if diags := r.checkRefs(expr, a); diags.HasErrors() {
		r.diags = append(r.diags, diags...)
		return cty.DynamicVal, false
	}
	v, diags := expr.Value(ctx)
	r.diags = append(r.diags, diags...)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	return v, true
}

// eval evaluates expr in ctx to a value that must be wholly known. The value
// keeps its marks. ok is false when the value is unusable: an error was
// reported, or the value is not wholly known.
func (r *run) eval(expr hcl.Expression, ctx *hcl.EvalContext, a allow) (cty.Value, bool) {
	v, ok := r.evalAny(expr, ctx, a)
	if !ok {
		return v, false
	}
	if !v.IsWhollyKnown() {
		r.unknownDiag(expr, ctx, v)
		return v, false
	}
	return v, true
}

// unknownDiag reports a value that is not known where it must be: naming
// the attributes only the hub knows that it comes from, or, when it comes
// from an error already reported, saying nothing more.
func (r *run) unknownDiag(expr hcl.Expression, ctx *hcl.EvalContext, v cty.Value) {
	rng := expr.Range()
	if computed := computedRefs(v); len(computed) > 0 {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Value known only after apply",
			Detail: fmt.Sprintf("This value depends on %s, which the hub assigns when it creates the identity, so it is not known until after apply. Values only the hub knows may be used in outputs, not where iotplan needs them to plan.",
				joinAnd(computed)),
			Subject:     &rng,
			Expression:  expr,
			EvalContext: ctx,
		})
	} else if !r.diags.HasErrors() {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Value not known",
			Detail:      "This value cannot be computed from the configuration alone. Use only variables, locals, literals, functions and resource attributes of known values.",
			Subject:     &rng,
			Expression:  expr,
			EvalContext: ctx,
		})
	}
}

// computedRefs returns the attributes, as device.gw.primary_key, whose
// unknown values v was computed from, sorted.
func computedRefs(v cty.Value) []string {
	_, pvm := v.UnmarkDeepWithPaths()
	seen := map[string]bool{}
	var out []string
	for _, pm := range pvm {
		for m := range pm.Marks {
			if c, ok := m.(computedMark); ok && !seen[c.addr+"."+c.attr] {
				seen[c.addr+"."+c.attr] = true
				out = append(out, c.addr+"."+c.attr)
			}
		}
	}
	sort.Strings(out)
	return out
}

// onlySensitiveMarks returns v with every mark but SensitiveMark removed,
// at every depth.
func onlySensitiveMarks(v cty.Value) cty.Value {
	uv, pvm := v.UnmarkDeepWithPaths()
	var keep []cty.PathValueMarks
	for _, pm := range pvm {
		if _, ok := pm.Marks[SensitiveMark]; ok {
			keep = append(keep, cty.PathValueMarks{Path: pm.Path, Marks: cty.NewValueMarks(SensitiveMark)})
		}
	}
	return uv.MarkWithPaths(keep)
}

// sensitivePaths returns the paths of v that carry SensitiveMark, written
// from prefix as model paths: "desired.token", "auth.primary_key". A path
// stops at the first list index: the property holding the list is
// sensitive as a whole.
func sensitivePaths(prefix string, pvm []cty.PathValueMarks) []string {
	var out []string
	for _, pm := range pvm {
		if _, ok := pm.Marks[SensitiveMark]; !ok {
			continue
		}
		p := prefix
	steps:
		for _, s := range pm.Path {
			switch s := s.(type) {
			case cty.GetAttrStep:
				p += "." + s.Name
			case cty.IndexStep:
				if s.Key.Type() != cty.String {
					break steps
				}
				p += "." + s.Key.AsString()
			}
		}
		out = append(out, p)
	}
	return out
}

// isSensitive tells whether v or any part of it is sensitive.
func isSensitive(v cty.Value) bool {
	_, pvm := v.UnmarkDeepWithPaths()
	for _, pm := range pvm {
		if _, ok := pm.Marks[SensitiveMark]; ok {
			return true
		}
	}
	return false
}

// argDiag reports a problem with the value of an argument. With a nil ctx
// the diagnostic carries no evaluation context, so that renderers do not
// show the values the expression used: for keys. In an instance
// of a block with count or for_each whose value depends on the instance,
// the detail names the instance; otherwise every instance has the same
// problem, reported once.
func (r *run) argDiag(summary, detail string, expr hcl.Expression, ctx *hcl.EvalContext, addr Addr) {
	if addr.Key != nil && (refersTo(expr, "each") || refersTo(expr, "count")) {
		detail = sentence(fmt.Sprintf("in %s, %s", addr, detail))
	} else {
		detail = sentence(detail)
	}
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  expr.Range().Ptr(),
	}
	if ctx != nil {
		d.Expression, d.EvalContext = expr, ctx
	}
	r.diags = append(r.diags, d)
}

// evalString evaluates an argument that holds a string. v is the evaluated
// value with its marks. ok is false when the value is unusable or null. A
// null optional argument is as if not written, as in Terraform; a null
// required one is an error.
func (r *run) evalString(attr *hcl.Attribute, ctx *hcl.EvalContext, a allow, required bool) (s string, v cty.Value, ok bool) {
	v, ok = r.eval(attr.Expr, ctx, a)
	if !ok {
		return "", cty.DynamicVal, false
	}
	uv, marks := v.Unmark()
	if uv.IsNull() {
		if required {
			r.nullDiag(attr, ctx, "a string")
		}
		return "", v, false
	}
	sv, err := convert.Convert(uv, cty.String)
	if err != nil {
		r.typeDiag(attr, ctx, "a string", uv)
		return "", cty.DynamicVal, false
	}
	return sv.AsString(), sv.WithMarks(marks), true
}

// evalBool evaluates an argument that holds a bool; null is as if not
// written.
func (r *run) evalBool(attr *hcl.Attribute, ctx *hcl.EvalContext, a allow) (b bool, v cty.Value, ok bool) {
	v, ok = r.eval(attr.Expr, ctx, a)
	if !ok {
		return false, cty.DynamicVal, false
	}
	uv, marks := v.Unmark()
	if uv.IsNull() {
		return false, v, false
	}
	bv, err := convert.Convert(uv, cty.Bool)
	if err != nil {
		r.typeDiag(attr, ctx, "a bool (true or false)", uv)
		return false, cty.DynamicVal, false
	}
	return bv.True(), bv.WithMarks(marks), true
}

// evalWhole evaluates an argument that holds a whole number of zero or
// more; null is as if not written.
func (r *run) evalWhole(attr *hcl.Attribute, ctx *hcl.EvalContext, a allow, addr Addr) (n int, v cty.Value, ok bool) {
	v, ok = r.eval(attr.Expr, ctx, a)
	if !ok {
		return 0, cty.DynamicVal, false
	}
	uv, marks := v.Unmark()
	if uv.IsNull() {
		return 0, v, false
	}
	nv, err := convert.Convert(uv, cty.Number)
	if err != nil {
		r.typeDiag(attr, ctx, "a number", uv)
		return 0, cty.DynamicVal, false
	}
	bf := nv.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || i < 0 || i > 1<<31-1 {
		r.argDiag("Invalid "+attr.Name+" argument",
			fmt.Sprintf("the %s argument must be a whole number of zero or more, not %s", attr.Name, bf.Text('g', -1)), attr.Expr, ctx, addr)
		return 0, cty.DynamicVal, false
	}
	return int(i), nv.WithMarks(marks), true
}

// required reports a required argument that is not written; gohcl
// leaves arguments decoded into expressions optional.
func (r *run) required(attr *hcl.Attribute, name, in string, block hcl.Range) bool {
	if attr != nil {
		return true
	}
	r.diags = append(r.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Missing required argument",
		Detail:   fmt.Sprintf("The argument %q is required in %s, but no definition was found.", name, in),
		Subject:  block.Ptr(),
	})
	return false
}

func (r *run) nullDiag(attr *hcl.Attribute, ctx *hcl.EvalContext, want string) {
	r.diags = append(r.diags, &hcl.Diagnostic{
		Severity:    hcl.DiagError,
		Summary:     "Missing value",
		Detail:      fmt.Sprintf("The argument %q is required and cannot be null. Give it %s.", attr.Name, want),
		Subject:     attr.Expr.Range().Ptr(),
		Expression:  attr.Expr,
		EvalContext: ctx,
	})
}

func (r *run) typeDiag(attr *hcl.Attribute, ctx *hcl.EvalContext, want string, got cty.Value) {
	r.diags = append(r.diags, &hcl.Diagnostic{
		Severity:    hcl.DiagError,
		Summary:     "Incorrect attribute value type",
		Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s is required, not %s.", attr.Name, want, got.Type().FriendlyName()),
		Subject:     attr.Expr.Range().Ptr(),
		Expression:  attr.Expr,
		EvalContext: ctx,
	})
}

// traversals reads a list of static references, as depends_on and
// ignore_changes hold: [device.gw, tags.site]. A string that holds a
// reference is accepted too, as older Terraform wrote them.
func traversals(expr hcl.Expression) ([]hcl.Traversal, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(expr)
	var out []hcl.Traversal
	for _, e := range exprs {
		if tmpl, ok := e.(*hclsyntax.TemplateExpr); ok && tmpl.IsStringLiteral() {
			v, _ := tmpl.Value(nil)
			rng := tmpl.Range()
			t, tDiags := hclsyntax.ParseTraversalAbs([]byte(v.AsString()), rng.Filename, rng.Start)
			if tDiags.HasErrors() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference",
					Detail:   fmt.Sprintf("%q is not a reference such as device.gw or tags.site.", v.AsString()),
					Subject:  &rng,
				})
				continue
			}
			out = append(out, t)
			continue
		}
		t, tDiags := hcl.AbsTraversalForExpr(e)
		diags = append(diags, tDiags...)
		if !tDiags.HasErrors() {
			out = append(out, t)
		}
	}
	return out, diags
}

// shown quotes a value for a diagnostic's detail, or writes "the sensitive
// value" in its place.
func shown(s string, sensitive bool) string {
	if sensitive {
		return "the sensitive value"
	}
	return strconv.Quote(s)
}

// sentence makes s a sentence: an upper-case first letter and a final period.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	switch s[len(s)-1] {
	case '.', '!', '?':
		return s
	}
	return s + "."
}

// joinAnd joins words as a sentence lists them: "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
