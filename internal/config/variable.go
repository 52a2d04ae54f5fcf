package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

type variableBlock struct {
	Name        string             `hcl:"name,label"`
	Type        *hcl.Attribute     `hcl:"type,optional"`
	Default     *hcl.Attribute     `hcl:"default,optional"`
	Description string             `hcl:"description,optional"`
	Sensitive   bool               `hcl:"sensitive,optional"`
	Nullable    *bool              `hcl:"nullable,optional"`
	Validations []*validationBlock `hcl:"validation,block"`
	DeclRange   hcl.Range          `hcl:",def_range"`
	NameRange   hcl.Range          `hcl:"name,label_range"`
}

type validationBlock struct {
	Condition    *hcl.Attribute `hcl:"condition,optional"`     // required, checked by validateVariable
	ErrorMessage *hcl.Attribute `hcl:"error_message,optional"` // required, checked by validateVariable
	DeclRange    hcl.Range      `hcl:",def_range"`
}

// variable is a declared input variable.
type variable struct {
	name     string
	ty       cty.Type // cty.DynamicPseudoType when no type is declared
	typeStr  string   // the type as written, "" when not declared
	defaults *typeexpr.Defaults
	// parseHCL is set when a -var value is an HCL expression rather than a
	// plain string: for every declared type but string, as in Terraform.
	parseHCL    bool
	description string
	sensitive   bool
	nullable    bool
	def         *hcl.Attribute
	validations []*validationBlock
	declRange   hcl.Range
}

// decodeVariables declares the variables of blocks and sets their values
// from the sources of the run, by Terraform's precedence.
func (r *run) decodeVariables(blocks []*variableBlock) {
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
		v := &variable{
			name: b.Name, ty: cty.DynamicPseudoType, description: b.Description, sensitive: b.Sensitive,
			nullable: b.Nullable == nil || *b.Nullable, def: b.Default, validations: b.Validations, declRange: b.DeclRange,
		}
		r.vars[b.Name] = v
		r.varOrder = append(r.varOrder, b.Name)
		if b.Type != nil {
			ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(b.Type.Expr)
			r.diags = append(r.diags, diags...)
			if !diags.HasErrors() {
				v.ty, v.defaults = ty, defaults
				v.typeStr = typeexpr.TypeString(ty)
				v.parseHCL = !ty.Equals(cty.String)
			}
		}
	}

	given := r.variableSources()
	for _, name := range r.varOrder {
		v := r.vars[name]
		val := cty.DynamicVal
		var def cty.Value
		if v.def != nil {
			def = r.defaultValue(v, v.def)
			val = def
		}
		var src *varSource
		if s, ok := given[name]; ok {
			src = s
			val = r.sourceValue(v, s)
		}
		switch {
		case src == nil && v.def == nil:
			r.missing = append(r.missing, MissingVariable{Name: name, Description: v.description, Type: v.typeStr, Sensitive: v.sensitive})
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("The variable %q has no default, so it needs a value. Give one with -var '%s=...', in an iotplan.iotvars file, or in the environment variable IOTPLAN_VAR_%s, or add a default to the declaration.",
					name, name, name),
				Subject: v.declRange.Ptr(),
			})
		case val.IsKnown() && val.IsNull() && !v.nullable:
			if v.def != nil && !def.IsNull() {
				val = def // as Terraform does: a null input to a non-nullable variable takes the default
				break
			}
			subject := v.declRange
			if src != nil {
				subject = src.rng
			}
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("The variable %q is declared with nullable = false, so it cannot be null. Give it a value.", name),
				Subject:  &subject,
			})
			val = cty.DynamicVal
		}
		if v.sensitive {
			val = val.Mark(SensitiveMark)
		}
		r.varVals[name] = val
	}
	for _, name := range r.varOrder {
		r.validateVariable(r.vars[name], given[name])
	}
}

func (r *run) defaultValue(v *variable, attr *hcl.Attribute) cty.Value {
	val, diags := attr.Expr.Value(nil)
	r.diags = append(r.diags, diags...)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	if val.IsNull() {
		return cty.NullVal(v.ty)
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

// sourceValue turns a given value into the variable's value. Raw text
// (-var, IOTPLAN_VAR_name) of typed variables other than strings is parsed
// as an HCL expression, so that -var 'sites=["a","b"]' gives a list; the
// parsed text is kept as a file of the parser, named like Terraform names
// it, for source snippets.
func (r *run) sourceValue(v *variable, s *varSource) cty.Value {
	var val cty.Value
	switch {
	case s.expr != nil:
		var diags hcl.Diagnostics
		val, diags = s.expr.Value(nil)
		r.diags = append(r.diags, diags...)
		if diags.HasErrors() {
			return cty.DynamicVal
		}
	case v.parseHCL:
		name := s.pseudo
		expr, diags := hclsyntax.ParseExpression([]byte(s.text), name, hcl.InitialPos)
		r.l.parser.AddFile(name, &hcl.File{Body: hcl.EmptyBody(), Bytes: []byte(s.text)})
		s.rng = hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
		if !diags.HasErrors() {
			s.rng = expr.Range()
			var valDiags hcl.Diagnostics
			val, valDiags = expr.Value(nil)
			diags = append(diags, valDiags...)
		}
		r.diags = append(r.diags, diags...)
		if diags.HasErrors() {
			return cty.DynamicVal
		}
	default:
		val = cty.StringVal(s.text)
		if s.pseudo != "" {
			r.l.parser.AddFile(s.pseudo, &hcl.File{Body: hcl.EmptyBody(), Bytes: []byte(s.text)})
			end := hcl.Pos{Line: 1, Column: 1 + len([]rune(s.text)), Byte: len(s.text)}
			s.rng = hcl.Range{Filename: s.pseudo, Start: hcl.InitialPos, End: end}
		}
	}
	if val.IsNull() {
		return cty.NullVal(v.ty)
	}
	val, err := v.convert(val)
	if err != nil {
		subject := v.declRange
		if s.expr != nil {
			subject = s.rng
		}
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail: fmt.Sprintf("The value given %s for variable %q does not fit its type %s: %s. Give a value of that type.",
				s.from, v.name, typeexpr.TypeString(v.ty), err),
			Subject: &subject,
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

// validateVariable checks the variable's value against its validation
// blocks. A condition may refer to any variable and call functions.
func (r *run) validateVariable(v *variable, src *varSource) {
	val := r.varVals[v.name]
	for _, vb := range v.validations {
		if !r.required(vb.Condition, "condition", "a validation block", vb.DeclRange) || !r.required(vb.ErrorMessage, "error_message", "a validation block", vb.DeclRange) {
			continue
		}
		if diags := r.checkRefs(vb.Condition.Expr, 0); diags.HasErrors() {
			r.diags = append(r.diags, diags...)
			continue
		}
		if !refersTo(vb.Condition.Expr, "var") {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable validation condition",
				Detail:   fmt.Sprintf("The condition must refer to var.%s, the value it checks.", v.name),
				Subject:  vb.Condition.Expr.Range().Ptr(),
			})
			continue
		}
		if !val.IsWhollyKnown() {
			continue // no value: already reported
		}
		ctx := r.staticScope()
		cond, diags := vb.Condition.Expr.Value(ctx)
		r.diags = append(r.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		cond, _ = cond.UnmarkDeep()
		if cond.IsNull() || !cond.IsKnown() {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable validation result",
				Detail:   "The condition gave null or no value; it must give true or false.",
				Subject:  vb.Condition.Expr.Range().Ptr(),
			})
			continue
		}
		b, err := convert.Convert(cond, cty.Bool)
		if err != nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable validation result",
				Detail:   fmt.Sprintf("The condition must give true or false, not %s.", cond.Type().FriendlyName()),
				Subject:  vb.Condition.Expr.Range().Ptr(),
			})
			continue
		}
		if b.True() {
			continue
		}
		msg := "The value is not valid."
		if mv, mDiags := vb.ErrorMessage.Expr.Value(ctx); !mDiags.HasErrors() {
			if isSensitive(mv) {
				msg = "The error message refers to sensitive values, so it is not shown."
			} else if mv, _ = mv.UnmarkDeep(); mv.Type() == cty.String && mv.IsKnown() && !mv.IsNull() {
				msg = sentence(mv.AsString())
			}
		} else {
			r.diags = append(r.diags, mDiags...)
		}
		subject := v.declRange
		switch {
		case src != nil && src.rng.Filename != "":
			subject = src.rng
		case src == nil && v.def != nil:
			subject = v.def.Expr.Range()
		}
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("%s\n\nThe value of var.%s was checked by the validation rule at %s.", msg, v.name, vb.DeclRange),
			Subject:  &subject,
		})
	}
}
