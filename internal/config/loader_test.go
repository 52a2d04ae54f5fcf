package config

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/hub"
)

// folder makes a working folder of named file contents.
func folder(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

const fleetHCL = `
variable "site" {
  description = "Where the fleet is."
  default     = "berlin"
}

variable "floors" {
  type    = list(number)
  default = [1]
}

variable "interval" {
  type    = number
  default = 10
}

locals {
  prefix = "${local.base}-${var.site}"
}

locals {
  base  = lower("THERMO")
  fleet = csvdecode(file("fleet.csv"))
  by_id = { for d in local.fleet : d.id => d }
}

device "gateway" {
  device_id     = "${local.prefix}-gw"
  status        = "disabled"
  status_reason = "maintenance"
  tags          = { site = var.site, floors = var.floors, note = null }
  desired = {
    telemetry = {
      interval   = var.interval
      enabled    = true
      thresholds = [1, 2.5]
      legacy     = null
    }
  }
}

device "thermo" {
  for_each  = local.by_id
  device_id = "${local.prefix}-${each.key}"
  tags      = { floor = tonumber(each.value.floor), room = each.value.room }
}

device "sensor" {
  for_each  = toset(["b", "a"])
  device_id = "sensor-${each.value}"
}
`

const fleetCSV = "id,floor,room\na1,3,north\nb2,4,south\n"

func TestLoad(t *testing.T) {
	tests := map[string]struct {
		files map[string]string
		vars  map[string]string
		want  []*Device
	}{
		"fleet with defaults": {
			files: map[string]string{"main.hcl": fleetHCL, "fleet.csv": fleetCSV},
			want: []*Device{
				{
					Addr: Addr{Type: "device", Name: "gateway"}, DeviceID: "thermo-berlin-gw",
					Status: hub.StatusDisabled, StatusReason: "maintenance",
					Tags: map[string]any{"site": "berlin", "floors": []any{1.0}},
					Desired: map[string]any{"telemetry": map[string]any{
						"interval": 10.0, "enabled": true, "thresholds": []any{1.0, 2.5},
					}},
				},
				{Addr: Addr{Type: "device", Name: "sensor", Key: "a"}, DeviceID: "sensor-a", Status: hub.StatusEnabled},
				{Addr: Addr{Type: "device", Name: "sensor", Key: "b"}, DeviceID: "sensor-b", Status: hub.StatusEnabled},
				{
					Addr: Addr{Type: "device", Name: "thermo", Key: "a1"}, DeviceID: "thermo-berlin-a1", Status: hub.StatusEnabled,
					Tags: map[string]any{"floor": 3.0, "room": "north"},
				},
				{
					Addr: Addr{Type: "device", Name: "thermo", Key: "b2"}, DeviceID: "thermo-berlin-b2", Status: hub.StatusEnabled,
					Tags: map[string]any{"floor": 4.0, "room": "south"},
				},
			},
		},
		"-var overrides and typed variables": {
			files: map[string]string{"main.hcl": fleetHCL, "fleet.csv": "id,floor,room\nc3,7,east\n"},
			vars:  map[string]string{"site": "paris", "floors": "[2, 3]", "interval": "30"},
			want: []*Device{
				{
					Addr: Addr{Type: "device", Name: "gateway"}, DeviceID: "thermo-paris-gw",
					Status: hub.StatusDisabled, StatusReason: "maintenance",
					Tags: map[string]any{"site": "paris", "floors": []any{2.0, 3.0}},
					Desired: map[string]any{"telemetry": map[string]any{
						"interval": 30.0, "enabled": true, "thresholds": []any{1.0, 2.5},
					}},
				},
				{Addr: Addr{Type: "device", Name: "sensor", Key: "a"}, DeviceID: "sensor-a", Status: hub.StatusEnabled},
				{Addr: Addr{Type: "device", Name: "sensor", Key: "b"}, DeviceID: "sensor-b", Status: hub.StatusEnabled},
				{
					Addr: Addr{Type: "device", Name: "thermo", Key: "c3"}, DeviceID: "thermo-paris-c3", Status: hub.StatusEnabled,
					Tags: map[string]any{"floor": 7.0, "room": "east"},
				},
			},
		},
		"untyped variable takes -var as a string": {
			files: map[string]string{"main.hcl": `
variable "n" {}
device "d" {
  device_id = "d"
  tags      = { n = var.n }
}`},
			vars: map[string]string{"n": "[1]"},
			want: []*Device{{Addr: Addr{Type: "device", Name: "d"}, DeviceID: "d", Status: hub.StatusEnabled, Tags: map[string]any{"n": "[1]"}}},
		},
		"optional object attributes get their defaults": {
			files: map[string]string{"main.hcl": `
variable "cfg" {
  type    = object({ site = string, floor = optional(number, 1) })
  default = { site = "oslo" }
}
device "d" {
  device_id = "d1"
  tags      = var.cfg
}`},
			want: []*Device{{Addr: Addr{Type: "device", Name: "d"}, DeviceID: "d1", Status: hub.StatusEnabled, Tags: map[string]any{"site": "oslo", "floor": 1.0}}},
		},
		"files in name order, null arguments as if not written": {
			files: map[string]string{
				"b.hcl": `device "b" {
  device_id     = local.id
  status_reason = null
  tags          = null
  desired       = { a = null }
}`,
				"a.hcl":      `locals { id = "shared-${local.n}" }`,
				"c.hcl":      `locals { n = 1 }`,
				"notes.txt":  `not a configuration file`,
				"sub/x.hcl":  `not { read`,
				"README.hcl": ``,
			},
			want: []*Device{{Addr: Addr{Type: "device", Name: "b"}, DeviceID: "shared-1", Status: hub.StatusEnabled, Desired: map[string]any{}}},
		},
		"empty map for_each makes no devices": {
			files: map[string]string{"main.hcl": `device "d" {
  for_each  = {}
  device_id = each.key
}`},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := NewLoader(folder(tt.files)).Load(tt.vars)
			if len(diags) > 0 {
				t.Fatalf("Load() diagnostics: %v", diags)
			}
			for _, d := range tt.want {
				if d.Auth.Type == "" {
					d.Auth.Type = AuthSAS
				}
			}
			if d := cmp.Diff(tt.want, cfg.Devices, cmpopts.IgnoreFields(Device{}, "DeclRange", "Ranges"), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Load() devices mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadRanges(t *testing.T) {
	fsys := folder(map[string]string{"main.hcl": fleetHCL, "fleet.csv": fleetCSV})
	cfg, diags := NewLoader(fsys).Load(nil)
	if diags.HasErrors() {
		t.Fatalf("Load() diagnostics: %v", diags)
	}
	type where struct {
		File       string
		Decl       int
		ID, Status int
		Tags       int
	}
	got := map[string]where{}
	for _, d := range cfg.Devices {
		got[d.Addr.String()] = where{
			File: d.DeclRange.Filename, Decl: d.DeclRange.Start.Line,
			ID: d.Ranges["device_id"].Start.Line, Status: d.Ranges["status"].Start.Line, Tags: d.Ranges["tags"].Start.Line,
		}
	}
	want := map[string]where{
		`device.gateway`:      {File: "main.hcl", Decl: 27, ID: 28, Status: 29, Tags: 31},
		`device.thermo["a1"]`: {File: "main.hcl", Decl: 42, ID: 44, Tags: 45},
		`device.thermo["b2"]`: {File: "main.hcl", Decl: 42, ID: 44, Tags: 45},
		`device.sensor["a"]`:  {File: "main.hcl", Decl: 48, ID: 50},
		`device.sensor["b"]`:  {File: "main.hcl", Decl: 48, ID: 50},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ranges mismatch (-want +got):\n%s", d)
	}
}

// diag is what the tests assert of a diagnostic: its summary and where its
// subject starts, never its wording.
type diag struct {
	Summary string
	File    string
	Line    int
}

func diagsOf(diags hcl.Diagnostics) []diag {
	var out []diag
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		g := diag{Summary: d.Summary}
		if d.Subject != nil {
			g.File, g.Line = d.Subject.Filename, d.Subject.Start.Line
		}
		out = append(out, g)
	}
	return out
}

func TestLoadDiagnostics(t *testing.T) {
	tests := map[string]struct {
		files map[string]string
		vars  map[string]string
		want  []diag
	}{
		"no configuration files": {
			files: map[string]string{"fleet.csv": "id\n"},
			want:  []diag{{Summary: "No configuration files"}},
		},
		"invalid device ID": {
			files: map[string]string{"main.hcl": `
device "gw" {
  status    = "enabled"
  device_id = "gw 01/east"
}`},
			want: []diag{{Summary: "Invalid device ID", File: "main.hcl", Line: 4}},
		},
		"invalid device ID of a for_each instance": {
			files: map[string]string{"fleet.hcl": `device "thermo" {
  for_each = toset(["a1", "b 2"])

  device_id = "thermo-${each.key}"
}`},
			want: []diag{{Summary: "Invalid device ID", File: "fleet.hcl", Line: 4}},
		},
		"duplicate device ID across blocks": {
			files: map[string]string{
				"a.hcl": `device "one" {
  device_id = "dup"
}`,
				"b.hcl": `

device "two" {
  device_id = "dup"
}`,
			},
			want: []diag{{Summary: "Duplicate device ID", File: "b.hcl", Line: 4}},
		},
		"duplicate device ID across instances": {
			files: map[string]string{"main.hcl": `device "d" {
  for_each  = { a = 1, b = 1 }
  device_id = "dev-${each.value}"
}`},
			want: []diag{{Summary: "Duplicate device ID", File: "main.hcl", Line: 3}},
		},
		"duplicate device block": {
			files: map[string]string{"main.hcl": `device "d" { device_id = "a" }
device "d" { device_id = "b" }`},
			want: []diag{{Summary: "Duplicate device block", File: "main.hcl", Line: 2}},
		},
		"unknown attribute": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  colour    = "blue"
}`},
			want: []diag{{Summary: "Unsupported argument", File: "main.hcl", Line: 3}},
		},
		"unknown nested block": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  lifecycl {}
}`},
			want: []diag{{Summary: "Unsupported block type", File: "main.hcl", Line: 3}},
		},
		"unknown top-level block": {
			files: map[string]string{"main.hcl": `device "d" { device_id = "d" }
devices "x" {}`},
			want: []diag{{Summary: "Unsupported block type", File: "main.hcl", Line: 2}},
		},
		"missing device_id": {
			files: map[string]string{"main.hcl": `device "d" {
  status = "enabled"
}`},
			want: []diag{{Summary: "Missing required argument", File: "main.hcl", Line: 1}},
		},
		"syntax error": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  tags = { a = }
}`},
			want: []diag{{Summary: "Invalid expression", File: "main.hcl", Line: 3}},
		},
		"for_each over a list": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = each.key
  for_each  = ["a", "b"]
}`},
			want: []diag{{Summary: "Invalid for_each argument", File: "main.hcl", Line: 3}},
		},
		"for_each over null": {
			files: map[string]string{"main.hcl": `device "d" {
  for_each  = null
  device_id = each.key
}`},
			want: []diag{{Summary: "Invalid for_each argument", File: "main.hcl", Line: 2}},
		},
		"for_each over a set of numbers": {
			files: map[string]string{"main.hcl": `device "d" {
  for_each  = toset([1, 2])
  device_id = each.key
}`},
			want: []diag{{Summary: "Invalid for_each argument", File: "main.hcl", Line: 2}},
		},
		"each without for_each": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = each.key
}`},
			want: []diag{{Summary: `Invalid reference to "each"`, File: "main.hcl", Line: 2}},
		},
		"invalid status, reported once for all instances": {
			files: map[string]string{"main.hcl": `device "d" {
  for_each  = toset(["a", "b"])
  device_id = each.key
  status    = "on"
}`},
			want: []diag{{Summary: "Invalid device status", File: "main.hcl", Line: 4}},
		},
		"status reason too long": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id     = "d"
  status_reason = join("", [for i in range(130) : "x"])
}`},
			want: []diag{{Summary: "Invalid status reason", File: "main.hcl", Line: 3}},
		},
		"bad twin keys": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  tags      = { "a.b" = 1 }
  desired = {
    ok = { "$x" = true }
  }
}`},
			want: []diag{
				{Summary: "Invalid twin property", File: "main.hcl", Line: 3},
				{Summary: "Invalid twin property", File: "main.hcl", Line: 4},
			},
		},
		"tags not an object": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  tags      = ["a"]
}`},
			want: []diag{{Summary: "Incorrect attribute value type", File: "main.hcl", Line: 3}},
		},
		"device_id not a string": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = { a = 1 }
}`},
			want: []diag{{Summary: "Incorrect attribute value type", File: "main.hcl", Line: 2}},
		},
		"missing required variable": {
			files: map[string]string{"main.hcl": `
variable "site" {
  type = string
}
device "d" { device_id = "d-${var.site}" }`},
			want: []diag{{Summary: "No value for required variable", File: "main.hcl", Line: 2}},
		},
		"undeclared -var": {
			files: map[string]string{"main.hcl": `device "d" { device_id = "d" }`},
			vars:  map[string]string{"nope": "1"},
			want:  []diag{{Summary: "Value for undeclared variable"}},
		},
		"-var of the wrong type": {
			files: map[string]string{"main.hcl": `variable "n" { type = number }
device "d" { device_id = "d-${var.n}" }`},
			vars: map[string]string{"n": `"ten"`},
			want: []diag{{Summary: "Invalid value for variable", File: "main.hcl", Line: 1}},
		},
		"-var that is not an expression": {
			files: map[string]string{"main.hcl": `variable "n" { type = list(string) }
device "d" { device_id = "d" }`},
			vars: map[string]string{"n": `[a`},
			want: []diag{{Summary: "Unterminated tuple constructor expression", File: "<value for var.n>", Line: 1}},
		},
		"default of the wrong type": {
			files: map[string]string{"main.hcl": `variable "n" {
  type    = number
  default = "ten"
}`},
			want: []diag{{Summary: "Invalid default value for variable", File: "main.hcl", Line: 3}},
		},
		"duplicate variable": {
			files: map[string]string{"main.hcl": `variable "a" { default = 1 }
variable "a" { default = 2 }`},
			want: []diag{{Summary: "Duplicate variable declaration", File: "main.hcl", Line: 2}},
		},
		"undeclared variable reference": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = var.nope
}`},
			want: []diag{{Summary: "Reference to undeclared input variable", File: "main.hcl", Line: 2}},
		},
		"local cycle": {
			files: map[string]string{"main.hcl": `locals {
  a = local.b
  b = "${local.c}-x"
  c = local.a
  d = local.a
}
device "d" { device_id = local.d }`},
			want: []diag{{Summary: "Cycle in local values", File: "main.hcl", Line: 2}},
		},
		"local refers to itself": {
			files: map[string]string{"main.hcl": `locals {
  ok = 1
  a  = [local.a]
}`},
			want: []diag{{Summary: "Cycle in local values", File: "main.hcl", Line: 3}},
		},
		"duplicate local": {
			files: map[string]string{"main.hcl": `locals { a = 1 }
locals {
  a = 2
}`},
			want: []diag{{Summary: "Duplicate local value", File: "main.hcl", Line: 3}},
		},
		"undeclared local": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = local.nope
}`},
			want: []diag{{Summary: "Reference to undeclared local value", File: "main.hcl", Line: 2}},
		},
		"file that does not exist": {
			files: map[string]string{"main.hcl": `locals {
  x = file("missing.csv")
}`},
			want: []diag{{Summary: "Invalid function argument", File: "main.hcl", Line: 2}},
		},
		"file outside the folder": {
			files: map[string]string{"main.hcl": `locals {
  x = file("../secret")
}`},
			want: []diag{{Summary: "Invalid function argument", File: "main.hcl", Line: 2}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := NewLoader(folder(tt.files)).Load(tt.vars)
			if d := cmp.Diff(tt.want, diagsOf(diags)); d != "" {
				t.Errorf("Load() diagnostics mismatch (-want +got):\n%s\nall: %v", d, diags)
			}
		})
	}
}

// TestDiagnosticDetails checks what the details must name, without fixing
// their wording.
func TestDiagnosticDetails(t *testing.T) {
	tests := map[string]struct {
		files    map[string]string
		mentions []string
	}{
		"instance address in an invalid device ID": {
			files: map[string]string{"main.hcl": `device "thermo" {
  for_each  = toset(["b 2"])
  device_id = "thermo-${each.key}"
}`},
			mentions: []string{`device.thermo["b 2"]`, hub.IDRule},
		},
		"both addresses and the other position in a duplicate ID": {
			files: map[string]string{"main.hcl": `device "one" { device_id = "dup" }
device "two" { device_id = "dup" }`},
			mentions: []string{"device.one", "device.two", "main.hcl:1,"},
		},
		"key path of a bad twin key": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  desired   = { outer = { "a.b" = 1 } }
}`},
			mentions: []string{`desired.outer["a.b"]`},
		},
		"toset hint for a list": {
			files: map[string]string{"main.hcl": `device "d" {
  for_each  = ["a"]
  device_id = each.key
}`},
			mentions: []string{"toset(", "tuple"},
		},
		"variable name of a missing value": {
			files:    map[string]string{"main.hcl": `variable "region" {}`},
			mentions: []string{`"region"`},
		},
		"path of a missing file": {
			files:    map[string]string{"main.hcl": `locals { x = file("fleet.csv") }`},
			mentions: []string{`"fleet.csv"`},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := NewLoader(folder(tt.files)).Load(nil)
			if len(diags) != 1 {
				t.Fatalf("Load() = %d diagnostics, want 1: %v", len(diags), diags)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(diags[0].Detail, m) {
					t.Errorf("detail %q does not mention %q", diags[0].Detail, m)
				}
			}
		})
	}
}

// TestSourceSnippets checks that Files lets the text writer point at the
// source by its plain relative name.
func TestSourceSnippets(t *testing.T) {
	l := NewLoader(folder(map[string]string{"main.hcl": `device "gw" {
  device_id = "gw 01/east"
}`}))
	_, diags := l.Load(nil)
	var buf bytes.Buffer
	if err := hcl.NewDiagnosticTextWriter(&buf, l.Files(), 0, false).WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`on main.hcl line 2, in device "gw":`, `device_id = "gw 01/east"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("rendered diagnostics lack %q:\n%s", want, buf.String())
		}
	}
}

// TestLoadAgain checks that a Loader evaluates its files again with other
// variable values, and reports syntax errors every time.
func TestLoadAgain(t *testing.T) {
	l := NewLoader(folder(map[string]string{"main.hcl": `variable "n" { default = "a" }
device "d" { device_id = "d-${var.n}" }`}))
	for _, n := range []string{"x", "y"} {
		cfg, diags := l.Load(map[string]string{"n": n})
		if diags.HasErrors() || len(cfg.Devices) != 1 || cfg.Devices[0].DeviceID != "d-"+n {
			t.Errorf("Load(n=%s) = %v, %v", n, cfg.Devices, diags)
		}
	}
	bad := NewLoader(folder(map[string]string{"main.hcl": `device "d" {`}))
	for range 2 {
		if _, diags := bad.Load(nil); !diags.HasErrors() {
			t.Errorf("Load() of a syntax error: no error")
		}
	}
}
