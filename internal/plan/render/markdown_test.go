package render

import (
	"html"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func TestCode(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":              {"thermo-a", "`thermo-a`"},
		"backtick inside":    {"a`b", "``a`b``"},
		"two backticks":      {"a``b`c", "```a``b`c```"},
		"backtick at start":  {"`x", "`` `x ``"},
		"backtick at end":    {"x`", "`` x` ``"},
		"spaces both sides":  {" a ", "`  a  `"},
		"only spaces":        {"  ", "`  `"},
		"pipe left to mdRow": {"a|b", "`a|b`"},
		"line break":         {"a\nb\r\nc", "`a b c`"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := code(tt.in); got != tt.want {
				t.Errorf("code(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":      {"not in the configuration", "not in the configuration"},
		"emphasis":   {"device_id *changes*", `device\_id \*changes\*`},
		"code":       {"a `b`", "a \\`b\\`"},
		"link":       {"[x](y)", `\[x\](y)`},
		"html":       {"<b>&amp;", `\<b\>\&amp;`},
		"backslash":  {`a\|b`, `a\\|b`},
		"strike":     {"~~x~~", `\~\~x\~\~`},
		"line break": {"a\nb", "a b"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := text(tt.in); got != tt.want {
				t.Errorf("text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMDRow(t *testing.T) {
	tests := map[string]struct {
		cells []string
		want  string
	}{
		"plain":             {[]string{"a", "b"}, "| a | b |\n"},
		"pipe in code":      {[]string{code("a|b")}, "| `a\\|b` |\n"},
		"escaped backslash": {[]string{text(`x\|y`)}, "| x\\\\\\|y |\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := mdRow(tt.cells...); got != tt.want {
				t.Errorf("mdRow(%q) = %q, want %q", tt.cells, got, tt.want)
			}
		})
	}
}

func TestCodeFence(t *testing.T) {
	for in, want := range map[string]string{"a": "```", "a ``` b": "````", "`````": "``````"} {
		if got := codeFence(in); got != want {
			t.Errorf("codeFence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShorten(t *testing.T) {
	long := `"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"`
	if got := shorten(long); len([]rune(got)) != 40 || got[len(got)-len("…"):] != "…" {
		t.Errorf("shorten(%q) = %q", long, got)
	}
	if got := shorten(`"ok"`); got != `"ok"` {
		t.Errorf("shorten kept %q as %q", `"ok"`, got)
	}
	if got := shorten("ääääääääääääääääääääääääääääääääääääääääää"); len([]rune(got)) != 40 {
		t.Errorf("shorten cut runes: %q", got)
	}
}

// TestCellsWithCmarkGFM renders table cells of awkward strings with
// cmark-gfm, the Markdown engine of GitHub, and checks that each cell
// reads back as written: as a code span and as text. It is skipped where
// cmark-gfm is not installed (Debian: apt-get install cmark-gfm).
func TestCellsWithCmarkGFM(t *testing.T) {
	bin, err := exec.LookPath("cmark-gfm")
	if err != nil {
		t.Skip("cmark-gfm not installed")
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("ab |`\\*_<>&[]~#!\"'-+.()")
	var md strings.Builder
	var want []string
	md.WriteString("| code | text |\n| --- | --- |\n")
	for len(want) < 1000 {
		s := make([]rune, 1+r.IntN(12))
		for i := range s {
			s[i] = alphabet[r.IntN(len(alphabet))]
		}
		if strings.TrimSpace(string(s)) == "" {
			continue
		}
		want = append(want, string(s))
		md.WriteString(mdRow(code(string(s)), text(string(s))))
	}
	cmd := exec.Command(bin, "-e", "table")
	cmd.Stdin = strings.NewReader(md.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?s)<tr>\n<td>(.*?)</td>\n<td>(.*?)</td>\n</tr>`).FindAllStringSubmatch(string(out), -1)
	if len(rows) != len(want) {
		t.Fatalf("cmark-gfm read %d rows, want %d", len(rows), len(want))
	}
	for i, row := range rows {
		w := want[i]
		c, ok := strings.CutPrefix(row[1], "<code>")
		c, ok2 := strings.CutSuffix(c, "</code>")
		if !ok || !ok2 || html.UnescapeString(c) != w {
			t.Errorf("code(%q) in a cell reads back as %q", w, row[1])
		}
		if got := html.UnescapeString(row[2]); got != strings.Trim(w, " ") {
			t.Errorf("text(%q) in a cell reads back as %q", w, got)
		}
	}
}
