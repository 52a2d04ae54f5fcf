package main

import "github.com/spf13/cobra"

// newDeviceCmd is the parent of the device-side commands, mirroring
// `az iot device`.
func newDeviceCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Act as a device: simulate devices against a hub",
	}
	cmd.AddCommand(newDeviceSimulateCmd(s))
	return cmd
}
