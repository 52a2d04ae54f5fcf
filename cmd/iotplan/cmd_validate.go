package main

import (
	"fmt"
	"os"

	"github.com/iotplan/iotplan/internal/config"

	"github.com/spf13/cobra"
)

func newValidateCmd(s *streams) *cobra.Command {
	var vars []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration without reading the hub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				l := config.NewLoader(os.DirFS("."))
				values, err := parseVars(vars)
				if err != nil {
					return err
				}
				_, diags := l.Load(values)
				if err := writeDiagnosticsJSON(s.Out, l.Files(), diags); err != nil {
					return err
				}
				if diags.HasErrors() {
					return exitCode(1)
				}
				return nil
			}
			lc, err := loadConfig(s, vars)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "Success! The configuration is valid (%d %s).\n", len(lc.cfg.Devices), plural(len(lc.cfg.Devices), "device", "devices"))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a variable: -var 'NAME=VALUE' (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
