package query

import (
	"slices"
	"strings"
)

// DeviceIDs returns the device IDs the WHERE condition confines the query
// to, sorted and without duplicates, so that a store can read those
// records instead of scanning every one. ok is false when the condition
// does not confine the device ID; ids may be empty (and ok true) when the
// constraints contradict each other.
//
// Constraints are deviceId = 'x' and deviceId IN ['x', ...] (either side of
// the =), combined with AND (intersection) and OR (union, only when both
// sides constrain). The store must still call Match on each record: the
// hint narrows, it does not decide.
func (q *Query) DeviceIDs() (ids []string, ok bool) {
	if q.where == nil {
		return nil, false
	}
	set, ok := deviceIDs(q.where)
	if !ok {
		return nil, false
	}
	ids = make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, true
}

func deviceIDs(e expr) (map[string]bool, bool) {
	switch e := e.(type) {
	case *logicExpr:
		l, lok := deviceIDs(e.l)
		r, rok := deviceIDs(e.r)
		switch {
		case e.or && lok && rok:
			for id := range r {
				l[id] = true
			}
			return l, true
		case e.or:
			return nil, false
		case lok && rok:
			for id := range l {
				if !r[id] {
					delete(l, id)
				}
			}
			return l, true
		case lok:
			return l, true
		case rok:
			return r, true
		}
	case *cmpExpr:
		if p, c, ok := pathEqualsConstant(e); ok && isPath(p, "deviceId") {
			return stringSet([]value{c}), true
		}
	case *inExpr:
		if p, ok := e.x.(*pathExpr); ok && !e.nin && isPath(p.p, "deviceId") {
			return stringSet(e.list), true
		}
	}
	return nil, false
}

// stringSet keeps the strings of vs: a device ID is always a string, so no
// other constant can equal one.
func stringSet(vs []value) map[string]bool {
	set := map[string]bool{}
	for _, v := range vs {
		if v.k == kString {
			set[v.s] = true
		}
	}
	return set
}

// pathEqualsConstant returns the path and the constant of path = constant
// or constant = path.
func pathEqualsConstant(e *cmpExpr) (*path, value, bool) {
	if e.op != tEq {
		return nil, value{}, false
	}
	l, r := e.l, e.r
	if _, ok := l.(*constExpr); ok {
		l, r = r, l
	}
	p, ok := l.(*pathExpr)
	c, ok2 := r.(*constExpr)
	if !ok || !ok2 {
		return nil, value{}, false
	}
	return p.p, c.v, true
}

func isPath(p *path, dotted string) bool {
	return strings.EqualFold(strings.Join(p.segs, "."), dotted)
}

// TagEquals returns the tags.<path> = constant constraints that every match
// satisfies: the conditions joined by AND at the top of WHERE. Keys are the
// tag paths below tags, lower-cased and dotted ("location.region" for
// tags.location.region); values are string, float64, bool or nil (null).
// It returns nil when there is no such constraint, and for devices.jobs,
// whose records have no tags.
//
// A store with an index of tag values can read only the documents the
// index gives for these constraints, provided the index matches tag names
// case-insensitively; it must still call Match on each document. When one
// path is constrained twice the first constraint is kept.
func (q *Query) TagEquals() map[string]any {
	if q.where == nil || q.from == Jobs {
		return nil
	}
	var tags map[string]any
	var walk func(e expr)
	walk = func(e expr) {
		switch e := e.(type) {
		case *logicExpr:
			if !e.or {
				walk(e.l)
				walk(e.r)
			}
		case *cmpExpr:
			p, c, ok := pathEqualsConstant(e)
			if !ok || c.k == kUndefined || len(p.segs) < 2 || !strings.EqualFold(p.segs[0], "tags") {
				return
			}
			key := strings.ToLower(strings.Join(p.segs[1:], "."))
			if tags == nil {
				tags = map[string]any{}
			}
			if _, seen := tags[key]; !seen {
				tags[key] = c.toAny()
			}
		}
	}
	walk(q.where)
	return tags
}
