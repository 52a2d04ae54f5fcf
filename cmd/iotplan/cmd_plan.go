package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/plan/render"
	"github.com/iotplan/iotplan/internal/state"
)

type planOptions struct {
	planning
	out              string
	json             bool
	format           string
	detailedExitCode bool
}

// planning holds the options that plan, apply and destroy share.
type planning struct {
	configInput
	statePath   string
	lockTimeout time.Duration
	destroy     bool
	refresh     bool
	refreshOnly bool
	targets     []string
	replace     []string
	noGroup     bool
	noColor     bool
}

func (o *planning) register(f *pflag.FlagSet, destroyCmd bool) {
	o.configInput.register(f)
	f.StringVar(&o.statePath, "state", defaultState, "path of the state file")
	f.DurationVar(&o.lockTimeout, "lock-timeout", 0, "how long to wait for the state lock, e.g. 30s")
	f.BoolVar(&o.refresh, "refresh", true, "read the hub before planning; -refresh=false trusts the state")
	f.StringArrayVar(&o.targets, "target", nil, "limit the plan to this resource address (repeatable)")
	f.BoolVar(&o.noColor, "no-color", false, "no color in the output (iotplan colors only a terminal's, and never with NO_COLOR set)")
	f.BoolVar(&o.compactWarnings, "compact-warnings", false, "show each warning as one line: its summary and where it is")
	f.BoolVar(&o.noGroup, "no-group", false, "list every resource, even when many change the same way")
	if !destroyCmd {
		f.BoolVar(&o.refreshOnly, "refresh-only", false, "report what changed outside iotplan; applying records it in the state")
		f.StringArrayVar(&o.replace, "replace", nil, "replace this resource instance even if nothing changed (repeatable)")
	}
}

func (o *planning) check() error {
	if o.refreshOnly && !o.refresh {
		return fmt.Errorf("-refresh-only and -refresh=false contradict each other")
	}
	if o.refreshOnly && o.destroy {
		return fmt.Errorf("-refresh-only and -destroy cannot be combined")
	}
	if o.refreshOnly && len(o.replace) > 0 {
		return fmt.Errorf("-refresh-only and -replace cannot be combined")
	}
	for _, a := range append(append([]string(nil), o.targets...), o.replace...) {
		if err := checkAddress(a, addressType(a)); err != nil {
			return err
		}
	}
	return nil
}

// addressType is the resource type an address names, "device" when it
// names none iotplan knows.
func addressType(addr string) string {
	for _, t := range []string{"device_module", "device"} {
		if strings.HasPrefix(addr, t+".") {
			return t
		}
	}
	return "device"
}

func newPlanCmd(s *streams) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change on the hub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	o.register(f, false)
	f.StringVar(&o.out, "out", "", "save the plan to FILE, for \"iotplan apply FILE\"")
	f.BoolVar(&o.json, "json", false, "print the plan as JSON")
	f.StringVar(&o.format, "format", "human", "human, or markdown for a pull-request comment")
	f.BoolVar(&o.detailedExitCode, "detailed-exitcode", false, "exit 0 when nothing changes, 1 on error, 2 when there are changes")
	f.BoolVar(&o.destroy, "destroy", false, "plan to destroy everything iotplan manages")
	return cmd
}

func runPlan(ctx context.Context, s *streams, o planOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.format != "human" && o.format != "markdown" {
		return fmt.Errorf("-format must be human or markdown, not %q", o.format)
	}
	ls, err := lockState(o.statePath, "plan", o.lockTimeout)
	if err != nil {
		return err
	}
	defer ls.Close()
	prior, err := ls.file.Load()
	if err != nil {
		return err
	}
	lc, err := loadConfigWith(s, o.configInput, prior)
	if err != nil {
		return err
	}
	p, err := makePlan(ctx, s, lc, prior, o.planning, !o.json)
	if err != nil {
		return err
	}
	if err := renderPlan(s, p, o.json, o.format, o.noGroup, o.noColor); err != nil {
		return err
	}
	if o.out != "" {
		if err := writePlanFile(o.out, p); err != nil {
			return err
		}
		if !o.json {
			fmt.Fprintf(s.Out, "\nSaved the plan to: %s\nTo perform exactly these actions, run: iotplan apply %s\n", o.out, o.out)
		}
	}
	if o.detailedExitCode && p.HasChanges() {
		return exitCode(2)
	}
	return nil
}

// makePlan refreshes the embedded hub and diffs it against cfg and prior.
// Progress goes to the output unless quiet.
func makePlan(ctx context.Context, s *streams, lc loadedConfig, prior *state.State, o planning, talk bool) (*plan.Plan, error) {
	var actual *plan.Actual
	name, _, err := hubOf(lc.cfg)
	if err != nil {
		return nil, err
	}
	var h *fleetHub
	if o.refresh {
		h, err = openFleetHub(lc.cfg, true)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		t0 := time.Now()
		actual, err = plan.Refresh(ctx, h, h.pageSize)
		if err != nil {
			return nil, err
		}
		if ar, ok := h.Hub.(plan.AutomationReader); ok {
			if err := plan.RefreshAutomation(ctx, ar, prior, lc.cfg, actual); err != nil {
				return nil, err
			}
		}
		if talk {
			fmt.Fprintf(s.Out, "Reading hub state: %s (%s %s, %s %s, %s %s)… done in %.1fs\n\n",
				h.name, render.Count(len(actual.Devices)), plural(len(actual.Devices), "device", "devices"),
				render.Count(len(actual.Modules)), plural(len(actual.Modules), "module", "modules"),
				render.Count(actual.Pages), plural(actual.Pages, "page", "pages"), time.Since(t0).Seconds())
		}
	} else {
		actual = plan.ActualFromState(prior)
	}
	p, diags := plan.Diff(lc.cfg, prior, actual, plan.Options{Destroy: o.destroy, RefreshOnly: o.refreshOnly, Targets: o.targets, Replace: o.replace})
	p.Hub = name
	printDiagsWith(s, lc.files, diags, o.compactWarnings)
	if diags.HasErrors() {
		return nil, exitCode(1)
	}
	// How many devices each job and configuration targets now.
	if c, ok := h.counter(); ok {
		if err := plan.Preview(ctx, c, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func writePlanFile(path string, p *plan.Plan) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	if err := plan.WriteFile(f, p); err != nil {
		f.Close()
		return fmt.Errorf("write plan file %s: %w", path, err)
	}
	return f.Close()
}

// renderPlan writes a plan as JSON, Markdown or for people.
func renderPlan(s *streams, p *plan.Plan, asJSON bool, format string, noGroup, noColor bool) error {
	opts := render.Options{Group: !noGroup}
	switch {
	case asJSON:
		return render.JSON(s.Out, p)
	case format == "markdown":
		return render.Markdown(s.Out, p, opts)
	default:
		return renderHuman(s, p, opts, noColor)
	}
}

// renderHuman writes a plan for people, in color on a terminal unless
// -no-color or NO_COLOR (https://no-color.org) say otherwise.
func renderHuman(s *streams, p *plan.Plan, opts render.Options, noColor bool) error {
	if !colorOutput(s, noColor) {
		return render.HumanWith(s.Out, p, opts)
	}
	var b strings.Builder
	if err := render.HumanWith(&b, p, opts); err != nil {
		return err
	}
	_, err := io.WriteString(s.Out, render.Colorize(b.String()))
	return err
}

// colorOutput reports whether standard output gets colors: only a
// terminal's, and neither with -no-color nor with NO_COLOR set.
func colorOutput(s *streams, noColor bool) bool {
	return s.OutTTY && !noColor && os.Getenv("NO_COLOR") == ""
}
