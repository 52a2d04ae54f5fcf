package config

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

// render writes a value as the CLI would: sensitive parts hidden, unknown
// parts known after apply.
func render(v cty.Value) string {
	if v.HasMark(SensitiveMark) {
		return "(sensitive value)"
	}
	if !v.IsKnown() {
		return "(known after apply)"
	}
	if v.IsMarked() {
		v, _ = v.Unmark()
	}
	ty := v.Type()
	switch {
	case v.IsNull():
		return "null"
	case ty == cty.String:
		return `"` + v.AsString() + `"`
	case ty == cty.Number:
		return v.AsBigFloat().String()
	case ty == cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		s := "["
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if len(s) > 1 {
				s += ", "
			}
			s += render(e)
		}
		return s + "]"
	case ty.IsObjectType() || ty.IsMapType():
		s := "{"
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if len(s) > 1 {
				s += ", "
			}
			s += k.AsString() + " = " + render(e)
		}
		return s + "}"
	}
	return v.GoString()
}

func outputsOf(cfg *Config) map[string]string {
	out := map[string]string{}
	for _, o := range cfg.Outputs {
		s := render(o.Value)
		if o.Sensitive {
			s += " sensitive"
		}
		out[o.Name] = s
	}
	return out
}

const outputsHCL = `variable "token" {
  default   = "t0k"
  sensitive = true
}
device "gw" {
  device_id = "gw-1"
  edge      = true
}
device "thermo" {
  for_each    = toset(["a", "b"])
  device_id   = "thermo-${each.key}"
  parent      = device.gw.device_id
  key_version = 1
  desired     = { token = var.token, interval = 10 }
}
device_module "agent" {
  device_id = device.gw.device_id
  module_id = "agent"
}
output "ids" {
  value       = [for d in device.thermo : d.device_id]
  description = "The thermostats."
}
output "gw_key" {
  value     = device.gw.primary_key
  sensitive = true
}
output "gw_conn" {
  value     = device.gw.connection_string
  sensitive = true
}
output "generation" { value = device.gw.generation_id }
output "thermo_gen" { value = device.thermo["a"].generation_id }
output "module" { value = "${device_module.agent.device_id}/${device_module.agent.module_id}" }
output "intervals" { value = { for k, d in device.thermo : k => d.desired.interval } }
output "token_safe" { value = nonsensitive(var.token) }
output "status" { value = device.gw.status }
`

func TestOutputs(t *testing.T) {
	tests := map[string]struct {
		known func(string) (map[string]cty.Value, bool)
		want  map[string]string
	}{
		"before the first apply": {
			want: map[string]string{
				"ids":        `["thermo-a", "thermo-b"]`,
				"gw_key":     "(sensitive value) sensitive",
				"gw_conn":    "(sensitive value) sensitive",
				"generation": "(known after apply)",
				"thermo_gen": "(known after apply)",
				"module":     `"gw-1/agent"`,
				"intervals":  "{a = 10, b = 10}",
				"token_safe": `"t0k"`,
				"status":     `"enabled"`,
			},
		},
		"with known values": {
			known: func(addr string) (map[string]cty.Value, bool) {
				switch addr {
				case "device.gw":
					return map[string]cty.Value{
						"device_id": cty.StringVal("gw-1"), "auth_type": cty.StringVal("sas"), "key_version": cty.Zero,
						"primary_key": cty.StringVal(keyA), "secondary_key": cty.StringVal(keyB), "generation_id": cty.StringVal("6359"),
					}, true
				case `device.thermo["a"]`: // its key_version is now 1: keys and all are renewed
					return map[string]cty.Value{
						"device_id": cty.StringVal("thermo-a"), "key_version": cty.Zero, "generation_id": cty.StringVal("1"),
					}, true
				}
				return nil, false
			},
			want: map[string]string{
				"ids":        `["thermo-a", "thermo-b"]`,
				"gw_key":     "(sensitive value) sensitive",
				"gw_conn":    "(sensitive value) sensitive",
				"generation": `"6359"`,
				"thermo_gen": "(known after apply)",
				"module":     `"gw-1/agent"`,
				"intervals":  "{a = 10, b = 10}",
				"token_safe": `"t0k"`,
				"status":     `"enabled"`,
			},
		},
		"known values of another identity": {
			known: func(addr string) (map[string]cty.Value, bool) {
				return map[string]cty.Value{"device_id": cty.StringVal("gw-old"), "generation_id": cty.StringVal("9")}, addr == "device.gw"
			},
			want: map[string]string{
				"ids":        `["thermo-a", "thermo-b"]`,
				"gw_key":     "(sensitive value) sensitive",
				"gw_conn":    "(sensitive value) sensitive",
				"generation": "(known after apply)",
				"thermo_gen": "(known after apply)",
				"module":     `"gw-1/agent"`,
				"intervals":  "{a = 10, b = 10}",
				"token_safe": `"t0k"`,
				"status":     `"enabled"`,
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := NewLoader(folder(map[string]string{"main.hcl": outputsHCL})).LoadWith(LoadOptions{Known: tt.known})
			if len(diags) > 0 {
				t.Fatalf("Load() diagnostics: %v", diags)
			}
			if d := cmp.Diff(tt.want, outputsOf(cfg)); d != "" {
				t.Errorf("outputs mismatch (-want +got):\n%s", d)
			}
			var names []string
			for _, o := range cfg.Outputs {
				names = append(names, o.Name)
			}
			if !slices.IsSorted(names) {
				t.Errorf("outputs are not sorted by name: %v", names)
			}
		})
	}
}

// TestKnownValues checks that known keys reach outputs unchanged, and that
// no mark but SensitiveMark leaves the package.
func TestKnownValues(t *testing.T) {
	src := `device "gw" { device_id = "gw-1" }
output "key" {
  value     = device.gw.primary_key
  sensitive = true
}
output "both" {
  value     = [device.gw.primary_key, device.gw.device_id]
  sensitive = true
}`
	known := func(addr string) (map[string]cty.Value, bool) {
		return map[string]cty.Value{"device_id": cty.StringVal("gw-1"), "primary_key": cty.StringVal(keyA), "secondary_key": cty.StringVal(keyB)}, true
	}
	cfg, diags := NewLoader(folder(map[string]string{"main.hcl": src})).LoadWith(LoadOptions{Known: known})
	if len(diags) > 0 {
		t.Fatalf("Load() diagnostics: %v", diags)
	}
	for _, o := range cfg.Outputs {
		uv, pvm := o.Value.UnmarkDeepWithPaths()
		for _, pm := range pvm {
			for m := range pm.Marks {
				if m != SensitiveMark {
					t.Errorf("output %s carries mark %#v", o.Name, m)
				}
			}
		}
		if o.Name == "key" && uv.AsString() != keyA {
			t.Errorf("output key = %q, want the known key", uv.AsString())
		}
	}
}

// TestSensitive checks that the model records which values are sensitive.
func TestSensitive(t *testing.T) {
	src := `variable "secret" {
  default   = "s3cr3t"
  sensitive = true
}
variable "plain" { default = "p" }
device "a" {
  device_id = "a"
  tags      = { owner = var.plain }
  desired   = { auth = { token = var.secret, user = "u" }, list = [var.secret], wrapped = sensitive("w") }
}
device "b" {
  device_id = "b"
  auth {
    primary_key   = "` + keyA + `"
    secondary_key = "` + keyB + `"
  }
}
device_module "m" {
  device_id = "a"
  module_id = "m"
  tags      = { copied = device.b.primary_key }
}
output "hidden" {
  value     = var.secret
  sensitive = true
}
output "partly" {
  value     = { plain = var.plain, secret = var.secret }
  sensitive = true
}`
	cfg, diags := NewLoader(folder(map[string]string{"main.hcl": src})).Load(nil)
	if len(diags) > 0 {
		t.Fatalf("Load() diagnostics: %v", diags)
	}
	got := map[string][]string{}
	for _, d := range cfg.Devices {
		got[d.Addr.String()] = d.Sensitive
	}
	for _, m := range cfg.Modules {
		got[m.Addr.String()] = m.Sensitive
	}
	want := map[string][]string{
		"device.a":        {"desired.auth.token", "desired.list", "desired.wrapped"},
		"device.b":        {"auth.primary_key", "auth.secondary_key"},
		"device_module.m": {"tags.copied"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sensitive paths mismatch (-want +got):\n%s", d)
	}
	for _, o := range cfg.Outputs {
		if !o.Sensitive || !o.Value.HasMark(SensitiveMark) {
			t.Errorf("output %s: Sensitive %v, marked %v", o.Name, o.Sensitive, o.Value.HasMark(SensitiveMark))
		}
	}
	if d := cfg.Devices[0]; d.Desired["auth"].(map[string]any)["token"] != "s3cr3t" {
		t.Errorf("the model lost the sensitive value: %v", d.Desired)
	}
}
