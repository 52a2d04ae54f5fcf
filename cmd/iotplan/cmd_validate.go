package main

import (
	"fmt"
	"os"

	"github.com/iotplan/iotplan/internal/config"

	"github.com/spf13/cobra"
)

func newValidateCmd(s *streams) *cobra.Command {
	var in configInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration without reading the hub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				l := config.NewLoader(os.DirFS("."))
				_, diags := l.LoadWith(config.LoadOptions{Vars: in.vars, Env: environ()})
				if err := writeDiagnosticsJSON(s.Out, l.Files(), diags); err != nil {
					return err
				}
				if diags.HasErrors() {
					return exitCode(1)
				}
				return nil
			}
			lc, err := loadConfigWith(s, in, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "Success! The configuration is valid (%d %s).\n", len(lc.cfg.Devices), plural(len(lc.cfg.Devices), "device", "devices"))
			return nil
		},
	}
	in.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
