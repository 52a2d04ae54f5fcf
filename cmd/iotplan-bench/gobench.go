package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// goBench is a figure of the targets that a Go benchmark of the
// repository measures, found by name.
type goBench struct {
	what    string // the figure, for people
	pkg     string
	pattern string // regexp of benchmark names, as go test -bench takes it
	// count, when not zero, caps -count: for benchmarks whose setup
	// takes a minute.
	count int
	// targets are the targets of the benchmark's metrics, by unit.
	targets map[string]string
}

// goBenches are the Go benchmarks behind the hub-serving targets.
var goBenches = []goBench{
	{what: "direct-method round trip (1 device connected)", pkg: "./internal/localhub/gateway", pattern: "^BenchmarkMethodRoundTrip$",
		targets: map[string]string{"p50-µs": "≤ 2,000 with 1,000 devices connected", "p99-µs": "≤ 10,000 with 1,000 devices connected"}},
	{what: "telemetry ingest", pkg: "./internal/localhub/gateway", pattern: "^BenchmarkTelemetryIngest$",
		targets: map[string]string{"msgs/s": "≥ 50,000"}},
	{what: "MQTT connections held", pkg: "./internal/localhub/gateway", pattern: "^Benchmark.*Connections",
		targets: map[string]string{}},
	{what: "method job, 10,000 devices, in-process router", pkg: "./internal/localhub", pattern: "^BenchmarkMethodJob10k$",
		targets: map[string]string{}},
	{what: "method job, 10,000 devices connected over MQTT", pkg: "./cmd/iotplan", pattern: "^BenchmarkMethodJob10kDevices$", count: 1,
		targets: map[string]string{"ns/op": "≤ 10 s = 1e10 ns"}},
}

// goBenchResult is one metric of one Go benchmark over -count runs.
type goBenchResult struct {
	What      string   `json:"what"`
	Package   string   `json:"package"`
	Benchmark string   `json:"benchmark"` // "" when none was found
	Unit      string   `json:"unit,omitempty"`
	Value     *summary `json:"value,omitempty"`
	Target    string   `json:"target,omitempty"`
}

// goBenchLine is a result line of go test -bench: the name with its
// -GOMAXPROCS suffix, the iterations, then value-unit pairs.
var goBenchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseGoBench reads go test -bench output and returns each benchmark's
// samples by unit, one sample per result line, and the benchmark names in
// order of first appearance.
func parseGoBench(r io.Reader) (names []string, samples map[string]map[string][]float64, err error) {
	samples = map[string]map[string][]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := goBenchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		name, fields := m[1], strings.Fields(m[2])
		if len(fields)%2 != 0 {
			return nil, nil, fmt.Errorf("unreadable benchmark line %q", sc.Text())
		}
		if samples[name] == nil {
			samples[name] = map[string][]float64{}
			names = append(names, name)
		}
		for i := 0; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("unreadable benchmark line %q: %w", sc.Text(), err)
			}
			samples[name][fields[i+1]] = append(samples[name][fields[i+1]], v)
		}
	}
	return names, samples, sc.Err()
}

// runGoBenches runs the Go benchmarks of goBenches that exist in the
// module at root, count times each with benchtime, and returns a result
// per metric; a figure without a benchmark gets a result without one.
func runGoBenches(ctx context.Context, goCmd, root, benchtime string, count int, progress io.Writer) ([]goBenchResult, error) {
	var out []goBenchResult
	for _, gb := range goBenches {
		names, err := listGoBenches(ctx, goCmd, root, gb.pkg, gb.pattern)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			out = append(out, goBenchResult{What: gb.what, Package: gb.pkg})
			continue
		}
		n := count
		if gb.count > 0 {
			n = min(n, gb.count)
		}
		fmt.Fprintf(progress, "  go test -bench '%s' %s (-benchtime %s -count %d)\n", gb.pattern, gb.pkg, benchtime, n)
		cmd := exec.CommandContext(ctx, goCmd, "test", "-run", "^$", "-bench", gb.pattern,
			"-benchtime", benchtime, "-count", strconv.Itoa(n), "-timeout", "30m", gb.pkg)
		cmd.Dir = root
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = stopGrace
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("go test -bench %s %s: %w\n%s", gb.pattern, gb.pkg, err, tail(buf.String(), 25))
		}
		found, samples, err := parseGoBench(&buf)
		if err != nil {
			return nil, err
		}
		for _, name := range found {
			units := make([]string, 0, len(samples[name]))
			for u := range samples[name] {
				units = append(units, u)
			}
			// ns/op first, then the benchmark's own metrics by name.
			slices.SortFunc(units, func(a, b string) int {
				return cmp.Or(cmp.Compare(unitRank(a), unitRank(b)), cmp.Compare(a, b))
			})
			for _, u := range units {
				out = append(out, goBenchResult{What: gb.what, Package: gb.pkg, Benchmark: name, Unit: u,
					Value: summarize(samples[name][u]), Target: gb.targets[u]})
			}
		}
	}
	return out, nil
}

// listGoBenches returns the benchmarks of pkg whose names match pattern.
func listGoBenches(ctx context.Context, goCmd, root, pkg, pattern string) ([]string, error) {
	cmd := exec.CommandContext(ctx, goCmd, "test", "-list", pattern, pkg)
	cmd.Dir = root
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("go test -list %s %s: %w\n%s", pattern, pkg, err, tail(buf.String(), 25))
	}
	var names []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			names = append(names, strings.TrimSpace(l))
		}
	}
	return names, nil
}

func unitRank(unit string) int {
	if unit == "ns/op" {
		return 0
	}
	return 1
}

// goBenchTable is the table of the Go benchmarks' figures.
func goBenchTable(results []goBenchResult, benchtime string, count int) *table {
	t := &table{
		title:  fmt.Sprintf("Go benchmarks (go test -bench, -benchtime %s, median of -count %d or fewer, min–max)", benchtime, count),
		header: []string{"figure", "benchmark", "metric", "median", "min–max", "target"},
		text:   []int{1, 2, 5},
	}
	for _, r := range results {
		if r.Benchmark == "" {
			t.rows = append(t.rows, []string{r.What, "(no benchmark in " + r.Package + ")", "", "", "", ""})
			continue
		}
		f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
		if r.Unit == "ns/op" || r.Unit == "msgs/s" || r.Unit == "devices/s" {
			f = func(x float64) string { return thousands(int(x + 0.5)) }
		}
		t.rows = append(t.rows, []string{r.What, r.Benchmark, r.Unit, f(r.Value.Median), spread(r.Value, f), r.Target})
	}
	return t
}
