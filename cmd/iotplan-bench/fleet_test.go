package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/config"
)

func TestFleetSubsets(t *testing.T) {
	f := newFleet(1000, 1)
	got := map[string]int{
		"devices": f.devices(),
		"modules": f.modules(),
		"changed": f.count(inChanged),
		"drifted": len(f.drifted()),
		"updated": f.count(inUpdated),
	}
	want := map[string]int{"devices": 1000, "modules": 200, "changed": 10, "drifted": 10, "updated": 100}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fleet of 1,000 (-want +got):\n%s", d)
	}
	for i := range f.rows {
		if (inChanged(i) || inDrifted(i)) && !inUpdated(i) {
			t.Fatalf("device %d is changed or drifted but not among the updated", i)
		}
	}
	if d := cmp.Diff(f.rows, newFleet(1000, 1).rows, cmp.AllowUnexported(row{})); d != "" {
		t.Errorf("same size and seed, different fleet:\n%s", d)
	}
}

func TestFleetEdits(t *testing.T) {
	f := newFleet(1000, 7)
	tests := map[string]struct {
		edited *fleet
		in     func(int) bool
	}{
		"1% changed":  {f.withChangedIntervals(), inChanged},
		"10% updated": {f.withUpdatedFirmware(), inUpdated},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for i := range f.rows {
				if changed := tt.edited.rows[i] != f.rows[i]; changed != tt.in(i) {
					t.Errorf("row %d changed: %v, want %v", i, changed, tt.in(i))
				}
			}
		})
	}
	if f.rows[0].firmware == updateFirmware || f.rows[0].interval == driftInterval {
		t.Error("a generated row already has the value an edit writes")
	}
}

func TestFleetCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := newFleet(250, 1).writeCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 251 {
		t.Fatalf("%d CSV records, want a header and 250 rows", len(recs))
	}
	if d := cmp.Diff(csvHeader, recs[0]); d != "" {
		t.Errorf("header (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"dev-000003", "true"}, []string{recs[4][0], recs[4][7]}); d != "" {
		t.Errorf("row of device 3 (-want +got):\n%s", d)
	}
}

// TestFleetConfig loads the generated configuration with iotplan's own
// loader: every device and module is declared, with its nested desired
// properties.
func TestFleetConfig(t *testing.T) {
	const cs = "HostName=127.0.0.1:8080;SharedAccessKeyName=iothubowner;SharedAccessKey=c2VjcmV0LXByaW1hcnkta2V5LTEyMzQ="
	for _, tt := range []struct {
		name             string
		rest, moduleRefs bool
	}{
		{"embedded", false, false},
		{"hub serve", true, false},
		{"module references", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFleet(200, 1)
			if err := f.writeConfig(dir, tt.rest, tt.moduleRefs); err != nil {
				t.Fatal(err)
			}
			cfg, diags := config.NewLoader(os.DirFS(dir)).LoadWith(config.LoadOptions{Env: map[string]string{"IOTPLAN_BENCH_HUB": cs}})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got := [2]int{len(cfg.Devices), len(cfg.Modules)}; got != [2]int{200, 40} {
				t.Fatalf("%d devices and %d modules, want 200 and 40", got[0], got[1])
			}
			if got := cfg.Hub != nil; got != tt.rest {
				t.Errorf("hub block: %v, want %v", got, tt.rest)
			}
			d := cfg.Devices[3]
			want := map[string]any{"channel": "stable", "version": f.rows[3].firmware}
			if diff := cmp.Diff(want, d.Desired["firmware"]); diff != "" {
				t.Errorf("%s desired.firmware (-want +got):\n%s", d.Addr, diff)
			}
			if d.Tags["site"] != f.rows[3].site {
				t.Errorf("%s tags.site = %v, want %q", d.Addr, d.Tags["site"], f.rows[3].site)
			}
		})
	}
}
