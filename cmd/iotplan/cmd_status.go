package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/plan/render"
	"github.com/iotplan/iotplan/internal/state"
)

// statusJSON is what `iotplan status -json` prints.
type statusJSON struct {
	Converged bool               `json:"converged"`
	Blocks    []plan.Convergence `json:"blocks"`
	Jobs      []jobStatus        `json:"jobs"`
}

// jobStatus is a job of the state as the hub sees it now.
type jobStatus struct {
	Addr       string                   `json:"address"`
	JobID      string                   `json:"job_id"`
	Status     string                   `json:"status"`
	Statistics *hub.DeviceJobStatistics `json:"statistics,omitempty"`
}

func newStatusCmd(s *streams) *cobra.Command {
	var in configInput
	var statePath string
	var asJSON, detailed bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the devices have taken the desired properties",
		Long: `Show the fleet's convergence now: for each resource block, how many devices
(and modules) report every desired value iotplan wrote (in sync), how many
are connected but have not yet (pending), disconnected (offline), or gone
from the hub (missing); then the jobs of the state and their statistics.
With -detailed-exitcode, exits 2 when a device is not in sync.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in.input = false
			st, err := state.NewFile(statePath).Load()
			if err != nil {
				return err
			}
			lc, err := loadConfigWith(s, in, st)
			if err != nil {
				return err
			}
			h, err := openFleetHub(lc.cfg, true)
			if err != nil {
				return err
			}
			defer h.Close()
			ctx := cmd.Context()
			actual, err := plan.Refresh(ctx, h, h.pageSize)
			if err != nil {
				return err
			}
			out := statusJSON{Blocks: plan.FleetConvergence(st, actual), Jobs: []jobStatus{}}
			out.Converged = plan.Converged(out.Blocks)
			for _, addr := range st.Addresses() {
				r := st.Resources[addr]
				if r.Type != state.TypeJob || r.ObjectID == "" {
					continue
				}
				js := jobStatus{Addr: addr, JobID: r.ObjectID, Status: "not found"}
				if j, err := h.Job(ctx, r.ObjectID); err == nil {
					js.Status, js.Statistics = string(j.Status), j.DeviceJobStatistics
				} else if !errors.Is(err, hub.ErrNotFound) {
					return fmt.Errorf("%s: job %s: %w", addr, r.ObjectID, err)
				}
				out.Jobs = append(out.Jobs, js)
			}
			if asJSON {
				b, err := json.MarshalIndent(out, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s\n", b)
			} else {
				writeStatus(s, h.name, out)
			}
			if detailed && !out.Converged {
				return exitCode(2)
			}
			return nil
		},
	}
	in.register(cmd.Flags())
	cmd.Flags().StringVar(&statePath, "state", defaultState, "path of the state file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when a device is not in sync")
	return cmd
}

func writeStatus(s *streams, hubName string, st statusJSON) {
	if len(st.Blocks) == 0 && len(st.Jobs) == 0 {
		fmt.Fprintf(s.Out, "The state holds no devices, modules or jobs on %s.\n", hubName)
		return
	}
	if len(st.Blocks) > 0 {
		fmt.Fprintf(s.Out, "Convergence on %s:\n\n", hubName)
		tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  resource\tdevices\tin sync\tpending\toffline\tmissing")
		for _, b := range st.Blocks {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", b.Block, render.Count(b.Total), render.Count(b.InSync),
				render.Count(b.Pending), render.Count(b.Offline), render.Count(b.Missing))
		}
		tw.Flush()
		if !st.Converged {
			fmt.Fprint(s.Out, "\nNot in sync:")
			writeLagging(s.Out, st.Blocks, "iotplan status -json lists them all")
			fmt.Fprintln(s.Out)
		} else {
			fmt.Fprintln(s.Out, "\nEvery device reports the desired values iotplan wrote.")
		}
	}
	if len(st.Jobs) > 0 {
		fmt.Fprintln(s.Out, "\nJobs:")
		for _, j := range st.Jobs {
			line := fmt.Sprintf("  %s (%s): %s", j.Addr, j.JobID, j.Status)
			if js := j.Statistics; js != nil {
				line += fmt.Sprintf(", %s devices: %s succeeded, %s failed, %s running, %s pending",
					render.Count(js.DeviceCount), render.Count(js.SucceededCount), render.Count(js.FailedCount),
					render.Count(js.RunningCount), render.Count(js.PendingCount))
			}
			fmt.Fprintln(s.Out, line)
		}
	}
}

// writeLagging lists, a line each after a newline, the first 50 devices of
// blocks that are not in sync, with their state and reason; hint says
// where to see the rest.
func writeLagging(w io.Writer, blocks []plan.Convergence, hint string) {
	const shownMax = 50
	shown, total := 0, 0
	for _, b := range blocks {
		total += len(b.Lagging)
	}
	for _, b := range blocks {
		for _, l := range b.Lagging {
			if shown == shownMax {
				fmt.Fprintf(w, "\n  … and %s more (%s)", render.Count(total-shown), hint)
				return
			}
			fmt.Fprintf(w, "\n  %s (%s): %s: %s", l.Addr, l.ID, l.State, l.Reason)
			shown++
		}
	}
}
