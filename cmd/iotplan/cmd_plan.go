package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/plan/render"
	"github.com/iotplan/iotplan/internal/state"
)

type planOptions struct {
	out              string
	json             bool
	detailedExitCode bool
	vars             []string
	statePath        string
	destroy          bool
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
	f.StringVar(&o.out, "out", "", "save the plan to FILE, for \"iotplan apply FILE\"")
	f.BoolVar(&o.json, "json", false, "print the plan as JSON")
	f.BoolVar(&o.detailedExitCode, "detailed-exitcode", false, "exit 0 when nothing changes, 1 on error, 2 when there are changes")
	f.StringArrayVar(&o.vars, "var", nil, "set a variable: -var 'NAME=VALUE' (repeatable)")
	f.StringVar(&o.statePath, "state", defaultState, "path of the state file")
	f.BoolVar(&o.destroy, "destroy", false, "plan to destroy everything iotplan manages")
	f.Bool("no-color", false, "no color in the output (iotplan never colors output that is not a terminal)")
	return cmd
}

func runPlan(ctx context.Context, s *streams, o planOptions) error {
	lc := loadedConfig{cfg: &config.Config{}}
	if !o.destroy {
		var err error
		if lc, err = loadConfig(s, o.vars); err != nil {
			return err
		}
	}
	ls, err := lockState(o.statePath, "plan")
	if err != nil {
		return err
	}
	defer ls.Close()
	prior, err := ls.file.Load()
	if err != nil {
		return err
	}
	p, err := makePlan(ctx, s, lc, prior, o.destroy, !o.json)
	if err != nil {
		return err
	}
	if o.json {
		if err := render.JSON(s.Out, p); err != nil {
			return err
		}
	} else if err := render.Human(s.Out, p); err != nil {
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
func makePlan(ctx context.Context, s *streams, lc loadedConfig, prior *state.State, destroy, talk bool) (*plan.Plan, error) {
	h, err := openHub(true)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	t0 := time.Now()
	actual, err := plan.Refresh(ctx, h, 1000)
	if err != nil {
		return nil, err
	}
	if talk {
		fmt.Fprintf(s.Out, "Reading hub state: embedded hub %s (%s %s, %s %s)… done in %.1fs\n\n",
			hubFile, render.Count(len(actual.Devices)), plural(len(actual.Devices), "device", "devices"),
			render.Count(actual.Pages), plural(actual.Pages, "page", "pages"), time.Since(t0).Seconds())
	}
	p, diags := plan.Diff(lc.cfg, prior, actual, plan.Options{Destroy: destroy})
	if diags.HasErrors() {
		printDiags(s, lc.files, diags)
		return nil, exitCode(1)
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
