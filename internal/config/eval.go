package config

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// run is one evaluation of a configuration: the declared variables and
// locals, their values, and the diagnostics found so far.
//
// Values that could not be computed are cty.DynamicVal (unknown), always with
// an error diagnostic already recorded. The language has no other source of
// unknown values, so an expression that yields an unknown value is skipped
// silently: its cause has been reported.
type run struct {
	l      *Loader
	funcs  *hcl.EvalContext // functions only; the parent of every context
	diags  hcl.Diagnostics
	vars   map[string]*variable
	locals map[string]*local

	varVals   map[string]cty.Value
	localVals map[string]cty.Value
}

func newRun(l *Loader) *run {
	return &run{
		l:         l,
		funcs:     &hcl.EvalContext{Functions: l.funcs},
		vars:      map[string]*variable{},
		locals:    map[string]*local{},
		varVals:   map[string]cty.Value{},
		localVals: map[string]cty.Value{},
	}
}

// scope returns an evaluation context with var and local as they stand.
func (r *run) scope() *hcl.EvalContext {
	ctx := r.funcs.NewChild()
	ctx.Variables = map[string]cty.Value{
		"var":   objectOf(r.varVals),
		"local": objectOf(r.localVals),
	}
	return ctx
}

func objectOf(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// checkRefs reports references to undeclared variables and locals, and to
// each where there is no for_each, with messages clearer than a failed
// attribute lookup gives.
func (r *run) checkRefs(expr hcl.Expression, allowEach bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range expr.Variables() {
		rng := t.SourceRange()
		switch t.RootName() {
		case "var":
			name, ok := attrStep(t)
			if ok && r.vars[name] == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared input variable",
					Detail:   fmt.Sprintf("An input variable named %q is not declared. Declare it with a variable %q block, or correct the name.", name, name),
					Subject:  &rng,
				})
			}
		case "local":
			name, ok := attrStep(t)
			if ok && r.locals[name] == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared local value",
					Detail:   fmt.Sprintf("A local value named %q is not declared. Declare it in a locals block, or correct the name.", name),
					Subject:  &rng,
				})
			}
		case "each":
			if !allowEach {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  `Invalid reference to "each"`,
					Detail:   `The "each" object exists only in the arguments of a device block that sets for_each, and not in for_each itself. Remove the reference, or add for_each to the block.`,
					Subject:  &rng,
				})
			}
		}
	}
	return diags
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

// eval evaluates expr in ctx. ok is false when the value is unusable: an
// error was reported, or the value is not wholly known.
func (r *run) eval(expr hcl.Expression, ctx *hcl.EvalContext, allowEach bool) (v cty.Value, ok bool) {
	if diags := r.checkRefs(expr, allowEach); diags.HasErrors() {
		r.diags = append(r.diags, diags...)
		return cty.DynamicVal, false
	}
	v, diags := expr.Value(ctx)
	r.diags = append(r.diags, diags...)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	if !v.IsWhollyKnown() {
		if !r.diags.HasErrors() {
			rng := expr.Range()
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity:    hcl.DiagError,
				Summary:     "Value not known",
				Detail:      "This value cannot be computed from the configuration alone. Use only variables, locals, literals and functions of known values.",
				Subject:     &rng,
				Expression:  expr,
				EvalContext: ctx,
			})
		}
		return v, false
	}
	v, _ = v.UnmarkDeep()
	return v, true
}

// evalString evaluates an attribute that holds a string. ok is false when
// the value is unusable or null. A null optional argument is as if not
// written, as in Terraform; a null required one is an error.
func (r *run) evalString(attr *hcl.Attribute, ctx *hcl.EvalContext, allowEach, required bool) (s string, ok bool) {
	v, ok := r.eval(attr.Expr, ctx, allowEach)
	if !ok {
		return "", false
	}
	rng := attr.Expr.Range()
	if v.IsNull() && !required {
		return "", false
	}
	if v.IsNull() {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Missing value",
			Detail:      fmt.Sprintf("The argument %q is required and cannot be null. Give it a string.", attr.Name),
			Subject:     &rng,
			Expression:  attr.Expr,
			EvalContext: ctx,
		})
		return "", false
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for attribute %q: a string is required, not %s.", attr.Name, v.Type().FriendlyName()),
			Subject:     &rng,
			Expression:  attr.Expr,
			EvalContext: ctx,
		})
		return "", false
	}
	return sv.AsString(), true
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
