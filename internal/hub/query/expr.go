package query

import (
	"cmp"
	"math"
	"strings"
)

// expr is a node of a WHERE condition. eval never fails: what the language
// cannot compute is undefined.
type expr interface {
	eval(doc map[string]any) value
	prec() int
	write(b *strings.Builder)
}

// Operator precedence, loosest first. Comparison binds tighter than NOT, NOT
// tighter than AND, AND tighter than OR, as in standard SQL.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCmp
	precAdd
	precMul
	precUnary
	precPrimary
)

// writeExpr writes e, in parentheses when it binds more loosely than its
// context requires.
func writeExpr(b *strings.Builder, e expr, least int) {
	if e.prec() < least {
		b.WriteByte('(')
		e.write(b)
		b.WriteByte(')')
		return
	}
	e.write(b)
}

// constExpr is a constant: a number, a string, true, false, null or
// undefined.
type constExpr struct{ v value }

func (e *constExpr) eval(map[string]any) value { return e.v }
func (e *constExpr) prec() int                 { return precPrimary }
func (e *constExpr) write(b *strings.Builder)  { e.v.write(b) }

// pathExpr is a property path; it is undefined when the path names nothing.
type pathExpr struct{ p *path }

func (e *pathExpr) eval(doc map[string]any) value {
	v, _, ok := e.p.resolve(doc)
	if !ok {
		return undefined
	}
	return fromAny(v)
}

func (e *pathExpr) prec() int                { return precPrimary }
func (e *pathExpr) write(b *strings.Builder) { e.p.write(b) }

// notExpr is NOT x: true and false swap, anything else is undefined.
type notExpr struct{ x expr }

func (e *notExpr) eval(doc map[string]any) value {
	if b, ok := e.x.eval(doc).truth(); ok {
		return boolValue(!b)
	}
	return undefined
}

func (e *notExpr) prec() int { return precNot }

func (e *notExpr) write(b *strings.Builder) {
	b.WriteString("NOT ")
	writeExpr(b, e.x, precNot)
}

// logicExpr is AND or OR under Kleene's three-valued logic, where any
// operand that is not a Boolean counts as undefined.
type logicExpr struct {
	or   bool
	l, r expr
}

func (e *logicExpr) eval(doc map[string]any) value {
	// The identity of the operator (true for AND, false for OR) lets one
	// body serve both: the dominant value short-circuits.
	dominant := e.or
	l, lok := e.l.eval(doc).truth()
	if lok && l == dominant {
		return boolValue(dominant)
	}
	r, rok := e.r.eval(doc).truth()
	if rok && r == dominant {
		return boolValue(dominant)
	}
	if lok && rok {
		return boolValue(!dominant)
	}
	return undefined
}

func (e *logicExpr) prec() int {
	if e.or {
		return precOr
	}
	return precAnd
}

func (e *logicExpr) write(b *strings.Builder) {
	p := e.prec()
	writeExpr(b, e.l, p)
	if e.or {
		b.WriteString(" OR ")
	} else {
		b.WriteString(" AND ")
	}
	writeExpr(b, e.r, p+1)
}

// cmpExpr is a comparison: = != < <= > >=.
type cmpExpr struct {
	op   tokenKind
	l, r expr
	// path and c are set when the comparison is between a path and a
	// constant (c on the left when constLeft), the most common condition,
	// so that it is evaluated without calling its operands.
	path      *path
	c         value
	constLeft bool
}

func newCmpExpr(op tokenKind, l, r expr) *cmpExpr {
	e := &cmpExpr{op: op, l: l, r: r}
	if p, ok := l.(*pathExpr); ok {
		if c, ok := r.(*constExpr); ok {
			e.path, e.c = p.p, c.v
		}
	} else if c, ok := l.(*constExpr); ok {
		if p, ok := r.(*pathExpr); ok {
			e.path, e.c, e.constLeft = p.p, c.v, true
		}
	}
	return e
}

func (e *cmpExpr) eval(doc map[string]any) value {
	if e.path == nil {
		return compare(e.op, e.l.eval(doc), e.r.eval(doc))
	}
	raw, _, ok := e.path.resolve(doc)
	if !ok {
		return undefined
	}
	// Fast paths for the common same-type cases; compare decides the rest.
	switch e.c.k {
	case kString:
		if s, ok := raw.(string); ok {
			if e.constLeft {
				return order(e.op, strings.Compare(e.c.s, s))
			}
			return order(e.op, strings.Compare(s, e.c.s))
		}
	case kNumber:
		if n, ok := raw.(float64); ok {
			if e.constLeft {
				return order(e.op, cmp.Compare(e.c.n, n))
			}
			return order(e.op, cmp.Compare(n, e.c.n))
		}
	}
	if e.constLeft {
		return compare(e.op, e.c, fromAny(raw))
	}
	return compare(e.op, fromAny(raw), e.c)
}

func (e *cmpExpr) prec() int { return precCmp }

func (e *cmpExpr) write(b *strings.Builder) {
	writeExpr(b, e.l, precAdd)
	b.WriteString(opText[e.op])
	writeExpr(b, e.r, precAdd)
}

var opText = map[tokenKind]string{
	tEq: " = ", tNe: " != ", tLt: " < ", tLe: " <= ", tGt: " > ", tGe: " >= ",
	tPlus: " + ", tMinus: " - ", tStar: " * ", tSlash: " / ", tPercent: " % ",
}

// compare applies a comparison operator. Undefined on either side gives
// undefined. null equals null and differs from every other defined value;
// it has no order. Otherwise only two numbers, two strings (ordinal, by
// code point) or two Booleans (= and != only) compare; every other pairing,
// objects and arrays included, is undefined.
func compare(op tokenKind, a, b value) value {
	if a.k == kUndefined || b.k == kUndefined {
		return undefined
	}
	if op == tEq || op == tNe {
		want := op == tEq
		if a.k == kNull || b.k == kNull {
			return boolValue((a.k == b.k) == want)
		}
		if a.k != b.k {
			return undefined
		}
		switch a.k {
		case kBool:
			return boolValue((a.b == b.b) == want)
		case kNumber:
			return boolValue((a.n == b.n) == want)
		case kString:
			return boolValue((a.s == b.s) == want)
		}
		return undefined
	}
	if a.k != b.k {
		return undefined
	}
	var c int
	switch a.k {
	case kNumber:
		c = cmp.Compare(a.n, b.n)
	case kString:
		c = strings.Compare(a.s, b.s)
	default:
		return undefined
	}
	return order(op, c)
}

// order applies a comparison operator to the result of cmp.Compare or
// strings.Compare.
func order(op tokenKind, c int) value {
	switch op {
	case tEq:
		return boolValue(c == 0)
	case tNe:
		return boolValue(c != 0)
	case tLt:
		return boolValue(c < 0)
	case tLe:
		return boolValue(c <= 0)
	case tGt:
		return boolValue(c > 0)
	case tGe:
		return boolValue(c >= 0)
	}
	panic("query: unknown comparison operator")
}

// inExpr is x IN [...] (x = c1 OR x = c2 ...) or x NIN [...] (its negation).
type inExpr struct {
	x    expr
	list []value
	nin  bool
}

func (e *inExpr) eval(doc map[string]any) value {
	x := e.x.eval(doc)
	res := vFalse
	for _, c := range e.list {
		r := compare(tEq, x, c)
		if r.k == kBool && r.b {
			res = vTrue
			break
		}
		if r.k != kBool {
			res = undefined
		}
	}
	if e.nin && res.k == kBool {
		return boolValue(!res.b)
	}
	return res
}

func (e *inExpr) prec() int { return precCmp }

func (e *inExpr) write(b *strings.Builder) {
	writeExpr(b, e.x, precAdd)
	if e.nin {
		b.WriteString(" NIN [")
	} else {
		b.WriteString(" IN [")
	}
	for i, c := range e.list {
		if i > 0 {
			b.WriteString(", ")
		}
		c.write(b)
	}
	b.WriteByte(']')
}

// arithExpr is + - * / % on numbers. Any other operand, a division by zero
// or a result outside float64 is undefined.
type arithExpr struct {
	op   tokenKind
	l, r expr
}

func (e *arithExpr) eval(doc map[string]any) value {
	l := e.l.eval(doc)
	if l.k != kNumber {
		return undefined
	}
	r := e.r.eval(doc)
	if r.k != kNumber {
		return undefined
	}
	var n float64
	switch e.op {
	case tPlus:
		n = l.n + r.n
	case tMinus:
		n = l.n - r.n
	case tStar:
		n = l.n * r.n
	case tSlash:
		if r.n == 0 {
			return undefined
		}
		n = l.n / r.n
	case tPercent:
		if r.n == 0 {
			return undefined
		}
		n = math.Mod(l.n, r.n)
	default:
		panic("query: unknown arithmetic operator")
	}
	if math.IsInf(n, 0) || math.IsNaN(n) {
		return undefined
	}
	return number(n)
}

func (e *arithExpr) prec() int {
	if e.op == tPlus || e.op == tMinus {
		return precAdd
	}
	return precMul
}

func (e *arithExpr) write(b *strings.Builder) {
	p := e.prec()
	writeExpr(b, e.l, p)
	b.WriteString(opText[e.op])
	writeExpr(b, e.r, p+1)
}

// negExpr is unary minus on a number.
type negExpr struct{ x expr }

func (e *negExpr) eval(doc map[string]any) value {
	x := e.x.eval(doc)
	if x.k != kNumber {
		return undefined
	}
	return number(-x.n)
}

func (e *negExpr) prec() int { return precUnary }

func (e *negExpr) write(b *strings.Builder) {
	b.WriteByte('-')
	// A space keeps "- -x" readable; only a negation or a negative number
	// writes a leading minus without parentheses.
	switch x := e.x.(type) {
	case *negExpr:
		b.WriteByte(' ')
	case *constExpr:
		if x.v.k == kNumber && math.Signbit(x.v.n) {
			b.WriteByte(' ')
		}
	}
	writeExpr(b, e.x, precUnary)
}

// callExpr is a call of one of the functions of the language.
type callExpr struct {
	fn   *function
	args []expr
}

func (e *callExpr) eval(doc map[string]any) value {
	a := e.args[0].eval(doc)
	if len(e.args) == 1 {
		return e.fn.call(a, undefined)
	}
	return e.fn.call(a, e.args[1].eval(doc))
}

func (e *callExpr) prec() int { return precPrimary }

func (e *callExpr) write(b *strings.Builder) {
	b.WriteString(e.fn.name)
	b.WriteByte('(')
	for i, a := range e.args {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(b, a, precOr)
	}
	b.WriteByte(')')
}
