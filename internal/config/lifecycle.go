package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub"
)

var lifecycleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "prevent_destroy"}, {Name: "ignore_changes"}},
}

// ignorable are the arguments whose changes lifecycle.ignore_changes may
// ignore, by resource type. The IDs are the identity itself and cannot be
// ignored; tags and desired may be ignored whole or key by key.
var ignorable = map[string][]string{
	TypeDevice: {"auth", "desired", "edge", "parent", "status", "status_reason", "tags"},
	TypeModule: {"auth", "desired", "managed_by", "tags"},
}

// decodeLifecycle reads the lifecycle block of a resource. Its arguments
// are literal, as in Terraform: they shape the plan, so they cannot depend
// on variables.
func (r *run) decodeLifecycle(typ string, blocks []*hcl.Block) Lifecycle {
	var lc Lifecycle
	if len(blocks) > 1 {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate lifecycle block",
			Detail:   fmt.Sprintf("A lifecycle block was already given at %s. Merge them into one.", blocks[0].DefRange),
			Subject:  blocks[1].DefRange.Ptr(),
		})
	}
	content, diags := blocks[0].Body.Content(lifecycleSchema)
	r.diags = append(r.diags, diags...)
	if a := content.Attributes["prevent_destroy"]; a != nil {
		v, diags := a.Expr.Value(nil)
		r.diags = append(r.diags, diags...)
		if !diags.HasErrors() {
			if v.Type() != cty.Bool || v.IsNull() {
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Incorrect attribute value type",
					Detail:   "prevent_destroy must be true or false.",
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				lc.PreventDestroy = v.True()
			}
		}
	}
	if a := content.Attributes["ignore_changes"]; a != nil {
		lc.IgnoreChanges = r.ignoreChanges(typ, a)
	}
	return lc
}

// ignoreChanges reads ignore_changes: a list of argument paths such as
// status, tags.lastService or desired["telemetry"].interval, or the keyword
// all for every argument that may be ignored.
func (r *run) ignoreChanges(typ string, attr *hcl.Attribute) []string {
	if hcl.ExprAsKeyword(attr.Expr) == "all" {
		return slices.Clone(ignorable[typ])
	}
	ts, diags := traversals(attr.Expr)
	r.diags = append(r.diags, diags...)
	var out []string
	for _, t := range ts {
		p, err := ignorePath(typ, t)
		if err != "" {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid ignore_changes path",
				Detail:   err,
				Subject:  t.SourceRange().Ptr(),
			})
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// ignorePath turns an ignore_changes traversal into a model path, or
// explains what is wrong with it.
func ignorePath(typ string, t hcl.Traversal) (string, string) {
	root := t.RootName()
	if root == "device_id" || root == "module_id" {
		return "", fmt.Sprintf("%s is the identity of the %s and cannot be ignored: a new %s means a new identity.", root, typ, root)
	}
	if !slices.Contains(ignorable[typ], root) {
		return "", fmt.Sprintf("A %s has no argument %q whose changes can be ignored.%s The paths allowed start with %s.",
			typ, root, didYouMean(root, ignorable[typ]), joinAnd(ignorable[typ]))
	}
	if len(t) > 1 && root != "tags" && root != "desired" {
		return "", fmt.Sprintf("%s is ignored as a whole: write just %s.", root, root)
	}
	parts := []string{root}
	for _, step := range t[1:] {
		var key string
		switch s := step.(type) {
		case hcl.TraverseAttr:
			key = s.Name
		case hcl.TraverseIndex:
			if s.Key.Type() != cty.String || s.Key.IsNull() {
				return "", "Elements of lists cannot be ignored one by one: a list is one twin value. Ignore the property that holds the list."
			}
			key = s.Key.AsString()
			if errs := hub.ValidateTwinSection(root, map[string]any{key: true}, false); len(errs) > 0 {
				return "", sentence(fmt.Sprintf("%q cannot be a twin key: %s", key, errs[0].Reason))
			}
		default:
			return "", "A path is an argument name followed by twin keys, as in tags.site or desired.telemetry.interval."
		}
		parts = append(parts, key)
	}
	if len(parts)-1 > hub.MaxTwinDepth {
		return "", fmt.Sprintf("The path is deeper than the %d levels a twin can hold.", hub.MaxTwinDepth)
	}
	return strings.Join(parts, "."), ""
}
