package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/plan/render"
)

// versionInfo is what `iotplan version` says, and `version -json` prints.
type versionInfo struct {
	Version           string `json:"iotplan_version"`
	Revision          string `json:"revision,omitempty"`
	Modified          bool   `json:"modified,omitempty"`
	Go                string `json:"go_version"`
	Platform          string `json:"platform"`
	PlanFormatVersion string `json:"plan_format_version"`
}

// buildVersion reads the version of the running binary from its build
// information: the module's version when installed with go install, or
// "(devel)" with the VCS revision when built from a checkout.
func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(),
		Platform: runtime.GOOS + "_" + runtime.GOARCH, PlanFormatVersion: render.FormatVersion}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func newVersionCmd(s *streams) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show iotplan's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if asJSON {
				out, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s\n", out)
				return nil
			}
			fmt.Fprintf(s.Out, "iotplan %s\non %s, built with %s\n", v.Version, v.Platform, v.Go)
			if v.Revision != "" {
				mod := ""
				if v.Modified {
					mod = " (with uncommitted changes)"
				}
				fmt.Fprintf(s.Out, "revision %s%s\n", v.Revision, mod)
			}
			fmt.Fprintf(s.Out, "plan JSON format %s\n", v.PlanFormatVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}
