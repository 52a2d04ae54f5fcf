package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Results is everything one bench run measured, as written to -json.
type Results struct {
	Machine machine `json:"machine"`
	// Command is the command line that produced the results.
	Command      string          `json:"command"`
	Started      string          `json:"started"` // RFC 3339
	Sizes        []sizeResult    `json:"sizes"`
	GoBenchmarks []goBenchResult `json:"go_benchmarks,omitempty"`
	// GoBenchtime and GoCount are the -benchtime and -count the Go
	// benchmarks ran with.
	GoBenchtime string `json:"go_benchtime,omitempty"`
	GoCount     int    `json:"go_count,omitempty"`
}

// sizeResult is what the scenarios measured on one fleet size.
type sizeResult struct {
	Devices int `json:"devices"`
	Modules int `json:"modules"`
	// Runs is the number of runs each figure is the median of.
	Runs int `json:"runs"`
	// LoadAverages are the machine's 1-minute load averages as each run
	// started, -1 when unknown.
	LoadAverages []float64 `json:"load_averages"`
	// OtherCores are, for each run, the average number of processors
	// that other processes kept busy during it, -1 when unknown.
	OtherCores []float64    `json:"other_cores"`
	Steps      []stepResult `json:"steps"`
}

// stepResult is one figure of a size over its runs. Exactly one of the
// value kinds is set: a timed step has Seconds (and, for an iotplan
// command, CPUSeconds and PeakRSSBytes), a size has Bytes, a comparison
// has Ratio.
type stepResult struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	// Target is iotplan's target for this figure at 100,000 devices on a
	// 2-core machine, for people; empty when there is none.
	Target       string   `json:"target,omitempty"`
	Seconds      *summary `json:"seconds,omitempty"`
	CPUSeconds   *summary `json:"cpu_seconds,omitempty"`
	PeakRSSBytes *summary `json:"peak_rss_bytes,omitempty"`
	Bytes        *summary `json:"bytes,omitempty"`
	Ratio        *summary `json:"ratio,omitempty"`
	// MicrosPerDevice is the median time divided by the number of
	// devices, in microseconds.
	MicrosPerDevice float64 `json:"us_per_device,omitempty"`
}

// summary is the median, minimum and maximum of one figure's samples,
// one sample per run, in run order.
type summary struct {
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Samples []float64 `json:"samples"`
}

// summarize returns the summary of samples; nil when there are none. The
// median of an even count is the mean of the middle two.
func summarize(samples []float64) *summary {
	if len(samples) == 0 {
		return nil
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return &summary{Median: med, Min: s[0], Max: s[n-1], Samples: slices.Clone(samples)}
}

// writeJSON writes r to path, creating its folder.
func (r *Results) writeJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
