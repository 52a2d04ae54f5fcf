package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/state"
)

func newStateCmd(s *streams) *cobra.Command {
	var statePath string
	var lockTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Inspect and change the state",
		Long: `Inspect and change the state. "rm" and "mv" change only what iotplan
records, never the hub: use them to stop managing a device, or to rename a
resource in the configuration without touching the hub.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&statePath, "state", defaultState, "path of the state file")
	pf.DurationVar(&lockTimeout, "lock-timeout", 0, "how long to wait for the state lock")

	load := func() (*state.State, error) { return state.NewFile(statePath).Load() }
	// change runs fn on the locked state and saves what it leaves.
	change := func(operation string, fn func(st *state.State) error) error {
		ls, err := lockState(statePath, operation, lockTimeout)
		if err != nil {
			return err
		}
		defer ls.Close()
		st, err := ls.file.Load()
		if err != nil {
			return err
		}
		if err := fn(st); err != nil {
			return err
		}
		return ls.file.Save(st)
	}

	list := &cobra.Command{
		Use:   "list [ADDRESS...]",
		Short: "List the resources in the state",
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := load()
			if err != nil {
				return err
			}
			for _, addr := range st.Addresses() {
				if len(args) == 0 || matchesAny(addr, args) {
					fmt.Fprintln(s.Out, addr)
				}
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show ADDRESS",
		Short: "Show one resource in the state (secrets hidden)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := load()
			if err != nil {
				return err
			}
			r := st.Resources[args[0]]
			if r == nil {
				return fmt.Errorf("no resource %s in the state (\"iotplan state list\" lists them)", args[0])
			}
			writeResource(s.Out, r)
			return nil
		},
	}
	var dryRun bool
	rm := &cobra.Command{
		Use:   "rm ADDRESS...",
		Short: "Stop managing resources: forget them, leaving them on the hub",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return change("state rm", func(st *state.State) error {
				var gone []string
				for _, addr := range st.Addresses() {
					if matchesAny(addr, args) {
						gone = append(gone, addr)
					}
				}
				if len(gone) == 0 {
					return fmt.Errorf("no resource in the state matches %s", strings.Join(args, ", "))
				}
				verb := "Removed"
				if dryRun {
					verb = "Would remove"
				}
				for _, addr := range gone {
					fmt.Fprintf(s.Out, "%s %s (device %q stays on the hub)\n", verb, addr, st.Resources[addr].DeviceID)
					if !dryRun {
						delete(st.Resources, addr)
					}
				}
				if dryRun {
					return errDryRun
				}
				fmt.Fprintf(s.Out, "Successfully removed %d resource %s.\n", len(gone), plural(len(gone), "instance", "instances"))
				return nil
			})
		},
	}
	rm.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be removed")
	mv := &cobra.Command{
		Use:   "mv SOURCE DESTINATION",
		Short: "Rename a resource in the state, without touching the hub",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := args[0], args[1]
			return change("state mv", func(st *state.State) error {
				r := st.Resources[src]
				if r == nil {
					return fmt.Errorf("no resource %s in the state", src)
				}
				if st.Resources[dst] != nil {
					return fmt.Errorf("%s is already in the state; remove it first", dst)
				}
				if err := checkAddress(dst, r.Type); err != nil {
					return err
				}
				delete(st.Resources, src)
				r.Addr = dst
				st.Resources[dst] = r
				fmt.Fprintf(s.Out, "Move %q to %q\nSuccessfully moved 1 object.\n", src, dst)
				return nil
			})
		},
	}
	pull := &cobra.Command{
		Use:   "pull",
		Short: "Print the raw state file, secrets included, to copy or back it up",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := load()
			if err != nil {
				return err
			}
			return state.Write(s.Out, st)
		},
	}
	var force bool
	push := &cobra.Command{
		Use:   "push FILE",
		Short: "Replace the state with a state file (\"-\" reads standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = s.In
			if args[0] != "-" {
				data, err := os.ReadFile(args[0])
				if err != nil {
					return fmt.Errorf("read state to push: %w", err)
				}
				in = bytes.NewReader(data)
			}
			pushed, err := state.Read(in)
			if err != nil {
				return fmt.Errorf("read state to push %s: %w", args[0], err)
			}
			return change("state push", func(st *state.State) error {
				if !force && st.Serial > 0 {
					if pushed.Lineage != st.Lineage {
						return fmt.Errorf("cannot push: the state has lineage %s, the file %s; it is a different state (use -force to replace it anyway)", st.Lineage, pushed.Lineage)
					}
					if pushed.Serial < st.Serial {
						return fmt.Errorf("cannot push: the file has serial %d, older than the state's %d (use -force to replace it anyway)", pushed.Serial, st.Serial)
					}
				}
				*st = *pushed
				return nil
			})
		},
	}
	push.Flags().BoolVar(&force, "force", false, "replace the state even if its lineage or serial says it is another or newer state")
	cmd.AddCommand(list, show, rm, mv, pull, push)
	return cmd
}

// errDryRun stops a change without saving it and without an error message.
var errDryRun = exitCode(0)

// checkAddress checks that addr is a resource instance address of typ:
// TYPE.NAME, TYPE.NAME[0] or TYPE.NAME["key"].
func checkAddress(addr, typ string) error {
	rest, ok := strings.CutPrefix(addr, typ+".")
	if !ok {
		return fmt.Errorf("%s is not an address of a %s (expected %s.NAME, %s.NAME[0] or %s.NAME[\"key\"])", addr, typ, typ, typ, typ)
	}
	name, key, hasKey := strings.Cut(rest, "[")
	if !isName(name) {
		return fmt.Errorf("%s: %q is not a valid resource name", addr, name)
	}
	if hasKey {
		if !strings.HasSuffix(key, "]") || len(key) < 2 {
			return fmt.Errorf("%s: the index must be a number or a quoted key in brackets", addr)
		}
		k := key[:len(key)-1]
		if !(len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"') && !isDigits(k) {
			return fmt.Errorf("%s: the index must be a number or a quoted key in brackets", addr)
		}
	}
	return nil
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r == '-' || r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// matchesAny reports whether addr is one of the filters, or an instance of
// one (device.thermo matches device.thermo["a"]).
func matchesAny(addr string, filters []string) bool {
	for _, f := range filters {
		if addr == f || strings.HasPrefix(addr, f+"[") {
			return true
		}
	}
	return false
}
