package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/apply"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/plan/render"
	"github.com/iotplan/iotplan/internal/state"
)

type applyOptions struct {
	planning
	autoApprove bool
	parallelism int
	planFile    string
	wait        time.Duration
}

func newApplyCmd(s *streams, destroy bool) *cobra.Command {
	o := applyOptions{planning: planning{destroy: destroy}}
	cmd := &cobra.Command{
		Use:   "apply [PLAN-FILE]",
		Short: "Make the hub match the configuration",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.planFile = args[0]
			}
			return runApply(cmd.Context(), s, o)
		},
	}
	if destroy {
		cmd.Use, cmd.Short, cmd.Args = "destroy", "Delete everything iotplan manages", cobra.NoArgs
	}
	f := cmd.Flags()
	o.register(f, destroy)
	if !destroy {
		f.DurationVar(&o.wait, "wait", 0, "after applying, wait this long (e.g. 5m) for the changed devices to report the desired values; fail if they have not")
	}
	f.BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	f.IntVar(&o.parallelism, "parallelism", 10, "hub calls in flight at once")
	return cmd
}

func runApply(ctx context.Context, s *streams, o applyOptions) error {
	if o.parallelism < 1 {
		return fmt.Errorf("-parallelism must be at least 1")
	}
	if err := o.check(); err != nil {
		return err
	}
	operation := "apply"
	if o.destroy {
		operation = "destroy"
	}
	var saved *plan.Plan
	if o.planFile != "" {
		p, err := readPlanFile(o.planFile)
		if err != nil {
			return err
		}
		saved = p
	}
	ls, err := lockState(o.statePath, operation, o.lockTimeout)
	if err != nil {
		return err
	}
	defer ls.Close()
	prior, err := ls.file.Load()
	if err != nil {
		return err
	}
	// A saved plan still needs the configuration: for the hub to apply it
	// to, and for the outputs.
	lc, err := loadConfigWith(s, o.configInput, prior)
	if err != nil {
		return err
	}
	// Outputs are evaluated again after apply with the same values,
	// without asking twice.
	o.configInput = configInput{vars: lc.vars}
	name, _, err := hubOf(lc.cfg)
	if err != nil {
		return err
	}

	p := saved
	if p != nil && p.Hub != name {
		return fmt.Errorf("saved plan is for %s, but the configuration now manages %s; run \"iotplan plan\" again", p.Hub, name)
	}
	if p != nil {
		// Serial 0 is a state never saved, whose lineage is not yet fixed.
		if p.Serial != prior.Serial || p.Serial != 0 && p.Lineage != prior.Lineage {
			return fmt.Errorf("saved plan is stale: it was made against state serial %d (lineage %s), but the state is now at serial %d (lineage %s); run \"iotplan plan\" again",
				p.Serial, p.Lineage, prior.Serial, prior.Lineage)
		}
	} else {
		if p, err = makePlan(ctx, s, lc, prior, o.planning, true); err != nil {
			return err
		}
		if err := renderHuman(s, p, render.Options{Group: !o.noGroup}, o.noColor); err != nil {
			return err
		}
		if !p.HasChanges() {
			return nil
		}
		if !o.autoApprove {
			if err := confirm(s, o.destroy); err != nil {
				return err
			}
		}
		fmt.Fprintln(s.Out)
	}
	if !p.HasChanges() {
		fmt.Fprintln(s.Out, "No changes. The fleet matches the configuration.")
		return nil
	}
	return execute(ctx, s, ls, lc, prior, p, o)
}

// confirm asks for "yes" on a terminal; without one it refuses, as apply must
// never change a fleet unasked.
func confirm(s *streams, destroy bool) error {
	if !s.InTTY {
		return fmt.Errorf("no terminal to ask for confirmation: review the plan and run again with -auto-approve, or apply a saved plan file")
	}
	q := "Do you want to perform these actions?"
	if destroy {
		q = "Do you really want to destroy all devices iotplan manages?"
	}
	fmt.Fprintf(s.Out, "\n%s\n  iotplan will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", q)
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		fmt.Fprintln(s.Out, "\nApply cancelled.")
		return exitCode(1)
	}
	return nil
}

func execute(ctx context.Context, s *streams, ls *lockedState, lc loadedConfig, prior *state.State, p *plan.Plan, o applyOptions) error {
	h, err := openFleetHub(lc.cfg, false)
	if err != nil {
		return err
	}
	defer h.Close()

	// The first interrupt stops new work and saves; the second abandons the
	// calls in flight.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				fmt.Fprintln(s.Err, "\nStopping after in-flight calls… (interrupt again to abandon them)")
				close(stop)
			} else {
				cancel()
				return
			}
		}
	}()

	st := state.NewSync(prior)
	res, applyErr := apply.Apply(ctx, h.Hub, p, st, apply.Options{
		Parallelism: o.parallelism,
		Save:        ls.file.Save,
		Stop:        stop,
		Hook:        &lineHook{s: s},
	})
	final := st.Close()
	if applyErr == nil {
		if err := runEmbeddedAutomation(ctx, s, h, p, final); err != nil {
			applyErr = err
		}
	}
	var outputs []string
	if applyErr == nil {
		if o.destroy {
			final.Outputs = nil
		} else if outs, err := evalOutputs(s, o.configInput, final); err != nil {
			fmt.Fprintf(s.Err, "\nWarning: outputs not updated: %v\n", err)
		} else {
			final.Outputs = outs
			outputs = outputLines(outs)
		}
	}
	if err := ls.file.Save(final); err != nil {
		return errors.Join(applyErr, fmt.Errorf("save state: %w", err))
	}
	if applyErr != nil {
		fmt.Fprintf(s.Err, "\nState saved to %s (serial %d).\n", ls.path, final.Serial)
		if res.NotStarted > 0 {
			fmt.Fprintf(s.Err, "%s %s not applied. Run plan again.\n", render.Count(res.NotStarted), plural(res.NotStarted, "change", "changes"))
		}
		for _, e := range unjoin(applyErr) {
			if errors.Is(e, apply.ErrStopped) {
				continue
			}
			fmt.Fprintf(s.Err, "\nError: %v\n", e)
		}
		return exitCode(1)
	}
	verb := "Apply"
	if o.destroy {
		verb = "Destroy"
	}
	fmt.Fprintf(s.Out, "\n%s complete! Resources: %s added, %s changed, %s destroyed.\n", verb,
		render.Count(res.Added), render.Count(res.Changed), render.Count(res.Destroyed))
	fmt.Fprintf(s.Out, "State saved to %s (serial %d).\n", ls.path, final.Serial)
	if len(outputs) > 0 {
		fmt.Fprintf(s.Out, "\nOutputs:\n\n%s", strings.Join(outputs, ""))
	}
	if o.wait > 0 && !o.destroy {
		return waitConverged(ctx, stop, s, h, p, final, o.wait)
	}
	return nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// lineHook prints one line per finished change.
type lineHook struct {
	s  *streams
	mu sync.Mutex
}

func (h *lineHook) Start(*plan.Change, bool) {}

func (h *lineHook) Done(c *plan.Change, deleting bool, err error, elapsed time.Duration) {
	var doing, done string
	switch {
	case deleting && c.Gone:
		doing, done = "Forgetting…", "removed from the state"
	case deleting:
		doing, done = "Destroying…", fmt.Sprintf("destroyed (%s)", c.Before.HubID())
	case c.Action == plan.Create || c.Action == plan.Replace:
		doing, done = "Creating…", fmt.Sprintf("created (%s)", c.HubID())
	case c.Importing:
		doing, done = "Importing…", fmt.Sprintf("imported (%s)", c.ImportID)
	default:
		doing, done = "Modifying…", "done"
	}
	if err != nil {
		done = "failed"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.s.Out, "%s: %s %s [%.1fs]\n", c.Addr, doing, done, elapsed.Seconds())
}

func readPlanFile(path string) (*plan.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read plan file: %w", err)
	}
	defer f.Close()
	p, err := plan.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("read plan file %s: %w", path, err)
	}
	return p, nil
}

// runEmbeddedAutomation does, for the embedded hub, what a served hub's
// scheduler would: it runs the jobs that are due and applies the
// configurations, then records the jobs' status. Jobs that start later run
// when the hub is served (iotplan hub serve) or at the next apply.
func runEmbeddedAutomation(ctx context.Context, s *streams, h *fleetHub, p *plan.Plan, st *state.State) error {
	lh, ok := h.Hub.(*localhub.Hub)
	if !ok {
		return nil
	}
	// Jobs the plan creates, or created earlier that have not ended, run
	// when due; configurations are applied whenever the state has some,
	// since device changes may move devices between them.
	var jobs, configs bool
	for _, c := range p.Changes {
		jobs = jobs || c.Type == state.TypeJob
	}
	for _, r := range st.Resources {
		switch r.Type {
		case state.TypeJob:
			jobs = jobs || !hub.JobStatus(r.JobStatus).Terminal()
		case state.TypeConfiguration:
			configs = true
		}
	}
	if configs {
		if err := lh.ApplyConfigurations(ctx); err != nil {
			return fmt.Errorf("apply configurations: %w", err)
		}
	}
	if !jobs {
		return nil
	}
	if err := lh.RunPendingJobs(ctx); err != nil {
		return fmt.Errorf("run jobs: %w", err)
	}
	for _, addr := range st.Addresses() {
		r := st.Resources[addr]
		if r.Type != state.TypeJob {
			continue
		}
		j, err := lh.Job(ctx, r.ObjectID)
		if err != nil {
			continue
		}
		r.JobStatus = string(j.Status)
		line := fmt.Sprintf("%s (%s): %s", addr, r.ObjectID, j.Status)
		if js := j.DeviceJobStatistics; js != nil {
			line += fmt.Sprintf(", %d %s: %d succeeded, %d failed", js.DeviceCount, plural(js.DeviceCount, "device", "devices"), js.SucceededCount, js.FailedCount)
		}
		fmt.Fprintln(s.Out, line)
	}
	return nil
}
