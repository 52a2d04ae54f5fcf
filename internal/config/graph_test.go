package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestGraph(t *testing.T) {
	src := `device "gw" {
  device_id = "gw"
  edge      = true
}
device "leaf" {
  count     = 2
  device_id = "leaf-${count.index}"
  parent    = "gw"
}
device_module "agent" {
  for_each  = toset(["leaf-0", "leaf-1"])
  device_id = each.key
  module_id = "agent"
}
locals { first = device.leaf[0].device_id }
device "watcher" {
  device_id = "watcher"
  tags      = { watches = local.first }
}
device "lonely" { device_id = "lonely" }`
	cfg, diags := NewLoader(folder(map[string]string{"main.hcl": src})).Load(nil)
	if len(diags) > 0 {
		t.Fatalf("Load() diagnostics: %v", diags)
	}
	g := cfg.Graph()
	want := &Graph{
		Nodes: []string{"device.gw", "device.leaf[0]", "device.leaf[1]", "device.lonely", "device.watcher", `device_module.agent["leaf-0"]`, `device_module.agent["leaf-1"]`},
		Edges: map[string][]string{
			"device.gw":                     nil,
			"device.leaf[0]":                {"device.gw"},
			"device.leaf[1]":                {"device.gw"},
			"device.lonely":                 nil,
			"device.watcher":                {"device.leaf[0]"},
			`device_module.agent["leaf-0"]`: {"device.leaf[0]"},
			`device_module.agent["leaf-1"]`: {"device.leaf[1]"},
		},
		Levels: [][]string{
			{"device.gw", "device.lonely"},
			{"device.leaf[0]", "device.leaf[1]"},
			{"device.watcher", `device_module.agent["leaf-0"]`, `device_module.agent["leaf-1"]`},
		},
		Order: []string{"device.gw", "device.lonely", "device.leaf[0]", "device.leaf[1]", "device.watcher", `device_module.agent["leaf-0"]`, `device_module.agent["leaf-1"]`},
	}
	if d := cmp.Diff(want, g, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Graph() mismatch (-want +got):\n%s", d)
	}
}

// TestGraphCycles builds graphs by hand, as callers of the model may.
func TestGraphCycles(t *testing.T) {
	dev := func(name string, deps ...string) *Device {
		return &Device{Addr: Addr{Type: TypeDevice, Name: name}, DeviceID: name, Dependencies: deps}
	}
	cfg := &Config{
		Devices: []*Device{
			dev("a", "device.b"),
			dev("b", "device.c"),
			dev("c", "device.a"),
			dev("d", "device.a"),
			dev("e", "device.e"),
			dev("f", "device.missing"),
		},
	}
	g := cfg.Graph()
	if d := cmp.Diff([][]string{{"device.a", "device.b", "device.c"}, {"device.e"}}, g.Cycles); d != "" {
		t.Errorf("Cycles mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"device.f"}, g.Order); d != "" {
		t.Errorf("Order mismatch (-want +got):\n%s", d)
	}
	if len(g.Edges["device.f"]) != 0 {
		t.Errorf("an edge to an address outside the configuration was kept: %v", g.Edges["device.f"])
	}
}
