package query

import (
	"strconv"
	"strings"
)

// Query is a parsed query. It is immutable, so one Query may be used by any
// number of goroutines at once.
type Query struct {
	from    Source
	top     int // -1 without TOP
	star    bool
	proj    []projection
	agg     bool // some projection is an aggregate
	where   expr // nil without WHERE
	groupBy *path
}

// aggregate is the aggregate function of a projection, or aggNone.
type aggregate uint8

const (
	aggNone aggregate = iota
	aggCount
	aggAvg
	aggSum
	aggMin
	aggMax
)

func (a aggregate) String() string {
	return [...]string{"", "COUNT", "AVG", "SUM", "MIN", "MAX"}[a]
}

// projection is one element of a SELECT list: a path or an aggregate, with
// an optional alias.
type projection struct {
	agg   aggregate
	path  *path  // nil for COUNT()
	alias string // "" without AS
	// name is the output key when it is known without a document: the
	// alias, or "$1", "$2", ... for unaliased aggregates. An unaliased
	// path takes the document's spelling of its last segment.
	name string
	off  int
}

// From returns the collection the query reads.
func (q *Query) From() Source { return q.from }

// IsSelectStar reports whether the query returns whole documents
// (SELECT *) rather than projections or aggregates.
func (q *Query) IsSelectStar() bool { return q.star }

// Match reports whether doc satisfies the WHERE condition: whether the
// condition evaluates to Boolean true. A query without WHERE matches every
// document. doc is a twin or job record as encoding/json decodes it.
func (q *Query) Match(doc map[string]any) bool {
	if q.where == nil {
		return true
	}
	b, ok := q.where.eval(doc).truth()
	return ok && b
}

// String returns the query in normal form: keywords and function names in
// upper case, strings in single quotes, != for <>, names in [[ ]] only where
// needed, and parentheses only where precedence requires them. Parsing the
// result gives a query with the same String, unless the normal form has
// grown past MaxLength (spaces around operators add characters).
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.top >= 0 {
		b.WriteString("TOP ")
		b.WriteString(strconv.Itoa(q.top))
		b.WriteByte(' ')
	}
	if q.star {
		b.WriteByte('*')
	}
	for i, p := range q.proj {
		if i > 0 {
			b.WriteString(", ")
		}
		switch p.agg {
		case aggNone:
			p.path.write(&b)
		case aggCount:
			b.WriteString("COUNT()")
		default:
			b.WriteString(p.agg.String())
			b.WriteByte('(')
			p.path.write(&b)
			b.WriteByte(')')
		}
		if p.alias != "" {
			b.WriteString(" AS ")
			writeName(&b, p.alias)
		}
	}
	b.WriteString(" FROM ")
	b.WriteString(q.from.String())
	if q.where != nil {
		b.WriteString(" WHERE ")
		q.where.write(&b)
	}
	if q.groupBy != nil {
		b.WriteString(" GROUP BY ")
		q.groupBy.write(&b)
	}
	return b.String()
}

// Top returns n of TOP n, and false for a query without TOP.
func (q *Query) Top() (n int, ok bool) { return q.top, q.top >= 0 }

// HasWhere reports whether the query has a WHERE condition.
func (q *Query) HasWhere() bool { return q.where != nil }
