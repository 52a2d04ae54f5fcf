package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/state"
)

// The files of a working folder.
const (
	dataDir = ".iotplan"
	hubFile = ".iotplan/hub.db"
	// hubHost is the host name of the embedded hub when `hub serve` serves
	// it: what device connection strings carry.
	hubHost      = "localhost"
	defaultState = "iotplan.state"
)

// loadedConfig is a configuration with the files it came from, for
// diagnostics that show source lines.
type loadedConfig struct {
	cfg   *config.Config
	files map[string]*hcl.File
	// vars are the variable values it was loaded with, including those
	// asked for on the terminal.
	vars []config.VarOption
}

// printDiags writes diagnostics with their source lines.
func printDiags(s *streams, files map[string]*hcl.File, diags hcl.Diagnostics) {
	printDiagsWith(s, files, diags, false)
}

// printDiagsWith writes diagnostics with their source lines; with compact,
// warnings come after the errors as one line each, their summary and
// where they are (Terraform's -compact-warnings).
func printDiagsWith(s *streams, files map[string]*hcl.File, diags hcl.Diagnostics, compact bool) {
	if len(diags) == 0 {
		return
	}
	w := hcl.NewDiagnosticTextWriter(s.Err, files, 78, false)
	var warnings hcl.Diagnostics
	for _, d := range diags {
		if compact && d.Severity == hcl.DiagWarning {
			warnings = append(warnings, d)
			continue
		}
		fmt.Fprintln(s.Err)
		_ = w.WriteDiagnostic(d)
	}
	if len(warnings) == 0 {
		return
	}
	fmt.Fprintln(s.Err, "\nWarnings:")
	for _, d := range warnings {
		where := ""
		if d.Subject != nil {
			where = fmt.Sprintf(" (%s line %d)", d.Subject.Filename, d.Subject.Start.Line)
		}
		fmt.Fprintf(s.Err, "  - %s%s\n", d.Summary, where)
	}
}

// openHub opens the embedded hub of the working folder.
func openHub(readOnly bool) (*localhub.Hub, error) {
	h, err := localhub.Open(hubFile, localhub.Options{ReadOnly: readOnly})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the embedded hub %s does not exist yet: run \"iotplan init\" first", hubFile)
	}
	if err != nil {
		return nil, err
	}
	return h, nil
}

// lockedState is the state file of the working folder, locked for the
// duration of a command.
type lockedState struct {
	file   *state.File
	path   string
	unlock func() error
}

// lockState locks the state file at path for operation, waiting up to
// timeout for another run to release it.
func lockState(path, operation string, timeout time.Duration) (*lockedState, error) {
	f := state.NewFile(path)
	info := state.NewLockInfo(operation)
	deadline := time.Now().Add(timeout)
	for {
		unlock, err := f.Lock(info)
		if err == nil {
			return &lockedState{file: f, path: path, unlock: unlock}, nil
		}
		if !errors.Is(err, state.ErrLocked) || !time.Now().Before(deadline) {
			return nil, err
		}
		time.Sleep(min(250*time.Millisecond, time.Until(deadline)))
	}
}

func (l *lockedState) Close() error { return l.unlock() }

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
