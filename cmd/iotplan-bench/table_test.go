package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFormat(t *testing.T) {
	tests := map[string]struct{ got, want string }{
		"µs":          {formatSeconds(0.00042), "0.42 ms"},
		"ms":          {formatSeconds(0.0352), "35.2 ms"},
		"100s of ms":  {formatSeconds(0.4061), "406 ms"},
		"seconds":     {formatSeconds(1.8612), "1.86 s"},
		"tens":        {formatSeconds(41.25), "41.2 s"},
		"hundreds":    {formatSeconds(312.7), "313 s"},
		"bytes":       {formatBytes(512), "512 B"},
		"MiB":         {formatBytes(11.7 * 1024 * 1024), "11.7 MiB"},
		"GiB":         {formatBytes(3 << 30), "3.0 GiB"},
		"big MiB":     {formatBytes(424 << 20), "424 MiB"},
		"faster":      {formatRatio(0.04), "0.040 (25.0× faster)"},
		"slower":      {formatRatio(2.5), "2.500 (2.5× slower)"},
		"thousands":   {thousands(1234567), "1,234,567"},
		"small":       {thousands(999), "999"},
		"µs/device":   {formatMicros(1041.4), "1,041"},
		"µs/device 2": {formatMicros(3.14159), "3.14"},
	}
	for name, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", name, tt.got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	tests := map[string]struct {
		samples []float64
		want    *summary
	}{
		"none": {nil, nil},
		"odd":  {[]float64{3, 1, 2}, &summary{Median: 2, Min: 1, Max: 3, Samples: []float64{3, 1, 2}}},
		"even": {[]float64{4, 1, 2, 3}, &summary{Median: 2.5, Min: 1, Max: 4, Samples: []float64{4, 1, 2, 3}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, summarize(tt.samples)); d != "" {
				t.Errorf("summarize(%v) (-want +got):\n%s", tt.samples, d)
			}
		})
	}
}

// TestAggregate checks that a ratio divides the figures of the same run
// before taking the median.
func TestAggregate(t *testing.T) {
	runs := []runValues{
		{"plan_nochange": {seconds: 1, cpuSeconds: 1.5, bytes: 100}, "refresh_naive": {seconds: 10}},
		{"plan_nochange": {seconds: 3, cpuSeconds: 3.5, bytes: 300}, "refresh_naive": {seconds: 20}},
		{"plan_nochange": {seconds: 2, cpuSeconds: 2.5, bytes: 200}, "refresh_naive": {seconds: 100}},
	}
	got := map[string]*stepResult{}
	for _, r := range aggregate(1000, runs) {
		got[r.Key] = &r
	}
	if len(got) != 3 {
		t.Fatalf("%d steps, want plan_nochange, refresh_naive and their ratio", len(got))
	}
	p := got["plan_nochange"]
	if p.Seconds.Median != 2 || p.PeakRSSBytes.Median != 200 || p.MicrosPerDevice != 2000 {
		t.Errorf("plan_nochange = %+v", p)
	}
	// Per run: 0.1, 0.15, 0.02; the median of medians would be 0.1 too,
	// but the extremes show that each run is divided by itself.
	r := got["ratio_plan_naive"].Ratio
	if d := cmp.Diff(&summary{Median: 0.1, Min: 0.02, Max: 0.15, Samples: []float64{0.1, 0.15, 0.02}}, r); d != "" {
		t.Errorf("ratio (-want +got):\n%s", d)
	}
}

func TestSizeTable(t *testing.T) {
	s := sizeResult{Devices: 1000, Modules: 200, Runs: 3, Steps: []stepResult{
		{Name: "apply: create all", Target: "≤ 60 s", Seconds: summarize([]float64{1.2, 1.0, 1.1}),
			PeakRSSBytes: summarize([]float64{100 << 20, 110 << 20, 120 << 20}), MicrosPerDevice: 1100},
		{Name: "state file size", Bytes: summarize([]float64{1 << 20, 1 << 20, 1 << 20})},
		{Name: "plan ÷ naive", Ratio: summarize([]float64{0.5, 0.25, 0.2})},
	}}
	var text, md strings.Builder
	tab := sizeTable(s)
	if err := tab.writeText(&text); err != nil {
		t.Fatal(err)
	}
	wantText := `1,000 devices, 200 modules: median of 3 runs (min–max)

figure             median               min–max            µs/device  peak RSS  target at 100,000
apply: create all  1.10 s               1.00 s – 1.20 s    1,100      110 MiB   ≤ 60 s
state file size    1.0 MiB              1.0 MiB – 1.0 MiB
plan ÷ naive       0.250 (4.0× faster)  0.200 – 0.500

`
	if d := cmp.Diff(wantText, text.String()); d != "" {
		t.Errorf("text table (-want +got):\n%s", d)
	}
	if err := tab.writeMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	wantRow := "| apply: create all | 1.10 s | 1.00 s – 1.20 s | 1,100 | 110 MiB | ≤ 60 s |\n"
	if !strings.Contains(md.String(), wantRow) || !strings.Contains(md.String(), "|---|---:|---:|---:|---:|---|\n") {
		t.Errorf("Markdown table lacks %q and the alignment row:\n%s", wantRow, md.String())
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/iotplan/iotplan/internal/localhub/gateway
cpu: AMD EPYC
BenchmarkMethodRoundTrip-2   	    3000	    402133 ns/op	       380.0 p50-µs	      1210 p99-µs
BenchmarkMethodRoundTrip-2   	    3000	    398000 ns/op	       371.0 p50-µs	      1100 p99-µs
BenchmarkTelemetryIngest     	   90000	     13000 ns/op	     76923 msgs/s
PASS
ok  	github.com/iotplan/iotplan/internal/localhub/gateway	9.1s
`
	names, samples, err := parseGoBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"BenchmarkMethodRoundTrip", "BenchmarkTelemetryIngest"}, names); d != "" {
		t.Errorf("names (-want +got):\n%s", d)
	}
	want := map[string]map[string][]float64{
		"BenchmarkMethodRoundTrip": {"ns/op": {402133, 398000}, "p50-µs": {380, 371}, "p99-µs": {1210, 1100}},
		"BenchmarkTelemetryIngest": {"ns/op": {13000}, "msgs/s": {76923}},
	}
	if d := cmp.Diff(want, samples); d != "" {
		t.Errorf("samples (-want +got):\n%s", d)
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("100k, 1000,10_000,1k")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{1000, 10000, 100000}, got); d != "" {
		t.Errorf("sizes (-want +got):\n%s", d)
	}
	for _, bad := range []string{"", "ten", "50", "1m"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) succeeded", bad)
		}
	}
}
