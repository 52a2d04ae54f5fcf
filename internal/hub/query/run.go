package query

import (
	"fmt"
	"iter"
	"math"
)

// The item types of a Result, as the x-ms-item-type header names them.
const (
	ItemTwin      = "twin"      // SELECT * FROM devices or devices.modules
	ItemDeviceJob = "deviceJob" // SELECT * FROM devices.jobs
	ItemRaw       = "raw"       // projections and aggregates
)

// Result is what a query returns: whole documents for SELECT *, else rows
// of projected values and aggregates.
type Result struct {
	ItemType string // ItemTwin, ItemDeviceJob or ItemRaw
	// Items holds the matching documents themselves for SELECT *, else one
	// map[string]any per row. Rows share nested values with the documents;
	// numbers, counts included, are float64 as in encoding/json.
	Items []any
}

// Run evaluates the query over docs, in the order docs yields them, and
// stops reading docs as soon as TOP is reached (for queries without
// aggregates).
//
//   - SELECT * returns the documents that match.
//   - Projections return one row per matching document. A row's key is the
//     alias, else the document's spelling of the path's last segment; a
//     path the document does not define is left out of the row.
//   - Aggregates without GROUP BY return one row, even when nothing
//     matches. An unaliased aggregate is named $1, $2, ... in order.
//   - GROUP BY returns one row per distinct value of the grouped path, in
//     the order the values first appear. Documents where the path is
//     undefined, an object or an array belong to no group.
//
// TOP n keeps the first n items. Run fails only when a SUM or AVG exceeds
// the range of float64.
func (q *Query) Run(docs iter.Seq[map[string]any]) (*Result, error) {
	res := &Result{ItemType: ItemRaw, Items: []any{}}
	if q.star {
		res.ItemType = ItemTwin
		if q.from == Jobs {
			res.ItemType = ItemDeviceJob
		}
	}
	if q.top == 0 {
		return res, nil
	}
	switch {
	case q.groupBy != nil:
		return q.runGroups(docs, res)
	case q.agg:
		acc := q.newAccumulators()
		for doc := range docs {
			if q.Match(doc) {
				q.accumulate(acc, doc)
			}
		}
		row := map[string]any{}
		if err := q.finish(acc, row); err != nil {
			return nil, err
		}
		res.Items = append(res.Items, row)
		return res, nil
	}
	for doc := range docs {
		if !q.Match(doc) {
			continue
		}
		if q.star {
			res.Items = append(res.Items, doc)
		} else {
			res.Items = append(res.Items, q.project(doc))
		}
		if len(res.Items) == q.top {
			break
		}
	}
	return res, nil
}

func (q *Query) project(doc map[string]any) map[string]any {
	row := make(map[string]any, len(q.proj))
	for _, p := range q.proj {
		if v, key, ok := p.path.resolve(doc); ok {
			if p.alias != "" {
				key = p.alias
			}
			row[key] = v
		}
	}
	return row
}

// groupKey identifies a group: a primitive value, with 0 and -0 the same.
type groupKey struct {
	k kind
	b bool
	n float64
	s string
}

type group struct {
	value value
	key   string // the document's spelling of the grouped path's last segment
	acc   []accumulator
}

func (q *Query) runGroups(docs iter.Seq[map[string]any], res *Result) (*Result, error) {
	groups := map[groupKey]*group{}
	var order []*group
	for doc := range docs {
		if !q.Match(doc) {
			continue
		}
		raw, key, ok := q.groupBy.resolve(doc)
		if !ok {
			continue
		}
		v := fromAny(raw)
		gk := groupKey{k: v.k, b: v.b, n: v.n, s: v.s}
		switch v.k {
		case kUndefined, kObject, kArray:
			continue
		case kNumber:
			if v.n == 0 { // -0 joins 0
				gk.n, v.n = 0, 0
			}
		}
		g := groups[gk]
		if g == nil {
			g = &group{value: v, key: key, acc: q.newAccumulators()}
			groups[gk] = g
			order = append(order, g)
		}
		q.accumulate(g.acc, doc)
	}
	for _, g := range order {
		if len(res.Items) == q.top {
			break
		}
		row := map[string]any{}
		for _, p := range q.proj {
			if p.agg != aggNone {
				continue
			}
			name := p.alias
			if name == "" {
				name = g.key
			}
			row[name] = g.value.toAny()
		}
		if err := q.finish(g.acc, row); err != nil {
			return nil, err
		}
		res.Items = append(res.Items, row)
	}
	return res, nil
}

// accumulator is the running state of one aggregate projection.
type accumulator struct {
	count    int // documents seen (COUNT) or numbers seen (the others)
	sum      float64
	min, max float64
}

func (q *Query) newAccumulators() []accumulator {
	return make([]accumulator, len(q.proj))
}

// accumulate adds doc to the aggregates. AVG, SUM, MIN and MAX take only
// numbers: a document where the path is undefined or not a number is
// skipped, as SQL skips NULL.
func (q *Query) accumulate(acc []accumulator, doc map[string]any) {
	for i, p := range q.proj {
		a := &acc[i]
		switch p.agg {
		case aggNone:
			continue
		case aggCount:
			a.count++
			continue
		}
		raw, _, ok := p.path.resolve(doc)
		if !ok {
			continue
		}
		v := fromAny(raw)
		if v.k != kNumber {
			continue
		}
		if a.count == 0 || v.n < a.min {
			a.min = v.n
		}
		if a.count == 0 || v.n > a.max {
			a.max = v.n
		}
		a.count++
		a.sum += v.n
	}
}

// finish writes the aggregates into row. COUNT and SUM of nothing are 0;
// AVG, MIN and MAX of nothing have no value and are left out.
func (q *Query) finish(acc []accumulator, row map[string]any) error {
	for i, p := range q.proj {
		a := acc[i]
		var v float64
		switch p.agg {
		case aggNone:
			continue
		case aggCount:
			v = float64(a.count)
		case aggSum:
			v = a.sum
		case aggAvg:
			if a.count == 0 {
				continue
			}
			v = a.sum / float64(a.count)
		case aggMin:
			if a.count == 0 {
				continue
			}
			v = a.min
		case aggMax:
			if a.count == 0 {
				continue
			}
			v = a.max
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("query: %s(%s) exceeds the range of a number", p.agg, p.path)
		}
		row[p.name] = v
	}
	return nil
}
