package config

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

func TestAutomation(t *testing.T) {
	src := `
variable "fw" {
  default = "2.0.1"
}
configuration "firmware_2" {
  target_condition = "tags.site = 'berlin'"
  priority         = 10
  labels           = { team = "ops" }
  desired          = { firmware = { version = var.fw } }
  metric "applied" {
    query = "SELECT deviceId FROM devices WHERE properties.reported.firmware.version = '2.0.1'"
  }
}
job "reboot_floor_3" {
  type         = "method"
  query        = "tags.floor = 3"
  method       = "reboot"
  payload      = { delay = 30 }
  start_time   = "2026-12-01T02:00:00Z"
  max_duration = "2h"
}
job "building" {
  job_id  = "set-building-45"
  type    = "twin_update"
  query   = "deviceId = 'x'"
  desired = { BuildingNo = 45 }
}
`
	cfg, diags := NewLoader(fstest.MapFS{"main.hcl": {Data: []byte(src)}}).Load(nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wantCfg := []*Configuration{{Addr: Addr{Type: TypeConfiguration, Name: "firmware_2"}, ID: "firmware-2-" + ContentHash(map[string]any{"firmware": map[string]any{"version": "2.0.1"}}), TargetCondition: "tags.site = 'berlin'",
		Priority: 10, Labels: map[string]string{"team": "ops"}, Desired: map[string]any{"firmware": map[string]any{"version": "2.0.1"}},
		Metrics: map[string]string{"applied": "SELECT deviceId FROM devices WHERE properties.reported.firmware.version = '2.0.1'"}}}
	ignore := cmpopts.IgnoreTypes(hcl.Range{}, map[string]hcl.Range{})
	if d := cmp.Diff(wantCfg, cfg.Configurations, ignore); d != "" {
		t.Errorf("configurations (-want +got):\n%s", d)
	}
	wantJobs := []*Job{
		{Addr: Addr{Type: TypeJob, Name: "building"}, ID: "set-building-45", Type: JobTwinUpdate, Query: "deviceId = 'x'",
			Desired: map[string]any{"BuildingNo": 45.0}, ResponseTimeout: 30 * time.Second, MaxDuration: time.Hour},
		{Addr: Addr{Type: TypeJob, Name: "reboot_floor_3"}, ID: "reboot-floor-3", Type: JobMethod, Query: "tags.floor = 3", Method: "reboot",
			Payload: map[string]any{"delay": 30.0}, ResponseTimeout: 30 * time.Second, MaxDuration: 2 * time.Hour,
			StartTime: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)},
	}
	if d := cmp.Diff(wantJobs, cfg.Jobs, ignore); d != "" {
		t.Errorf("jobs (-want +got):\n%s", d)
	}
}

func TestAutomationDiagnostics(t *testing.T) {
	tests := map[string]struct {
		src     string
		summary string
		line    int
	}{
		"bad condition":     {"configuration \"c\" {\n  target_condition = \"tags.site = \"\n  desired = { a = 1 }\n}\n", "Invalid query condition", 2},
		"bad job type":      {"job \"j\" {\n  type = \"reboot\"\n  query = \"tags.x = 1\"\n}\n", "Invalid job type", 2},
		"method missing":    {"job \"j\" {\n  type = \"method\"\n  query = \"tags.x = 1\"\n}\n", "Missing method", 1},
		"nothing to update": {"job \"j\" {\n  type = \"twin_update\"\n  query = \"tags.x = 1\"\n}\n", "Nothing to update", 1},
		"bad duration":      {"job \"j\" {\n  type = \"method\"\n  method = \"m\"\n  query = \"tags.x = 1\"\n  max_duration = \"forever\"\n}\n", "Invalid duration", 5},
		"bad start":         {"job \"j\" {\n  type = \"method\"\n  method = \"m\"\n  query = \"tags.x = 1\"\n  start_time = \"tomorrow\"\n}\n", "Invalid start time", 5},
		"bad config id":     {"configuration \"c\" {\n  configuration_id = \"Upper\"\n  target_condition = \"tags.a = 1\"\n  desired = { a = 1 }\n}\n", "Invalid configuration ID", 2},
		"bad metric":        {"configuration \"c\" {\n  target_condition = \"tags.a = 1\"\n  desired = { a = 1 }\n  metric \"m\" {\n    query = \"SELECT FROM\"\n  }\n}\n", "Invalid metric query", 5},
		"timeout too long":  {"job \"j\" {\n  type = \"method\"\n  method = \"m\"\n  query = \"tags.x = 1\"\n  response_timeout = \"10m\"\n}\n", "Invalid response timeout", 5},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := NewLoader(fstest.MapFS{"main.hcl": {Data: []byte(tt.src)}}).Load(nil)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			d := diags[0]
			if d.Summary != tt.summary || d.Subject == nil || d.Subject.Start.Line != tt.line {
				t.Errorf("diagnostic %q at %v, want %q on line %d", d.Summary, d.Subject, tt.summary, tt.line)
			}
		})
	}
}
