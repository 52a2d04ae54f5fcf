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
	"syscall"
	"time"
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

// cpuMeter measures how much processor time other processes took while
// the bench ran: the machine's busy time from /proc/stat less this
// process's and its children's own. The machines are shared, and a run
// during which others took a core is slower than the machine can do.
type cpuMeter struct {
	t0          time.Time
	busy0, own0 float64 // seconds
	ok          bool
}

func startCPUMeter() *cpuMeter {
	busy, ok := machineBusy()
	return &cpuMeter{t0: time.Now(), busy0: busy, own0: ownCPU(), ok: ok}
}

// otherCores returns the average number of processors that other
// processes kept busy since the meter started, or -1 when unknown.
func (m *cpuMeter) otherCores() float64 {
	busy, ok := machineBusy()
	wall := time.Since(m.t0).Seconds()
	if !m.ok || !ok || wall <= 0 {
		return -1
	}
	return max(0, (busy-m.busy0)-(ownCPU()-m.own0)) / wall
}

// machineBusy is the time all processors spent busy since boot, from the
// first line of /proc/stat, in seconds.
func machineBusy() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	// cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy float64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return 0, false
		}
		busy += v
	}
	return busy / clockTicks, true
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// ownCPU is the processor time of this process and of its waited-for
// children, in seconds.
func ownCPU() float64 {
	var total float64
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	return total
}
