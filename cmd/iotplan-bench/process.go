package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runner runs the iotplan binary in working folders and measures each run
// from outside, as a user would see it.
type runner struct {
	bin string // the iotplan binary
	// env is added to the environment of every run.
	env []string
	// profileDir, when set, receives a CPU profile of every run
	// (IOTPLAN_CPUPROFILE).
	profileDir string
	// logDir receives the output of every run, one file per run.
	logDir string
	seq    int
}

// measured is what one finished child process cost.
type measured struct {
	wall     time.Duration
	user     time.Duration
	sys      time.Duration
	maxRSS   int64 // bytes, the process's peak resident set
	exitCode int
	output   string // stdout and stderr, interleaved
	logFile  string
}

// stopGrace is how long a child has to stop after an interrupt before it
// is killed.
const stopGrace = 10 * time.Second

// run runs `iotplan args...` in dir and waits for it. name labels the log
// and profile files. A run that cannot start, or is interrupted, is an
// error; the exit code is the caller's to judge.
func (r *runner) run(ctx context.Context, dir, name string, extraEnv []string, args ...string) (*measured, error) {
	r.seq++
	base := fmt.Sprintf("%03d-%s", r.seq, name)
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), r.env...), extraEnv...)
	if r.profileDir != "" {
		cmd.Env = append(cmd.Env, "IOTPLAN_CPUPROFILE="+filepath.Join(r.profileDir, base+".pprof"))
	}
	// On Ctrl-C iotplan gets an interrupt, as it would from a terminal,
	// and stopGrace to finish what it is doing.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = stopGrace
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, fmt.Errorf("run iotplan %s: %w", strings.Join(args, " "), err)
	}
	m := &measured{wall: wall, exitCode: cmd.ProcessState.ExitCode(), output: out.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.user = time.Duration(ru.Utime.Nano())
		m.sys = time.Duration(ru.Stime.Nano())
		m.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	if r.logDir != "" {
		m.logFile = filepath.Join(r.logDir, base+".log")
		if err := os.WriteFile(m.logFile, out.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("write run log: %w", err)
		}
	}
	return m, nil
}

// expectExit checks a run's exit code.
func (m *measured) expectExit(what string, code int) error {
	if m.exitCode == code {
		return nil
	}
	return fmt.Errorf("%s: iotplan exited with %d, want %d:\n%s", what, m.exitCode, code, tail(m.output, 25))
}

// tail returns the last n lines of s, indented.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return "    " + strings.Join(lines, "\n    ")
}
