package config

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

type outputBlock struct {
	Name        string         `hcl:"name,label"`
	Value       *hcl.Attribute `hcl:"value,optional"` // required, checked by decodeOutputs
	Description string         `hcl:"description,optional"`
	Sensitive   bool           `hcl:"sensitive,optional"`
	DependsOn   *hcl.Attribute `hcl:"depends_on,optional"`
	DeclRange   hcl.Range      `hcl:",def_range"`
	NameRange   hcl.Range      `hcl:"name,label_range"`
}

// decodeOutputs evaluates the output blocks, sorted by name. An output's
// value may hold what only the hub knows after apply (unknown), and keeps
// its sensitive marks; an output with a sensitive part must be declared
// sensitive, as in Terraform.
func (r *run) decodeOutputs(blocks []*outputBlock) []*Output {
	seen := map[string]*outputBlock{}
	var out []*Output
	for _, b := range blocks {
		if prev := seen[b.Name]; prev != nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate output",
				Detail:   fmt.Sprintf("An output named %q was already declared at %s. Output names must be unique; rename or remove one of them.", b.Name, prev.DeclRange),
				Subject:  b.DeclRange.Ptr(),
			})
			continue
		}
		seen[b.Name] = b
		if !hclsyntax.ValidIdentifier(b.Name) {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid output name",
				Detail:   fmt.Sprintf("%q is not a valid name. A name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", b.Name),
				Subject:  b.NameRange.Ptr(),
			})
			continue
		}
		if b.DependsOn != nil {
			for _, d := range r.decodeDependsOn(b.DependsOn) {
				if r.resources[d.addr.Resource().String()] == nil {
					r.diags = append(r.diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Reference to undeclared resource",
						Detail:   fmt.Sprintf("depends_on names %s, which the configuration does not declare.", d.addr.Resource()),
						Subject:  d.rng.Ptr(),
					})
				}
			}
		}
		o := &Output{Name: b.Name, Description: b.Description, Sensitive: b.Sensitive, DeclRange: b.DeclRange}
		if !r.required(b.Value, "value", "an output", b.DeclRange) {
			continue
		}
		v, ok := r.evalAny(b.Value.Expr, r.scope(), allowResources)
		if !ok {
			o.Value = cty.DynamicVal
			out = append(out, o)
			continue
		}
		v = onlySensitiveMarks(v)
		if isSensitive(v) && !b.Sensitive {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Output refers to sensitive values",
				Detail:   "The value of this output holds sensitive values (keys, connection strings, or values of sensitive variables). Set sensitive = true in the output block to confirm that it may hold them; iotplan then shows it only on request.",
				Subject:  b.Value.Expr.Range().Ptr(),
			})
		}
		if b.Sensitive {
			v = v.Mark(SensitiveMark)
		}
		o.Value = v
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
