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
	var asJSON bool
	var statePath string
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
				if asJSON {
					return render.JSON(s.Out, p)
				}
				return render.Human(s.Out, p)
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
	cmd.Flags().StringVar(&statePath, "state", defaultState, "path of the state file")
	cmd.Flags().Bool("no-color", false, "no color in the output")
	return cmd
}

// writeResource prints a resource of the state in HCL style, secrets
// hidden.
func writeResource(w io.Writer, r *state.Resource) {
	type attr struct{ name, value string }
	attrs := []attr{
		{"device_id", render.Value(r.DeviceID)},
		{"generation_id", render.Value(r.GenerationID)},
		{"status", render.Value(string(r.Status))},
	}
	if r.StatusReason != "" {
		attrs = append(attrs, attr{"status_reason", render.Value(r.StatusReason)})
	}
	attrs = append(attrs, attr{"auth", render.Value(string(r.Auth))})
	if r.PrimaryKey != "" {
		attrs = append(attrs, attr{"primary_key", "(sensitive value)"})
	}
	if r.SecondaryKey != "" {
		attrs = append(attrs, attr{"secondary_key", "(sensitive value)"})
	}
	if len(r.Tags) > 0 {
		attrs = append(attrs, attr{"tags", render.Value(r.Tags)})
	}
	if len(r.Desired) > 0 {
		attrs = append(attrs, attr{"desired", render.Value(r.Desired)})
	}
	width := 0
	for _, a := range attrs {
		width = max(width, len(a.name))
	}
	fmt.Fprintf(w, "# %s:\n%s %q {\n", r.Addr, r.Type, r.DeviceID)
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
	Address      string         `json:"address"`
	Type         string         `json:"type"`
	DeviceID     string         `json:"device_id"`
	GenerationID string         `json:"generation_id"`
	Status       string         `json:"status"`
	StatusReason string         `json:"status_reason"`
	Auth         string         `json:"auth"`
	Tags         map[string]any `json:"tags"`
	Desired      map[string]any `json:"desired"`
	// Sensitive names the attributes the state holds but never shows.
	Sensitive []string `json:"sensitive_attributes"`
}

func stateJSON(w io.Writer, st *state.State) error {
	out := jsonState{FormatVersion: render.FormatVersion, Lineage: st.Lineage, Serial: st.Serial, Resources: []jsonResource{}}
	for _, addr := range st.Addresses() {
		r := st.Resources[addr]
		jr := jsonResource{Address: r.Addr, Type: r.Type, DeviceID: r.DeviceID, GenerationID: r.GenerationID, Status: string(r.Status),
			StatusReason: r.StatusReason, Auth: string(r.Auth), Tags: nonNil(r.Tags), Desired: nonNil(r.Desired), Sensitive: []string{}}
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
