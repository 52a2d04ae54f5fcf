package render

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/iotplan/iotplan/internal/plan"
)

// Markdown writes p as a summary for a pull-request comment, in
// GitHub-flavoured Markdown: a title with the counts, a table of counts by
// action, what changed outside iotplan, a table per resource kind, the
// moves and imports, then each diff in a collapsed <details> block. Equal
// changes are grouped as opts says, as in HumanWith.
func Markdown(w io.Writer, p *plan.Plan, opts Options) error {
	var b strings.Builder
	b.WriteString("### " + mdTitle(p) + "\n\n")
	if p.Hub != "" {
		b.WriteString("Hub: " + code(p.Hub) + "\n\n")
	}
	if !p.HasChanges() {
		b.WriteString(noChanges(p) + "\n")
		if p.Unchanged > 0 {
			fmt.Fprintf(&b, "\n%s %s unchanged.\n", Count(p.Unchanged), plural(p.Unchanged, "resource", "resources"))
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	es := entries(p.Changes, opts)
	writeMDCounts(&b, p)
	writeMDDrift(&b, p, es)
	writeMDKinds(&b, es)
	writeMDMoves(&b, es)
	writeMDImports(&b, es)
	writeMDDiffs(&b, es)
	if p.RefreshOnly {
		b.WriteString("This is a refresh-only plan: iotplan will not undo these changes. Applying it records the hub's values in the state, without changing anything on the hub.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdTitle(p *plan.Plan) string {
	switch {
	case !p.HasChanges() && p.RefreshOnly:
		return "iotplan refresh-only plan: no changes"
	case !p.HasChanges() && p.Destroy:
		return "iotplan destroy plan: no changes"
	case !p.HasChanges():
		return "iotplan plan: no changes"
	case p.RefreshOnly:
		n := len(p.Changes)
		return fmt.Sprintf("iotplan refresh-only plan: %s %s changed outside iotplan", Count(n), plural(n, "resource", "resources"))
	}
	add, change, destroy := p.Counts()
	kind := "plan"
	if p.Destroy {
		kind = "destroy plan"
	}
	return fmt.Sprintf("iotplan %s: %s to add, %s to change, %s to destroy", kind, Count(add), Count(change), Count(destroy))
}

// writeMDCounts writes how many resources each action touches; a resource
// that is moved or imported and also changed counts in both rows.
func writeMDCounts(b *strings.Builder, p *plan.Plan) {
	var create, update, replace, destroy, forget, imports, moves int
	for _, c := range p.Changes {
		switch c.Action {
		case plan.NoOp:
		case plan.Create:
			create++
		case plan.Update:
			update++
		case plan.Replace:
			replace++
		case plan.Delete:
			if c.Gone {
				forget++
			} else {
				destroy++
			}
		default:
			panic("render: unknown action")
		}
		if c.Importing {
			imports++
		}
		if c.MovedFrom != "" {
			moves++
		}
	}
	updateRow := "update"
	if p.RefreshOnly {
		updateRow = "record the hub's values"
	}
	b.WriteString("| action | resources |\n| --- | ---: |\n")
	for _, row := range []struct {
		name string
		n    int
	}{
		{"create", create}, {updateRow, update}, {"replace", replace}, {"destroy", destroy},
		{"remove from the state", forget}, {"import", imports}, {"move", moves}, {"unchanged", p.Unchanged},
	} {
		if row.n > 0 {
			fmt.Fprintf(b, "| %s | %s |\n", row.name, Count(row.n))
		}
	}
	b.WriteString("\n")
}

// writeMDDrift lists what changed on the hub since iotplan last wrote it.
func writeMDDrift(b *strings.Builder, p *plan.Plan, es []*entry) {
	var rows []string
	for _, e := range es {
		c := e.change()
		who := mdSubject(e)
		switch {
		case c.Action == plan.Delete && c.Gone:
			rows = append(rows, mdRow(who, "(the whole resource)", "exists", "deleted", "removes it from the state"))
			continue
		case c.Action == plan.Create && c.Before != nil:
			rows = append(rows, mdRow(who, "(the whole resource)", "exists", "deleted", "creates it again"))
			continue
		}
		for _, a := range c.Attrs {
			if !a.Drift {
				continue
			}
			show := Value
			if a.Sensitive {
				show = func(any) string { return sensitiveValue }
			}
			onHub, then := "(absent)", ""
			if p.RefreshOnly {
				if a.Op != plan.OpRemove {
					onHub = code(show(a.After))
				}
				then = "records it in the state"
			} else {
				if a.Op != plan.OpSet {
					onHub = code(show(a.Before))
				}
				then = "sets it to " + code(show(a.After))
				if a.Op == plan.OpRemove {
					then = "removes it"
				}
			}
			rows = append(rows, mdRow(who, code(a.Path), code(show(a.Prior)), onHub, then))
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("#### Changed outside iotplan\n\n")
	if p.RefreshOnly {
		b.WriteString("The hub no longer holds what iotplan last wrote:\n\n")
	} else {
		b.WriteString("The hub no longer holds what iotplan last wrote; this plan overrides it:\n\n")
	}
	b.WriteString("| resource | attribute | iotplan wrote | on the hub | this plan |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		b.WriteString(r)
	}
	b.WriteString("\n")
}

// writeMDKinds writes a table per resource kind, one row per entry.
func writeMDKinds(b *strings.Builder, es []*entry) {
	byKind := map[string][]*entry{}
	count := map[string]int{}
	for _, e := range es {
		t := e.change().Type
		byKind[t] = append(byKind[t], e)
		count[t] += len(e.members)
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(b, "#### %s (%s)\n\n", text(k), Count(count[k]))
		b.WriteString("| address | ID | action | what changes |\n| --- | --- | --- | --- |\n")
		for _, e := range byKind[k] {
			id := code(e.change().HubID())
			if e.grouped() {
				first, last := idRange(e)
				id = code(first) + " … " + code(last)
			}
			b.WriteString(mdRow(mdSubject(e), id, mdAction(e.change()), mdWhat(e)))
		}
		b.WriteString("\n")
	}
}

func writeMDMoves(b *strings.Builder, es []*entry) {
	var rows []string
	for _, e := range es {
		c := e.change()
		if c.MovedFrom == "" {
			continue
		}
		from, to := code(c.MovedFrom), code(c.Addr)
		if e.grouped() {
			from, to = Count(len(e.members))+" × "+code(groupAddr(c.MovedFrom)), code(groupAddr(c.Addr))
		}
		then := "nothing else"
		if c.Action != plan.NoOp {
			then = mdVerb(c)
		}
		rows = append(rows, mdRow(from, to, then))
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("#### Moves\n\n| from | to | then |\n| --- | --- | --- |\n")
	for _, r := range rows {
		b.WriteString(r)
	}
	b.WriteString("\n")
}

func writeMDImports(b *strings.Builder, es []*entry) {
	var rows []string
	for _, e := range es {
		c := e.change()
		if !c.Importing {
			continue
		}
		then := "nothing else"
		if c.Action == plan.Update {
			then = "update in place"
		}
		rows = append(rows, mdRow(code(c.Addr), code(c.ImportID), then))
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("#### Imports\n\n| address | hub ID | then |\n| --- | --- | --- |\n")
	for _, r := range rows {
		b.WriteString(r)
	}
	b.WriteString("\n")
}

// writeMDDiffs writes each entry's lines in a collapsed block.
func writeMDDiffs(b *strings.Builder, es []*entry) {
	first := true
	for _, e := range es {
		c := e.change()
		if !hasBlock(c) || len(e.lines) == 0 {
			continue
		}
		if first {
			b.WriteString("#### Diffs\n\n")
			first = false
		}
		var d strings.Builder
		head := headline(c, c.Addr)
		if e.grouped() {
			head = groupHeadline(e)
			fmt.Fprintf(&d, "# %s\n", examples(e))
		}
		if c.MovedFrom != "" {
			fmt.Fprintf(&d, "# (moved from %s)\n", c.MovedFrom)
		}
		writeLines(&d, e.lines, "")
		if c.Action == plan.Update {
			note := hiddenNote(c)
			if e.grouped() {
				if note = sharedHiddenNote(e); note != "" {
					note = "each: " + note
				}
			}
			if note != "" {
				fmt.Fprintf(&d, "# (%s)\n", note)
			}
		}
		fence := codeFence(d.String())
		fmt.Fprintf(b, "<details><summary>%s</summary>\n\n%sdiff\n%s%s\n\n</details>\n\n",
			htmlText.Replace(strings.TrimPrefix(head, "# ")), fence, d.String(), fence)
	}
}

// htmlText escapes text inside an HTML element.
var htmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// mdSubject names an entry in a table cell.
func mdSubject(e *entry) string {
	c := e.change()
	if e.grouped() {
		return Count(len(e.members)) + " × " + code(groupAddr(c.Addr))
	}
	return code(c.Addr)
}

// mdAction is the action column of a change.
func mdAction(c *plan.Change) string {
	if c.Action == plan.NoOp {
		switch {
		case c.Importing:
			return "import"
		case c.MovedFrom != "":
			return "move"
		}
		return "no-op"
	}
	switch {
	case c.Importing:
		return "import, " + mdVerb(c)
	case c.MovedFrom != "":
		return "move, " + mdVerb(c)
	}
	return mdVerb(c)
}

// mdVerb says what apply does to the resource of a change.
func mdVerb(c *plan.Change) string {
	switch c.Action {
	case plan.NoOp:
		return "nothing"
	case plan.Create:
		if c.Before != nil {
			return "create again"
		}
		return "create"
	case plan.Update:
		if c.Reason == "changed outside iotplan" && allDrift(c) {
			return "changed outside iotplan"
		}
		if drifted(c) {
			return "update (drift)"
		}
		return "update"
	case plan.Replace:
		return "replace"
	case plan.Delete:
		if c.Gone {
			return "remove from the state"
		}
		return "destroy"
	default:
		panic("render: unknown action")
	}
}

// mdWhat is the short "what changes" column of an entry: the reason for
// what needs one, then up to three attribute changes.
func mdWhat(e *entry) string {
	const shown = 3
	c := e.change()
	var parts []string
	switch c.Action {
	case plan.NoOp:
		switch {
		case c.Importing:
			return "adopts " + code(c.ImportID) + " as it is"
		case c.MovedFrom != "" && e.grouped():
			return "moved from " + code(groupAddr(c.MovedFrom))
		case c.MovedFrom != "":
			return "moved from " + code(c.MovedFrom)
		}
		return ""
	case plan.Create:
		if c.Before != nil && c.Reason != "" {
			parts = append(parts, text(c.Reason))
		}
	case plan.Update:
	case plan.Replace, plan.Delete:
		return text(c.Reason)
	default:
		panic("render: unknown action")
	}
	var items []string
	for _, a := range c.Attrs[:min(shown, len(c.Attrs))] {
		l := attrLine(a)
		if a.Op == plan.OpRemove {
			items = append(items, code(l.sym+" "+l.name))
		} else {
			items = append(items, code(l.sym+" "+l.name+" = "+shorten(l.value)))
		}
	}
	s := strings.Join(items, ", ")
	if n := len(c.Attrs) - shown; n > 0 {
		s += " and " + Count(n) + " more"
	}
	if s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, ": ")
}

// mdRow is one table row; pipes in cells are escaped, even inside code
// spans, as GitHub's tables need.
func mdRow(cells ...string) string {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
	}
	b.WriteString("\n")
	return b.String()
}

// code returns s as an inline code span: fenced by more backticks than
// any run in s, padded when s starts or ends with one, on one line.
func code(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") ||
		strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") && strings.Trim(s, " ") != "" {
		s = " " + s + " "
	}
	return fence + s + fence
}

// text escapes the characters that would turn plain text into Markdown
// or HTML. Pipes are left to mdRow.
func text(s string) string {
	return strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
		"<", `\<`, ">", `\>`, "~", `\~`, "&", `\&`, "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// codeFence is a fence for a block holding s: longer than any run of
// backticks in it.
func codeFence(s string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// shorten cuts a value shown in a table cell to 40 characters.
func shorten(s string) string {
	const most = 40
	if utf8.RuneCountInString(s) <= most {
		return s
	}
	r := []rune(s)
	return string(r[:most-1]) + "…"
}
