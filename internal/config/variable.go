package config

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// variable is a declared input variable.
type variable struct {
	name     string
	ty       cty.Type // cty.DynamicPseudoType when no type is declared
	defaults *typeexpr.Defaults
	// parseHCL is set when a -var value is an HCL expression rather than a
	// plain string: for every declared type but string, as in Terraform.
	parseHCL  bool
	declRange hcl.Range
}

// decodeVariables declares the variables of blocks and sets their values: the raw
// -var value when there is one, else the default.
func (r *run) decodeVariables(blocks []*variableBlock, raw map[string]string) {
	for _, b := range blocks {
		if prev := r.vars[b.Name]; prev != nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate variable declaration",
				Detail:   fmt.Sprintf("A variable named %q was already declared at %s. Variable names must be unique; rename or remove one of them.", b.Name, prev.declRange),
				Subject:  b.DeclRange.Ptr(),
			})
			continue
		}
		if !hclsyntax.ValidIdentifier(b.Name) {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable name",
				Detail:   fmt.Sprintf("%q is not a valid name. A name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", b.Name),
				Subject:  b.NameRange.Ptr(),
			})
			continue
		}
		v := &variable{name: b.Name, ty: cty.DynamicPseudoType, declRange: b.DeclRange}
		r.vars[b.Name] = v
		if b.Type != nil {
			ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(b.Type.Expr)
			r.diags = append(r.diags, diags...)
			if !diags.HasErrors() {
				v.ty, v.defaults = ty, defaults
				v.parseHCL = !ty.Equals(cty.String)
			}
		}

		val := cty.DynamicVal
		if b.Default != nil {
			val = r.defaultValue(v, b.Default)
		}
		if s, ok := raw[b.Name]; ok {
			val = r.rawValue(v, s)
		} else if b.Default == nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("The variable %q has no default, so it needs a value. Give one with -var '%s=...', or add a default to the declaration.", b.Name, b.Name),
				Subject:  b.DeclRange.Ptr(),
			})
		}
		r.varVals[b.Name] = val
	}

	var undeclared []string
	for name := range raw {
		if r.vars[name] == nil {
			undeclared = append(undeclared, name)
		}
	}
	sort.Strings(undeclared)
	for _, name := range undeclared {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Value for undeclared variable",
			Detail:   fmt.Sprintf("A value was given for the variable %q with -var, but no variable block declares it. Declare it with variable %q {}, or remove the option.", name, name),
		})
	}
}

func (r *run) defaultValue(v *variable, attr *hcl.Attribute) cty.Value {
	val, diags := attr.Expr.Value(nil)
	r.diags = append(r.diags, diags...)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	val, err := v.convert(val)
	if err != nil {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid default value for variable",
			Detail:   fmt.Sprintf("The default of variable %q does not fit its type: %s. Change the default or the type.", v.name, err),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return cty.DynamicVal
	}
	return val
}

// rawValue turns a -var value into the variable's value. Values of typed
// variables other than strings are parsed as HCL expressions, so that
// -var 'sites=["a","b"]' gives a list; the parsed text is kept as a file of
// the parser, named like Terraform names it, for source snippets.
func (r *run) rawValue(v *variable, raw string) cty.Value {
	val := cty.StringVal(raw)
	if v.parseHCL {
		name := fmt.Sprintf("<value for var.%s>", v.name)
		expr, diags := hclsyntax.ParseExpression([]byte(raw), name, hcl.InitialPos)
		r.l.parser.AddFile(name, &hcl.File{Body: hcl.EmptyBody(), Bytes: []byte(raw)})
		if !diags.HasErrors() {
			var valDiags hcl.Diagnostics
			val, valDiags = expr.Value(nil)
			diags = append(diags, valDiags...)
		}
		r.diags = append(r.diags, diags...)
		if diags.HasErrors() {
			return cty.DynamicVal
		}
	}
	val, err := v.convert(val)
	if err != nil {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value given with -var for variable %q does not fit its type %s: %s. Give a value of that type.", v.name, typeexpr.TypeString(v.ty), err),
			Subject:  v.declRange.Ptr(),
		})
		return cty.DynamicVal
	}
	return val
}

// convert applies the type's optional attribute defaults and converts val to
// the variable's type.
func (v *variable) convert(val cty.Value) (cty.Value, error) {
	if v.defaults != nil {
		val = applyDefaults(v.defaults, val)
	}
	return convert.Convert(val, v.ty)
}

// applyDefaults guards Defaults.Apply, which does not promise to handle
// values of the wrong shape: on a panic the value goes on unchanged and
// the type conversion reports what is wrong with it.
func applyDefaults(d *typeexpr.Defaults, val cty.Value) (out cty.Value) {
	defer func() {
		if recover() != nil {
			out = val
		}
	}()
	return d.Apply(val)
}
