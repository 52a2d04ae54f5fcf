package config

import (
	"io"
	"sort"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub"
)

// FuzzLoad loads one main.hcl made of the fuzz input. Loading must never
// panic; a configuration without errors must give sorted instances with
// valid, unique IDs, at most 50 modules per device, an acyclic graph and
// outputs with no mark but SensitiveMark; every diagnostic must render.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(fleetHCL))
	f.Add([]byte(outputsHCL))
	f.Fuzz(func(t *testing.T, src []byte) {
		fsys := fstest.MapFS{
			"main.hcl":        {Data: src},
			"fleet.csv":       {Data: []byte(fleetCSV)},
			"iotplan.iotvars": {Data: []byte("site = \"oslo\"\n")},
		}
		l := NewLoader(fsys)
		cfg, diags := l.LoadWith(LoadOptions{
			Vars: []VarOption{{Name: "site", Value: "paris"}},
			Env:  map[string]string{"IOTPLAN_VAR_floors": "[4]", "HUB": "HostName=h;SharedAccessKeyName=o;SharedAccessKey=" + keyA},
			Known: func(addr string) (map[string]cty.Value, bool) {
				return map[string]cty.Value{"generation_id": cty.StringVal("1"), "primary_key": cty.StringVal(keyA)}, addr == "device.gw"
			},
		})
		if cfg == nil {
			t.Fatal("Load() returned a nil Config")
		}
		if err := hcl.NewDiagnosticTextWriter(io.Discard, l.Files(), 80, false).WriteDiagnostics(diags); err != nil {
			t.Fatalf("rendering diagnostics: %v", err)
		}
		if diags.HasErrors() {
			return
		}
		if !sort.SliceIsSorted(cfg.Devices, func(i, j int) bool { return addrLess(cfg.Devices[i].Addr, cfg.Devices[j].Addr) }) {
			t.Error("devices are not sorted by address")
		}
		if !sort.SliceIsSorted(cfg.Modules, func(i, j int) bool { return addrLess(cfg.Modules[i].Addr, cfg.Modules[j].Addr) }) {
			t.Error("modules are not sorted by address")
		}
		ids := map[string]bool{}
		for _, d := range cfg.Devices {
			if err := hub.ValidateID(d.DeviceID); err != nil {
				t.Errorf("%s: invalid ID passed: %v", d.Addr, err)
			}
			if ids[d.DeviceID] {
				t.Errorf("%s: duplicate ID %q passed", d.Addr, d.DeviceID)
			}
			ids[d.DeviceID] = true
			if len(hub.ValidateTwinSection(hub.SectionTags, d.Tags, false)) > 0 || len(hub.ValidateTwinSection(hub.SectionDesired, d.Desired, false)) > 0 {
				t.Errorf("%s: invalid twin passed", d.Addr)
			}
			if d.Auth.PrimaryKey != "" && hub.ValidateSymmetricKey(d.Auth.PrimaryKey) != nil {
				t.Errorf("%s: invalid key passed", d.Addr)
			}
		}
		perDevice := map[string]int{}
		for _, m := range cfg.Modules {
			if hub.ValidateID(m.DeviceID) != nil || hub.ValidateID(m.ModuleID) != nil {
				t.Errorf("%s: invalid ID passed", m.Addr)
			}
			perDevice[m.DeviceID]++
			if perDevice[m.DeviceID] > hub.MaxModulesPerDevice {
				t.Errorf("%s: more than %d modules on %q passed", m.Addr, hub.MaxModulesPerDevice, m.DeviceID)
			}
		}
		if g := cfg.Graph(); len(g.Cycles) > 0 || len(g.Order) != len(g.Nodes) {
			t.Errorf("graph with cycles passed: %v", g.Cycles)
		}
		for _, o := range cfg.Outputs {
			_, pvm := o.Value.UnmarkDeepWithPaths()
			for _, pm := range pvm {
				for m := range pm.Marks {
					if m != SensitiveMark {
						t.Errorf("output %s carries mark %#v", o.Name, m)
					}
				}
			}
		}
	})
}
