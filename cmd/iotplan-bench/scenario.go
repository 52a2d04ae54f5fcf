package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/state"
)

// naiveParallelism is the number of twin GETs in flight in the naive
// refresh: Terraform's default -parallelism.
const naiveParallelism = 10

// scenario runs every step once on a fresh fleet folder.
type scenario struct {
	r        *runner
	f        *fleet
	dir      string // the run's folder; removed by the caller
	progress io.Writer
	label    string // "10,000 devices, run 2/3", for progress lines
	// moduleRefs makes modules refer to their device instance.
	moduleRefs bool
}

// run measures every step in order on a fresh working folder and returns
// the figures.
func (sc *scenario) run(ctx context.Context) (runValues, error) {
	v := runValues{}
	f := sc.f
	work := filepath.Join(sc.dir, "fleet")
	rest := filepath.Join(sc.dir, "rest")
	for _, d := range []string{work, rest} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := f.writeConfig(work, false, sc.moduleRefs); err != nil {
		return nil, err
	}
	if err := f.writeConfig(rest, true, sc.moduleRefs); err != nil {
		return nil, err
	}
	m, err := sc.r.run(ctx, work, "init", nil, "init")
	if err != nil {
		return nil, err
	}
	if err := m.expectExit("init", 0); err != nil {
		return nil, err
	}
	all := f.devices() + f.modules()

	// apply creating everything.
	if err := sc.command(ctx, v, "apply_create", work, nil, 0, applied(all, 0, 0), "apply", "-auto-approve"); err != nil {
		return nil, err
	}
	statePath := filepath.Join(work, "iotplan.state")
	hubPath := filepath.Join(work, ".iotplan", "hub.db")
	for key, p := range map[string]string{"state_bytes": statePath, "hubdb_bytes": hubPath} {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		v[key] = value{bytes: info.Size()}
	}
	ids, err := sc.stateLoadSave(v, statePath)
	if err != nil {
		return nil, err
	}

	// plan with nothing to do, then the same refresh in-process: paged,
	// and one GET per twin.
	if err := sc.command(ctx, v, "plan_nochange", work, nil, 0, noChanges, "plan", "-detailed-exitcode"); err != nil {
		return nil, err
	}
	if err := sc.embeddedRefreshes(ctx, v, hubPath, ids); err != nil {
		return nil, err
	}

	// The same through `hub serve`.
	if err := sc.restSteps(ctx, v, work, rest, ids); err != nil {
		return nil, err
	}

	// 1% changed in the configuration.
	if err := f.withChangedIntervals().saveCSV(work); err != nil {
		return nil, err
	}
	changed := f.count(inChanged)
	if err := sc.command(ctx, v, "plan_changed", work, nil, 2, planned(0, changed, 0), "plan", "-detailed-exitcode"); err != nil {
		return nil, err
	}
	if err := f.saveCSV(work); err != nil {
		return nil, err
	}

	// 1% drifted on the hub, while no iotplan runs.
	if err := drift(ctx, hubPath, f.drifted()); err != nil {
		return nil, err
	}
	if err := sc.command(ctx, v, "plan_drift", work, nil, 2, planned(0, len(f.drifted()), 0), "plan", "-detailed-exitcode"); err != nil {
		return nil, err
	}

	// 10% updated: the drifted devices are among them.
	if err := f.withUpdatedFirmware().saveCSV(work); err != nil {
		return nil, err
	}
	if err := sc.command(ctx, v, "apply_update", work, nil, 0, applied(0, f.count(inUpdated), 0), "apply", "-auto-approve"); err != nil {
		return nil, err
	}
	if err := sc.command(ctx, v, "destroy", work, nil, 0, applied(0, 0, all), "destroy", "-auto-approve"); err != nil {
		return nil, err
	}
	return v, nil
}

// command runs one iotplan command, checks its exit code and output, and
// records its figures under key.
func (sc *scenario) command(ctx context.Context, v runValues, key, dir string, env []string, exit int, check func(string) error, args ...string) error {
	m, err := sc.r.run(ctx, dir, key, env, args...)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s: iotplan %s", key, strings.Join(args, " "))
	if err := m.expectExit(what, exit); err != nil {
		return err
	}
	if err := check(m.output); err != nil {
		return fmt.Errorf("%s: %w (log: %s)\n%s", what, err, m.logFile, tail(m.output, 25))
	}
	v[key] = value{seconds: m.wall.Seconds(), cpuSeconds: (m.user + m.sys).Seconds(), bytes: m.maxRSS}
	sc.note(key, fmt.Sprintf("%s, peak RSS %s", formatSeconds(m.wall.Seconds()), formatBytes(float64(m.maxRSS))))
	return nil
}

func (sc *scenario) note(key, text string) {
	if sc.progress != nil {
		fmt.Fprintf(sc.progress, "  [%s] %-22s %s\n", sc.label, key, text)
	}
}

// stateLoadSave times loading the state file and saving it anew, as
// iotplan does, in this process. It returns the identities the state
// manages, for the naive refresh.
func (sc *scenario) stateLoadSave(v runValues, path string) ([]twinID, error) {
	runtime.GC()
	t0 := time.Now()
	s, err := state.NewFile(path).Load()
	load := time.Since(t0)
	if err != nil {
		return nil, err
	}
	if got, want := len(s.Resources), sc.f.devices()+sc.f.modules(); got != want {
		return nil, fmt.Errorf("the state holds %d resources after apply, want %d", got, want)
	}
	copyPath := filepath.Join(sc.dir, "saved.state")
	runtime.GC()
	t0 = time.Now()
	err = state.NewFile(copyPath).Save(s)
	save := time.Since(t0)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(copyPath); err != nil {
		return nil, err
	}
	v["state_load"] = value{seconds: load.Seconds()}
	v["state_save"] = value{seconds: save.Seconds()}
	sc.note("state", fmt.Sprintf("load %s, save %s", formatSeconds(load.Seconds()), formatSeconds(save.Seconds())))
	return twinIDs(s), nil
}

// embeddedRefreshes reads every twin of the embedded hub in this process,
// paged as plan does and one GET at a time as a naive refresh does.
func (sc *scenario) embeddedRefreshes(ctx context.Context, v runValues, hubPath string, ids []twinID) error {
	h, err := localhub.OpenReadOnly(hubPath, localhub.Options{})
	if err != nil {
		return err
	}
	err = sc.refreshes(ctx, v, h, hub.MaxQueryPageSize, "refresh_paged", "refresh_naive", ids)
	if closeErr := h.Close(); err == nil {
		err = closeErr
	}
	return err
}

// restSteps serves the fleet's hub with `hub serve` and plans through it,
// then reads it both ways with the REST client.
func (sc *scenario) restSteps(ctx context.Context, v runValues, work, rest string, ids []twinID) (err error) {
	data, err := os.ReadFile(filepath.Join(work, "iotplan.state"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rest, "iotplan.state"), data, 0o600); err != nil {
		return err
	}
	srv, err := sc.r.startServer(ctx, filepath.Join(work, ".iotplan"), filepath.Join(sc.dir, "serve.log"))
	if err != nil {
		return err
	}
	defer func() {
		rss, stopErr := srv.stop()
		if err == nil && stopErr != nil {
			err = stopErr
		}
		if err == nil {
			v["serve_rss"] = value{bytes: rss}
			sc.note("serve_rss", formatBytes(float64(rss)))
		}
	}()
	env := []string{"IOTPLAN_BENCH_HUB=" + srv.connectionString}
	if err := sc.command(ctx, v, "plan_nochange_rest", rest, env, 0, noChanges, "plan", "-detailed-exitcode"); err != nil {
		return err
	}
	c, err := restClient(srv.connectionString)
	if err != nil {
		return err
	}
	return sc.refreshes(ctx, v, c, hub.DefaultQueryPageSize, "refresh_paged_rest", "refresh_naive_rest", ids)
}

// refreshes times a paged refresh of the whole hub and a naive one of
// every identity of ids, and checks that both saw every twin.
func (sc *scenario) refreshes(ctx context.Context, v runValues, h twinReader, pageSize int, pagedKey, naiveKey string, ids []twinID) error {
	want := sc.f.devices() + sc.f.modules()
	// Each timing starts from a collected heap, so that it does not pay
	// for the garbage of what came before.
	runtime.GC()
	paged, n, err := pagedRefresh(ctx, h, pageSize)
	if err != nil {
		return fmt.Errorf("%s: %w", pagedKey, err)
	}
	if n != want {
		return fmt.Errorf("%s: read %d twins, want %d", pagedKey, n, want)
	}
	runtime.GC()
	naive, n, err := naiveRefresh(ctx, h, ids, naiveParallelism)
	if err != nil {
		return fmt.Errorf("%s: %w", naiveKey, err)
	}
	if n != want {
		return fmt.Errorf("%s: read %d twins, want %d", naiveKey, n, want)
	}
	v[pagedKey] = value{seconds: paged.Seconds()}
	v[naiveKey] = value{seconds: naive.Seconds()}
	sc.note(pagedKey, formatSeconds(paged.Seconds()))
	sc.note(naiveKey, formatSeconds(naive.Seconds()))
	return nil
}

// drift changes the twins of ids on the hub at hubPath out of band: a tag
// and a nested desired property, as an operator's portal edit would.
func drift(ctx context.Context, hubPath string, ids []string) error {
	h, err := localhub.Open(hubPath, localhub.Options{})
	if err != nil {
		return err
	}
	for _, id := range ids {
		patch := hub.TwinPatch{
			Tags:    map[string]any{"site": "drifted"},
			Desired: map[string]any{"telemetry": map[string]any{"interval": driftInterval}},
		}
		if _, err = h.PatchTwin(ctx, id, patch, "*"); err != nil {
			err = fmt.Errorf("drift twin %s: %w", id, err)
			break
		}
	}
	if closeErr := h.Close(); err == nil {
		err = closeErr
	}
	return err
}

// The summary lines of iotplan's output that the checks read.
var (
	planLine  = regexp.MustCompile(`Plan: ([\d,]+) to add, ([\d,]+) to change, ([\d,]+) to destroy\.`)
	applyLine = regexp.MustCompile(`complete! Resources: ([\d,]+) added, ([\d,]+) changed, ([\d,]+) destroyed\.`)
)

// noChanges checks the output of a plan with nothing to do.
func noChanges(out string) error {
	if !strings.Contains(out, "No changes.") {
		return fmt.Errorf(`the plan does not say "No changes."`)
	}
	return nil
}

// planned checks a plan's summary line.
func planned(add, change, destroy int) func(string) error {
	return func(out string) error { return counts(planLine, "Plan:", out, add, change, destroy) }
}

// applied checks the summary line of an apply or destroy.
func applied(add, change, destroy int) func(string) error {
	return func(out string) error { return counts(applyLine, "complete! Resources:", out, add, change, destroy) }
}

func counts(re *regexp.Regexp, what, out string, want ...int) error {
	m := re.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("no %q line in the output", what)
	}
	for i, w := range want {
		got, err := strconv.Atoi(strings.ReplaceAll(m[i+1], ",", ""))
		if err != nil || got != w {
			return fmt.Errorf("%q, want %d, %d, %d", m[0], want[0], want[1], want[2])
		}
	}
	return nil
}
