package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	sizes      []int
	runs       int
	largeRuns  int // runs at sizes of largeSize and more
	quick      bool
	jsonPath   string
	markdown   bool
	iotplan    string // a built binary; "" builds one
	keep       bool
	cpuProfile string // folder for a CPU profile of every iotplan run
	goBench    bool
	benchtime  string
	seed       uint64
	moduleRefs bool
	report     string // a results file to print instead of measuring
	writeFleet string // a folder to write the fleet to instead of measuring
}

// largeSize is the size from which -large-runs applies.
const largeSize = 100_000

const usage = `Usage: iotplan-bench [flags]

Generates synthetic fleets (a CSV and for_each) and measures the iotplan
binary on each: apply creating all, plan with no changes (embedded hub and
hub serve), plan with 1%% changed and 1%% drifted, apply updating 10%%,
destroy; a naive refresh (one twin GET per resource, parallelism 10) in the
same runs; state file size, load and save; peak RSS. Then the Go benchmarks
of the hub-serving targets. Prints a table and writes JSON.

Flags:
`

// Main runs the command and returns its exit code: 0 done, 1 failed, 2 bad
// flags, 130 interrupted.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "iotplan-bench: %v\n", err)
		return 2
	}
	switch {
	case o.writeFleet != "":
		err = writeFleet(o)
	case o.report != "":
		err = printReport(o, os.Stdout)
	default:
		err = run(ctx, o, strings.Join(append([]string{"iotplan-bench"}, os.Args[1:]...), " "), os.Stdout, os.Stderr)
	}
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "iotplan-bench: interrupted; temporary files and child processes cleaned up")
		return 130
	default:
		fmt.Fprintf(os.Stderr, "iotplan-bench: %v\n", err)
		return 1
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("iotplan-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, usage)
		fs.PrintDefaults()
	}
	sizes := fs.String("sizes", "1000,10000,100000", "fleet sizes in devices, comma-separated (1k, 10k, 100k accepted)")
	fs.IntVar(&o.runs, "runs", 3, "runs at each size; each figure is their median")
	fs.IntVar(&o.largeRuns, "large-runs", 0, "runs at sizes of 100,000 devices and more (default: -runs)")
	fs.BoolVar(&o.quick, "quick", false, "1,000 devices only, and Go benchmarks with -benchtime 200ms: checks the harness quickly")
	fs.StringVar(&o.jsonPath, "json", "bench-results/results.json", "write the results as JSON to this file")
	fs.BoolVar(&o.markdown, "markdown", false, "print the tables as Markdown")
	fs.StringVar(&o.iotplan, "iotplan", "", "measure this iotplan binary instead of building ./cmd/iotplan")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder: fleets, hub databases, logs of every run")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of every iotplan run to this folder (IOTPLAN_CPUPROFILE)")
	fs.BoolVar(&o.goBench, "gobench", true, "run the Go benchmarks of the hub-serving targets too")
	fs.StringVar(&o.benchtime, "benchtime", "1s", "-benchtime of the Go benchmarks")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated fleets")
	fs.StringVar(&o.writeFleet, "write-fleet", "", "write the configuration and fleet.csv of the first size to this folder, for running iotplan by hand, and measure nothing")
	fs.StringVar(&o.report, "report", "", "print the tables of this results file (-json of an earlier run) and measure nothing")
	fs.BoolVar(&o.moduleRefs, "module-refs", false, "modules name their device by reference (device.sensor[each.key].device_id) instead of by key")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if set["sizes"] {
			return o, errors.New("-quick runs 1,000 devices only: it takes no -sizes")
		}
		*sizes = "1000"
		if !set["benchtime"] {
			o.benchtime = "200ms"
		}
	}
	var err error
	if o.sizes, err = parseSizes(*sizes); err != nil {
		return o, err
	}
	if o.runs < 1 {
		return o, errors.New("-runs must be at least 1")
	}
	if o.largeRuns == 0 {
		o.largeRuns = o.runs
	}
	if o.largeRuns < 1 {
		return o, errors.New("-large-runs must be at least 1")
	}
	return o, nil
}

// parseSizes reads "1000,10k,100k" as ascending distinct sizes.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, field := range strings.Split(s, ",") {
		f := strings.TrimSpace(field)
		mult := 1
		if rest, ok := strings.CutSuffix(strings.ToLower(f), "k"); ok {
			f, mult = rest, 1000
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n > 10_000_000/mult || n*mult < 100 {
			return nil, fmt.Errorf("-sizes: %q is not a fleet size (100 to 10,000,000 devices)", strings.TrimSpace(field))
		}
		sizes = append(sizes, n*mult)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes), nil
}

// run measures every size, then the Go benchmarks, printing tables to out
// and progress to progress.
func run(ctx context.Context, o options, cmdline string, out, progress io.Writer) (err error) {
	goCmd := "go"
	root, err := moduleRoot(ctx, goCmd)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "iotplan-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(progress, "Working folder (kept): %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if o.cpuProfile != "" {
		if err := os.MkdirAll(o.cpuProfile, 0o755); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
	}
	jsonPath := o.jsonPath
	if !filepath.IsAbs(jsonPath) {
		// Relative to the folder the command was started in.
		if wd, err := os.Getwd(); err == nil {
			jsonPath = filepath.Join(wd, jsonPath)
		}
	}

	bin := o.iotplan
	if bin == "" {
		bin = filepath.Join(tmp, "iotplan")
		fmt.Fprintf(progress, "Building iotplan: go build -o %s ./cmd/iotplan\n", bin)
		build := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/iotplan")
		build.Dir = root
		if b, err := build.CombinedOutput(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("build iotplan: %w\n%s", err, b)
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return err
	}

	res := &Results{Machine: describeMachine(ctx, goCmd, root), Command: cmdline, Started: time.Now().UTC().Format(time.RFC3339)}
	fmt.Fprintf(progress, "Machine: %s\n", res.Machine)
	print := func(t *table) error { return t.write(out, o.markdown) }

	r := &runner{bin: bin, profileDir: o.cpuProfile, env: []string{"IOTPLAN_LOG=", "NO_COLOR=1"}}
	for _, n := range o.sizes {
		runs := o.runs
		if n >= largeSize {
			runs = o.largeRuns
		}
		f := newFleet(n, o.seed)
		var values []runValues
		var loads, others []float64
		for i := 1; i <= runs; i++ {
			dir := filepath.Join(tmp, fmt.Sprintf("%d-run%d", n, i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			r.logDir = dir
			label := fmt.Sprintf("%s devices, run %d/%d", thousands(n), i, runs)
			load := loadAverage()
			loads = append(loads, load)
			fmt.Fprintf(progress, "%s (load average %.2f)\n", label, load)
			sc := &scenario{r: r, f: f, dir: dir, progress: progress, label: label, moduleRefs: o.moduleRefs}
			meter := startCPUMeter()
			v, err := sc.run(ctx)
			others = append(others, meter.otherCores())
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("%s: %w", label, err)
			}
			values = append(values, v)
			if !o.keep {
				if err := os.RemoveAll(dir); err != nil {
					return err
				}
			}
		}
		sr := sizeResult{Devices: n, Modules: f.modules(), Runs: runs, LoadAverages: loads, OtherCores: others, Steps: aggregate(n, values)}
		res.Sizes = append(res.Sizes, sr)
		fmt.Fprintln(out)
		if err := print(sizeTable(sr)); err != nil {
			return err
		}
		if err := res.writeJSON(jsonPath); err != nil {
			return err
		}
	}
	if len(res.Sizes) > 1 {
		if err := print(scalingTable(res.Sizes)); err != nil {
			return err
		}
	}
	if o.goBench {
		fmt.Fprintln(progress, "Go benchmarks")
		res.GoBenchtime, res.GoCount = o.benchtime, min(o.runs, 5)
		gb, err := runGoBenches(ctx, goCmd, root, res.GoBenchtime, res.GoCount, progress)
		if err != nil {
			return err
		}
		res.GoBenchmarks = gb
		if err := print(goBenchTable(gb, res.GoBenchtime, res.GoCount)); err != nil {
			return err
		}
	}
	if err := res.writeJSON(jsonPath); err != nil {
		return err
	}
	fmt.Fprintf(progress, "Results written to %s\n", jsonPath)
	return nil
}

// moduleRoot is the folder of the go.mod of the module the command runs
// in: where ./cmd/iotplan and the benchmarks' packages are.
func moduleRoot(ctx context.Context, goCmd string) (string, error) {
	b, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run iotplan-bench inside the iotplan module (go env GOMOD names no go.mod)")
	}
	return filepath.Dir(mod), nil
}

// printReport prints the tables of the results file o.report.
func printReport(o options, out io.Writer) error {
	data, err := os.ReadFile(o.report)
	if err != nil {
		return fmt.Errorf("-report: %w", err)
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("-report %s: %w", o.report, err)
	}
	bullet := ""
	if o.markdown {
		bullet = "- "
	}
	fmt.Fprintf(out, "%sMachine: %s\n%sCommand: %s\n%sStarted: %s\n\n", bullet, res.Machine, bullet, res.Command, bullet, res.Started)
	for _, s := range res.Sizes {
		if err := sizeTable(s).write(out, o.markdown); err != nil {
			return err
		}
	}
	if len(res.Sizes) > 1 {
		if err := scalingTable(res.Sizes).write(out, o.markdown); err != nil {
			return err
		}
	}
	if len(res.GoBenchmarks) > 0 {
		return goBenchTable(res.GoBenchmarks, res.GoBenchtime, res.GoCount).write(out, o.markdown)
	}
	return nil
}

// writeFleet writes the fleet of the first size to o.writeFleet.
func writeFleet(o options) error {
	if err := os.MkdirAll(o.writeFleet, 0o755); err != nil {
		return err
	}
	f := newFleet(o.sizes[0], o.seed)
	if err := f.writeConfig(o.writeFleet, false, o.moduleRefs); err != nil {
		return err
	}
	fmt.Printf("Wrote %s devices and %s modules to %s (main.hcl, fleet.csv).\n", thousands(f.devices()), thousands(f.modules()), o.writeFleet)
	return nil
}
