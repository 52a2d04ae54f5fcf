package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// fleetRig is `hub serve` running in this process, with n devices
// registered and connected through its device gateway by `iotplan device
// simulate --devices n` in a process of its own (each connection costs a
// file descriptor on either side), and the REST client of its owner.
type fleetRig struct {
	c      *hub.Client
	n      int
	prefix string
}

// newFleetRig serves a hub, registers n devices, starts the simulator and
// returns once every device answers direct methods: a first method job
// whose calls wait for their device to connect (connectTimeoutInSeconds)
// has succeeded on all of them.
func newFleetRig(tb testing.TB, n int) *fleetRig {
	tb.Helper()
	if _, err := exec.LookPath("iotplan"); err != nil {
		tb.Skipf("no iotplan command to simulate devices with: %v", err)
	}
	dir := tb.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan servedHub, 1)
	s := &streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}
	cmd := hubServeCmd(s, func(h servedHub) { ready <- h })
	cmd.SetArgs([]string{"--data", filepath.Join(dir, dataDir), "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--insecure"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	served := make(chan error, 1)
	go func() { served <- cmd.ExecuteContext(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			tb.Errorf("hub serve: %v", err)
		}
	})
	var info servedHub
	select {
	case info = <-ready:
	case err := <-served:
		tb.Fatalf("hub serve ended: %v", err)
	}
	cs, err := hub.ParseConnectionString(info.connectionString)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := hub.NewClient(cs, hub.ClientOptions{Insecure: true})
	if err != nil {
		tb.Fatal(err)
	}
	r := &fleetRig{c: c, n: n, prefix: "fleet"}

	var batch []hub.ExportImportDevice
	for i := 1; i <= n; i++ {
		batch = append(batch, hub.ExportImportDevice{ID: r.prefix + "-" + strconv.Itoa(i), ImportMode: hub.ImportCreate, Status: hub.StatusEnabled})
		if len(batch) == hub.MaxBulkDevices || i == n {
			res, err := c.BulkRegistry(ctx, batch)
			if err != nil || !res.IsSuccessful {
				tb.Fatalf("register devices: %+v, %v", res, err)
			}
			batch = batch[:0]
		}
	}

	sim := exec.Command("iotplan", "device", "simulate", "--device-id", r.prefix, "--devices", strconv.Itoa(n),
		"--insecure", "--hub-host", info.mqttAddr, "--msg-count", "0", "--login", info.connectionString)
	sim.Dir = dir
	sim.Env = append(os.Environ(), "IOTHUB_CONNECTION_STRING=")
	var errOut bytes.Buffer
	sim.Stderr = &errOut
	out, err := sim.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		tb.Fatal(err)
	}
	var lines sync.WaitGroup
	lines.Add(1)
	go func() { // the simulator's output, read so that it never blocks
		defer lines.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
		}
	}()
	tb.Cleanup(func() {
		_ = sim.Process.Signal(syscall.SIGINT)
		lines.Wait()
		if err := sim.Wait(); err != nil {
			tb.Errorf("device simulate: %v\n%s", err, errOut.String())
		}
	})

	j := r.run(tb, "warm-up", 300)
	if j.DeviceJobStatistics == nil || j.DeviceJobStatistics.SucceededCount != n {
		tb.Fatalf("warm-up job: %+v %+v; simulator: %s", j, j.DeviceJobStatistics, errOut.String())
	}
	return r
}

// run creates a method job over every device and waits for its end.
// connectTimeout is how long each call waits for its device to connect.
func (r *fleetRig) run(tb testing.TB, id string, connectTimeout int) *hub.JobResponse {
	tb.Helper()
	ctx := context.Background()
	_, err := r.c.CreateJob(ctx, &hub.JobRequest{JobID: id, Type: hub.JobTypeDeviceMethod, QueryCondition: "*",
		CloudToDeviceMethod:       &hub.MethodRequest{MethodName: "lockDoor", Payload: json.RawMessage("null"), ConnectTimeoutInSeconds: connectTimeout},
		MaxExecutionTimeInSeconds: 1800})
	if err != nil {
		tb.Fatalf("create job %s: %v", id, err)
	}
	for {
		j, err := r.c.Job(ctx, id)
		if err != nil {
			tb.Fatalf("read job %s: %v", id, err)
		}
		if j.Status.Terminal() {
			return j
		}
		// Over REST a job's end can only be seen by reading it.
		time.Sleep(20 * time.Millisecond)
	}
}

// check compares a job's statistics with its per-device records, read
// back through the query endpoint, and wants every device to have
// answered with the simulator's 200.
func (r *fleetRig) check(tb testing.TB, j *hub.JobResponse) {
	tb.Helper()
	want := hub.DeviceJobStatistics{DeviceCount: r.n, SucceededCount: r.n}
	if j.Status != hub.JobStatusCompleted || j.DeviceJobStatistics == nil || *j.DeviceJobStatistics != want {
		tb.Fatalf("job %s: %s %+v, want completed with %+v", j.JobID, j.Status, j.DeviceJobStatistics, want)
	}
	var got hub.DeviceJobStatistics
	seen := map[string]bool{}
	opts := hub.QueryOptions{PageSize: hub.MaxClientQueryPageSize}
	for {
		page, err := r.c.Query(context.Background(), "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '"+j.JobID+"'", opts)
		if err != nil {
			tb.Fatalf("query devices.jobs: %v", err)
		}
		for _, it := range page.Items {
			var dj hub.DeviceJob
			if err := json.Unmarshal(it, &dj); err != nil {
				tb.Fatal(err)
			}
			if seen[dj.DeviceID] {
				tb.Fatalf("device %s has two records of job %s", dj.DeviceID, j.JobID)
			}
			seen[dj.DeviceID] = true
			got.DeviceCount++
			switch dj.Status {
			case hub.DeviceJobCompleted:
				got.SucceededCount++
				if dj.Outcome == nil || dj.Outcome.DeviceMethodResponse == nil || dj.Outcome.DeviceMethodResponse.Status != 200 {
					tb.Errorf("device %s answered %+v, want 200", dj.DeviceID, dj.Outcome)
				}
			case hub.DeviceJobFailed:
				got.FailedCount++
			case hub.DeviceJobRunning:
				got.RunningCount++
			case hub.DeviceJobPending, hub.DeviceJobScheduled:
				got.PendingCount++
			}
		}
		if page.Continuation == "" {
			break
		}
		opts.Continuation = page.Continuation
	}
	if got != *j.DeviceJobStatistics {
		tb.Errorf("job %s: the records count %+v, the statistics say %+v", j.JobID, got, *j.DeviceJobStatistics)
	}
}

// TestMethodJobSimulatedFleet runs a method job over 200 devices connected
// through hub serve's gateway by the simulator, and checks its statistics
// against the per-device records. BenchmarkMethodJob10kDevices does the
// same with 10,000.
func TestMethodJobSimulatedFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and a device simulator")
	}
	r := newFleetRig(t, 200)
	r.check(t, r.run(t, "fleet-job", 0))
}

// BenchmarkMethodJob10kDevices runs method jobs over 10,000 devices
// connected through hub serve's gateway (MQTT over loopback, the
// simulator in its own process), from the REST call that creates each job
// to the read that sees it completed, and reports devices per second. The
// statistics of every job are checked against its per-device records,
// outside the timing. Setting up (registering and connecting the devices)
// takes about a minute.
func BenchmarkMethodJob10kDevices(b *testing.B) {
	const n = 10_000
	r := newFleetRig(b, n)
	var jobs []*hub.JobResponse
	for i := 0; b.Loop(); i++ {
		jobs = append(jobs, r.run(b, fmt.Sprintf("bench-%d", i), 0))
	}
	elapsed := b.Elapsed()
	for _, j := range jobs {
		r.check(b, j)
	}
	b.ReportMetric(float64(n*len(jobs))/elapsed.Seconds(), "devices/s")
}
