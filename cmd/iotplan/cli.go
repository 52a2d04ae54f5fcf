package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Main runs iotplan with the process's arguments and streams and returns
// its exit code: 0 success, 1 error, 2 a plan with changes under
// -detailed-exitcode.
func Main() int {
	// IOTPLAN_CPUPROFILE=FILE writes a CPU profile of the run, for
	// go tool pprof.
	if path := os.Getenv("IOTPLAN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	s := &streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		InTTY: term.IsTerminal(int(os.Stdin.Fd())), OutTTY: term.IsTerminal(int(os.Stdout.Fd()))}
	return run(os.Args[1:], s)
}

// streams is all the I/O a command does.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
	InTTY    bool
	OutTTY   bool
}

// exitCode is an error that carries an exit status and has been reported
// already (diagnostics printed, or nothing to say).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(args []string, s *streams) (code int) {
	// A panic is a bug in iotplan: say so plainly rather than with a stack
	// trace, unless the user asked for debug output.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(s.Err, "\nError: internal error: %v\n\nThis is a bug in iotplan. The state file was saved after each completed batch; run plan again to see where things stand.\n", r)
			if os.Getenv("IOTPLAN_LOG") == "debug" {
				fmt.Fprintf(s.Err, "\n%s", debug.Stack())
			}
			code = 1
		}
	}()
	args, dir, err := globalOptions(args)
	if err != nil {
		fmt.Fprintf(s.Err, "Error: %v\n", err)
		return 1
	}
	if dir != "" {
		if err := os.Chdir(dir); err != nil {
			fmt.Fprintf(s.Err, "Error: -chdir: %v\n", err)
			return 1
		}
	}

	log, closeLog, err := openLog(s.Err)
	if err != nil {
		fmt.Fprintf(s.Err, "Error: %v\n", err)
		return 1
	}
	defer closeLog()
	hubLog = log

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	root := newRootCmd(s)
	root.SetArgs(normalizeArgs(args))
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err = root.ExecuteContext(ctx)
	var exit exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return int(exit)
	default:
		fmt.Fprintf(s.Err, "\nError: %v\n", err)
		return 1
	}
}

func newRootCmd(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "iotplan",
		Short: "Manage IoT device fleets as code",
		Long: `iotplan manages IoT device fleets as code. HCL files declare devices, their
tags and desired properties; "iotplan plan" shows what would change on the hub
and "iotplan apply" makes it so, recording what it manages in a state file.

Global options (before the command):
  -chdir=DIR   Switch to folder DIR before running the command.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// iotplan completion bash|zsh|fish|powershell: cobra's scripts, which
	// complete commands, flags and, where a flag lists them, its values.
	root.CompletionOptions.HiddenDefaultCmd = false
	hubCmd := newHubCmd(s)
	addHubVerbs(hubCmd, s)
	root.AddCommand(
		newInitCmd(s),
		newFmtCmd(s),
		newValidateCmd(s),
		newPlanCmd(s),
		newApplyCmd(s, false),
		newApplyCmd(s, true),
		newShowCmd(s),
		newOutputCmd(s),
		newImportCmd(s),
		newGraphCmd(s),
		newForceUnlockCmd(s),
		newStateCmd(s),
		hubCmd,
		newDeviceCmd(s),
		newVersionCmd(s),
		newStatusCmd(s),
	)
	return root
}

// globalOptions takes -chdir (Terraform's spelling: before the command)
// out of args.
func globalOptions(args []string) (rest []string, dir string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return append(rest, args[i:]...), dir, nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "chdir" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, "", fmt.Errorf("-chdir needs a folder: -chdir=DIR")
			}
			i++
			value = args[i]
		}
		if value == "" {
			return nil, "", fmt.Errorf("-chdir needs a folder: -chdir=DIR")
		}
		dir = value
	}
	return rest, dir, nil
}

// normalizeArgs accepts Terraform's single-dash long flags (-auto-approve,
// -out=FILE) by rewriting them to the double-dash form cobra parses.
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if len(name) > 1 {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}
