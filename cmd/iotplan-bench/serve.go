package main

import (
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

// server is a running `iotplan hub serve --insecure`.
type server struct {
	cmd     *exec.Cmd
	log     *os.File
	waited  chan struct{}
	waitErr error
	// connectionString is the owner connection string it printed.
	connectionString string
}

// serveReadyTimeout bounds the wait for `hub serve` to listen.
const serveReadyTimeout = 60 * time.Second

// startServer serves the hub of dataDir over plain HTTP on a free loopback
// port and returns once it accepts requests.
func (r *runner) startServer(ctx context.Context, dataDir, logPath string) (*server, error) {
	ready := filepath.Join(filepath.Dir(logPath), "serve.ready")
	_ = os.Remove(ready)
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start hub serve: %w", err)
	}
	cmd := exec.Command(r.bin, "hub", "serve", "--insecure", "--host-name", "127.0.0.1",
		"--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--ready-file", ready, "--data", dataDir)
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start hub serve: %w", err)
	}
	s := &server{cmd: cmd, log: log, waited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.waited)
	}()
	deadline := time.NewTimer(serveReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case <-tick.C:
			continue
		case <-s.waited:
			out, _ := os.ReadFile(logPath)
			log.Close()
			return nil, fmt.Errorf("hub serve exited before it was ready:\n%s", tail(string(out), 25))
		case <-deadline.C:
			s.stop()
			return nil, fmt.Errorf("hub serve was not ready after %s (log: %s)", serveReadyTimeout, logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		}
	}
	out, err := os.ReadFile(logPath)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("read hub serve output: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "HostName=") {
			s.connectionString = line
			break
		}
	}
	if s.connectionString == "" {
		s.stop()
		return nil, fmt.Errorf("hub serve printed no owner connection string:\n%s", tail(string(out), 25))
	}
	return s, nil
}

// stop interrupts the server, as Ctrl-C would, waits for it to exit (and
// kills it after stopGrace) and returns its peak resident set in bytes.
func (s *server) stop() (maxRSS int64, err error) {
	defer s.log.Close()
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.waited:
	case <-time.After(stopGrace):
		_ = s.cmd.Process.Kill()
		<-s.waited
		return 0, errors.New("hub serve did not stop within " + stopGrace.String() + " of an interrupt; killed it")
	}
	if ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSS = ru.Maxrss * 1024
	}
	if s.waitErr != nil {
		return maxRSS, fmt.Errorf("hub serve: %w", s.waitErr)
	}
	return maxRSS, nil
}
