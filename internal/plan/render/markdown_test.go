package render

import (
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
