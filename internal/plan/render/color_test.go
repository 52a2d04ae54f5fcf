package render

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestColorize(t *testing.T) {
	in := strings.Join([]string{
		"Resource actions are indicated with the following symbols:",
		"  + create",
		"  ~ update in-place",
		"  - destroy",
		"-/+ destroy and then create replacement",
		"",
		"  # device.a will be created",
		"  + device \"a\" {",
		"      ~ tags = { site = \"x\" -> \"y\" }",
		"    }",
		"",
		"Plan: 1 to add, 0 to change, 0 to destroy.",
		"",
	}, "\n")
	out := Colorize(in)
	if got := ansiEscape.ReplaceAllString(out, ""); got != in {
		t.Errorf("without its escapes, the text changed:\n%s", got)
	}
	for _, want := range []string{
		"  " + ansiGreen + "+" + ansiReset + " create\n",
		"  " + ansiYellow + "~" + ansiReset + " update in-place\n",
		"  " + ansiRed + "-" + ansiReset + " destroy\n",
		ansiRed + "-" + ansiReset + "/" + ansiGreen + "+" + ansiReset + " destroy and then create replacement\n",
		"  " + ansiBold + "# device.a will be created" + ansiReset + "\n",
		"      " + ansiYellow + "~" + ansiReset + " tags",
		ansiBold + "Plan: 1 to add",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%q", want, out)
		}
	}
	if line := "Resource actions are indicated with the following symbols:\n"; !strings.HasPrefix(out, line) {
		t.Errorf("a plain line was colored: %q", out)
	}
}

// TestColorizeGolden colors every golden human plan and checks that only
// escapes were added.
func TestColorizeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*/human.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out := Colorize(string(text))
		if got := ansiEscape.ReplaceAllString(out, ""); got != string(text) {
			t.Errorf("%s: coloring changed the text", f)
		}
		if !strings.Contains(out, "\x1b[") && strings.Contains(string(text), "Plan: ") {
			t.Errorf("%s: nothing was colored", f)
		}
	}
}
