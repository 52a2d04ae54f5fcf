package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// TestVariablePrecedence checks Terraform's order of variable sources,
// weakest first: default, IOTPLAN_VAR_name, iotplan.iotvars,
// *.auto.iotvars in name order, then -var and -var-file in command-line
// order.
func TestVariablePrecedence(t *testing.T) {
	const decl = `variable "v" {
  default = "default"
}
variable "n" {
  type    = number
  default = 0
}
device "d" {
  device_id = "d"
  tags      = { v = var.v, n = var.n }
}`
	tests := map[string]struct {
		files map[string]string
		opts  LoadOptions
		wantV string
		wantN float64
	}{
		"default": {wantV: "default"},
		"environment": {
			opts:  LoadOptions{Env: map[string]string{"IOTPLAN_VAR_v": "env", "IOTPLAN_VAR_n": "7", "IOTPLAN_VAR_nope": "x"}},
			wantV: "env", wantN: 7,
		},
		"iotplan.iotvars over the environment": {
			files: map[string]string{"iotplan.iotvars": `v = "file"`},
			opts:  LoadOptions{Env: map[string]string{"IOTPLAN_VAR_v": "env", "IOTPLAN_VAR_n": "7"}},
			wantV: "file", wantN: 7,
		},
		"auto files over iotplan.iotvars, in name order": {
			files: map[string]string{
				"iotplan.iotvars":   `v = "file"` + "\nn = 1",
				"b.auto.iotvars":    `v = "auto-b"`,
				"a.auto.iotvars":    `v = "auto-a"` + "\nn = 2",
				"c.iotvars":         `v = "not loaded"`,
				"iotplan.iotvars.x": `v = "not loaded"`,
			},
			wantV: "auto-b", wantN: 2,
		},
		"-var over auto files": {
			files: map[string]string{"z.auto.iotvars": `v = "auto"`},
			opts:  LoadOptions{Vars: []VarOption{{Name: "v", Value: "flag"}}},
			wantV: "flag",
		},
		"-var-file then -var: the -var wins": {
			files: map[string]string{"prod.iotvars": `v = "var-file"` + "\nn = 5"},
			opts:  LoadOptions{Vars: []VarOption{{File: "prod.iotvars"}, {Name: "v", Value: "flag"}}},
			wantV: "flag", wantN: 5,
		},
		"-var then -var-file: the file wins": {
			files: map[string]string{"prod.iotvars": `v = "var-file"`},
			opts:  LoadOptions{Vars: []VarOption{{Name: "v", Value: "flag"}, {File: "prod.iotvars"}}},
			wantV: "var-file",
		},
		"-var-file read by the caller": {
			opts:  LoadOptions{Vars: []VarOption{{File: "/etc/fleet/prod.iotvars", Src: []byte("v = \"outside\"\n")}}},
			wantV: "outside",
		},
		"the last of two -var wins": {
			opts:  LoadOptions{Vars: []VarOption{{Name: "n", Value: "1"}, {Name: "n", Value: "2"}}},
			wantV: "default", wantN: 2,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"main.hcl": decl}
			for k, v := range tt.files {
				files[k] = v
			}
			cfg, diags := NewLoader(folder(files)).LoadWith(tt.opts)
			if diags.HasErrors() {
				t.Fatalf("Load() diagnostics: %v", diags)
			}
			want := map[string]any{"v": tt.wantV, "n": tt.wantN}
			if d := cmp.Diff(want, cfg.Devices[0].Tags); d != "" {
				t.Errorf("variables mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestMissingVariables(t *testing.T) {
	src := `variable "region" {
  description = "Where the hub is."
}
variable "token" {
  type      = string
  sensitive = true
}
variable "sites" {
  type = list(string)
}
variable "given" {}
variable "has_default" { default = 1 }
device "d" {
  device_id = "d-${var.region}"
  tags      = { sites = var.sites, given = var.given }
  desired   = { token = var.token }
}`
	l := NewLoader(folder(map[string]string{"main.hcl": src}))
	_, diags := l.LoadWith(LoadOptions{Vars: []VarOption{{Name: "given", Value: "x"}}})
	want := []MissingVariable{
		{Name: "region", Description: "Where the hub is."},
		{Name: "token", Type: "string", Sensitive: true},
		{Name: "sites", Type: "list(string)"},
	}
	if d := cmp.Diff(want, l.MissingVariables()); d != "" {
		t.Errorf("MissingVariables() mismatch (-want +got):\n%s", d)
	}
	wantDiags := []diag{
		{Summary: "No value for required variable", File: "main.hcl", Line: 1},
		{Summary: "No value for required variable", File: "main.hcl", Line: 4},
		{Summary: "No value for required variable", File: "main.hcl", Line: 8},
	}
	if d := cmp.Diff(wantDiags, diagsOf(diags)); d != "" {
		t.Errorf("diagnostics mismatch (-want +got):\n%s\nall: %v", d, diags)
	}

	// The caller asks for the values and loads again.
	cfg, diags := l.LoadWith(LoadOptions{Vars: []VarOption{
		{Name: "given", Value: "x"}, {Name: "region", Value: "eu"}, {Name: "token", Value: "t0k"}, {Name: "sites", Value: `["a"]`},
	}})
	if len(diags) > 0 {
		t.Fatalf("second Load() diagnostics: %v", diags)
	}
	if len(l.MissingVariables()) != 0 {
		t.Errorf("MissingVariables() after the second load = %v", l.MissingVariables())
	}
	if got := cfg.Devices[0].DeviceID; got != "d-eu" {
		t.Errorf("device ID = %q, want d-eu", got)
	}
}

func TestVariableFeatures(t *testing.T) {
	tests := map[string]struct {
		src  string
		opts LoadOptions
		want map[string]any
	}{
		"nullable variable takes null": {
			src: `variable "v" {
  default = "x"
}
device "d" {
  device_id = "d"
  tags      = { v = var.v, set = var.v != null }
}`,
			opts: LoadOptions{Vars: []VarOption{{File: "n.iotvars", Src: []byte("v = null")}}},
			want: map[string]any{"set": false},
		},
		"null for a non-nullable variable takes its default": {
			src: `variable "v" {
  default  = "x"
  nullable = false
}
device "d" {
  device_id = "d"
  tags      = { v = var.v }
}`,
			opts: LoadOptions{Vars: []VarOption{{File: "n.iotvars", Src: []byte("v = null")}}},
			want: map[string]any{"v": "x"},
		},
		"passing validation": {
			src: `variable "n" {
  type = number
  validation {
    condition     = var.n >= 1 && var.n <= 10
    error_message = "Between 1 and 10."
  }
  validation {
    condition     = floor(var.n) == var.n
    error_message = "Whole."
  }
}
device "d" {
  device_id = "d"
  tags      = { n = var.n }
}`,
			opts: LoadOptions{Env: map[string]string{"IOTPLAN_VAR_n": "4"}},
			want: map[string]any{"n": 4.0},
		},
		"object variable from a file": {
			src: `variable "site" {
  type = object({ name = string, floors = optional(number, 1) })
}
device "d" {
  device_id = "d"
  tags      = var.site
}`,
			opts: LoadOptions{Vars: []VarOption{{File: "s.iotvars", Src: []byte(`site = { name = "oslo" }`)}}},
			want: map[string]any{"name": "oslo", "floors": 1.0},
		},
		"env function with a default": {
			src: `device "d" {
  device_id = "d"
  tags      = { site = env("SITE", "none"), region = env("REGION", "eu"), empty = env("EMPTY") }
}`,
			opts: LoadOptions{Env: map[string]string{"SITE": "berlin", "EMPTY": ""}},
			want: map[string]any{"site": "berlin", "region": "eu", "empty": ""},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := NewLoader(folder(map[string]string{"main.hcl": tt.src})).LoadWith(tt.opts)
			if len(diags) > 0 {
				t.Fatalf("Load() diagnostics: %v", diags)
			}
			if d := cmp.Diff(tt.want, cfg.Devices[0].Tags); d != "" {
				t.Errorf("tags mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestUndeclaredVariableValues checks Terraform's rules for values of
// variables no block declares: an error with -var, a warning in a file,
// nothing in the environment.
func TestUndeclaredVariableValues(t *testing.T) {
	files := map[string]string{
		"main.hcl":        `variable "site" { default = "x" }`,
		"iotplan.iotvars": "stie = \"berlin\"\n",
	}
	_, diags := NewLoader(folder(files)).LoadWith(LoadOptions{
		Env:  map[string]string{"IOTPLAN_VAR_other": "1"},
		Vars: []VarOption{{Name: "sit", Value: "y"}},
	})
	type sev struct {
		Severity hcl.DiagnosticSeverity
		Summary  string
	}
	var got []sev
	for _, d := range diags {
		got = append(got, sev{d.Severity, d.Summary})
	}
	want := []sev{
		{hcl.DiagWarning, "Value for undeclared variable"},
		{hcl.DiagError, "Value for undeclared variable"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("diagnostics mismatch (-want +got):\n%s\nall: %v", d, diags)
	}
}
