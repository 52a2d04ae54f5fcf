package render

import (
	"slices"
	"strings"

	"github.com/iotplan/iotplan/internal/plan"
)

// entry is one item of a drawn plan: a single change, or a group of changes
// that look the same in every detail shown.
type entry struct {
	// members are the changes drawn, in address order; a group has more
	// than one.
	members []*plan.Change
	// lines are the attribute lines of the block, shared by all members.
	lines []line
}

func (e *entry) change() *plan.Change { return e.members[0] }

func (e *entry) grouped() bool { return len(e.members) > 1 }

// entries turns changes (in address order) into the entries to draw. With
// grouping on, the changes of one resource block that share a key are
// drawn as one entry when there are more than opts.groupMin() of them; the
// group stands where its first member would. Changes are bucketed by key
// in one pass, so a plan of any size costs linear time.
func entries(changes []*plan.Change, opts Options) []*entry {
	out := make([]*entry, 0, len(changes))
	lines := make([][]line, len(changes))
	for i, c := range changes {
		lines[i] = bodyLines(c)
	}
	if !opts.Group {
		for i, c := range changes {
			out = append(out, &entry{members: []*plan.Change{c}, lines: lines[i]})
		}
		return out
	}
	keys := make([]string, len(changes))
	groups := map[string]*entry{}
	var kb strings.Builder
	for i, c := range changes {
		if !groupable(c) {
			continue
		}
		kb.Reset()
		writeGroupKey(&kb, c, lines[i])
		k := kb.String()
		keys[i] = k
		g := groups[k]
		if g == nil {
			g = &entry{lines: lines[i]}
			groups[k] = g
		}
		g.members = append(g.members, c)
	}
	most := opts.groupMin()
	for i, c := range changes {
		if g := groups[keys[i]]; keys[i] != "" && len(g.members) > most {
			if g.members[0] == c {
				out = append(out, g)
			}
			continue
		}
		out = append(out, &entry{members: []*plan.Change{c}, lines: lines[i]})
	}
	return out
}

// groupable reports whether c may be drawn in a group: imports,
// replacements and moves that also change are worth a look each.
func groupable(c *plan.Change) bool {
	if c.Importing {
		return false
	}
	if c.MovedFrom != "" {
		// A whole resource block renamed: every instance keeps its key.
		return c.Action == plan.NoOp && instanceKey(c.MovedFrom) == instanceKey(c.Addr) && instanceKey(c.Addr) != ""
	}
	switch c.Action {
	case plan.Create, plan.Update, plan.Delete:
		return true
	case plan.NoOp, plan.Replace:
		return false
	default:
		panic("render: unknown action")
	}
}

// writeGroupKey writes what two changes must share to be drawn as one: the
// resource block, the headline without the address, and every line of the
// block. Sensitive values are drawn as (sensitive value) and so take no
// part: a group never tells whether two secrets are equal.
func writeGroupKey(b *strings.Builder, c *plan.Change, lines []line) {
	const sep, end = "\x1f", "\x1e"
	b.WriteString(resourceBlock(c.Addr) + sep + c.Type + sep + c.Action.String() + sep + predicate(c, true) + sep)
	if c.MovedFrom != "" {
		b.WriteString(resourceBlock(c.MovedFrom))
	}
	b.WriteString(end)
	for _, l := range lines {
		b.WriteString(l.sym + sep + l.name + sep + l.value + sep + l.note + end)
	}
}

// resourceBlock is the address of the resource block an instance belongs
// to: device.sensor for device.sensor["s-01"].
func resourceBlock(addr string) string {
	block, _, _ := strings.Cut(addr, "[")
	return block
}

// instanceKey is the key part of an instance address, brackets included:
// ["s-01"] for device.sensor["s-01"], "" for a block without one.
func instanceKey(addr string) string {
	if i := strings.IndexByte(addr, '['); i >= 0 {
		return addr[i:]
	}
	return ""
}

// groupAddr is how a group names its instances: device.sensor[*].
func groupAddr(addr string) string { return resourceBlock(addr) + "[*]" }

// idRange names the hub identities of a group by the first and the last,
// in natural order (sensor-2 before sensor-10).
func idRange(e *entry) (first, last string) {
	first, last = e.members[0].HubID(), e.members[0].HubID()
	for _, c := range e.members[1:] {
		id := c.HubID()
		if naturalLess(id, first) {
			first = id
		}
		if naturalLess(last, id) {
			last = id
		}
	}
	return first, last
}

// examples names the first three members of a group in natural order
// (device.sensor[2] before device.sensor[10]) and counts the others.
func examples(e *entry) string {
	const shown = 3
	var first []string
	for _, c := range e.members {
		i := len(first)
		for i > 0 && naturalLess(c.Addr, first[i-1]) {
			i--
		}
		if i < shown {
			first = slices.Insert(first, i, c.Addr)
			if len(first) > shown {
				first = first[:shown]
			}
		}
	}
	s := strings.Join(first, ", ")
	if n := len(e.members) - len(first); n > 0 {
		s += " and " + Count(n) + " more"
	}
	return s
}

// naturalLess orders strings as people count: runs of digits compare as
// numbers, so that "s-2" comes before "s-10". Strings equal that way (as
// "s-1" and "s-01") fall back to byte order.
func naturalLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			x, y := strings.TrimLeft(a[si:i], "0"), strings.TrimLeft(b[sj:j], "0")
			if len(x) != len(y) {
				return len(x) < len(y)
			}
			if x != y {
				return x < y
			}
			continue
		}
		if a[i] != b[j] {
			return a[i] < b[j]
		}
		i++
		j++
	}
	if len(a)-i != len(b)-j {
		return len(a)-i < len(b)-j
	}
	return a < b
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// sharedHiddenNote is the note on unchanged and foreign keys when every
// member of e has the same counts, "" otherwise.
func sharedHiddenNote(e *entry) string {
	c := e.change()
	for _, m := range e.members[1:] {
		if m.Owned != c.Owned || m.Foreign != c.Foreign {
			return ""
		}
	}
	return hiddenNote(c)
}
