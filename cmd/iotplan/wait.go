package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/plan/render"
	"github.com/iotplan/iotplan/internal/state"
)

// waitConverged is apply -wait: it waits until every device and module the
// plan created or changed, and that owns desired values, reports them
// (plan.FleetConvergence), reading the hub with the same paged queries as
// a refresh. It prints a line when the counts change, and at least every
// ten seconds; on timeout it lists the devices that lag and why, and fails.
func waitConverged(ctx context.Context, stop <-chan struct{}, s *streams, h *fleetHub, p *plan.Plan, final *state.State, limit time.Duration) error {
	watched := state.New()
	for _, c := range p.Changes {
		if c.Action == plan.Delete || c.Action == plan.NoOp {
			continue
		}
		if r := final.Resources[c.Addr]; r != nil && (r.Type == state.TypeDevice || r.Type == state.TypeModule) && len(r.Desired) > 0 {
			watched.Resources[c.Addr] = r
		}
	}
	n := len(watched.Resources)
	if n == 0 {
		fmt.Fprintln(s.Out, "\nNo device changed desired properties: nothing to wait for.")
		return nil
	}
	fmt.Fprintf(s.Out, "\nWaiting up to %s for %s %s to report the desired values…\n", limit, render.Count(n), plural(n, "device", "devices"))
	start := time.Now()
	deadline := start.Add(limit)
	poll := time.Second
	if limit > time.Minute {
		poll = 5 * time.Second
	}
	var last string
	var lastPrinted time.Time
	for {
		actual, err := plan.Refresh(ctx, h, h.pageSize)
		if err != nil {
			return fmt.Errorf("apply -wait: read the hub: %w", err)
		}
		conv := plan.FleetConvergence(watched, actual)
		var in, pending, offline, missing int
		for _, c := range conv {
			in, pending, offline, missing = in+c.InSync, pending+c.Pending, offline+c.Offline, missing+c.Missing
		}
		line := fmt.Sprintf("  %s in sync, %s pending, %s offline", render.Count(in), render.Count(pending), render.Count(offline))
		if missing > 0 {
			line += fmt.Sprintf(", %s missing", render.Count(missing))
		}
		if line != last || time.Since(lastPrinted) >= 10*time.Second {
			fmt.Fprintf(s.Out, "%s [%.0fs]\n", line, time.Since(start).Seconds())
			last, lastPrinted = line, time.Now()
		}
		if in == n {
			fmt.Fprintf(s.Out, "All %s %s report the desired values.\n", render.Count(n), plural(n, "device", "devices"))
			return nil
		}
		if time.Now().Add(poll).After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "apply -wait: %s of %s %s had not reported the desired values after %s:",
				render.Count(n-in), render.Count(n), plural(n, "device", "devices"), limit)
			writeLagging(&b, conv, "iotplan status lists them all")
			return fmt.Errorf("%s", b.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return fmt.Errorf("apply -wait: interrupted with %s of %s %s not in sync; the changes are applied and saved", render.Count(n-in), render.Count(n), plural(n, "device", "devices"))
		case <-time.After(poll):
		}
	}
}
