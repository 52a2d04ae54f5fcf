package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine is what the figures were measured on.
type machine struct {
	CPUs     int    `json:"cpus"` // processors this process may use
	CPUModel string `json:"cpu_model"`
	MemBytes int64  `json:"mem_bytes,omitempty"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel,omitempty"`
	Go       string `json:"go"`
	// Revision is the repository's commit, "+dirty" when the working
	// tree had changes; empty outside a git checkout.
	Revision string `json:"revision,omitempty"`
}

func (m machine) String() string {
	s := fmt.Sprintf("%d CPUs (%s), %s memory, %s, %s", m.CPUs, m.CPUModel, formatBytes(float64(m.MemBytes)), m.OS, m.Go)
	if m.Revision != "" {
		s += ", revision " + m.Revision
	}
	return s
}

// describeMachine reads the machine's description from /proc, `go
// version` and git.
func describeMachine(ctx context.Context, goCmd, root string) machine {
	m := machine{CPUs: runtime.NumCPU(), CPUModel: "unknown", OS: runtime.GOOS + "/" + runtime.GOARCH}
	if v, ok := procField("/proc/cpuinfo", "model name"); ok {
		m.CPUModel = v
	}
	if v, ok := procField("/proc/meminfo", "MemTotal"); ok {
		if kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
			m.MemBytes = kb * 1024
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Go = runtime.Version()
	if out, err := exec.CommandContext(ctx, goCmd, "env", "GOVERSION").Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	git := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty=+dirty", "--abbrev=12")
	git.Dir = root
	if out, err := git.Output(); err == nil {
		m.Revision = strings.TrimSpace(string(out))
	}
	return m
}

// procField returns the value of the first "key : value" line of a /proc
// file.
func procField(path, key string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// loadAverage is the machine's 1-minute load average, or -1 when unknown:
// a figure taken while other work ran is slower than the machine can do.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
