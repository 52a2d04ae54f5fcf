package query

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Parse parses a query:
//
//	SELECT [TOP n] (* | projection [AS alias], ...)
//	FROM devices | devices.modules | devices.jobs
//	[WHERE condition] [GROUP BY path]
//
// A query it rejects gives a *SyntaxError naming the column at fault.
func Parse(q string) (*Query, error) {
	return parse(q, (*parser).query)
}

// ParseCondition parses the condition of a WHERE clause on its own, as jobs
// (queryCondition) and automatic configurations (targetCondition) write it,
// and returns it as SELECT * FROM from WHERE cond. Columns in errors count
// from the start of cond.
func ParseCondition(from Source, cond string) (*Query, error) {
	if from < Devices || from > Jobs {
		return nil, fmt.Errorf("query: unknown source %d", from)
	}
	return parse(cond, func(p *parser) *Query {
		q := &Query{from: from, top: -1, star: true}
		p.from = from
		q.where = p.expr()
		p.expectEnd("AND, OR")
		return q
	})
}

func parse(src string, rule func(*parser) *Query) (q *Query, err error) {
	if !utf8.ValidString(src) {
		off := 0
		for off < len(src) {
			r, size := utf8.DecodeRuneInString(src[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		return nil, &SyntaxError{Column: utf8.RuneCountInString(src[:off]) + 1, Message: "the query is not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(src); n > MaxLength {
		return nil, &SyntaxError{Column: MaxLength + 1, Message: fmt.Sprintf("the query is %d characters long; the most IoT Hub accepts is %d", n, MaxLength)}
	}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			q, err = nil, &SyntaxError{Column: utf8.RuneCountInString(src[:b.off]) + 1, Message: b.msg}
		}
	}()
	p := &parser{lx: lexer{src: src}}
	p.advance()
	return rule(p), nil
}

// parser is a recursive-descent parser over the lexer's tokens, with one
// token of lookahead (tok) and a second on demand (peek).
type parser struct {
	lx   lexer
	tok  token
	from Source // 0 until FROM has been read
}

func (p *parser) advance() { p.tok = p.lx.next() }

func (p *parser) peek() token {
	lx := p.lx
	return lx.next()
}

// describe names a token for an error message.
func describe(t token) string {
	if t.kind == tEOF {
		return "end of query"
	}
	s := t.text
	if utf8.RuneCountInString(s) > 32 {
		s = string([]rune(s)[:32]) + "..."
	}
	return fmt.Sprintf("%q", s)
}

func (p *parser) unexpected(expected string) {
	fail(p.tok.off, "unexpected %s, expected %s", describe(p.tok), expected)
}

func (p *parser) expectKeyword(kw string) {
	if !p.tok.is(kw) {
		p.unexpected(kw)
	}
	p.advance()
}

func (p *parser) expect(k tokenKind, what string) token {
	t := p.tok
	if t.kind != k {
		p.unexpected(what)
	}
	p.advance()
	return t
}

// expectEnd fails unless the query ends here; others lists what else could
// have come next.
func (p *parser) expectEnd(others string) {
	if p.tok.kind == tEOF {
		return
	}
	if p.tok.is("ORDER") && p.peek().is("BY") {
		fail(p.tok.off, "ORDER BY is not supported by IoT Hub queries")
	}
	if w := strings.ToUpper(p.tok.text); p.tok.kind == tIdent && unsupportedWords[w] {
		fail(p.tok.off, "%s is not part of the IoT Hub query language", w)
	}
	if p.tok.is("NOT") && p.peek().is("IN") {
		fail(p.tok.off, "unexpected NOT IN; write NIN for \"not in\"")
	}
	p.unexpected(others + " or end of query")
}

// unsupportedWords are SQL words IoT Hub's language lacks, named in errors.
var unsupportedWords = map[string]bool{
	"BETWEEN": true, "DISTINCT": true, "HAVING": true, "IS": true, "JOIN": true,
	"LIKE": true, "LIMIT": true, "OFFSET": true,
}

func (p *parser) query() *Query {
	q := &Query{top: -1}
	p.expectKeyword("SELECT")
	if p.tok.is("TOP") {
		p.advance()
		t := p.tok
		if t.kind != tNumber {
			p.unexpected("a number after TOP")
		}
		if t.num != math.Trunc(t.num) || t.num > math.MaxInt32 {
			fail(t.off, "TOP takes a whole number from 0 to %d, not %s", math.MaxInt32, t.text)
		}
		q.top = int(t.num)
		p.advance()
	}
	if p.tok.kind == tStar {
		q.star = true
		p.advance()
	} else {
		q.proj = p.projections()
	}
	p.expectKeyword("FROM")
	q.from = p.collection()
	p.from = q.from
	for i := range q.proj {
		pr := &q.proj[i]
		if q.from == Jobs {
			fail(pr.off, "devices.jobs queries allow only SELECT *")
		}
		if pr.path != nil {
			p.qualify(pr.path)
		}
		q.agg = q.agg || pr.agg != aggNone
	}
	next := "WHERE, GROUP BY"
	if p.tok.is("WHERE") {
		p.advance()
		q.where = p.expr()
		next = "AND, OR, GROUP BY"
	}
	if p.tok.is("GROUP") {
		groupOff := p.tok.off
		p.advance()
		p.expectKeyword("BY")
		if q.from == Jobs {
			fail(groupOff, "devices.jobs queries do not support GROUP BY")
		}
		if q.star {
			fail(groupOff, "GROUP BY needs a SELECT list of the grouped path and aggregates, not SELECT *")
		}
		q.groupBy = p.path("a property path after GROUP BY")
		next = "a \".\""
	}
	p.expectEnd(next)
	for _, pr := range q.proj {
		switch {
		case pr.agg != aggNone:
		case q.groupBy != nil && !pr.path.equal(q.groupBy):
			fail(pr.off, "%s is neither the GROUP BY path nor an aggregate", pr.path)
		case q.groupBy == nil && q.agg:
			fail(pr.off, "%s cannot be selected beside aggregates without GROUP BY", pr.path)
		}
	}
	return q
}

func (p *parser) projections() []projection {
	var ps []projection
	names := map[string]bool{}
	unnamed := 0
	for {
		pr := p.projection()
		name := pr.name
		if pr.agg != aggNone && name == "" {
			unnamed++
			name = fmt.Sprintf("$%d", unnamed)
			pr.name = name
		}
		if name == "" {
			name = pr.path.last()
		}
		key := strings.ToLower(name)
		if names[key] {
			fail(pr.off, "two projections are named %q; give one a different name with AS", name)
		}
		names[key] = true
		ps = append(ps, pr)
		if p.tok.kind != tComma {
			return ps
		}
		p.advance()
	}
}

func (p *parser) projection() projection {
	t := p.tok
	pr := projection{off: t.off}
	if t.kind == tIdent && t.keyword() == "" && p.peek().kind == tLParen {
		name := strings.ToUpper(t.text)
		agg, ok := aggregates[name]
		if !ok {
			if _, ok := functions[name]; ok {
				fail(t.off, "%s is allowed only in WHERE; a SELECT list holds property paths and the aggregates COUNT, AVG, SUM, MIN and MAX", name)
			}
			p.unknownFunction(t)
		}
		pr.agg = agg
		p.advance()
		p.advance()
		if agg == aggCount {
			if p.tok.kind != tRParen {
				fail(p.tok.off, "COUNT() takes no argument")
			}
		} else {
			pr.path = p.path(fmt.Sprintf("a property path in %s()", name))
		}
		p.expect(tRParen, `")"`)
	} else {
		pr.path = p.path("a property path, an aggregate or *")
	}
	if p.tok.is("AS") {
		p.advance()
		switch t := p.tok; {
		case t.kind == tQuoted:
			pr.alias = t.str
		case t.kind == tIdent && t.keyword() == "":
			pr.alias = t.text
		default:
			p.unexpected("a name after AS")
		}
		pr.name = pr.alias
		p.advance()
	}
	return pr
}

func (p *parser) collection() Source {
	if !p.tok.is("devices") {
		p.unexpected("devices, devices.modules or devices.jobs")
	}
	p.advance()
	if p.tok.kind != tDot {
		return Devices
	}
	p.advance()
	var s Source
	switch {
	case p.tok.is("modules"):
		s = Modules
	case p.tok.is("jobs"):
		s = Jobs
	default:
		p.unexpected("modules or jobs after devices.")
	}
	p.advance()
	return s
}

// path parses a property path starting at the current token; expected says
// what the error calls it when there is none.
func (p *parser) path(expected string) *path {
	t := p.tok
	if t.kind != tQuoted && (t.kind != tIdent || t.keyword() != "") {
		p.unexpected(expected)
	}
	pa := &path{off: t.off}
	pa.written = append(pa.written, p.segment())
	for p.tok.kind == tDot {
		p.advance()
		pa.written = append(pa.written, p.segment())
	}
	if p.from != 0 {
		p.qualify(pa)
	}
	return pa
}

func (p *parser) segment() string {
	t := p.tok
	switch {
	case t.kind == tQuoted:
		p.advance()
		return t.str
	case t.kind == tIdent && t.keyword() != "":
		fail(t.off, "%q is a keyword: write [[%s]] to use it as a property name", t.text, t.text)
	case t.kind == tIdent:
		p.advance()
		return t.text
	}
	p.unexpected("a property name")
	panic("unreachable")
}

// qualify sets the segments a path looks up: the path as written, less a
// leading collection name. FROM devices accepts devices.x for x; FROM
// devices.modules accepts devices.modules.x and devices.x; FROM devices.jobs
// accepts devices.jobs.x and rejects devices.x, which would name the device
// twin.
func (p *parser) qualify(pa *path) {
	w := pa.written
	pa.segs = w
	if len(w) < 2 || !strings.EqualFold(w[0], "devices") {
		return
	}
	switch p.from {
	case Devices:
		pa.segs = w[1:]
	case Modules:
		if len(w) > 2 && strings.EqualFold(w[1], "modules") {
			pa.segs = w[2:]
		} else {
			pa.segs = w[1:]
		}
	case Jobs:
		if len(w) < 3 || !strings.EqualFold(w[1], "jobs") {
			fail(pa.off, "%s refers to the device twin, which devices.jobs queries cannot; write devices.jobs.<field> or the job field alone", pa)
		}
		pa.segs = w[2:]
	}
}

// Expressions, loosest first: OR, AND, NOT, comparison and IN/NIN,
// + and -, * / and %, unary minus, operands.

func (p *parser) expr() expr {
	l := p.and()
	for p.tok.is("OR") {
		p.advance()
		l = &logicExpr{or: true, l: l, r: p.and()}
	}
	return l
}

func (p *parser) and() expr {
	l := p.not()
	for p.tok.is("AND") {
		p.advance()
		l = &logicExpr{l: l, r: p.not()}
	}
	return l
}

func (p *parser) not() expr {
	if p.tok.is("NOT") {
		p.advance()
		return &notExpr{x: p.not()}
	}
	return p.comparison()
}

func (p *parser) comparison() expr {
	l := p.additive()
	switch op := p.tok.kind; op {
	case tEq, tNe, tLt, tLe, tGt, tGe:
		p.advance()
		return newCmpExpr(op, l, p.additive())
	}
	if p.tok.is("IN") || p.tok.is("NIN") {
		nin := p.tok.is("NIN")
		p.advance()
		return &inExpr{x: l, list: p.array(), nin: nin}
	}
	return l
}

func (p *parser) additive() expr {
	l := p.multiplicative()
	for op := p.tok.kind; op == tPlus || op == tMinus; op = p.tok.kind {
		p.advance()
		l = &arithExpr{op: op, l: l, r: p.multiplicative()}
	}
	return l
}

func (p *parser) multiplicative() expr {
	l := p.unary()
	for op := p.tok.kind; op == tStar || op == tSlash || op == tPercent; op = p.tok.kind {
		p.advance()
		l = &arithExpr{op: op, l: l, r: p.unary()}
	}
	return l
}

func (p *parser) unary() expr {
	if p.tok.kind != tMinus {
		return p.operand()
	}
	p.advance()
	if p.tok.kind == tNumber {
		n := p.tok.num
		p.advance()
		return &constExpr{number(-n)}
	}
	return &negExpr{x: p.unary()}
}

func (p *parser) operand() expr {
	t := p.tok
	switch t.kind {
	case tNumber:
		p.advance()
		return &constExpr{number(t.num)}
	case tString:
		p.advance()
		return &constExpr{value{k: kString, s: t.str}}
	case tLParen:
		p.advance()
		e := p.expr()
		p.expect(tRParen, `")"`)
		return e
	case tQuoted:
		return &pathExpr{p.path("")}
	case tLBrack:
		fail(t.off, "an array constant is allowed only after IN or NIN")
	case tIdent:
		if v, ok := p.keywordConstant(); ok {
			return &constExpr{v}
		}
		if t.keyword() != "" {
			break
		}
		if p.peek().kind == tLParen {
			return p.call()
		}
		return &pathExpr{p.path("")}
	}
	p.unexpected("an expression")
	panic("unreachable")
}

// keywordConstant reads true, false, null or undefined.
func (p *parser) keywordConstant() (value, bool) {
	var v value
	switch p.tok.keyword() {
	case "TRUE":
		v = vTrue
	case "FALSE":
		v = vFalse
	case "NULL":
		v = null
	case "UNDEFINED":
		v = undefined
	default:
		return value{}, false
	}
	p.advance()
	return v, true
}

func (p *parser) call() expr {
	t := p.tok
	name := strings.ToUpper(t.text)
	fn, ok := functions[name]
	if !ok {
		if _, ok := aggregates[name]; ok {
			fail(t.off, "the aggregate %s is allowed only in the SELECT list", name)
		}
		p.unknownFunction(t)
	}
	p.advance()
	p.advance()
	var args []expr
	var offs []int
	if p.tok.kind != tRParen {
		for {
			offs = append(offs, p.tok.off)
			args = append(args, p.expr())
			if p.tok.kind != tComma {
				break
			}
			p.advance()
		}
	}
	end := p.expect(tRParen, `"," or ")"`)
	if len(args) != fn.nargs {
		off := end.off
		if len(args) > fn.nargs {
			off = offs[fn.nargs]
		}
		plural := "s"
		if fn.nargs == 1 {
			plural = ""
		}
		fail(off, "%s takes %d argument%s, not %d", fn.name, fn.nargs, plural, len(args))
	}
	return &callExpr{fn: fn, args: args}
}

func (p *parser) unknownFunction(t token) {
	name := strings.ToUpper(t.text)
	if alt, ok := routingOnly[name]; ok {
		if alt != "" {
			fail(t.off, "unknown function %s; twin queries spell it %s", t.text, alt)
		}
		fail(t.off, "the function %s exists only in message-routing queries, not in twin queries", t.text)
	}
	fail(t.off, "unknown function %s", t.text)
}

// array reads the array constant after IN or NIN: one or more constants in
// square brackets. Nested arrays are rejected: arrays never compare equal
// to anything.
func (p *parser) array() []value {
	if p.tok.kind == tLParen {
		fail(p.tok.off, "IN and NIN take an array constant in square brackets, [...], not (...)")
	}
	p.expect(tLBrack, "an array constant [...]")
	var list []value
	for {
		list = append(list, p.constant())
		if p.tok.kind != tComma {
			break
		}
		p.advance()
	}
	p.expect(tRBrack, `"," or "]"`)
	return list
}

func (p *parser) constant() value {
	t := p.tok
	switch t.kind {
	case tNumber:
		p.advance()
		return number(t.num)
	case tMinus:
		p.advance()
		if p.tok.kind != tNumber {
			p.unexpected("a number after -")
		}
		n := p.tok.num
		p.advance()
		return number(-n)
	case tString:
		p.advance()
		return value{k: kString, s: t.str}
	case tLBrack, tQuoted:
		fail(t.off, "an array constant holds numbers, strings, true, false, null and undefined, not arrays")
	case tIdent:
		if v, ok := p.keywordConstant(); ok {
			return v
		}
	}
	p.unexpected("a constant")
	panic("unreachable")
}
