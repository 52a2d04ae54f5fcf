package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/plan/render"
	"github.com/iotplan/iotplan/internal/state"
)

func newShowCmd(s *streams) *cobra.Command {
	var asJSON, noGroup, noColor bool
	var statePath, format string
	cmd := &cobra.Command{
		Use:   "show [PLAN-FILE]",
		Short: "Show a saved plan, or the state",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				p, err := readPlanFile(args[0])
				if err != nil {
					return err
				}
				if format != "human" && format != "markdown" {
					return fmt.Errorf("-format must be human or markdown, not %q", format)
				}
				return renderPlan(s, p, asJSON, format, noGroup, noColor)
			}
			st, err := state.NewFile(statePath).Load()
			if err != nil {
				return err
			}
			if asJSON {
				return stateJSON(s.Out, st)
			}
			if len(st.Resources) == 0 {
				fmt.Fprintln(s.Out, "The state is empty: iotplan manages nothing yet.")
				return nil
			}
			for i, addr := range st.Addresses() {
				if i > 0 {
					fmt.Fprintln(s.Out)
				}
				writeResource(s.Out, st.Resources[addr])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().StringVar(&format, "format", "human", "for a saved plan: human, or markdown for a pull-request comment")
	cmd.Flags().BoolVar(&noGroup, "no-group", false, "list every resource, even when many change the same way")
	cmd.Flags().StringVar(&statePath, "state", defaultState, "path of the state file")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "no color in the output")
	return cmd
}

// writeResource prints a resource of the state in HCL style, secrets
// hidden.
func writeResource(w io.Writer, r *state.Resource) {
	type attr struct{ name, value string }
	attrs := []attr{{"device_id", render.Value(r.DeviceID)}}
	if r.ModuleID != "" {
		attrs = append(attrs, attr{"module_id", render.Value(r.ModuleID)})
	}
	attrs = append(attrs, attr{"generation_id", render.Value(r.GenerationID)})
	if r.Type == state.TypeDevice {
		attrs = append(attrs, attr{"status", render.Value(string(r.Status))})
		if r.StatusReason != "" {
			attrs = append(attrs, attr{"status_reason", render.Value(r.StatusReason)})
		}
		if r.Edge {
			attrs = append(attrs, attr{"edge", "true"})
		}
		if r.Parent != "" {
			attrs = append(attrs, attr{"parent", render.Value(r.Parent)})
		}
	}
	if r.ManagedBy != "" {
		attrs = append(attrs, attr{"managed_by", render.Value(r.ManagedBy)})
	}
	attrs = append(attrs, attr{"auth", render.Value(configAuthName(string(r.Auth)))})
	if r.PrimaryKey != "" {
		attrs = append(attrs, attr{"primary_key", "(sensitive value)"})
	}
	if r.SecondaryKey != "" {
		attrs = append(attrs, attr{"secondary_key", "(sensitive value)"})
	}
	if r.PrimaryThumbprint != "" {
		attrs = append(attrs, attr{"primary_thumbprint", render.Value(r.PrimaryThumbprint)})
	}
	if r.SecondaryThumbprint != "" {
		attrs = append(attrs, attr{"secondary_thumbprint", render.Value(r.SecondaryThumbprint)})
	}
	if r.KeyVersion != 0 {
		attrs = append(attrs, attr{"key_version", fmt.Sprint(r.KeyVersion)})
	}
	if len(r.Tags) > 0 {
		attrs = append(attrs, attr{"tags", render.Value(render.Redact(r.Tags, "tags", r.Sensitive))})
	}
	if len(r.Desired) > 0 {
		attrs = append(attrs, attr{"desired", render.Value(render.Redact(r.Desired, "desired", r.Sensitive))})
	}
	width := 0
	for _, a := range attrs {
		width = max(width, len(a.name))
	}
	fmt.Fprintf(w, "# %s:\n%s %q {\n", r.Addr, r.Type, r.HubID())
	for _, a := range attrs {
		fmt.Fprintf(w, "    %-*s = %s\n", width, a.name, a.value)
	}
	fmt.Fprintln(w, "}")
}

type jsonState struct {
	FormatVersion string         `json:"format_version"`
	Lineage       string         `json:"lineage"`
	Serial        uint64         `json:"serial"`
	Resources     []jsonResource `json:"resources"`
}

type jsonResource struct {
	Address      string `json:"address"`
	Type         string `json:"type"`
	DeviceID     string `json:"device_id"`
	ModuleID     string `json:"module_id,omitempty"`
	GenerationID string `json:"generation_id"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason"`
	Auth         string `json:"auth"`
	Tags         any    `json:"tags"`
	Desired      any    `json:"desired"`
	// Sensitive names the attributes the state holds but never shows.
	Sensitive []string `json:"sensitive_attributes"`
}

func stateJSON(w io.Writer, st *state.State) error {
	out := jsonState{FormatVersion: render.FormatVersion, Lineage: st.Lineage, Serial: st.Serial, Resources: []jsonResource{}}
	for _, addr := range st.Addresses() {
		r := st.Resources[addr]
		jr := jsonResource{Address: r.Addr, Type: r.Type, DeviceID: r.DeviceID, ModuleID: r.ModuleID, GenerationID: r.GenerationID, Status: string(r.Status),
			StatusReason: r.StatusReason, Auth: string(r.Auth), Tags: render.Redact(nonNil(r.Tags), "tags", r.Sensitive),
			Desired: render.Redact(nonNil(r.Desired), "desired", r.Sensitive), Sensitive: []string{}}
		if r.PrimaryKey != "" {
			jr.Sensitive = append(jr.Sensitive, "primary_key")
		}
		if r.SecondaryKey != "" {
			jr.Sensitive = append(jr.Sensitive, "secondary_key")
		}
		out.Resources = append(out.Resources, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
