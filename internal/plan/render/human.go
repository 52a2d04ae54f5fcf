package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

// Human writes p as people read it in a terminal or a log.
func Human(w io.Writer, p *plan.Plan) error {
	var b strings.Builder
	if !p.HasChanges() {
		if p.RefreshOnly {
			b.WriteString("No changes. The hub matches what iotplan last wrote.\n")
			_, err := io.WriteString(w, b.String())
			return err
		}
		if p.Destroy {
			b.WriteString("No changes. Nothing in the state to destroy.\n")
		} else {
			b.WriteString("No changes. The fleet matches the configuration.\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	if p.RefreshOnly {
		b.WriteString("Objects have changed outside iotplan:\n")
		for _, c := range p.Changes {
			b.WriteString("\n")
			writeChange(&b, c)
		}
		b.WriteString("\nThis is a refresh-only plan: iotplan will not undo these changes. Apply it to record\nthe hub's values in the state, without changing anything on the hub.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	writeLegend(&b, p)
	b.WriteString("iotplan will perform the following actions:\n")
	for _, c := range p.Changes {
		b.WriteString("\n")
		writeChange(&b, c)
	}
	add, change, destroy := p.Counts()
	fmt.Fprintf(&b, "\nPlan: %s to add, %s to change, %s to destroy.\n", Count(add), Count(change), Count(destroy))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLegend(b *strings.Builder, p *plan.Plan) {
	used := map[plan.Action]bool{}
	for _, c := range p.Changes {
		used[c.Action] = true
	}
	b.WriteString("Resource actions are indicated with the following symbols:\n")
	for _, a := range []plan.Action{plan.Create, plan.Update, plan.Delete, plan.Replace} {
		if used[a] {
			fmt.Fprintf(b, "  %s %s\n", symbol(a), legend(a))
		}
	}
	b.WriteString("\n")
}

func symbol(a plan.Action) string {
	switch a {
	case plan.NoOp:
		return " "
	case plan.Create:
		return "+"
	case plan.Update:
		return "~"
	case plan.Replace:
		return "-/+"
	case plan.Delete:
		return "-"
	default:
		panic("render: unknown action")
	}
}

func legend(a plan.Action) string {
	switch a {
	case plan.Create:
		return "create"
	case plan.Update:
		return "update in place"
	case plan.Replace:
		return "destroy and then create replacement"
	case plan.Delete:
		return "destroy"
	default:
		return a.String()
	}
}

func headline(c *plan.Change) string {
	switch c.Action {
	case plan.Create:
		if c.Before != nil {
			return fmt.Sprintf("# %s will be created (%s)", c.Addr, c.Reason)
		}
		return fmt.Sprintf("# %s will be created", c.Addr)
	case plan.Update:
		if c.Reason == "changed outside iotplan" && c.After != nil && c.Before != nil && allDrift(c) {
			return fmt.Sprintf("# %s has changed outside iotplan", c.Addr)
		}
		if drifted(c) {
			return fmt.Sprintf("# %s will be updated in place (changed outside iotplan)", c.Addr)
		}
		return fmt.Sprintf("# %s will be updated in place", c.Addr)
	case plan.Replace:
		return fmt.Sprintf("# %s must be replaced", c.Addr)
	case plan.Delete:
		if c.Gone {
			return fmt.Sprintf("# %s was deleted outside iotplan and will be removed from the state", c.Addr)
		}
		return fmt.Sprintf("# %s will be destroyed", c.Addr)
	case plan.NoOp:
		return fmt.Sprintf("# %s is unchanged", c.Addr)
	default:
		panic("render: unknown action")
	}
}

func allDrift(c *plan.Change) bool {
	for _, a := range c.Attrs {
		if !a.Drift {
			return false
		}
	}
	return len(c.Attrs) > 0
}

func drifted(c *plan.Change) bool {
	for _, a := range c.Attrs {
		if a.Drift {
			return true
		}
	}
	return false
}

// line is one attribute line of a resource block.
type line struct {
	sym, name, value, note string
}

func writeChange(b *strings.Builder, c *plan.Change) {
	fmt.Fprintf(b, "  %s\n", headline(c))
	var lines []line
	switch c.Action {
	case plan.Create, plan.Replace:
		if c.Action == plan.Replace {
			lines = append(lines, line{"~", "device_id", fmt.Sprintf("%q -> %q", c.Before.DeviceID, c.After.DeviceID), "# forces replacement"})
		}
		lines = append(lines, resourceLines("+", c.After)...)
	case plan.Delete:
		if !c.Gone {
			lines = append(lines, resourceLines("-", c.Before)...)
		}
	case plan.Update:
		for _, a := range c.Attrs {
			lines = append(lines, attrLine(a))
		}
	case plan.NoOp:
	default:
		panic("render: unknown action")
	}
	id := c.DeviceID()
	if c.Gone && c.Action == plan.Delete {
		fmt.Fprintf(b, "  %s %s %q\n", symbol(c.Action), c.Type, id)
		return
	}
	fmt.Fprintf(b, "  %s %s %q {\n", symbol(c.Action), c.Type, id)
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	for _, l := range lines {
		s := fmt.Sprintf("      %s %-*s = %s", l.sym, width, l.name, l.value)
		if l.note != "" {
			s += "  " + l.note
		}
		b.WriteString(s + "\n")
	}
	if c.Action == plan.Update {
		if note := hiddenNote(c); note != "" {
			fmt.Fprintf(b, "        # (%s)\n", note)
		}
	}
	b.WriteString("    }\n")
}

func resourceLines(sym string, r *state.Resource) []line {
	ls := []line{{sym, "status", Value(string(r.Status)), ""}}
	if r.StatusReason != "" {
		ls = append(ls, line{sym, "status_reason", Value(r.StatusReason), ""})
	}
	auth := line{sym, "auth", Value(string(r.Auth)), ""}
	if sym == "+" {
		auth.note = "# keys generated by the hub"
	}
	ls = append(ls, auth)
	if len(r.Tags) > 0 {
		ls = append(ls, line{sym, "tags", Value(r.Tags), ""})
	}
	if len(r.Desired) > 0 {
		ls = append(ls, line{sym, "desired", Value(r.Desired), ""})
	}
	return ls
}

func attrLine(a plan.AttrChange) line {
	var l line
	l.name = a.Path
	switch a.Op {
	case plan.OpSet:
		l.sym, l.value = "+", Value(a.After)
	case plan.OpUpdate:
		l.sym, l.value = "~", Value(a.Before)+" -> "+Value(a.After)
	case plan.OpRemove:
		l.sym, l.value = "-", Value(a.Before)
	default:
		panic("render: unknown attribute op")
	}
	if a.Drift {
		if a.Op == plan.OpSet {
			l.note = fmt.Sprintf("# removed outside iotplan; will be set back to %s", Value(a.After))
		} else {
			l.note = fmt.Sprintf("# changed outside iotplan (iotplan set %s)", Value(a.Prior))
		}
	}
	return l
}

func hiddenNote(c *plan.Change) string {
	var parts []string
	if c.Owned > 0 {
		parts = append(parts, fmt.Sprintf("%s unchanged owned %s hidden", Count(c.Owned), plural(c.Owned, "key", "keys")))
	}
	if c.Foreign > 0 {
		parts = append(parts, fmt.Sprintf("%s %s owned by others untouched", Count(c.Foreign), plural(c.Foreign, "key", "keys")))
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
