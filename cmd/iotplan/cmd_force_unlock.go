package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/state"
)

func newForceUnlockCmd(s *streams) *cobra.Command {
	var statePath string
	cmd := &cobra.Command{
		Use:   "force-unlock LOCK_ID",
		Short: "Release a state lock left by a run that can no longer release it",
		Long: `Release a state lock left by a run that can no longer release it.

The local state file is locked by the operating system for as long as the
process that holds it runs: the lock ends with the process, even if it is
killed, so it never needs forcing. force-unlock then only tells who holds it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := state.NewFile(statePath)
			unlock, err := f.Lock(state.NewLockInfo("force-unlock"))
			var le *state.LockError
			switch {
			case err == nil:
				_ = unlock()
				fmt.Fprintf(s.Out, "%s is not locked: nothing to unlock.\n", statePath)
				return nil
			case errors.As(err, &le):
				if le.Info.ID != "" && le.Info.ID != args[0] {
					return fmt.Errorf("the lock ID is %s, not %s: check the ID in the lock error", le.Info.ID, args[0])
				}
				return fmt.Errorf("%v\n\nA local state lock is held by a running process and ends with it; it cannot be taken away. Stop that process (pid %d) if it is stuck", err, le.Info.PID)
			default:
				return err
			}
		},
	}
	cmd.Flags().StringVar(&statePath, "state", defaultState, "path of the state file")
	return cmd
}
