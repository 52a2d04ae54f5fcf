package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
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
	if c.Importing {
		if c.Action == plan.NoOp {
			return fmt.Sprintf("# %s will be imported (%s)", c.Addr, c.ImportID)
		}
		return fmt.Sprintf("# %s will be imported (%s) and updated in place", c.Addr, c.ImportID)
	}
	if c.MovedFrom != "" && c.Action == plan.NoOp {
		return fmt.Sprintf("# %s has moved to %s", c.MovedFrom, c.Addr)
	}
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

// movedNote is the line under the headline of a moved resource that also
// changes.
func movedNote(c *plan.Change) string {
	if c.MovedFrom == "" || c.Action == plan.NoOp {
		return ""
	}
	return fmt.Sprintf("  # (moved from %s)\n", c.MovedFrom)
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
	b.WriteString(movedNote(c))
	if c.Action == plan.NoOp && !c.Importing {
		return
	}
	var lines []line
	switch c.Action {
	case plan.Create, plan.Replace:
		if c.Action == plan.Replace {
			lines = append(lines, replaceLines(c)...)
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
	id := c.HubID()
	sym := symbol(c.Action)
	if c.Importing && c.Action == plan.NoOp {
		sym = "<="
	}
	if c.Gone && c.Action == plan.Delete {
		fmt.Fprintf(b, "  %s %s %q\n", sym, c.Type, id)
		return
	}
	fmt.Fprintf(b, "  %s %s %q {\n", sym, c.Type, id)
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

// replaceLines are the lines that say why a resource is replaced.
func replaceLines(c *plan.Change) []line {
	b, a := c.Before, c.After
	var ls []line
	if b.DeviceID != a.DeviceID {
		ls = append(ls, line{"~", "device_id", fmt.Sprintf("%q -> %q", b.DeviceID, a.DeviceID), "# forces replacement"})
	}
	if b.ModuleID != a.ModuleID {
		ls = append(ls, line{"~", "module_id", fmt.Sprintf("%q -> %q", b.ModuleID, a.ModuleID), "# forces replacement"})
	}
	if b.Auth != a.Auth {
		ls = append(ls, line{"~", "auth", fmt.Sprintf("%s -> %s", Value(authName(b.Auth)), Value(authName(a.Auth))), "# forces replacement"})
	}
	if len(ls) == 0 && c.Reason != "" {
		ls = append(ls, line{"#", "reason", c.Reason, ""})
	}
	return ls
}

func resourceLines(sym string, r *state.Resource) []line {
	var ls []line
	if r.Type == state.TypeModule {
		if r.ManagedBy != "" {
			ls = append(ls, line{sym, "managed_by", Value(r.ManagedBy), ""})
		}
	} else {
		ls = append(ls, line{sym, "status", Value(string(r.Status)), ""})
		if r.StatusReason != "" {
			ls = append(ls, line{sym, "status_reason", Value(r.StatusReason), ""})
		}
		if r.Edge {
			ls = append(ls, line{sym, "edge", "true", ""})
		}
		if r.Parent != "" {
			ls = append(ls, line{sym, "parent", Value(r.Parent), ""})
		}
	}
	auth := line{sym, "auth", Value(authName(r.Auth)), ""}
	if sym == "+" && r.Auth == "sas" && !r.ExplicitKeys {
		auth.note = "# keys generated by the hub"
	}
	ls = append(ls, auth)
	if r.ExplicitKeys {
		ls = append(ls, line{sym, "auth.primary_key", sensitiveValue, ""}, line{sym, "auth.secondary_key", sensitiveValue, ""})
	}
	if r.PrimaryThumbprint != "" {
		ls = append(ls, line{sym, "auth.primary_thumbprint", Value(r.PrimaryThumbprint), ""})
	}
	if r.SecondaryThumbprint != "" {
		ls = append(ls, line{sym, "auth.secondary_thumbprint", Value(r.SecondaryThumbprint), ""})
	}
	if r.KeyVersion != 0 {
		ls = append(ls, line{sym, "key_version", fmt.Sprint(r.KeyVersion), ""})
	}
	if len(r.Tags) > 0 {
		ls = append(ls, line{sym, "tags", Value(redacted(r.Tags, "tags", r.Sensitive)), ""})
	}
	if len(r.Desired) > 0 {
		ls = append(ls, line{sym, "desired", Value(redacted(r.Desired, "desired", r.Sensitive)), ""})
	}
	return ls
}

// sensitiveValue is what renderers show instead of a secret.
const sensitiveValue = "(sensitive value)"

// Redact returns a copy of a twin section (tags or desired, named by prefix)
// with the values at the sensitive paths replaced by a marker that Value
// prints as (sensitive value) and JSON encodes as "(sensitive value)".
func Redact(m map[string]any, prefix string, sensitive []string) any {
	return redacted(m, prefix, sensitive)
}

func redacted(m map[string]any, prefix string, sensitive []string) any {
	if len(sensitive) == 0 {
		return m
	}
	for _, p := range sensitive {
		if p == prefix {
			return hidden{}
		}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		path := prefix + "." + k
		hide := false
		for _, p := range sensitive {
			if p == path {
				hide = true
			}
		}
		if hide {
			out[k] = hidden{}
		} else if sub, ok := v.(map[string]any); ok {
			out[k] = redacted(sub, path, sensitive)
		} else {
			out[k] = v
		}
	}
	return out
}

// hidden is a value that renders as (sensitive value).
type hidden struct{}

func authName(t hub.AuthType) string {
	switch t {
	case hub.AuthSelfSigned:
		return "x509_thumbprint"
	case hub.AuthCertificateAuthority:
		return "x509_ca"
	}
	return string(t)
}

func attrLine(a plan.AttrChange) line {
	var l line
	l.name = a.Path
	show := Value
	if a.Sensitive {
		show = func(any) string { return sensitiveValue }
	}
	switch a.Op {
	case plan.OpSet:
		l.sym, l.value = "+", show(a.After)
	case plan.OpUpdate:
		l.sym, l.value = "~", show(a.Before)+" -> "+show(a.After)
	case plan.OpRemove:
		l.sym, l.value = "-", show(a.Before)
	default:
		panic("render: unknown attribute op")
	}
	if a.Path == "key_version" {
		l.note = "# the hub's keys are replaced with new ones"
	}
	if a.Drift && !a.Sensitive {
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
