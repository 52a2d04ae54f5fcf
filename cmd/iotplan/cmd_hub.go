package main

import "github.com/spf13/cobra"

// newHubCmd is the parent of the commands that work on a hub directly,
// mirroring `az iot hub`, and of `hub serve`.
func newHubCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Serve the local hub, or work on a hub directly",
	}
	cmd.AddCommand(newHubServeCmd(s))
	return cmd
}
