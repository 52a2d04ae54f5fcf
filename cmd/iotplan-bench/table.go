package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// table is a titled grid of text cells, printed aligned for a terminal or
// as Markdown for docs/benchmarks.md.
type table struct {
	title  string
	header []string
	rows   [][]string
	notes  []string
	// text are the columns of words, left-aligned in Markdown; the first
	// always is, the others hold numbers and are right-aligned.
	text []int
}

// write writes t as Markdown or as text.
func (t *table) write(w io.Writer, markdown bool) error {
	if markdown {
		return t.writeMarkdown(w)
	}
	return t.writeText(w)
}

// writeText writes t with columns aligned by spaces.
func (t *table) writeText(w io.Writer) error {
	var b strings.Builder
	if t.title != "" {
		fmt.Fprintf(&b, "%s\n\n", t.title)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t")+"\t")
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range t.notes {
		fmt.Fprintf(&b, "%s\n", n)
	}
	b.WriteString("\n")
	// tabwriter pads with trailing spaces; drop them.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

// writeMarkdown writes t as a Markdown table, numbers right-aligned.
func (t *table) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	if t.title != "" {
		fmt.Fprintf(&b, "**%s**\n\n", t.title)
	}
	cells := func(r []string) string {
		esc := make([]string, len(r))
		for i, c := range r {
			esc[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		return "| " + strings.Join(esc, " | ") + " |\n"
	}
	b.WriteString(cells(t.header))
	align := make([]string, len(t.header))
	for i := range align {
		align[i] = "---:"
	}
	align[0] = "---"
	for _, i := range t.text {
		align[i] = "---"
	}
	b.WriteString("|" + strings.Join(align, "|") + "|\n")
	for _, r := range t.rows {
		b.WriteString(cells(r))
	}
	if len(t.notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.notes {
			fmt.Fprintf(&b, "%s\n", n)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// sizeTable is the table of one fleet size's figures.
func sizeTable(s sizeResult) *table {
	t := &table{
		title: fmt.Sprintf("%s devices, %s modules: median of %s (min–max)",
			thousands(s.Devices), thousands(s.Modules), plural(s.Runs, "run", "runs")),
		header: []string{"figure", "median", "min–max", "µs/device", "peak RSS", "target at 100,000"},
		text:   []int{5},
	}
	if s.Runs == 1 {
		t.title = fmt.Sprintf("%s devices, %s modules: 1 run only (no min–max)", thousands(s.Devices), thousands(s.Modules))
	}
	if len(s.LoadAverages) > 0 {
		loads := make([]string, len(s.LoadAverages))
		for i, l := range s.LoadAverages {
			loads[i] = strconv.FormatFloat(l, 'f', 2, 64)
		}
		t.notes = append(t.notes, "Load average (1 min) as each run started: "+strings.Join(loads, ", ")+".")
	}
	if len(s.OtherCores) > 0 {
		others := make([]string, len(s.OtherCores))
		for i, c := range s.OtherCores {
			others[i] = strconv.FormatFloat(c, 'f', 2, 64)
		}
		t.notes = append(t.notes, "Processors kept busy by other processes during each run (average): "+strings.Join(others, ", ")+".")
	}
	for _, r := range s.Steps {
		row := []string{r.Name, "", "", "", "", r.Target}
		switch {
		case r.Seconds != nil:
			row[1] = formatSeconds(r.Seconds.Median)
			row[2] = spread(r.Seconds, formatSeconds)
			row[3] = formatMicros(r.MicrosPerDevice)
			if r.PeakRSSBytes != nil {
				row[4] = formatBytes(r.PeakRSSBytes.Median)
			}
		case r.Bytes != nil:
			row[1] = formatBytes(r.Bytes.Median)
			row[2] = spread(r.Bytes, formatBytes)
		case r.PeakRSSBytes != nil:
			row[4] = formatBytes(r.PeakRSSBytes.Median)
			row[2] = spread(r.PeakRSSBytes, formatBytes)
		case r.Ratio != nil:
			row[1] = formatRatio(r.Ratio.Median)
			row[2] = spread(r.Ratio, func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) })
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// scalingTable shows the time per device of every timed figure at each
// size: near-linear scaling keeps a row flat.
func scalingTable(sizes []sizeResult) *table {
	t := &table{title: "Time per device (µs, median)", header: []string{"figure"}}
	for _, s := range sizes {
		t.header = append(t.header, thousands(s.Devices))
	}
	for _, st := range steps {
		row := []string{st.name}
		any := false
		for _, s := range sizes {
			cell := ""
			for _, r := range s.Steps {
				if r.Key == st.key && r.Seconds != nil {
					cell = formatMicros(r.MicrosPerDevice)
					any = true
				}
			}
			row = append(row, cell)
		}
		if any {
			t.rows = append(t.rows, row)
		}
	}
	return t
}

// spread is "min – max", or "—" for a single run.
func spread(s *summary, format func(float64) string) string {
	if len(s.Samples) < 2 {
		return "—"
	}
	return format(s.Min) + " – " + format(s.Max)
}

// formatSeconds writes a duration in seconds with three significant
// digits, in milliseconds under a second.
func formatSeconds(s float64) string {
	switch {
	case s < 0.01:
		return strconv.FormatFloat(s*1000, 'f', 2, 64) + " ms"
	case s < 0.1:
		return strconv.FormatFloat(s*1000, 'f', 1, 64) + " ms"
	case s < 1:
		return strconv.FormatFloat(s*1000, 'f', 0, 64) + " ms"
	case s < 10:
		return strconv.FormatFloat(s, 'f', 2, 64) + " s"
	case s < 100:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	}
	return strconv.FormatFloat(s, 'f', 0, 64) + " s"
}

// formatBytes writes a size in binary units.
func formatBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(b, 'f', 0, 64) + " B"
	}
	prec := 1
	if b >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(b, 'f', prec, 64) + " " + units[i]
}

// formatMicros writes microseconds per device.
func formatMicros(us float64) string {
	if us < 10 {
		return strconv.FormatFloat(us, 'f', 2, 64)
	}
	if us < 100 {
		return strconv.FormatFloat(us, 'f', 1, 64)
	}
	return thousands(int(math.Round(us)))
}

// formatRatio writes a time ratio with how many times faster or slower
// the first figure is.
func formatRatio(r float64) string {
	s := strconv.FormatFloat(r, 'f', 3, 64)
	switch {
	case r <= 0 || math.IsInf(r, 0) || math.IsNaN(r):
		return s
	case r < 1:
		return s + " (" + strconv.FormatFloat(1/r, 'f', 1, 64) + "× faster)"
	case r > 1:
		return s + " (" + strconv.FormatFloat(r, 'f', 1, 64) + "× slower)"
	}
	return s
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}
