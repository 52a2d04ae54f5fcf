package render

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

// Human writes p as people read it in a terminal or a log, with equal
// changes grouped as Options{Group: true} does.
func Human(w io.Writer, p *plan.Plan) error {
	return HumanWith(w, p, Options{Group: true})
}

// HumanWith writes p as people read it, drawn as opts says.
func HumanWith(w io.Writer, p *plan.Plan, opts Options) error {
	var b strings.Builder
	if !p.HasChanges() {
		b.WriteString(noChanges(p) + "\n")
		writeJobs(&b, p)
		_, err := io.WriteString(w, b.String())
		return err
	}
	es := entries(p.Changes, opts)
	if p.RefreshOnly {
		b.WriteString("Objects have changed outside iotplan:\n")
		for _, e := range es {
			b.WriteString("\n")
			writeEntry(&b, e)
		}
		b.WriteString("\nThis is a refresh-only plan: iotplan will not undo these changes. Apply it to record\nthe hub's values in the state, without changing anything on the hub.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	writeLegend(&b, p)
	b.WriteString("iotplan will perform the following actions:\n")
	for _, e := range es {
		b.WriteString("\n")
		writeEntry(&b, e)
	}
	writeJobs(&b, p)
	add, change, destroy := p.Counts()
	fmt.Fprintf(&b, "\nPlan: %s to add, %s to change, %s to destroy.\n", Count(add), Count(change), Count(destroy))
	_, err := io.WriteString(w, b.String())
	return err
}

// noChanges is the sentence that stands for a plan with nothing to do.
func noChanges(p *plan.Plan) string {
	switch {
	case p.RefreshOnly:
		return "No changes. The hub matches what iotplan last wrote."
	case p.Destroy:
		return "No changes. Nothing in the state to destroy."
	default:
		return "No changes. The fleet matches the configuration."
	}
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

// headline is the comment above a change's block, naming the resource
// addr.
func headline(c *plan.Change, addr string) string {
	return "# " + addr + " " + predicate(c, false)
}

// groupHeadline is the headline of a group.
func groupHeadline(e *entry) string {
	c := e.change()
	subject := Count(len(e.members)) + " × " + groupAddr(c.Addr)
	if c.MovedFrom != "" && c.Action == plan.NoOp {
		subject = Count(len(e.members)) + " × " + groupAddr(c.MovedFrom)
	}
	s := "# " + subject + " " + predicate(c, true)
	if c.Action == plan.Update {
		s += ", all the same way"
	}
	return s
}

// predicate says what happens to the resource (or resources, when plural)
// a change is about.
func predicate(c *plan.Change, plural bool) string {
	has, was := "has", "was"
	if plural {
		has, was = "have", "were"
	}
	if c.Importing {
		if c.Action == plan.NoOp {
			return fmt.Sprintf("will be imported (%s)", c.ImportID)
		}
		return fmt.Sprintf("will be imported (%s) and updated in place", c.ImportID)
	}
	if c.MovedFrom != "" && c.Action == plan.NoOp {
		if plural {
			return fmt.Sprintf("%s moved to %s", has, groupAddr(c.Addr))
		}
		return fmt.Sprintf("%s moved to %s", has, c.Addr)
	}
	switch c.Action {
	case plan.Create:
		if c.Before != nil {
			return fmt.Sprintf("will be created (%s)", c.Reason)
		}
		return "will be created"
	case plan.Update:
		if c.Reason == "changed outside iotplan" && c.After != nil && c.Before != nil && allDrift(c) {
			return has + " changed outside iotplan"
		}
		if drifted(c) {
			return "will be updated in place (changed outside iotplan)"
		}
		return "will be updated in place"
	case plan.Replace:
		return "must be replaced"
	case plan.Delete:
		if c.Gone {
			return was + " deleted outside iotplan and will be removed from the state"
		}
		return "will be destroyed"
	case plan.NoOp:
		return "is unchanged"
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

// changedOutside reports whether the hub no longer holds what iotplan last
// wrote for c: an attribute drifted, or the identity was deleted.
func changedOutside(c *plan.Change) bool {
	return drifted(c) || c.Action == plan.Delete && c.Gone || c.Action == plan.Create && c.Before != nil
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

func writeEntry(b *strings.Builder, e *entry) {
	if e.grouped() {
		writeGroup(b, e)
		return
	}
	c := e.change()
	subject := c.Addr
	if c.MovedFrom != "" && c.Action == plan.NoOp && !c.Importing {
		subject = c.MovedFrom
	}
	fmt.Fprintf(b, "  %s\n", headline(c, subject))
	b.WriteString(movedNote(c))
	if !hasBlock(c) {
		if c.Gone && c.Action == plan.Delete {
			fmt.Fprintf(b, "  %s %s %q\n", blockSymbol(c), c.Type, c.HubID())
		}
		return
	}
	fmt.Fprintf(b, "  %s %s %q {\n", blockSymbol(c), c.Type, c.HubID())
	writeLines(b, e.lines, "      ")
	if c.Action == plan.Update {
		if note := hiddenNote(c); note != "" {
			fmt.Fprintf(b, "        # (%s)\n", note)
		}
	}
	b.WriteString("    }\n")
	if c.Condition != "" && c.Preview >= 0 {
		fmt.Fprintf(b, "    # %s matches %s %s now\n", Value(c.Condition), Count(c.Preview), plural(c.Preview, "device", "devices"))
	}
}

// writeJobs lists the jobs created earlier, with their status.
func writeJobs(b *strings.Builder, p *plan.Plan) {
	if len(p.Jobs) == 0 {
		return
	}
	b.WriteString("\nJobs created earlier (they run once and are not run again):\n")
	for _, c := range p.Jobs {
		fmt.Fprintf(b, "  %s (%s): %s", c.Addr, c.HubID(), c.JobStatus)
		if s := c.JobStats; s != nil {
			fmt.Fprintf(b, ", %s %s: %s succeeded, %s failed, %s running, %s pending", Count(s.DeviceCount), plural(s.DeviceCount, "device", "devices"),
				Count(s.SucceededCount), Count(s.FailedCount), Count(s.RunningCount), Count(s.PendingCount))
		}
		b.WriteString("\n")
	}
}

// writeGroup draws a group: the shared block under a range of hub IDs, and
// a few of the addresses.
func writeGroup(b *strings.Builder, e *entry) {
	c := e.change()
	fmt.Fprintf(b, "  %s\n", groupHeadline(e))
	first, last := idRange(e)
	switch {
	case hasBlock(c):
		fmt.Fprintf(b, "  %s %s %q … %q {\n", blockSymbol(c), c.Type, first, last)
		writeLines(b, e.lines, "      ")
		if c.Action == plan.Update {
			if note := sharedHiddenNote(e); note != "" {
				fmt.Fprintf(b, "        # (each: %s)\n", note)
			}
		}
		b.WriteString("    }\n")
	case c.Gone && c.Action == plan.Delete:
		fmt.Fprintf(b, "  %s %s %q … %q\n", blockSymbol(c), c.Type, first, last)
	}
	fmt.Fprintf(b, "    # %s (-no-group to list them)\n", examples(e))
}

// hasBlock reports whether c is drawn with a block of attribute lines.
func hasBlock(c *plan.Change) bool {
	switch c.Action {
	case plan.NoOp:
		return c.Importing
	case plan.Delete:
		return !c.Gone
	case plan.Create, plan.Update, plan.Replace:
		return true
	default:
		panic("render: unknown action")
	}
}

// blockSymbol is the symbol before a change's block.
func blockSymbol(c *plan.Change) string {
	if c.Importing && c.Action == plan.NoOp {
		return "<="
	}
	return symbol(c.Action)
}

// bodyLines are the attribute lines of c's block.
func bodyLines(c *plan.Change) []line {
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
	return lines
}

// writeLines writes attribute lines with their names aligned.
func writeLines(b *strings.Builder, lines []line, indent string) {
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	for _, l := range lines {
		b.WriteString(indent)
		b.WriteString(l.sym)
		b.WriteByte(' ')
		b.WriteString(l.name)
		b.WriteString(strings.Repeat(" ", width-len(l.name)))
		b.WriteString(" = ")
		b.WriteString(l.value)
		if l.note != "" {
			b.WriteString("  ")
			b.WriteString(l.note)
		}
		b.WriteByte('\n')
	}
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
	if c.CreateBeforeDestroy {
		ls = append(ls, line{"#", "order", "the new one is created before the old one is deleted", ""})
	}
	return ls
}

func resourceLines(sym string, r *state.Resource) []line {
	var ls []line
	if r.Type == state.TypeConfiguration || r.Type == state.TypeJob {
		keys := make([]string, 0, len(r.Spec))
		for k := range r.Spec {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if m, ok := r.Spec[k].(map[string]any); ok && len(m) == 0 {
				continue
			}
			ls = append(ls, line{sym, k, Value(r.Spec[k]), ""})
		}
		return ls
	}
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

// authName is an auth type as the configuration writes it; no type is
// SAS, as on the hub.
func authName(t hub.AuthType) string {
	switch t {
	case "":
		return string(hub.AuthSAS)
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
