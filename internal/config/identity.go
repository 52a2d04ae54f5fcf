package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/hub"
)

// checkIdentities checks what no one instance can check alone: that
// device IDs and (device, module) IDs are unique, that parents are edge
// devices, and that no device has more modules than the hub allows. The
// devices and modules are in address order; the later address gets the
// diagnostic.
func (r *run) checkIdentities(devices []*Device, modules []*Module) {
	byID := map[string]*Device{}
	for _, d := range devices {
		if d.DeviceID == "" {
			continue
		}
		prev := byID[d.DeviceID]
		if prev == nil {
			byID[d.DeviceID] = d
			continue
		}
		subject := d.Ranges["device_id"]
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate device ID",
			Detail: fmt.Sprintf("Device ID %q is declared by both %s and %s (at %s). IDs must be unique in a hub; change one of them.",
				d.DeviceID, prev.Addr, d.Addr, prev.Ranges["device_id"]),
			Subject: &subject,
		})
	}

	for _, d := range devices {
		if d.Parent == "" {
			continue
		}
		subject := d.Ranges["parent"]
		switch p := byID[d.Parent]; {
		case d.Parent == d.DeviceID:
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid parent device",
				Detail:   fmt.Sprintf("%s names itself (%q) as its parent. A parent is another device, an IoT Edge gateway.", d.Addr, d.Parent),
				Subject:  &subject,
			})
		case p != nil && !p.Edge:
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Parent is not an edge device",
				Detail: fmt.Sprintf("The parent of %s is %q, declared by %s (at %s) without edge = true. Only an IoT Edge device can be a parent: set edge = true on it, or choose another parent.",
					d.Addr, d.Parent, p.Addr, p.DeclRange),
				Subject: &subject,
			})
		}
	}

	type moduleKey struct{ device, module string }
	seen := map[moduleKey]*Module{}
	perDevice := map[string]int{}
	for _, m := range modules {
		if m.DeviceID == "" || m.ModuleID == "" {
			continue
		}
		k := moduleKey{m.DeviceID, m.ModuleID}
		if prev := seen[k]; prev != nil {
			subject := m.Ranges["module_id"]
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate module ID",
				Detail: fmt.Sprintf("Module %q of device %q is declared by both %s and %s (at %s). Module IDs must be unique on a device; change one of them.",
					m.ModuleID, m.DeviceID, prev.Addr, m.Addr, prev.Ranges["module_id"]),
				Subject: &subject,
			})
			continue
		}
		seen[k] = m
		perDevice[m.DeviceID]++
		if perDevice[m.DeviceID] == hub.MaxModulesPerDevice+1 {
			total := 0
			for _, o := range modules {
				if o.DeviceID == m.DeviceID {
					total++
				}
			}
			subject := m.Ranges["module_id"]
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Too many modules on a device",
				Detail: fmt.Sprintf("Device %q has %d modules declared; IoT Hub allows at most %d module identities per device. %s is module %d, counting in address order. Move some modules to another device, or remove them.",
					m.DeviceID, total, hub.MaxModulesPerDevice, m.Addr, hub.MaxModulesPerDevice+1),
				Subject: &subject,
			})
		}
	}
}
