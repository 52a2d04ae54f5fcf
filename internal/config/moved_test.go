package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMovedAndImport(t *testing.T) {
	src := `device "gateway" { device_id = "gw-1" }
device "thermo" {
  for_each  = toset(["a", "b"])
  device_id = "thermo-${each.key}"
}
device_module "agent" {
  device_id = "gw-1"
  module_id = "agent"
}
variable "prefix" { default = "thermo" }

moved {
  from = device.gw
  to   = device.gateway
}
moved {
  from = device.sensor
  to   = device.thermo["a"]
}
moved {
  from = device.thermo["old"]
  to   = device.thermo["older"]
}
moved {
  from = device.thermo["older"]
  to   = device.thermo["b"]
}
import {
  to = device.thermo["b"]
  id = "${var.prefix}-b"
}
import {
  to = device_module.agent
  id = "gw-1/agent"
}
import {
  to = device.gateway
  id = "gw-1"
}`
	cfg, diags := NewLoader(folder(map[string]string{"main.hcl": src})).Load(nil)
	if len(diags) > 0 {
		t.Fatalf("Load() diagnostics: %v", diags)
	}
	wantMoved := []*Moved{
		{From: Addr{Type: TypeDevice, Name: "gw"}, To: Addr{Type: TypeDevice, Name: "gateway"}},
		{From: Addr{Type: TypeDevice, Name: "sensor"}, To: Addr{Type: TypeDevice, Name: "thermo", Key: "a"}},
		{From: Addr{Type: TypeDevice, Name: "thermo", Key: "old"}, To: Addr{Type: TypeDevice, Name: "thermo", Key: "older"}},
		{From: Addr{Type: TypeDevice, Name: "thermo", Key: "older"}, To: Addr{Type: TypeDevice, Name: "thermo", Key: "b"}},
	}
	if d := cmp.Diff(wantMoved, cfg.Moved, cmpopts.IgnoreFields(Moved{}, "DeclRange")); d != "" {
		t.Errorf("Moved mismatch (-want +got):\n%s", d)
	}
	wantImports := []*Import{
		{To: Addr{Type: TypeDevice, Name: "gateway"}, ID: "gw-1", DeviceID: "gw-1"},
		{To: Addr{Type: TypeDevice, Name: "thermo", Key: "b"}, ID: "thermo-b", DeviceID: "thermo-b"},
		{To: Addr{Type: TypeModule, Name: "agent"}, ID: "gw-1/agent", DeviceID: "gw-1", ModuleID: "agent"},
	}
	if d := cmp.Diff(wantImports, cfg.Imports, cmpopts.IgnoreFields(Import{}, "DeclRange")); d != "" {
		t.Errorf("Imports mismatch (-want +got):\n%s", d)
	}
	if got := cfg.Moved[2].DeclRange.Start.Line; got != 20 {
		t.Errorf("moved DeclRange line = %d, want 20", got)
	}
}

func TestSettings(t *testing.T) {
	tests := map[string]struct {
		src         string
		env         map[string]string
		wantHub     *HubSettings
		wantBackend *Backend
	}{
		"embedded hub, default backend": {src: `device "d" { device_id = "d" }`},
		"hub from the environment, local backend": {
			src: `iotplan {
  backend "local" { path = "state/fleet.state" }
}
hub {
  connection_string = env("IOTHUB_CONNECTION_STRING")
  tier              = "S2"
  units             = 3
}`,
			env:         map[string]string{"IOTHUB_CONNECTION_STRING": "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=" + keyA},
			wantHub:     &HubSettings{ConnectionString: "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=" + keyA, Tier: "S2", Units: 3},
			wantBackend: &Backend{Type: "local", Path: "state/fleet.state"},
		},
		"defaults of hub and local backend": {
			src: `iotplan {
  backend "local" {}
}
hub {
  connection_string = "HostName=localhost:8443;SharedAccessKeyName=iothubowner;SharedAccessKey=` + keyA + `"
  ca_file           = ".iotplan/ca.pem"
  insecure          = false
}`,
			wantHub:     &HubSettings{ConnectionString: "HostName=localhost:8443;SharedAccessKeyName=iothubowner;SharedAccessKey=" + keyA, Tier: "S1", Units: 1, CAFile: ".iotplan/ca.pem"},
			wantBackend: &Backend{Type: "local", Path: "iotplan.state"},
		},
		"pg backend from a variable": {
			src: `variable "pg" {
  sensitive = true
  default   = "postgres://iotplan@db/fleet"
}
iotplan {
  backend "pg" { conn_str = var.pg }
}`,
			wantBackend: &Backend{Type: "pg", ConnStr: "postgres://iotplan@db/fleet"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := NewLoader(folder(map[string]string{"main.hcl": tt.src})).LoadWith(LoadOptions{Env: tt.env})
			if len(diags) > 0 {
				t.Fatalf("Load() diagnostics: %v", diags)
			}
			opts := cmp.Options{cmpopts.IgnoreFields(HubSettings{}, "DeclRange", "Ranges"), cmpopts.IgnoreFields(Backend{}, "DeclRange", "Ranges")}
			if d := cmp.Diff(tt.wantHub, cfg.Hub, opts); d != "" {
				t.Errorf("Hub mismatch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantBackend, cfg.Backend, opts); d != "" {
				t.Errorf("Backend mismatch (-want +got):\n%s", d)
			}
		})
	}
}
