package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/iotplan/iotplan/internal/plan/render"
	"github.com/iotplan/iotplan/internal/state"
)

// evalOutputs evaluates the configuration's outputs against the state an
// apply left.
func evalOutputs(s *streams, in configInput, st *state.State) (map[string]*state.Output, error) {
	quiet := &streams{In: s.In, Out: s.Out, Err: &discard{}}
	lc, err := loadConfigWith(quiet, in, st)
	if err != nil {
		return nil, fmt.Errorf("the configuration does not load")
	}
	if len(lc.cfg.Outputs) == 0 {
		return nil, nil
	}
	out := map[string]*state.Output{}
	for _, o := range lc.cfg.Outputs {
		v, marks := o.Value.UnmarkDeep()
		if !v.IsWhollyKnown() {
			return nil, fmt.Errorf("output %q is not known after apply", o.Name)
		}
		jv, err := toJSON(v)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		out[o.Name] = &state.Output{Value: jv, Sensitive: o.Sensitive || len(marks) > 0}
	}
	return out, nil
}

func toJSON(v cty.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// outputLines formats outputs as `name = value` lines, sensitive ones
// hidden.
func outputLines(outs map[string]*state.Output) []string {
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	sort.Strings(names)
	var lines []string
	for _, n := range names {
		v := render.Value(outs[n].Value)
		if outs[n].Sensitive {
			v = "<sensitive>"
		}
		lines = append(lines, fmt.Sprintf("%s = %s\n", n, v))
	}
	return lines
}

type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }

func newOutputCmd(s *streams) *cobra.Command {
	var asJSON, raw bool
	var statePath string
	cmd := &cobra.Command{
		Use:   "output [NAME]",
		Short: "Show the outputs of the last apply",
		Long: `Show the outputs of the last apply. Sensitive outputs are hidden unless
asked for on purpose: with -raw NAME (the bare value, for scripts) or -json.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := state.NewFile(statePath).Load()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				if raw {
					return fmt.Errorf("-raw needs the name of one output")
				}
				if asJSON {
					all := map[string]any{}
					for n, o := range st.Outputs {
						all[n] = map[string]any{"value": o.Value, "sensitive": o.Sensitive}
					}
					return writeJSON(s, all)
				}
				if len(st.Outputs) == 0 {
					fmt.Fprintln(s.Err, "Warning: no outputs. The configuration declares none, or it has not been applied.")
					return nil
				}
				for _, l := range outputLines(st.Outputs) {
					fmt.Fprint(s.Out, l)
				}
				return nil
			}
			o := st.Outputs[args[0]]
			if o == nil {
				return fmt.Errorf("output %q not found: the configuration does not declare it, or it has not been applied", args[0])
			}
			switch {
			case asJSON:
				return writeJSON(s, o.Value)
			case raw:
				switch v := o.Value.(type) {
				case string:
					fmt.Fprint(s.Out, v)
				case float64, bool:
					fmt.Fprint(s.Out, render.Value(v))
				default:
					return fmt.Errorf("output %q is not a string, number or bool: use -json", args[0])
				}
				return nil
			case o.Sensitive:
				fmt.Fprintln(s.Out, "<sensitive>")
				fmt.Fprintf(s.Err, "(output %q is sensitive: -raw or -json shows it)\n", args[0])
				return nil
			default:
				fmt.Fprintln(s.Out, render.Value(o.Value))
				return nil
			}
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON, sensitive values included")
	cmd.Flags().BoolVar(&raw, "raw", false, "print the bare value of one output, sensitive or not")
	cmd.Flags().StringVar(&statePath, "state", defaultState, "path of the state file")
	cmd.Flags().Bool("no-color", false, "no color in the output")
	return cmd
}

func writeJSON(s *streams, v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
