package localhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

// fleet creates devices dev-000 ... dev-(n-1), with tags floor (i % 3) and
// site "berlin" for even i, "paris" for odd.
func fleet(t testing.TB, h *Hub, n int) []string {
	t.Helper()
	var ids []string
	var batch []hub.ExportImportDevice
	flush := func() {
		res, err := h.BulkRegistry(context.Background(), batch)
		if err != nil || !res.IsSuccessful {
			t.Fatalf("BulkRegistry: %+v, %v", res, err)
		}
		batch = batch[:0]
	}
	for i := range n {
		id := fmt.Sprintf("dev-%03d", i)
		site := "berlin"
		if i%2 == 1 {
			site = "paris"
		}
		ids = append(ids, id)
		batch = append(batch, hub.ExportImportDevice{ID: id, ImportMode: hub.ImportCreate,
			Tags: map[string]any{"floor": float64(i % 3), "site": site}})
		if len(batch) == hub.MaxBulkDevices {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return ids
}

// answering is a MethodRouter that answers every call at once with status
// 200 and the method's payload, and counts the calls per device. Devices
// in offline are not online.
type answering struct {
	mu      sync.Mutex
	calls   map[string]int
	offline map[string]bool
}

func (a *answering) InvokeMethod(_ context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls == nil {
		a.calls = map[string]int{}
	}
	key := deviceID
	if moduleID != "" {
		key += "/" + moduleID
	}
	a.calls[key]++
	if a.offline[deviceID] {
		return nil, deviceNotOnline(deviceID, moduleID)
	}
	p := req.Payload
	if p == nil {
		p = json.RawMessage("null")
	}
	return &hub.MethodResult{Status: 200, Payload: p}, nil
}

func (a *answering) count(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[key]
}

// deviceJobs returns every devices.jobs record a query returns, reading
// all its pages.
func deviceJobs(t *testing.T, h *Hub, q string, pageSize int) []hub.DeviceJob {
	t.Helper()
	var out []hub.DeviceJob
	opts := hub.QueryOptions{PageSize: pageSize}
	for {
		page, err := h.Query(t.Context(), q, opts)
		if err != nil {
			t.Fatalf("Query(%q): %v", q, err)
		}
		if page.ItemType != "deviceJob" {
			t.Fatalf("Query(%q): item type %q", q, page.ItemType)
		}
		for _, it := range page.Items {
			var j hub.DeviceJob
			if err := json.Unmarshal(it, &j); err != nil {
				t.Fatal(err)
			}
			out = append(out, j)
		}
		if page.Continuation == "" {
			return out
		}
		opts.Continuation = page.Continuation
	}
}

// statsOf counts the records of a job as deviceJobStatistics does.
func statsOf(recs []hub.DeviceJob) hub.DeviceJobStatistics {
	var s hub.DeviceJobStatistics
	for _, r := range recs {
		s.DeviceCount++
		switch r.Status {
		case hub.DeviceJobPending, hub.DeviceJobScheduled:
			s.PendingCount++
		case hub.DeviceJobRunning:
			s.RunningCount++
		case hub.DeviceJobCompleted:
			s.SucceededCount++
		case hub.DeviceJobFailed:
			s.FailedCount++
		}
	}
	return s
}

// checkStats fails when a job's statistics differ from its records.
func checkStats(t *testing.T, h *Hub, id string) *hub.JobResponse {
	t.Helper()
	j, err := h.Job(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	recs := deviceJobs(t, h, fmt.Sprintf("SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '%s'", id), 0)
	if d := cmp.Diff(statsOf(recs), *j.DeviceJobStatistics); d != "" {
		t.Errorf("job %s: statistics differ from its records (-records +statistics):\n%s", id, d)
	}
	return j
}

func methodJob(id, cond string) *hub.JobRequest {
	return &hub.JobRequest{JobID: id, Type: hub.JobTypeDeviceMethod, QueryCondition: cond,
		CloudToDeviceMethod: &hub.MethodRequest{MethodName: "reboot", Payload: json.RawMessage(`{"delay":30}`)}}
}

func twinJob(id, cond string, desired map[string]any) *hub.JobRequest {
	return &hub.JobRequest{JobID: id, Type: hub.JobTypeUpdateTwin, QueryCondition: cond,
		UpdateTwin: &hub.JobTwin{ETag: "*", Properties: &hub.JobTwinProperties{Desired: desired}}}
}

func TestCreateJobRejects(t *testing.T) {
	method := func(m hub.MethodRequest) *hub.JobRequest {
		r := methodJob("j1", "*")
		r.CloudToDeviceMethod = &m
		return r
	}
	tests := map[string]struct {
		req  *hub.JobRequest
		want hub.ErrorCode
	}{
		"no request":         {nil, hub.CodeArgumentNull},
		"empty ID":           {methodJob("", "*"), hub.CodeArgumentInvalid},
		"ID with underscore": {methodJob("job_1", "*"), hub.CodeArgumentInvalid},
		"ID too long":        {methodJob(strings.Repeat("a", 65), "*"), hub.CodeArgumentInvalid},
		"no type":            {&hub.JobRequest{JobID: "j1", QueryCondition: "*"}, hub.CodeArgumentNull},
		"legacy type":        {&hub.JobRequest{JobID: "j1", Type: "scheduleTwinUpdate", QueryCondition: "*"}, hub.CodeArgumentInvalid},
		"export type":        {&hub.JobRequest{JobID: "j1", Type: "export", QueryCondition: "*"}, hub.CodeArgumentInvalid},
		"no query":           {methodJob("j1", " "), hub.CodeArgumentNull},
		"full query":         {methodJob("j1", "SELECT * FROM devices"), hub.CodeArgumentInvalid},
		"bad condition":      {methodJob("j1", "tags.floor = "), hub.CodeArgumentInvalid},
		"jobs condition":     {methodJob("j1", "FROM devices.jobs WHERE jobId = 'x'"), hub.CodeArgumentInvalid},
		"no method":          {&hub.JobRequest{JobID: "j1", Type: hub.JobTypeDeviceMethod, QueryCondition: "*"}, hub.CodeArgumentNull},
		"method name space":  {method(hub.MethodRequest{MethodName: "re boot"}), hub.CodeArgumentInvalid},
		"method name dollar": {method(hub.MethodRequest{MethodName: "$reboot"}), hub.CodeArgumentInvalid},
		"payload not JSON":   {method(hub.MethodRequest{MethodName: "m", Payload: json.RawMessage(`{`)}), hub.CodeArgumentInvalid},
		"payload too large":  {method(hub.MethodRequest{MethodName: "m", Payload: json.RawMessage(`"` + strings.Repeat("x", 130*1024) + `"`)}), hub.CodeMessageTooLarge},
		"response timeout":   {method(hub.MethodRequest{MethodName: "m", ResponseTimeoutInSeconds: 301}), hub.CodeArgumentInvalid},
		"method and twin":    {func() *hub.JobRequest { r := methodJob("j1", "*"); r.UpdateTwin = &hub.JobTwin{ETag: "*"}; return r }(), hub.CodeArgumentInvalid},
		"no twin":            {&hub.JobRequest{JobID: "j1", Type: hub.JobTypeUpdateTwin, QueryCondition: "*"}, hub.CodeArgumentNull},
		"twin without etag": {func() *hub.JobRequest {
			r := twinJob("j1", "*", map[string]any{"a": 1})
			r.UpdateTwin.ETag = ""
			return r
		}(), hub.CodeArgumentInvalid},
		"twin with an etag": {func() *hub.JobRequest {
			r := twinJob("j1", "*", map[string]any{"a": 1})
			r.UpdateTwin.ETag = "AAAAAAAAAAE="
			return r
		}(), hub.CodeArgumentInvalid},
		"twin sets reported": {func() *hub.JobRequest {
			r := twinJob("j1", "*", nil)
			r.UpdateTwin.Properties.Reported = map[string]any{"a": 1}
			return r
		}(), hub.CodeArgumentInvalid},
		"twin sets nothing": {twinJob("j1", "*", nil), hub.CodeArgumentInvalid},
		"twin bad key":      {twinJob("j1", "*", map[string]any{"a.b": 1}), hub.CodeArgumentInvalid},
		"twin and method": {func() *hub.JobRequest {
			r := twinJob("j1", "*", map[string]any{"a": 1})
			r.CloudToDeviceMethod = &hub.MethodRequest{MethodName: "m"}
			return r
		}(), hub.CodeArgumentInvalid},
		"negative max time":    {func() *hub.JobRequest { r := methodJob("j1", "*"); r.MaxExecutionTimeInSeconds = -1; return r }(), hub.CodeArgumentInvalid},
		"condition too long":   {methodJob("j1", "deviceId = '"+strings.Repeat("x", 9000)+"'"), hub.CodeArgumentInvalid},
		"module form bad tail": {methodJob("j1", "FROM devices.modules WHERE"), hub.CodeArgumentInvalid},
	}
	h := openTest(t)
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := h.CreateJob(t.Context(), tt.req)
			wantCode(t, "CreateJob", err, tt.want)
		})
	}
	page, err := h.Jobs(t.Context(), "", "", hub.QueryOptions{})
	if err != nil || len(page.Jobs) != 0 {
		t.Errorf("after rejected creations: %+v, %v", page, err)
	}
}

func TestCreateJobResponse(t *testing.T) {
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now, MaxConcurrentJobs: 5})
	ctx := t.Context()
	start := t0.Add(time.Hour)
	req := methodJob("later", "tags.floor = 1")
	req.StartTime = start
	req.CloudToDeviceMethod.Payload = json.RawMessage("null")
	got, err := h.CreateJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	created := t0.Truncate(100 * time.Nanosecond)
	want := &hub.JobResponse{
		JobID: "later", QueryCondition: "tags.floor = 1", CreatedTime: created, StartTime: start,
		MaxExecutionTimeInSeconds: hub.DefaultJobMaxExecutionSeconds, Type: hub.JobTypeDeviceMethod,
		CloudToDeviceMethod: &hub.MethodRequest{MethodName: "reboot", Payload: json.RawMessage("null"), ResponseTimeoutInSeconds: 30},
		Status:              hub.JobStatusScheduled, DeviceJobStatistics: &hub.DeviceJobStatistics{},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("CreateJob (-want +got):\n%s", d)
	}
	now, err := h.CreateJob(ctx, twinJob("now", "*", map[string]any{"BuildingNo": 45}))
	if err != nil {
		t.Fatal(err)
	}
	if now.Status != hub.JobStatusQueued || !now.StartTime.Equal(created) || now.UpdateTwin.ETag != "*" ||
		now.UpdateTwin.Properties.Desired["BuildingNo"] != float64(45) {
		t.Errorf("immediate twin job: %+v", now)
	}
	b, err := json.Marshal(now)
	if err != nil {
		t.Fatal(err)
	}
	for _, member := range []string{`"jobId":"now"`, `"type":"scheduleUpdateTwin"`, `"status":"queued"`, `"updateTwin":{"etag":"*","properties":{"desired":{"BuildingNo":45}}}`, `"deviceJobStatistics":{`} {
		if !strings.Contains(string(b), member) {
			t.Errorf("JSON %s lacks %s", b, member)
		}
	}
	if strings.Contains(string(b), "endTime") {
		t.Errorf("JSON %s has an endTime before the job ended", b)
	}

	_, err = h.CreateJob(ctx, methodJob("now", "*"))
	wantCode(t, "CreateJob of a used ID", err, hub.CodeJobAlreadyExists)
	_, err = h.Job(ctx, "nobody")
	wantCode(t, "Job of an unknown ID", err, hub.CodeJobNotFound)
	_, err = h.CancelJob(ctx, "nobody")
	wantCode(t, "CancelJob of an unknown ID", err, hub.CodeJobNotFound)
}

func TestMethodJob(t *testing.T) {
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	ctx := t.Context()
	fleet(t, h, 12)
	router := &answering{offline: map[string]bool{"dev-004": true}}
	h.SetMethodRouter(router)

	req := methodJob("reboot-floor-1", "tags.floor = 1")
	req.StartTime = t0.Add(time.Hour)
	if _, err := h.CreateJob(ctx, req); err != nil {
		t.Fatal(err)
	}
	// Before its start time the job waits, and has no device records.
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	j := checkStats(t, h, "reboot-floor-1")
	if j.Status != hub.JobStatusScheduled || j.DeviceJobStatistics.DeviceCount != 0 {
		t.Fatalf("before its start time: %+v", j)
	}
	// Devices created before the job starts join it.
	mustCreateDevice(t, h, &hub.Device{DeviceID: "late"})
	if _, err := h.PatchTwin(ctx, "late", hub.TwinPatch{Tags: map[string]any{"floor": 1}}, ""); err != nil {
		t.Fatal(err)
	}

	clock.Set(t0.Add(time.Hour + time.Second))
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	mustCreateDevice(t, h, &hub.Device{DeviceID: "later"})
	j = checkStats(t, h, "reboot-floor-1")
	wantStats := hub.DeviceJobStatistics{DeviceCount: 5, SucceededCount: 4, FailedCount: 1}
	if j.Status != hub.JobStatusCompleted || j.EndTime.IsZero() || !cmp.Equal(*j.DeviceJobStatistics, wantStats) {
		t.Errorf("after the run: status %s, end %v, statistics %+v; want completed with %+v", j.Status, j.EndTime, *j.DeviceJobStatistics, wantStats)
	}
	recs := deviceJobs(t, h, "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'reboot-floor-1'", 0)
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.DeviceID)
		if r.JobType != hub.JobTypeDeviceMethod || r.CreatedDateTimeUTC.IsZero() || r.StartTimeUTC.IsZero() || r.EndTimeUTC.IsZero() {
			t.Errorf("record %+v", r)
		}
		switch r.DeviceID {
		case "dev-004":
			want := &hub.DeviceJobError{Code: "DeviceNotOnline", Description: "Timed out waiting for device to connect."}
			if r.Status != hub.DeviceJobFailed || !cmp.Equal(r.Error, want) {
				t.Errorf("offline device: %+v, error %+v", r, r.Error)
			}
		default:
			if r.Status != hub.DeviceJobCompleted || r.Outcome == nil || r.Outcome.DeviceMethodResponse == nil ||
				r.Outcome.DeviceMethodResponse.Status != 200 || string(r.Outcome.DeviceMethodResponse.Payload) != `{"delay":30}` {
				t.Errorf("device %s: %+v", r.DeviceID, r)
			}
		}
	}
	if d := cmp.Diff([]string{"dev-001", "dev-004", "dev-007", "dev-010", "late"}, ids); d != "" {
		t.Errorf("job devices (-want +got):\n%s", d)
	}
	if n := router.count("dev-001"); n != 1 {
		t.Errorf("dev-001 called %d times", n)
	}
	if n := router.count("dev-000"); n != 0 {
		t.Errorf("dev-000, not on floor 1, called %d times", n)
	}
	// A finished job is not run again.
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if n := router.count("dev-001"); n != 1 {
		t.Errorf("dev-001 called %d times after a second run", n)
	}
	// Cancelling a finished job changes nothing.
	c, err := h.CancelJob(ctx, "reboot-floor-1")
	if err != nil || c.Status != hub.JobStatusCompleted {
		t.Errorf("CancelJob of a completed job: %+v, %v", c, err)
	}
}

func TestTwinJob(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	fleet(t, h, 6)
	var mu sync.Mutex
	var notified []DesiredChange
	stop := h.WatchDesired(func(ch DesiredChange) {
		mu.Lock()
		defer mu.Unlock()
		notified = append(notified, ch)
	})
	defer stop()
	req := twinJob("building", "tags.site = 'berlin'", map[string]any{"BuildingNo": 45})
	req.UpdateTwin.Tags = map[string]any{"building": "b45", "floor": nil}
	if _, err := h.CreateJob(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	j := checkStats(t, h, "building")
	if j.Status != hub.JobStatusCompleted || j.DeviceJobStatistics.SucceededCount != 3 {
		t.Errorf("job: %+v %+v", j, j.DeviceJobStatistics)
	}
	for i := range 6 {
		id := fmt.Sprintf("dev-%03d", i)
		tw, err := h.Twin(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		berlin := i%2 == 0
		if got := tw.Properties.Desired["BuildingNo"] == float64(45); got != berlin {
			t.Errorf("%s: desired %v", id, tw.Properties.Desired)
		}
		if berlin && (tw.Tags["building"] != "b45" || tw.Tags["floor"] != nil || tw.Properties.Desired.Version() != 2) {
			t.Errorf("%s: tags %v, desired $version %d", id, tw.Tags, tw.Properties.Desired.Version())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notified) != 3 || notified[0].Patch["BuildingNo"] != float64(45) || notified[0].Version != 2 {
		t.Errorf("desired notifications: %+v", notified)
	}
}

func TestModuleJobs(t *testing.T) {
	h := openTest(t)
	ctx := t.Context()
	fleet(t, h, 2)
	for _, d := range []string{"dev-000", "dev-001"} {
		mustCreateModule(t, h, &hub.Module{DeviceID: d, ModuleID: "sensor"})
		mustCreateModule(t, h, &hub.Module{DeviceID: d, ModuleID: "other"})
	}
	router := &answering{}
	h.SetMethodRouter(router)
	if _, err := h.CreateJob(ctx, methodJob("mods", "FROM devices.modules WHERE moduleId = 'sensor'")); err != nil {
		t.Fatal(err)
	}
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	recs := deviceJobs(t, h, "SELECT * FROM devices.jobs", 0)
	if len(recs) != 2 || recs[0].ModuleID != "sensor" || recs[0].Status != hub.DeviceJobCompleted {
		t.Errorf("module job records: %+v", recs)
	}
	if router.count("dev-000/sensor") != 1 || router.count("dev-000/other") != 0 || router.count("dev-000") != 0 {
		t.Errorf("calls: %v", router.calls)
	}
	if _, err := h.CreateJob(ctx, twinJob("modtwins", "from devices.modules where moduleId = 'other'", map[string]any{"x": 1})); err != nil {
		t.Fatal(err)
	}
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	tw, err := h.ModuleTwin(ctx, "dev-001", "other")
	if err != nil || tw.Properties.Desired["x"] != float64(1) {
		t.Errorf("module twin: %+v, %v", tw, err)
	}
	checkStats(t, h, "modtwins")
}

func TestJobConcurrencyLimit(t *testing.T) {
	for name, tt := range map[string]struct {
		limit, allowed int
	}{
		"S1 default": {0, 1},
		"S2":         {hub.MaxActiveJobsS2, 5},
	} {
		t.Run(name, func(t *testing.T) {
			clock := newFixedClock(t0)
			h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now, MaxConcurrentJobs: tt.limit})
			ctx := t.Context()
			for i := range tt.allowed {
				req := methodJob(fmt.Sprintf("j%d", i), "*")
				req.StartTime = t0.Add(time.Hour) // scheduled jobs are active too
				if _, err := h.CreateJob(ctx, req); err != nil {
					t.Fatalf("job %d: %v", i, err)
				}
			}
			_, err := h.CreateJob(ctx, methodJob("one-more", "*"))
			wantCode(t, "CreateJob over the limit", err, hub.CodeMaxActiveJobCountExceeded)
			if !errors.Is(err, hub.ErrThrottled) {
				t.Errorf("error %v is not ErrThrottled", err)
			}
			// An ended job makes room.
			if _, err := h.CancelJob(ctx, "j0"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.CreateJob(ctx, methodJob("one-more", "*")); err != nil {
				t.Errorf("after a cancellation: %v", err)
			}
		})
	}
}

func TestCancelScheduledJob(t *testing.T) {
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	ctx := t.Context()
	fleet(t, h, 3)
	req := methodJob("later", "*")
	req.StartTime = t0.Add(time.Minute)
	if _, err := h.CreateJob(ctx, req); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(time.Second))
	j, err := h.CancelJob(ctx, "later")
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != hub.JobStatusCancelled || !j.EndTime.Equal(t0.Add(time.Second).Truncate(100)) {
		t.Errorf("cancelled: %+v", j)
	}
	clock.Set(t0.Add(time.Hour))
	h.SetMethodRouter(&answering{})
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	j = checkStats(t, h, "later")
	if j.Status != hub.JobStatusCancelled || j.DeviceJobStatistics.DeviceCount != 0 {
		t.Errorf("a cancelled job ran: %+v %+v", j, j.DeviceJobStatistics)
	}
}

// blocking is a MethodRouter whose calls wait until released, or until
// their context is done.
type blocking struct {
	release chan struct{}
	started atomic.Int64
}

func (b *blocking) InvokeMethod(ctx context.Context, deviceID, _ string, _ hub.MethodRequest) (*hub.MethodResult, error) {
	b.started.Add(1)
	select {
	case <-b.release:
		return &hub.MethodResult{Status: 200, Payload: json.RawMessage(`"done"`)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestCancelRunningJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := openTest(t)
		ctx := t.Context()
		fleet(t, h, 200)
		router := &blocking{release: make(chan struct{})}
		h.SetMethodRouter(router)
		if _, err := h.CreateJob(ctx, methodJob("big", "*")); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- h.RunPendingJobs(ctx) }()
		synctest.Wait() // every worker is in a call
		if n := router.started.Load(); n != jobParallelism {
			t.Fatalf("%d calls in flight, want %d", n, jobParallelism)
		}
		j := checkStats(t, h, "big")
		if j.Status != hub.JobStatusRunning || j.DeviceJobStatistics.RunningCount < jobParallelism || j.DeviceJobStatistics.PendingCount == 0 {
			t.Errorf("while running: %+v %+v", j, j.DeviceJobStatistics)
		}
		c, err := h.CancelJob(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != hub.JobStatusCancelled || c.DeviceJobStatistics.PendingCount != 0 {
			t.Errorf("cancel answered %+v %+v", c, c.DeviceJobStatistics)
		}
		close(router.release) // the calls in flight answer
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		j = checkStats(t, h, "big")
		want := hub.DeviceJobStatistics{DeviceCount: 200, SucceededCount: jobParallelism}
		if j.Status != hub.JobStatusCancelled || !cmp.Equal(*j.DeviceJobStatistics, want) {
			t.Errorf("after the calls in flight ended: %s %+v, want cancelled %+v", j.Status, *j.DeviceJobStatistics, want)
		}
		canceled := deviceJobs(t, h, "SELECT * FROM devices.jobs WHERE devices.jobs.status = 'canceled'", 0)
		if len(canceled) != 200-jobParallelism {
			t.Errorf("%d canceled records, want %d", len(canceled), 200-jobParallelism)
		}
	})
}

func TestJobMaxExecutionTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := openTest(t)
		ctx := t.Context()
		fleet(t, h, 100)
		// Each device answers after 4 s: 64 at a time, the first round
		// answers, the second is cut off at 6 s.
		h.SetMethodRouter(routerFunc(func(ctx context.Context, _, _ string, _ hub.MethodRequest) (*hub.MethodResult, error) {
			select {
			case <-time.After(4 * time.Second):
				return &hub.MethodResult{Status: 200}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}))
		req := methodJob("slow", "*")
		req.MaxExecutionTimeInSeconds = 6
		if _, err := h.CreateJob(ctx, req); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := h.RunPendingJobs(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 6*time.Second {
			t.Errorf("the run took %v, want the job's 6 s", d)
		}
		j := checkStats(t, h, "slow")
		want := hub.DeviceJobStatistics{DeviceCount: 100, SucceededCount: jobParallelism, FailedCount: 100 - jobParallelism}
		if j.Status != hub.JobStatusFailed || !cmp.Equal(*j.DeviceJobStatistics, want) || !strings.Contains(j.FailureReason, "maximum execution time of 6 seconds") {
			t.Errorf("job %s %q %+v, want failed %+v", j.Status, j.FailureReason, *j.DeviceJobStatistics, want)
		}
		failed := deviceJobs(t, h, "SELECT * FROM devices.jobs WHERE devices.jobs.status = 'failed'", 0)
		for _, r := range failed {
			if r.Error == nil || r.Error.Code != jobErrTimedOut {
				t.Errorf("failed record %s: error %+v", r.DeviceID, r.Error)
			}
		}
	})
}

func TestJobResumesAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hub.db")
		h, err := Open(path, Options{MaxConcurrentJobs: 2})
		if err != nil {
			t.Fatal(err)
		}
		fleet(t, h, 20)
		// Even devices answer; odd ones are still in their call when the
		// hub stops.
		first := &answering{}
		h.SetMethodRouter(routerFunc(func(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error) {
			var n int
			fmt.Sscanf(deviceID, "dev-%d", &n)
			if n%2 == 1 {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return first.InvokeMethod(ctx, deviceID, moduleID, req)
		}))
		if _, err := h.CreateJob(t.Context(), methodJob("resume", "*")); err != nil {
			t.Fatal(err)
		}
		scheduled := twinJob("tonight", "tags.site = 'paris'", map[string]any{"mode": "night"})
		scheduled.StartTime = time.Now().Add(8 * time.Hour)
		if _, err := h.CreateJob(t.Context(), scheduled); err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- h.RunPendingJobs(ctx) }()
		synctest.Wait()
		j := checkStats(t, h, "resume")
		if j.DeviceJobStatistics.SucceededCount != 10 || j.DeviceJobStatistics.RunningCount != 10 {
			t.Fatalf("before the stop: %+v", j.DeviceJobStatistics)
		}
		stop()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("RunPendingJobs after the stop: %v", err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}

		h = openTestHub(t, path, Options{MaxConcurrentJobs: 2})
		j = checkStats(t, h, "resume")
		if j.Status != hub.JobStatusRunning || j.DeviceJobStatistics.RunningCount != 10 {
			t.Fatalf("after the restart: %+v %+v", j, j.DeviceJobStatistics)
		}
		second := &answering{}
		h.SetMethodRouter(second)
		if err := h.RunPendingJobs(t.Context()); err != nil {
			t.Fatal(err)
		}
		j = checkStats(t, h, "resume")
		if j.Status != hub.JobStatusCompleted || j.DeviceJobStatistics.SucceededCount != 20 {
			t.Errorf("resumed: %+v %+v", j, j.DeviceJobStatistics)
		}
		for i := range 20 {
			id := fmt.Sprintf("dev-%03d", i)
			if got, want := second.count(id), i%2; got != want {
				t.Errorf("%s called %d times after the restart, want %d", id, got, want)
			}
		}
		// The scheduled job waited through the restart, and runs when its
		// time comes.
		if j, _ := h.Job(t.Context(), "tonight"); j.Status != hub.JobStatusScheduled {
			t.Errorf("scheduled job after the restart: %s", j.Status)
		}
		time.Sleep(8 * time.Hour)
		if err := h.RunPendingJobs(t.Context()); err != nil {
			t.Fatal(err)
		}
		if j := checkStats(t, h, "tonight"); j.Status != hub.JobStatusCompleted || j.DeviceJobStatistics.SucceededCount != 10 {
			t.Errorf("scheduled job: %+v %+v", j, j.DeviceJobStatistics)
		}
	})
}

func TestRunJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := openTest(t)
		fleet(t, h, 4)
		router := &answering{}
		h.SetMethodRouter(router)
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- h.RunJobs(ctx) }()

		req := methodJob("at-two", "*")
		req.StartTime = time.Now().Add(2 * time.Hour)
		if _, err := h.CreateJob(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(2*time.Hour - time.Second)
		synctest.Wait()
		if j, _ := h.Job(t.Context(), "at-two"); j.Status != hub.JobStatusScheduled {
			t.Fatalf("a second before its start: %s", j.Status)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		j := checkStats(t, h, "at-two")
		if j.Status != hub.JobStatusCompleted || j.DeviceJobStatistics.SucceededCount != 4 {
			t.Fatalf("at its start: %+v %+v", j, j.DeviceJobStatistics)
		}
		if _, err := h.CreateJob(t.Context(), twinJob("now", "*", map[string]any{"a": 1})); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if j, _ := h.Job(t.Context(), "now"); j.Status != hub.JobStatusCompleted {
			t.Errorf("an immediate job: %s", j.Status)
		}

		// Retention: 30 days after they ended, jobs and their records go.
		time.Sleep(hub.JobRetention + jobSweepInterval)
		synctest.Wait()
		if _, err := h.Job(t.Context(), "at-two"); !errors.Is(err, hub.ErrNotFound) {
			t.Errorf("Job 30 days after its end: %v", err)
		}
		if recs := deviceJobs(t, h, "SELECT * FROM devices.jobs", 0); len(recs) != 0 {
			t.Errorf("%d device records left after the retention", len(recs))
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("RunJobs: %v", err)
		}
	})
}

func TestDevicesJobsQuery(t *testing.T) {
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now})
	ctx := t.Context()
	fleet(t, h, 6)
	h.SetMethodRouter(&answering{offline: map[string]bool{"dev-002": true}})
	if _, err := h.CreateJob(ctx, methodJob("a-method", "*")); err != nil {
		t.Fatal(err)
	}
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(24 * time.Hour))
	if _, err := h.CreateJob(ctx, twinJob("b-twin", "tags.floor = 0", map[string]any{"x": 1})); err != nil {
		t.Fatal(err)
	}
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	key := func(recs []hub.DeviceJob) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.JobID+"/"+r.DeviceID)
		}
		return out
	}
	day2 := t0.Add(12 * time.Hour).Format("2006-01-02T15:04")
	tests := map[string]struct {
		query string
		want  []string
	}{
		"one job": {"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'b-twin'",
			[]string{"b-twin/dev-000", "b-twin/dev-003"}},
		"one device": {"SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'dev-003'",
			[]string{"a-method/dev-003", "b-twin/dev-003"}},
		"devices named, unqualified": {"SELECT * FROM devices.jobs WHERE deviceId IN ['dev-003', 'dev-000', 'nobody'] AND jobType = 'scheduleUpdateTwin'",
			[]string{"b-twin/dev-000", "b-twin/dev-003"}},
		"documented example": {"SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'dev-000' AND devices.jobs.jobType = 'scheduleUpdateTwin' AND devices.jobs.status = 'completed' AND devices.jobs.createdDateTimeUtc > '" + day2 + "'",
			[]string{"b-twin/dev-000"}},
		"created before": {"SELECT * FROM devices.jobs WHERE devices.jobs.createdDateTimeUtc < '" + day2 + "' AND devices.jobs.status = 'failed'",
			[]string{"a-method/dev-002"}},
		"error code": {"SELECT * FROM devices.jobs WHERE devices.jobs.error.code = 'DeviceNotOnline'",
			[]string{"a-method/dev-002"}},
		"method response": {"SELECT * FROM devices.jobs WHERE devices.jobs.outcome.deviceMethodResponse.status = 200 AND devices.jobs.deviceId IN ['dev-000', 'dev-001']",
			[]string{"a-method/dev-000", "a-method/dev-001"}},
		"status case-sensitive": {"SELECT * FROM devices.jobs WHERE devices.jobs.status = 'Completed'", nil},
		"top":                   {"SELECT TOP 3 * FROM devices.jobs", []string{"a-method/dev-000", "a-method/dev-001", "a-method/dev-002"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for _, size := range []int{0, 1, 2} {
				if d := cmp.Diff(tt.want, key(deviceJobs(t, h, tt.query, size))); d != "" {
					t.Errorf("page size %d (-want +got):\n%s", size, d)
				}
			}
		})
	}
	all := deviceJobs(t, h, "SELECT * FROM devices.jobs", 0)
	if len(all) != 8 {
		t.Errorf("%d records, want 8", len(all))
	}

	for name, q := range map[string]string{
		"projection":  "SELECT deviceId FROM devices.jobs",
		"aggregate":   "SELECT COUNT() FROM devices.jobs",
		"twin path":   "SELECT * FROM devices.jobs WHERE devices.tags.floor = 1",
		"group by":    "SELECT * FROM devices.jobs GROUP BY status",
		"twin source": "SELECT * FROM devices WHERE devices.jobs.jobId = 'x'",
	} {
		if _, err := h.Query(ctx, q, hub.QueryOptions{}); name != "twin source" && !errors.Is(err, hub.ErrBadRequest) {
			t.Errorf("%s: Query(%q) = %v, want 400", name, q, err)
		}
	}
	page, err := h.Query(ctx, "SELECT * FROM devices.jobs", hub.QueryOptions{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"garbage":       "!!",
		"twin token":    encodeContinuation(sourceDevices, continuation{after: []byte("dev-000"), returned: 1}),
		"indexed token": encodeJobsToken(tokenJobsByIndex, jobsToken{after: []byte("dev-000\x00a-method\x00"), returned: 1}),
	} {
		if _, err := h.Query(ctx, "SELECT * FROM devices.jobs", hub.QueryOptions{Continuation: tok}); !errors.Is(err, hub.ErrBadRequest) {
			t.Errorf("%s: %v, want 400", name, err)
		}
	}
	if _, err := h.Query(ctx, "SELECT * FROM devices", hub.QueryOptions{Continuation: page.Continuation}); !errors.Is(err, hub.ErrBadRequest) {
		t.Errorf("a jobs token for a twin query: %v, want 400", err)
	}
}

func TestJobsList(t *testing.T) {
	clock := newFixedClock(t0)
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{Now: clock.Now, MaxConcurrentJobs: 10})
	ctx := t.Context()
	fleet(t, h, 2)
	h.SetMethodRouter(&answering{})
	for _, id := range []string{"m1", "m2"} {
		if _, err := h.CreateJob(ctx, methodJob(id, "*")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.CreateJob(ctx, twinJob("t1", "*", map[string]any{"a": 1})); err != nil {
		t.Fatal(err)
	}
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	later := methodJob("m3", "*")
	later.StartTime = t0.Add(time.Hour)
	if _, err := h.CreateJob(ctx, later); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CreateJob(ctx, methodJob("m4", "*")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CancelJob(ctx, "m4"); err != nil {
		t.Fatal(err)
	}
	list := func(jobType, status string, size int) []string {
		var ids []string
		opts := hub.QueryOptions{PageSize: size}
		for {
			page, err := h.Jobs(ctx, jobType, status, opts)
			if err != nil {
				t.Fatalf("Jobs(%q, %q): %v", jobType, status, err)
			}
			for _, j := range page.Jobs {
				ids = append(ids, j.JobID)
			}
			if page.Continuation == "" {
				return ids
			}
			opts.Continuation = page.Continuation
		}
	}
	tests := map[string]struct {
		jobType, status string
		want            []string
	}{
		"all":               {"", "", []string{"m1", "m2", "m3", "m4", "t1"}},
		"method":            {"scheduleDeviceMethod", "", []string{"m1", "m2", "m3", "m4"}},
		"twin":              {"scheduleUpdateTwin", "", []string{"t1"}},
		"completed":         {"", "completed", []string{"m1", "m2", "t1"}},
		"scheduled":         {"", "scheduled", []string{"m3"}},
		"canceled, one l":   {"", "canceled", []string{"m4"}},
		"cancelled, two l":  {"scheduleDeviceMethod", "Cancelled", []string{"m4"}},
		"pending is queued": {"", "pending", nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for _, size := range []int{0, 1, 2} {
				if d := cmp.Diff(tt.want, list(tt.jobType, tt.status, size)); d != "" {
					t.Errorf("page size %d (-want +got):\n%s", size, d)
				}
			}
		})
	}
	for _, bad := range [][2]string{{"export", ""}, {"", "done"}} {
		if _, err := h.Jobs(ctx, bad[0], bad[1], hub.QueryOptions{}); !errors.Is(err, hub.ErrBadRequest) {
			t.Errorf("Jobs(%q, %q): %v, want 400", bad[0], bad[1], err)
		}
	}
	if _, err := h.Jobs(ctx, "", "", hub.QueryOptions{Continuation: "AAAA"}); !errors.Is(err, hub.ErrBadRequest) {
		t.Errorf("bad token: %v", err)
	}
}

func TestJobsReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	h, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	ro := openTestHub(t, path, Options{ReadOnly: true})
	if _, err := ro.Job(t.Context(), "x"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("Job on a hub without jobs: %v", err)
	}
	if recs := deviceJobs(t, ro, "SELECT * FROM devices.jobs", 0); len(recs) != 0 {
		t.Errorf("records: %v", recs)
	}
	if _, err := ro.CreateJob(t.Context(), methodJob("x", "*")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("CreateJob: %v", err)
	}
	for name, run := range map[string]func(context.Context) error{
		"RunJobs": ro.RunJobs, "RunPendingJobs": ro.RunPendingJobs, "RunConfigurations": ro.RunConfigurations, "ApplyConfigurations": ro.ApplyConfigurations,
	} {
		if err := run(t.Context()); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDeviceJobJSON(t *testing.T) {
	in := `{"deviceId":"myDeviceId","jobId":"myJobId","jobType":"scheduleUpdateTwin","status":"completed",
		"startTimeUtc":"2016-09-29T18:18:52.7418462","endTimeUtc":"2016-09-29T18:20:52.7418462",
		"createdDateTimeUtc":"2016-09-29T18:18:56.7787107Z","lastUpdatedDateTimeUtc":"2016-09-29T18:18:56.8894408Z",
		"outcome":{"deviceMethodResponse":null}}`
	var j hub.DeviceJob
	if err := json.Unmarshal([]byte(in), &j); err != nil {
		t.Fatal(err)
	}
	if j.StartTimeUTC != time.Date(2016, 9, 29, 18, 18, 52, 741846200, time.UTC) || j.Outcome == nil || j.Outcome.DeviceMethodResponse != nil {
		t.Errorf("decoded %+v", j)
	}
	out, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"deviceId":"myDeviceId","jobId":"myJobId","jobType":"scheduleUpdateTwin","status":"completed","startTimeUtc":"2016-09-29T18:18:52.7418462Z","endTimeUtc":"2016-09-29T18:20:52.7418462Z","createdDateTimeUtc":"2016-09-29T18:18:56.7787107Z","lastUpdatedDateTimeUtc":"2016-09-29T18:18:56.8894408Z","outcome":{"deviceMethodResponse":null}}`
	if d := cmp.Diff(want, string(out)); d != "" {
		t.Errorf("encoded (-want +got):\n%s", d)
	}
	// Times order as strings: the query language compares them so.
	a := hub.DeviceJob{CreatedDateTimeUTC: time.Date(2026, 1, 1, 0, 0, 52, 700000000, time.UTC)}
	b := hub.DeviceJob{CreatedDateTimeUTC: time.Date(2026, 1, 1, 0, 0, 52, 740000000, time.UTC)}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !slices.IsSorted([]string{string(ja), string(jb)}) {
		t.Errorf("%s sorts after %s", ja, jb)
	}
}

// TestMethodJobAtScale runs a method job over more devices than one
// transaction records at its start, some of them offline, and checks the
// statistics against the records.
func TestMethodJobAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,050 devices")
	}
	h := openTest(t)
	ctx := t.Context()
	const n = startBatch + 50
	fleet(t, h, n)
	h.SetMethodRouter(&answering{offline: map[string]bool{"dev-007": true, "dev-5000": true, "dev-10049": true}})
	if _, err := h.CreateJob(ctx, methodJob("all", "*")); err != nil {
		t.Fatal(err)
	}
	if err := h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	j := checkStats(t, h, "all")
	want := hub.DeviceJobStatistics{DeviceCount: n, SucceededCount: n - 3, FailedCount: 3}
	if j.Status != hub.JobStatusCompleted || !cmp.Equal(*j.DeviceJobStatistics, want) {
		t.Errorf("job %s %+v, want completed %+v", j.Status, *j.DeviceJobStatistics, want)
	}
}

// BenchmarkMethodJob10k runs a method job over 10,000 devices whose
// router answers in-process, and reports devices per second.
func BenchmarkMethodJob10k(b *testing.B) {
	h, err := Open(filepath.Join(b.TempDir(), "hub.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	const n = 10000
	fleet(b, h, n)
	h.SetMethodRouter(&answering{})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("bench-%d", i)
		if _, err := h.CreateJob(ctx, methodJob(id, "*")); err != nil {
			b.Fatal(err)
		}
		if err := h.RunPendingJobs(ctx); err != nil {
			b.Fatal(err)
		}
		j, err := h.Job(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if j.Status != hub.JobStatusCompleted || j.DeviceJobStatistics.SucceededCount != n {
			b.Fatalf("job %+v %+v", j, j.DeviceJobStatistics)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "devices/s")
}
