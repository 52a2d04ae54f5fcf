package render

import (
	"strings"
)

// ANSI escapes of the colors Colorize uses.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// Colorize colors the text Human writes as Terraform does on a terminal:
// the action symbol that starts a line green (+), yellow (~) or red (-),
// a replacement's -/+ red and green, and the "# address will be …"
// headings and the "Plan:" summary in bold. Everything else is unchanged,
// so that the text without its escapes is Human's exactly.
func Colorize(text string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	b.Grow(len(text) + len(text)/8)
	for _, line := range lines {
		body := strings.TrimRight(line, "\n")
		nl := line[len(body):]
		trimmed := strings.TrimLeft(body, " ")
		indent := body[:len(body)-len(trimmed)]
		switch {
		case strings.HasPrefix(trimmed, "-/+ ") || trimmed == "-/+":
			b.WriteString(indent + ansiRed + "-" + ansiReset + "/" + ansiGreen + "+" + ansiReset + trimmed[3:])
		case symbolLine(trimmed, '+'):
			b.WriteString(indent + ansiGreen + "+" + ansiReset + trimmed[1:])
		case symbolLine(trimmed, '~'):
			b.WriteString(indent + ansiYellow + "~" + ansiReset + trimmed[1:])
		case symbolLine(trimmed, '-'):
			b.WriteString(indent + ansiRed + "-" + ansiReset + trimmed[1:])
		case strings.HasPrefix(trimmed, "# ") || strings.HasPrefix(trimmed, "Plan: "):
			b.WriteString(indent + ansiBold + trimmed + ansiReset)
		default:
			b.WriteString(body)
		}
		b.WriteString(nl)
	}
	return b.String()
}

// symbolLine reports whether a line (without its indent) starts with an
// action symbol followed by a space.
func symbolLine(s string, sym byte) bool {
	return len(s) >= 2 && s[0] == sym && s[1] == ' '
}
