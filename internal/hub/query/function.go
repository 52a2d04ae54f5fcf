package query

import "strings"

// function is a function a WHERE condition may call.
type function struct {
	name  string                 // upper case, as String writes it
	nargs int                    // 1 or 2
	call  func(a, b value) value // b is undefined for a one-argument function
}

// functions are IS_DEFINED, which Azure documents for twin queries, the
// type tests of routing queries, and STARTSWITH and ENDSWITH, which the
// service accepts in twin queries although the documentation lists them for
// routing only. Names are case-insensitive.
var functions = makeFunctions()

func makeFunctions() map[string]*function {
	functions := map[string]*function{}
	typeTest := func(name string, test func(v value) bool) {
		functions[name] = &function{name: name, nargs: 1, call: func(a, _ value) value { return boolValue(test(a)) }}
	}
	typeTest("IS_DEFINED", func(v value) bool { return v.k != kUndefined })
	typeTest("IS_NULL", func(v value) bool { return v.k == kNull })
	typeTest("IS_BOOL", func(v value) bool { return v.k == kBool })
	typeTest("IS_NUMBER", func(v value) bool { return v.k == kNumber })
	typeTest("IS_STRING", func(v value) bool { return v.k == kString })
	typeTest("IS_OBJECT", func(v value) bool { return v.k == kObject })
	typeTest("IS_ARRAY", func(v value) bool { return v.k == kArray })
	typeTest("IS_PRIMITIVE", func(v value) bool {
		return v.k == kNull || v.k == kBool || v.k == kNumber || v.k == kString
	})
	affix := func(name string, test func(s, affix string) bool) {
		functions[name] = &function{name: name, nargs: 2, call: func(a, b value) value {
			if a.k != kString || b.k != kString {
				return undefined
			}
			return boolValue(test(a.s, b.s))
		}}
	}
	affix("STARTSWITH", strings.HasPrefix)
	affix("ENDSWITH", strings.HasSuffix)
	return functions
}

// aggregates are the functions of a SELECT list.
var aggregates = map[string]aggregate{
	"COUNT": aggCount, "AVG": aggAvg, "SUM": aggSum, "MIN": aggMin, "MAX": aggMax,
}

// routingOnly are functions of message-routing queries that twin queries
// reject, named so that the error can say why.
var routingOnly = map[string]string{
	"ABS": "", "AS_NUMBER": "", "CEILING": "", "CONCAT": "", "CONTAINS": "",
	"EXP": "", "FLOOR": "", "INDEX_OF": "", "LENGTH": "", "LOWER": "",
	"POWER": "", "SIGN": "", "SQRT": "", "SQUARE": "", "SUBSTRING": "", "UPPER": "",
	"STARTS_WITH": "STARTSWITH", "ENDS_WITH": "ENDSWITH",
}
