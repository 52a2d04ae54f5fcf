package config

import (
	"io"
	"sort"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/hub"
)

// FuzzLoad loads one main.hcl made of the fuzz input. Loading must never
// panic; a configuration without errors must give sorted devices with valid,
// unique IDs; every diagnostic must render.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(fleetHCL))
	f.Fuzz(func(t *testing.T, src []byte) {
		fsys := fstest.MapFS{
			"main.hcl":  {Data: src},
			"fleet.csv": {Data: []byte(fleetCSV)},
		}
		l := NewLoader(fsys)
		cfg, diags := l.Load(map[string]string{"site": "paris"})
		if cfg == nil {
			t.Fatal("Load() returned a nil Config")
		}
		if err := hcl.NewDiagnosticTextWriter(io.Discard, l.Files(), 80, false).WriteDiagnostics(diags); err != nil {
			t.Fatalf("rendering diagnostics: %v", err)
		}
		if diags.HasErrors() {
			return
		}
		if !sort.SliceIsSorted(cfg.Devices, func(i, j int) bool { return cfg.Devices[i].Addr.String() < cfg.Devices[j].Addr.String() }) {
			t.Error("devices are not sorted by address")
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
		}
	})
}
