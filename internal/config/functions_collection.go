package config

import (
	"errors"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// makeBoolsFunc returns alltrue or anytrue: whether all (or any) elements
// of a list of bools are true. An empty list is all true and not any true.
func makeBoolsFunc(all bool) function.Function {
	return function.New(&function.Spec{
		Description: "Tells whether all, or any, of the elements of a list of bools are true.",
		Params:      []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			result := all
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				if !v.IsKnown() {
					return cty.UnknownVal(cty.Bool), nil
				}
				t := !v.IsNull() && v.True()
				if all && !t {
					result = false
				}
				if !all && t {
					result = true
				}
			}
			return cty.BoolVal(result), nil
		},
	})
}

var (
	allTrueFunc = makeBoolsFunc(true)
	anyTrueFunc = makeBoolsFunc(false)
)

// oneFunc is Terraform's one: null for an empty collection, its element
// for a collection of one, an error otherwise.
var oneFunc = function.New(&function.Spec{
	Description: "Returns the only element of a list, set or tuple of zero or one elements, or null when it is empty.",
	Params:      []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		switch {
		case ty.IsListType() || ty.IsSetType():
			return ty.ElementType(), nil
		case ty.IsTupleType():
			switch ets := ty.TupleElementTypes(); len(ets) {
			case 0:
				return cty.DynamicPseudoType, nil
			case 1:
				return ets[0], nil
			}
			return cty.NilType, function.NewArgErrorf(0, "the tuple has %d elements; one takes zero or one", ty.Length())
		}
		return cty.NilType, function.NewArgErrorf(0, "one takes a list, set or tuple, not %s", ty.FriendlyName())
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		v := args[0]
		switch n := v.LengthInt(); n {
		case 0:
			return cty.NullVal(retType), nil
		case 1:
			it := v.ElementIterator()
			it.Next()
			_, e := it.Element()
			return e, nil
		default:
			return cty.NilVal, function.NewArgErrorf(0, "the collection has %d elements; one takes zero or one", n)
		}
	},
})

// sumFunc is Terraform's sum: the sum of a non-empty collection of numbers.
var sumFunc = function.New(&function.Spec{
	Description: "Returns the sum of the numbers of a list, set or tuple.",
	Params:      []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		ty := v.Type()
		if !ty.IsListType() && !ty.IsSetType() && !ty.IsTupleType() {
			return cty.NilVal, function.NewArgErrorf(0, "sum takes a list, set or tuple of numbers, not %s", ty.FriendlyName())
		}
		if v.LengthInt() == 0 {
			return cty.NilVal, function.NewArgErrorf(0, "the collection is empty; sum needs at least one number")
		}
		total := cty.Zero
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				return cty.NilVal, function.NewArgErrorf(0, "the collection holds null; sum takes numbers only")
			}
			n, err := convert.Convert(e, cty.Number)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "sum takes numbers only, not %s", e.Type().FriendlyName())
			}
			total, err = stdlib.Add(total, n)
			if err != nil {
				return cty.NilVal, err
			}
		}
		return total, nil
	},
})

// transposeFunc is Terraform's transpose: a map of lists of strings turned
// inside out.
var transposeFunc = function.New(&function.Spec{
	Description: "Swaps the keys and the list elements of a map of lists of strings.",
	Params:      []function.Parameter{{Name: "values", Type: cty.Map(cty.List(cty.String))}},
	Type:        function.StaticReturnType(cty.Map(cty.List(cty.String))),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		out := map[string][]cty.Value{}
		for it := args[0].ElementIterator(); it.Next(); {
			k, list := it.Element()
			if list.IsNull() {
				return cty.NilVal, errors.New("the lists must not be null")
			}
			for lit := list.ElementIterator(); lit.Next(); {
				_, e := lit.Element()
				if e.IsNull() {
					return cty.NilVal, errors.New("the lists must not hold null")
				}
				out[e.AsString()] = append(out[e.AsString()], k)
			}
		}
		if len(out) == 0 {
			return cty.MapValEmpty(cty.List(cty.String)), nil
		}
		m := make(map[string]cty.Value, len(out))
		for k, vs := range out {
			sort.Slice(vs, func(i, j int) bool { return vs[i].AsString() < vs[j].AsString() })
			m[k] = cty.ListVal(vs)
		}
		return cty.MapVal(m), nil
	},
})

// matchKeysFunc is Terraform's matchkeys: the elements of values whose
// counterpart in keys is in searchset.
var matchKeysFunc = function.New(&function.Spec{
	Description: "Returns the elements of values whose counterpart in keys is one of searchset.",
	Params: []function.Parameter{
		{Name: "values", Type: cty.List(cty.DynamicPseudoType)},
		{Name: "keys", Type: cty.List(cty.DynamicPseudoType)},
		{Name: "searchset", Type: cty.List(cty.DynamicPseudoType)},
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		return args[0].Type(), nil
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		values, keys, search := args[0], args[1], args[2]
		if values.LengthInt() != keys.LengthInt() {
			return cty.NilVal, fmt.Errorf("values and keys must have the same length, not %d and %d", values.LengthInt(), keys.LengthInt())
		}
		if !values.IsWhollyKnown() || !keys.IsWhollyKnown() || !search.IsWhollyKnown() {
			return cty.UnknownVal(retType), nil
		}
		vals := values.AsValueSlice()
		var out []cty.Value
		i := 0
		for it := keys.ElementIterator(); it.Next(); i++ {
			_, k := it.Element()
			for sit := search.ElementIterator(); sit.Next(); {
				_, s := sit.Element()
				eq, err := stdlib.Equal(k, s)
				if err != nil {
					return cty.NilVal, err
				}
				if eq.True() {
					out = append(out, vals[i])
					break
				}
			}
		}
		if len(out) == 0 {
			return cty.ListValEmpty(retType.ElementType()), nil
		}
		return cty.ListVal(out), nil
	},
})
