package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

func newGraphCmd(s *streams) *cobra.Command {
	var in configInput
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the dependency graph of the configuration in DOT",
		Long: `Print the dependency graph of the configuration's devices and modules in the
DOT language (render it with Graphviz: iotplan graph | dot -Tsvg > graph.svg).
An edge goes from a resource to one it depends on; apply creates dependencies
first and deletes them last.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in.input = false
			lc, err := loadConfigWith(s, in, nil)
			if err != nil {
				return err
			}
			g := lc.cfg.Graph()
			fmt.Fprintln(s.Out, "digraph {")
			fmt.Fprintln(s.Out, "  compound = \"true\"")
			fmt.Fprintln(s.Out, "  newrank = \"true\"")
			for _, n := range g.Nodes {
				fmt.Fprintf(s.Out, "  %s [label = %s, shape = \"box\"]\n", strconv.Quote(n), strconv.Quote(n))
			}
			for _, n := range g.Nodes {
				for _, d := range g.Edges[n] {
					fmt.Fprintf(s.Out, "  %s -> %s\n", strconv.Quote(n), strconv.Quote(d))
				}
			}
			fmt.Fprintln(s.Out, "}")
			return nil
		},
	}
	in.register(cmd.Flags())
	return cmd
}
