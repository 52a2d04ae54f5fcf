package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// fleet is a synthetic fleet: one CSV row per device, which the generated
// configuration turns into a device with tags and nested desired
// properties, and, for one device in ten, two modules.
type fleet struct {
	rows []row
}

// row is one device of the fleet, as a line of fleet.csv.
type row struct {
	id          string
	site        string
	floor       int
	model       string
	installDate string
	firmware    string
	interval    int // desired.telemetry.interval, seconds
	modules     bool
}

// The fleet's value pools, with the counts real sites show: a few dozen
// sites, a handful of models, firmware in a few versions.
var (
	sites = []string{"amsterdam", "athens", "barcelona", "berlin", "bratislava", "brussels", "bucharest",
		"budapest", "copenhagen", "dublin", "frankfurt", "helsinki", "lisbon", "ljubljana", "london", "madrid",
		"milan", "munich", "oslo", "paris", "prague", "riga", "rome", "sofia", "stockholm", "tallinn",
		"vienna", "vilnius", "warsaw", "zagreb", "zurich", "lyon"}
	models    = []string{"TH-100", "TH-200", "TH-210", "HX-9", "CO2-mini", "AQ-500", "PM-25", "GW-edge-2"}
	firmwares = []string{"2.3.9", "2.4.0", "2.4.1"}
	intervals = []int{10, 15, 30, 60, 120}
)

// updateFirmware is the firmware version the 10% update rolls out; no
// generated row has it.
const updateFirmware = "3.0.0"

// driftInterval is the desired telemetry interval written out of band;
// no generated row has it.
const driftInterval = 9999

// newFleet generates a fleet of n devices. The same n and seed give the
// same fleet. Exactly one device in ten (index ≡ 3 mod 10) has modules.
func newFleet(n int, seed uint64) *fleet {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	epoch := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &fleet{rows: make([]row, n)}
	for i := range f.rows {
		f.rows[i] = row{
			id:          deviceID(i),
			site:        sites[r.IntN(len(sites))],
			floor:       r.IntN(40),
			model:       models[r.IntN(len(models))],
			installDate: epoch.AddDate(0, 0, r.IntN(6*365)).Format(time.DateOnly),
			firmware:    firmwares[r.IntN(len(firmwares))],
			interval:    intervals[r.IntN(len(intervals))],
			modules:     i%10 == 3,
		}
	}
	return f
}

func deviceID(i int) string { return fmt.Sprintf("dev-%06d", i) }

// devices is the number of devices; modules the number of module
// identities (two per device with modules).
func (f *fleet) devices() int { return len(f.rows) }

func (f *fleet) modules() int {
	n := 0
	for _, r := range f.rows {
		if r.modules {
			n += 2
		}
	}
	return n
}

// The subsets the scenarios change, by device index: 1% changed in the
// configuration, 1% drifted on the hub, 10% updated. The 1% subsets lie
// inside the 10%, so the 10% update also repairs the drift and changes
// exactly a tenth of the devices.
func inChanged(i int) bool { return i%100 == 0 }
func inDrifted(i int) bool { return i%100 == 50 }
func inUpdated(i int) bool { return i%10 == 0 }

// count returns how many devices of f the subset holds.
func (f *fleet) count(in func(int) bool) int {
	n := 0
	for i := range f.rows {
		if in(i) {
			n++
		}
	}
	return n
}

// withChangedIntervals returns a copy of f in which the devices of the
// 1% subset have another telemetry interval.
func (f *fleet) withChangedIntervals() *fleet {
	g := &fleet{rows: append([]row(nil), f.rows...)}
	for i := range g.rows {
		if inChanged(i) {
			g.rows[i].interval++
		}
	}
	return g
}

// withUpdatedFirmware returns a copy of f in which the devices of the 10%
// subset run updateFirmware.
func (f *fleet) withUpdatedFirmware() *fleet {
	g := &fleet{rows: append([]row(nil), f.rows...)}
	for i := range g.rows {
		if inUpdated(i) {
			g.rows[i].firmware = updateFirmware
		}
	}
	return g
}

// drifted returns the IDs of the devices of the drift subset.
func (f *fleet) drifted() []string {
	var ids []string
	for i, r := range f.rows {
		if inDrifted(i) {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// csvHeader is the header line of fleet.csv; the configuration reads the
// columns by these names.
var csvHeader = []string{"id", "site", "floor", "model", "install_date", "firmware", "interval", "modules"}

// writeCSV writes f as fleet.csv.
func (f *fleet) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	rec := make([]string, len(csvHeader))
	for _, r := range f.rows {
		rec[0], rec[1], rec[2], rec[3] = r.id, r.site, strconv.Itoa(r.floor), r.model
		rec[4], rec[5], rec[6], rec[7] = r.installDate, r.firmware, strconv.Itoa(r.interval), strconv.FormatBool(r.modules)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// saveCSV writes f to dir/fleet.csv.
func (f *fleet) saveCSV(dir string) error {
	file, err := os.Create(filepath.Join(dir, "fleet.csv"))
	if err != nil {
		return fmt.Errorf("write fleet.csv: %w", err)
	}
	if err := f.writeCSV(file); err != nil {
		file.Close()
		return fmt.Errorf("write fleet.csv: %w", err)
	}
	return file.Close()
}

// fleetHCL is the configuration of the fleet. go-cty's range() stops at
// 1,024 elements, so the instances come from the CSV, as a real fleet's
// would.
const fleetHCL = `locals {
  rows  = csvdecode(file("fleet.csv"))
  fleet = { for r in local.rows : r.id => r }
  # The devices that run two modules.
  hosts = { for r in local.rows : r.id => r if r.modules == "true" }
}

device "sensor" {
  for_each  = local.fleet
  device_id = each.key
  tags = {
    site        = each.value.site
    floor       = tonumber(each.value.floor)
    model       = each.value.model
    installDate = each.value.install_date
  }
  desired = {
    telemetry = {
      interval = tonumber(each.value.interval)
      batch    = { size = 20, maxDelay = 5 }
    }
    firmware = { version = each.value.firmware, channel = "stable" }
    thresholds = {
      temperature = { warning = 30, critical = 45 }
      humidity    = { warning = 70, critical = 85 }
    }
  }
}

device_module "collector" {
  for_each  = local.hosts
  device_id = %[1]s
  module_id = "collector"
  tags      = { role = "collector" }
  desired = {
    sampling = { rate = 4, channels = ["t", "rh", "co2"] }
    upload   = { interval = 60, compress = true }
  }
}

device_module "forwarder" {
  for_each  = local.hosts
  device_id = %[1]s
  module_id = "forwarder"
  desired = {
    routes   = { telemetry = "upstream", alerts = "priority" }
    logLevel = "info"
  }
}
`

// The device_id of the modules: the device's key, or a reference to the
// device instance, which iotplan links as a dependency on every instance
// of device.sensor (the index is not known before evaluation).
const (
	moduleDeviceKey = "each.key"
	moduleDeviceRef = "device.sensor[each.key].device_id"
)

// restHCL is the hub block that sends plan and apply through the REST
// API of the hub that IOTPLAN_BENCH_HUB names.
const restHCL = `hub {
  connection_string = env("IOTPLAN_BENCH_HUB")
  insecure          = true
}
`

// fleetConfig returns the fleet's configuration, with a hub block when rest is
// true, and modules that refer to their device instance when moduleRefs
// is true.
func fleetConfig(rest, moduleRefs bool) string {
	ref := moduleDeviceKey
	if moduleRefs {
		ref = moduleDeviceRef
	}
	text := fmt.Sprintf(fleetHCL, ref)
	if rest {
		text = restHCL + "\n" + text
	}
	return text
}

// writeConfig writes fleetConfig(rest, moduleRefs) to dir/main.hcl and the
// fleet to dir/fleet.csv.
func (f *fleet) writeConfig(dir string, rest, moduleRefs bool) error {
	text := fleetConfig(rest, moduleRefs)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(text), 0o644); err != nil {
		return fmt.Errorf("write main.hcl: %w", err)
	}
	return f.saveCSV(dir)
}
