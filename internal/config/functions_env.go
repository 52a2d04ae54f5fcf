package config

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// makeEnvFunc returns env(name[, default]): the value of an environment
// variable of env, or the default when it is not set. Without a default, an
// unset variable is an error naming it. A variable set to "" is set.
func makeEnvFunc(env map[string]string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or a default when it is not set.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String, AllowNull: true},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if len(args) > 2 {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(2, "env takes a name and at most one default, not %d arguments", len(args))
			}
			if v, ok := env[name]; ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.UnknownVal(cty.String), function.NewArgError(0, fmt.Errorf("the environment variable %s is not set. Set it, or give a default: env(%q, \"...\")", name, name))
		},
	})
}

// sensitiveFunc is Terraform's sensitive: its argument, marked sensitive.
var sensitiveFunc = function.New(&function.Spec{
	Description: "Marks a value as sensitive: iotplan does not show it.",
	Params: []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType,
		AllowUnknown: true, AllowNull: true, AllowMarked: true, AllowDynamicType: true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return args[0].Mark(SensitiveMark), nil
	},
})

// nonSensitiveFunc is Terraform's nonsensitive: its argument without the
// sensitive marks, at any depth, for a value known to be safe to show.
var nonSensitiveFunc = function.New(&function.Spec{
	Description: "Removes the sensitive marks of a value that is safe to show.",
	Params: []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType,
		AllowUnknown: true, AllowNull: true, AllowMarked: true, AllowDynamicType: true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		uv, pvm := args[0].UnmarkDeepWithPaths()
		var keep []cty.PathValueMarks
		for _, pm := range pvm {
			marks := cty.NewValueMarks()
			for m := range pm.Marks {
				if m != SensitiveMark {
					marks[m] = struct{}{}
				}
			}
			if len(marks) > 0 {
				keep = append(keep, cty.PathValueMarks{Path: pm.Path, Marks: marks})
			}
		}
		return uv.MarkWithPaths(keep), nil
	},
})

// isSensitiveFunc is Terraform's issensitive.
var isSensitiveFunc = function.New(&function.Spec{
	Description: "Tells whether a value, or any part of it, is sensitive.",
	Params: []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType,
		AllowUnknown: true, AllowNull: true, AllowMarked: true, AllowDynamicType: true,
	}},
	Type: function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(isSensitive(args[0])), nil
	},
})
