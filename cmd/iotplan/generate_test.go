package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
)

func TestGenerateConfig(t *testing.T) {
	twin := func(id string, tags, desired map[string]any) importedTwin {
		return importedTwin{twin: &hub.Twin{DeviceID: id, Status: hub.StatusEnabled}, tags: tags, desired: desired}
	}
	odd := twin("odd:1", map[string]any{"a:b": "${not a template}", "n": []any{1.0, "x"}}, nil)
	odd.twin.Status, odd.twin.StatusReason = hub.StatusDisabled, "broken"
	mod := importedTwin{twin: &hub.Twin{DeviceID: "gw-1", ModuleID: "agent"}, module: true, desired: map[string]any{"level": "info"}}
	mod2 := importedTwin{twin: &hub.Twin{DeviceID: "gw-2", ModuleID: "agent"}, module: true, desired: map[string]any{"level": "debug"}}
	twins := []importedTwin{
		twin("thermo-1", map[string]any{"site": "berlin", "loc": map[string]any{"floor": 1.0}}, map[string]any{"i": 5.0}),
		twin("thermo-2", map[string]any{"site": "paris", "loc": map[string]any{"floor": 1.0}}, map[string]any{"i": 5.0}),
		odd, mod, mod2,
	}
	src, blocks := generateConfig(twins, map[string]bool{"thermo": true})
	got := map[string]map[string]string{}
	for _, b := range blocks {
		got[b.name] = b.addrs
	}
	want := map[string]map[string]string{
		"thermo_2": {"thermo-1": `device.thermo_2["thermo-1"]`, "thermo-2": `device.thermo_2["thermo-2"]`},
		"odd":      {"odd:1": "device.odd"},
		"agent":    {"gw-1/agent": `device_module.agent["gw-1"]`, "gw-2/agent": `device_module.agent["gw-2"]`},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("blocks (-want +got):\n%s", d)
	}
	for _, s := range []string{`"a:b" = "$${not a template}"`, `status        = "disabled"`, `floor = 1`, `site = each.value.tags.site`, `module_id = "agent"`} {
		if !strings.Contains(string(src), s) {
			t.Errorf("generated configuration lacks %q:\n%s", s, src)
		}
	}
	// What is generated loads, and declares every instance.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/gen.hcl", src, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.NewLoader(os.DirFS(dir)).Load(nil)
	if diags.HasErrors() {
		t.Fatalf("generated configuration does not load: %s\n%s", diags.Error(), src)
	}
	var addrs []string
	for _, d := range cfg.Devices {
		addrs = append(addrs, d.Addr.String())
	}
	for _, m := range cfg.Modules {
		addrs = append(addrs, m.Addr.String())
	}
	if d := cmp.Diff([]string{"device.odd", `device.thermo_2["thermo-1"]`, `device.thermo_2["thermo-2"]`, `device_module.agent["gw-1"]`, `device_module.agent["gw-2"]`}, addrs); d != "" {
		t.Errorf("declared instances (-want +got):\n%s", d)
	}
	out, err := formatHCL("gen.hcl", src)
	if err != nil || string(out) != string(src) {
		t.Errorf("generated configuration is not formatted (%v)", err)
	}
}
