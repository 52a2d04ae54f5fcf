package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCmd(s *streams) *cobra.Command {
	var vars []string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration without reading the hub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lc, err := loadConfig(s, vars)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "Success! The configuration is valid (%d %s).\n", len(lc.cfg.Devices), plural(len(lc.cfg.Devices), "device", "devices"))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a variable: -var 'NAME=VALUE' (repeatable)")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
