package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestPlanColor checks that plan colors a terminal's output only, and
// that -no-color and NO_COLOR turn it off.
func TestPlanColor(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("main.hcl", []byte("device \"gw\" {\n  device_id = \"gw-1\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var initOut bytes.Buffer
	if code := run([]string{"init"}, &streams{In: strings.NewReader(""), Out: &initOut, Err: &initOut}); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, initOut.String())
	}
	tests := []struct {
		name    string
		tty     bool
		noColor string
		args    []string
		want    bool
	}{
		{"terminal", true, "", nil, true},
		{"not a terminal", false, "", nil, false},
		{"-no-color", true, "", []string{"-no-color"}, false},
		{"NO_COLOR", true, "1", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tt.noColor)
			if tt.noColor == "" {
				os.Unsetenv("NO_COLOR")
			}
			var out, errOut bytes.Buffer
			s := &streams{In: strings.NewReader(""), Out: &out, Err: &errOut, OutTTY: tt.tty}
			if code := run(append([]string{"plan"}, tt.args...), s); code != 0 {
				t.Fatalf("exit %d\n%s", code, errOut.String())
			}
			if got := strings.Contains(out.String(), "\x1b["); got != tt.want {
				t.Errorf("colored = %v, want %v:\n%q", got, tt.want, out.String())
			}
			if !strings.Contains(out.String(), "Plan: 1 to add") {
				t.Errorf("no plan:\n%s", out.String())
			}
		})
	}
}
