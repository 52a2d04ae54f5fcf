package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotplan/iotplan/internal/hub"
)

// ignoreRanges leaves source ranges out of model comparisons.
var ignoreRanges = cmp.Options{
	cmpopts.IgnoreFields(Device{}, "DeclRange", "Ranges"),
	cmpopts.IgnoreFields(Module{}, "DeclRange", "Ranges"),
	cmpopts.EquateEmpty(),
}

const (
	keyA = "MDEyMzQ1Njc4OWFiY2RlZg==" // base64 of 16 bytes
	keyB = "ZmVkY2JhOTg3NjU0MzIxMA=="
)

func TestLoadDevices(t *testing.T) {
	sas := Auth{Type: AuthSAS}
	tests := map[string]struct {
		src  string
		want []*Device
	}{
		"count": {
			src: `device "s" {
  count     = 3
  device_id = "s-${count.index}"
  tags      = { n = count.index }
}`,
			want: []*Device{
				{Addr: Addr{Type: TypeDevice, Name: "s", Key: 0}, DeviceID: "s-0", Status: hub.StatusEnabled, Auth: sas, Tags: map[string]any{"n": 0.0}},
				{Addr: Addr{Type: TypeDevice, Name: "s", Key: 1}, DeviceID: "s-1", Status: hub.StatusEnabled, Auth: sas, Tags: map[string]any{"n": 1.0}},
				{Addr: Addr{Type: TypeDevice, Name: "s", Key: 2}, DeviceID: "s-2", Status: hub.StatusEnabled, Auth: sas, Tags: map[string]any{"n": 2.0}},
			},
		},
		"count of zero": {
			src: `device "s" {
  count     = 0
  device_id = "s"
}`,
		},
		"count indexes sort as numbers": {
			src: `device "s" {
  count     = 11
  device_id = "s-${count.index}"
}`,
			want: func() []*Device {
				var out []*Device
				for i := range 11 {
					out = append(out, &Device{Addr: Addr{Type: TypeDevice, Name: "s", Key: i}, DeviceID: fmt.Sprintf("s-%d", i), Status: hub.StatusEnabled, Auth: sas})
				}
				return out
			}(),
		},
		"auth as a type name": {
			src: `device "d" {
  device_id = "d"
  auth      = "none"
}`,
			want: []*Device{{Addr: Addr{Type: TypeDevice, Name: "d"}, DeviceID: "d", Status: hub.StatusEnabled, Auth: Auth{Type: AuthNone}}},
		},
		"auth as an object with thumbprints": {
			src: `device "d" {
  device_id = "d"
  auth = {
    type                 = "x509_thumbprint"
    primary_thumbprint   = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
    secondary_thumbprint = "CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34"
  }
}`,
			want: []*Device{{Addr: Addr{Type: TypeDevice, Name: "d"}, DeviceID: "d", Status: hub.StatusEnabled, Auth: Auth{
				Type:                AuthX509Thumbprint,
				PrimaryThumbprint:   "AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12",
				SecondaryThumbprint: "CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34",
			}}},
		},
		"auth block with explicit keys": {
			src: `device "d" {
  device_id = "d"
  auth {
    type          = "sas"
    primary_key   = "` + keyA + `"
    secondary_key = "` + keyB + `"
  }
}`,
			want: []*Device{{Addr: Addr{Type: TypeDevice, Name: "d"}, DeviceID: "d", Status: hub.StatusEnabled,
				Auth:      Auth{Type: AuthSAS, PrimaryKey: keyA, SecondaryKey: keyB},
				Sensitive: []string{"auth.primary_key", "auth.secondary_key"}}},
		},
		"x509 CA": {
			src: `device "d" {
  device_id = "d"
  auth { type = "x509_ca" }
}`,
			want: []*Device{{Addr: Addr{Type: TypeDevice, Name: "d"}, DeviceID: "d", Status: hub.StatusEnabled, Auth: Auth{Type: AuthX509CA}}},
		},
		"edge gateway, child and key version": {
			src: `device "gw" {
  device_id = "gw-1"
  edge      = true
}
device "leaf" {
  device_id   = "leaf-1"
  parent      = device.gw.device_id
  key_version = 3
}`,
			want: []*Device{
				{Addr: Addr{Type: TypeDevice, Name: "gw"}, DeviceID: "gw-1", Status: hub.StatusEnabled, Auth: sas, Edge: true},
				{Addr: Addr{Type: TypeDevice, Name: "leaf"}, DeviceID: "leaf-1", Status: hub.StatusEnabled, Auth: sas, Parent: "gw-1", KeyVersion: 3,
					Dependencies: []string{"device.gw"}},
			},
		},
		"parent outside the configuration": {
			src: `device "leaf" {
  device_id = "leaf-1"
  parent    = "gw-elsewhere"
}`,
			want: []*Device{{Addr: Addr{Type: TypeDevice, Name: "leaf"}, DeviceID: "leaf-1", Status: hub.StatusEnabled, Auth: sas, Parent: "gw-elsewhere"}},
		},
		"lifecycle": {
			src: `device "d" {
  device_id = "d"
  lifecycle {
    prevent_destroy = true
    ignore_changes  = [tags.lastService, desired["telemetry"].interval, status, "tags.owner", tags.lastService]
  }
}`,
			want: []*Device{{Addr: Addr{Type: TypeDevice, Name: "d"}, DeviceID: "d", Status: hub.StatusEnabled, Auth: sas,
				Lifecycle: Lifecycle{PreventDestroy: true, IgnoreChanges: []string{"desired.telemetry.interval", "status", "tags.lastService", "tags.owner"}}}},
		},
		"ignore all changes": {
			src: `device "d" {
  device_id = "d"
  lifecycle { ignore_changes = all }
}`,
			want: []*Device{{Addr: Addr{Type: TypeDevice, Name: "d"}, DeviceID: "d", Status: hub.StatusEnabled, Auth: sas,
				Lifecycle: Lifecycle{IgnoreChanges: []string{"auth", "desired", "edge", "parent", "status", "status_reason", "tags"}}}},
		},
		"depends_on": {
			src: `device "a" {
  for_each  = toset(["x", "y"])
  device_id = "a-${each.key}"
}
device "b" { device_id = "b" }
device "c" {
  device_id  = "c"
  depends_on = [device.a, device.b]
}
device "d" {
  device_id  = "d"
  depends_on = [device.a["y"]]
}`,
			want: []*Device{
				{Addr: Addr{Type: TypeDevice, Name: "a", Key: "x"}, DeviceID: "a-x", Status: hub.StatusEnabled, Auth: sas},
				{Addr: Addr{Type: TypeDevice, Name: "a", Key: "y"}, DeviceID: "a-y", Status: hub.StatusEnabled, Auth: sas},
				{Addr: Addr{Type: TypeDevice, Name: "b"}, DeviceID: "b", Status: hub.StatusEnabled, Auth: sas},
				{Addr: Addr{Type: TypeDevice, Name: "c"}, DeviceID: "c", Status: hub.StatusEnabled, Auth: sas,
					DependsOn: []string{"device.a", "device.b"}, Dependencies: []string{`device.a["x"]`, `device.a["y"]`, "device.b"}},
				{Addr: Addr{Type: TypeDevice, Name: "d"}, DeviceID: "d", Status: hub.StatusEnabled, Auth: sas,
					DependsOn: []string{`device.a["y"]`}, Dependencies: []string{`device.a["y"]`}},
			},
		},
		"references between for_each instances": {
			src: `device "gw" {
  for_each  = toset(["north", "south"])
  device_id = "gw-${each.key}"
  edge      = true
}
device "leaf" {
  for_each  = { a = "north", b = "south" }
  device_id = "leaf-${each.key}"
  parent    = device.gw[each.value].device_id
  tags      = { gateway = device.gw["north"].device_id }
}`,
			want: []*Device{
				{Addr: Addr{Type: TypeDevice, Name: "gw", Key: "north"}, DeviceID: "gw-north", Status: hub.StatusEnabled, Auth: sas, Edge: true},
				{Addr: Addr{Type: TypeDevice, Name: "gw", Key: "south"}, DeviceID: "gw-south", Status: hub.StatusEnabled, Auth: sas, Edge: true},
				{Addr: Addr{Type: TypeDevice, Name: "leaf", Key: "a"}, DeviceID: "leaf-a", Status: hub.StatusEnabled, Auth: sas, Parent: "gw-north",
					Tags: map[string]any{"gateway": "gw-north"}, Dependencies: []string{`device.gw["north"]`, `device.gw["south"]`}},
				{Addr: Addr{Type: TypeDevice, Name: "leaf", Key: "b"}, DeviceID: "leaf-b", Status: hub.StatusEnabled, Auth: sas, Parent: "gw-south",
					Tags: map[string]any{"gateway": "gw-north"}, Dependencies: []string{`device.gw["north"]`, `device.gw["south"]`}},
			},
		},
		"for_each over a resource": {
			src: `device "thermo" {
  for_each  = toset(["a", "b"])
  device_id = "thermo-${each.key}"
}
device "shadow" {
  for_each  = device.thermo
  device_id = "shadow-${each.value.device_id}"
  tags      = { of = each.key }
}`,
			want: []*Device{
				{Addr: Addr{Type: TypeDevice, Name: "shadow", Key: "a"}, DeviceID: "shadow-thermo-a", Status: hub.StatusEnabled, Auth: sas,
					Tags: map[string]any{"of": "a"}, Dependencies: []string{`device.thermo["a"]`, `device.thermo["b"]`}},
				{Addr: Addr{Type: TypeDevice, Name: "shadow", Key: "b"}, DeviceID: "shadow-thermo-b", Status: hub.StatusEnabled, Auth: sas,
					Tags: map[string]any{"of": "b"}, Dependencies: []string{`device.thermo["a"]`, `device.thermo["b"]`}},
				{Addr: Addr{Type: TypeDevice, Name: "thermo", Key: "a"}, DeviceID: "thermo-a", Status: hub.StatusEnabled, Auth: sas},
				{Addr: Addr{Type: TypeDevice, Name: "thermo", Key: "b"}, DeviceID: "thermo-b", Status: hub.StatusEnabled, Auth: sas},
			},
		},
		"for expression over a resource": {
			src: `device "s" {
  count     = 2
  device_id = "s-${count.index}"
}
device "summary" {
  device_id = "summary"
  desired   = { sensors = [for s in device.s : s.device_id], first = device.s[0].status }
}`,
			want: []*Device{
				{Addr: Addr{Type: TypeDevice, Name: "s", Key: 0}, DeviceID: "s-0", Status: hub.StatusEnabled, Auth: sas},
				{Addr: Addr{Type: TypeDevice, Name: "s", Key: 1}, DeviceID: "s-1", Status: hub.StatusEnabled, Auth: sas},
				{Addr: Addr{Type: TypeDevice, Name: "summary"}, DeviceID: "summary", Status: hub.StatusEnabled, Auth: sas,
					Desired: map[string]any{"sensors": []any{"s-0", "s-1"}, "first": "enabled"}, Dependencies: []string{"device.s[0]", "device.s[1]"}},
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := NewLoader(folder(map[string]string{"main.hcl": tt.src})).Load(nil)
			if len(diags) > 0 {
				t.Fatalf("Load() diagnostics: %v", diags)
			}
			if d := cmp.Diff(tt.want, cfg.Devices, ignoreRanges); d != "" {
				t.Errorf("Load() devices mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadModules(t *testing.T) {
	src := `device "gw" {
  device_id = "gw-1"
  edge      = true
}
device_module "sensor" {
  for_each   = toset(["temp", "hum"])
  device_id  = device.gw.device_id
  module_id  = "${each.key}Sensor"
  managed_by = "IotEdge"
  tags       = { kind = each.key }
  desired    = { interval = 10 }
  lifecycle { ignore_changes = [managed_by, desired.interval] }
}
device_module "agent" {
  device_id   = "other-device"
  module_id   = "agent"
  auth        = "x509_ca"
  depends_on  = [device_module.sensor]
}
device_module "keyed" {
  count       = 1
  device_id   = "other-device"
  module_id   = "keyed"
  key_version = 2
}`
	sas := Auth{Type: AuthSAS}
	want := []*Module{
		{Addr: Addr{Type: TypeModule, Name: "agent"}, DeviceID: "other-device", ModuleID: "agent", Auth: Auth{Type: AuthX509CA},
			DependsOn: []string{"device_module.sensor"}, Dependencies: []string{`device_module.sensor["hum"]`, `device_module.sensor["temp"]`}},
		{Addr: Addr{Type: TypeModule, Name: "keyed", Key: 0}, DeviceID: "other-device", ModuleID: "keyed", Auth: sas, KeyVersion: 2},
		{Addr: Addr{Type: TypeModule, Name: "sensor", Key: "hum"}, DeviceID: "gw-1", ModuleID: "humSensor", Auth: sas, ManagedBy: "IotEdge",
			Tags: map[string]any{"kind": "hum"}, Desired: map[string]any{"interval": 10.0},
			Lifecycle: Lifecycle{IgnoreChanges: []string{"desired.interval", "managed_by"}}, Dependencies: []string{"device.gw"}},
		{Addr: Addr{Type: TypeModule, Name: "sensor", Key: "temp"}, DeviceID: "gw-1", ModuleID: "tempSensor", Auth: sas, ManagedBy: "IotEdge",
			Tags: map[string]any{"kind": "temp"}, Desired: map[string]any{"interval": 10.0},
			Lifecycle: Lifecycle{IgnoreChanges: []string{"desired.interval", "managed_by"}}, Dependencies: []string{"device.gw"}},
	}
	cfg, diags := NewLoader(folder(map[string]string{"main.hcl": src})).Load(nil)
	if len(diags) > 0 {
		t.Fatalf("Load() diagnostics: %v", diags)
	}
	if d := cmp.Diff(want, cfg.Modules, ignoreRanges); d != "" {
		t.Errorf("Load() modules mismatch (-want +got):\n%s", d)
	}
}

// TestModulesPerDevice checks that exactly the hub's limit passes, counted
// across blocks and instances.
func TestModulesPerDevice(t *testing.T) {
	src := fmt.Sprintf(`device_module "a" {
  count     = %d
  device_id = "gw"
  module_id = "a${count.index}"
}
device_module "b" {
  device_id = "gw"
  module_id = "b"
}
device_module "other" {
  count     = %d
  device_id = "gw-2"
  module_id = "m${count.index}"
}`, hub.MaxModulesPerDevice-1, hub.MaxModulesPerDevice)
	cfg, diags := NewLoader(folder(map[string]string{"main.hcl": src})).Load(nil)
	if len(diags) > 0 {
		t.Fatalf("Load() diagnostics: %v", diags)
	}
	if got, want := len(cfg.Modules), 2*hub.MaxModulesPerDevice; got != want {
		t.Errorf("Load() = %d modules, want %d", got, want)
	}
}

// TestForEachCSV loads a fleet of 1,000 devices from a CSV file.
func TestForEachCSV(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("id,site,floor\n")
	for i := range 1000 {
		fmt.Fprintf(&csv, "t%04d,%s,%d\n", i, []string{"berlin", "paris"}[i%2], i%7)
	}
	src := `locals {
  fleet = { for d in csvdecode(file("fleet.csv")) : d.id => d }
}
device "thermo" {
  for_each  = local.fleet
  device_id = "thermo-${each.key}"
  tags      = { site = each.value.site, floor = tonumber(each.value.floor) }
  desired   = { telemetryInterval = 10 }
}
output "count" { value = length(device.thermo) }`
	cfg, diags := NewLoader(folder(map[string]string{"main.hcl": src, "fleet.csv": csv.String()})).Load(nil)
	if len(diags) > 0 {
		t.Fatalf("Load() diagnostics: %v", diags)
	}
	if len(cfg.Devices) != 1000 {
		t.Fatalf("Load() = %d devices, want 1000", len(cfg.Devices))
	}
	d := cfg.Devices[517]
	want := &Device{Addr: Addr{Type: TypeDevice, Name: "thermo", Key: "t0517"}, DeviceID: "thermo-t0517", Status: hub.StatusEnabled,
		Auth: Auth{Type: AuthSAS}, Tags: map[string]any{"site": "paris", "floor": 6.0}, Desired: map[string]any{"telemetryInterval": 10.0}}
	if diff := cmp.Diff(want, d, ignoreRanges); diff != "" {
		t.Errorf("device 517 mismatch (-want +got):\n%s", diff)
	}
	if got := cfg.Outputs[0].Value.AsBigFloat().String(); got != "1000" {
		t.Errorf("output count = %s, want 1000", got)
	}
	if n := len(cfg.Graph().Levels); n != 1 {
		t.Errorf("graph has %d levels, want 1", n)
	}
}

func TestParseAddr(t *testing.T) {
	tests := map[string]struct {
		want    Addr
		wantErr bool
	}{
		`device.gw`:                 {want: Addr{Type: TypeDevice, Name: "gw"}},
		`device.thermo["a-1"]`:      {want: Addr{Type: TypeDevice, Name: "thermo", Key: "a-1"}},
		`device_module.agent[3]`:    {want: Addr{Type: TypeModule, Name: "agent", Key: 3}},
		`device.x[-1]`:              {wantErr: true},
		`device.x[1.5]`:             {wantErr: true},
		`job.x`:                     {wantErr: true},
		`device`:                    {wantErr: true},
		`device.x.device_id`:        {wantErr: true},
		`device.x["a"]["b"]`:        {wantErr: true},
		`device.x[`:                 {wantErr: true},
		`device_module.agent[true]`: {wantErr: true},
	}
	for in, tt := range tests {
		t.Run(in, func(t *testing.T) {
			got, err := ParseAddr(in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseAddr(%s) error = %v, want error %v", in, err, tt.wantErr)
			}
			if err == nil {
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("ParseAddr(%s) mismatch (-want +got):\n%s", in, d)
				}
				if got.String() != in {
					t.Errorf("ParseAddr(%s).String() = %s", in, got.String())
				}
			}
		})
	}
}

func TestLifecycleIgnores(t *testing.T) {
	lc := Lifecycle{IgnoreChanges: []string{"desired.telemetry", "status", "tags.site"}}
	tests := map[string]bool{
		"status":                     true,
		"status_reason":              false,
		"tags.site":                  true,
		"tags.sites":                 false,
		"tags":                       false,
		"desired.telemetry.interval": true,
		"desired.telemetryX":         false,
	}
	for path, want := range tests {
		if got := lc.Ignores(path); got != want {
			t.Errorf("Ignores(%q) = %v, want %v", path, got, want)
		}
	}
}
