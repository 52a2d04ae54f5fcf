package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestMissingVariablesAsked checks that required variables without a value
// are asked for on a terminal, and are an error without one or with
// -input=false.
func TestMissingVariablesAsked(t *testing.T) {
	t.Chdir(t.TempDir())
	src := `
variable "site" {
  type        = string
  description = "The site of the gateway."
}
variable "floor" {
  type = number
}
device "gw" {
  device_id = "gw-1"
  tags      = { site = var.site, floor = var.floor }
}
`
	if err := os.WriteFile("main.hcl", []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	s := &streams{In: strings.NewReader("berlin\n3\n"), Out: &out, Err: &errOut, InTTY: true}
	lc, err := loadConfigWith(s, configInput{input: true}, nil)
	if err != nil {
		t.Fatalf("loadConfigWith: %v\n%s", err, errOut.String())
	}
	tags := lc.cfg.Devices[0].Tags
	if tags["site"] != "berlin" || tags["floor"] != 3.0 {
		t.Errorf("tags = %v, want the answers", tags)
	}
	if !strings.Contains(out.String(), "var.site\n  The site of the gateway.") || !strings.Contains(out.String(), "Enter a value:") {
		t.Errorf("prompt:\n%s", out.String())
	}
	for name, s := range map[string]*streams{
		"no terminal":  {In: strings.NewReader("berlin\n3\n"), Out: &out, Err: &errOut},
		"-input=false": {In: strings.NewReader("berlin\n3\n"), Out: &out, Err: &errOut, InTTY: true},
	} {
		errOut.Reset()
		_, err := loadConfigWith(s, configInput{input: name != "-input=false"}, nil)
		var code exitCode
		if !errors.As(err, &code) || !strings.Contains(errOut.String(), "No value for required variable") {
			t.Errorf("%s: err = %v, stderr:\n%s", name, err, errOut.String())
		}
	}
}
