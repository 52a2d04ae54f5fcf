package hubtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

// Jobs runs the contract tests of jobs v2: scheduled twin updates and
// direct methods, their statistics and per-device records, scheduling,
// cancellation, listing and the typed errors. newHub is called once per
// test, as for Conformance; the hub it returns must run its jobs, as a
// served hub does (a local hub needs its Run).
//
// The tests create one job at a time and end each before the next, so they
// fit the one active job that Free and S1 hubs allow. Jobs cannot be
// deleted: their IDs end in random digits, so that the suite may run again
// against the same hub. The devices they target are offline.
func Jobs(t *testing.T, newHub func(t *testing.T) hub.Hub) {
	t.Helper()
	run(t, newHub, jobTests)
}

// Configurations runs the contract tests of automatic device
// configurations: create, read, list, update and delete with etags, the
// immutable content, application by priority to the twins the target
// conditions match, re-evaluation when a twin changes, system and custom
// metrics, and query tests. newHub is as for Jobs; the hub must apply its
// configurations, as a served hub does.
func Configurations(t *testing.T, newHub func(t *testing.T) hub.Hub) {
	t.Helper()
	run(t, newHub, configurationTests)
}

func run(t *testing.T, newHub func(t *testing.T) hub.Hub, tests []test) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newHub(t)) })
	}
}

var jobTests = []test{
	{"TwinUpdate", testJobTwinUpdate},
	{"MethodOfflineDevices", testJobMethodOffline},
	{"ScheduledThenCancelled", testJobScheduledCancelled},
	{"AlreadyExists", testJobAlreadyExists},
	{"NotFound", testJobNotFound},
	{"Invalid", testJobInvalid},
	{"List", testJobList},
}

// waitTimeout bounds the waits for a hub's asynchronous work (a job's run,
// a configuration's application). Only a hang reaches it.
const waitTimeout = 60 * time.Second

// pollInterval is how often a wait reads the hub again: over REST a job's
// end or a twin's change can only be seen by reading.
const pollInterval = 20 * time.Millisecond

// randomHex returns n random hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// jobID returns a job ID for the running test: its name in the
// characters job IDs allow, cut to fit, then suffix and random digits.
func jobID(t *testing.T, suffix string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	tail := "-" + suffix + "-" + randomHex(8)
	name := b.String()
	if max := hub.MaxJobIDLength - len(tail); len(name) > max {
		name = name[len(name)-max:]
	}
	return strings.Trim(name, "-") + tail
}

// createJob creates a job and, when the test ends, cancels it if it has
// not ended, so that the next test may create one.
func createJob(t *testing.T, h hub.Hub, req *hub.JobRequest) *hub.JobResponse {
	t.Helper()
	got, err := h.CreateJob(t.Context(), req)
	if err != nil {
		t.Fatalf("CreateJob(%q): %v", req.JobID, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if j, err := h.Job(ctx, req.JobID); err == nil && !j.Status.Terminal() {
			_, _ = h.CancelJob(ctx, req.JobID)
		}
	})
	return got
}

// waitJob reads a job until it has ended and returns it.
func waitJob(t *testing.T, h hub.Hub, id string) *hub.JobResponse {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		j, err := h.Job(t.Context(), id)
		if err != nil {
			t.Fatalf("Job(%q): %v", id, err)
		}
		if j.Status.Terminal() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %q still %s after %v: %+v", id, j.Status, waitTimeout, j.DeviceJobStatistics)
		}
		time.Sleep(pollInterval)
	}
}

// querier is the general query both the local hub and the REST client
// offer; through it the tests read the per-device records of devices.jobs.
type querier interface {
	Query(ctx context.Context, query string, opts hub.QueryOptions) (*hub.QueryPage, error)
}

// deviceJobs returns the per-device records of a job, sorted by device
// ID, or skips the check when the hub has no general query.
func deviceJobs(t *testing.T, h hub.Hub, id string) ([]hub.DeviceJob, bool) {
	t.Helper()
	q, ok := h.(querier)
	if !ok {
		t.Logf("the hub has no general query: the records of devices.jobs are not checked")
		return nil, false
	}
	var out []hub.DeviceJob
	opts := hub.QueryOptions{PageSize: 100}
	for pages := 0; ; pages++ {
		page, err := q.Query(t.Context(), "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '"+id+"'", opts)
		if err != nil {
			t.Fatalf("query devices.jobs of %q: %v", id, err)
		}
		if page.ItemType != "deviceJob" {
			t.Errorf("devices.jobs items are of type %q, want deviceJob", page.ItemType)
		}
		for _, it := range page.Items {
			var dj hub.DeviceJob
			if err := json.Unmarshal(it, &dj); err != nil {
				t.Fatalf("decode device job %s: %v", it, err)
			}
			out = append(out, dj)
		}
		if page.Continuation == "" {
			break
		}
		if pages > 1000 {
			t.Fatalf("devices.jobs query of %q does not end", id)
		}
		opts.Continuation = page.Continuation
	}
	slices.SortFunc(out, func(a, b hub.DeviceJob) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	return out, true
}

// wantStatistics checks a job's statistics.
func wantStatistics(t *testing.T, j *hub.JobResponse, want hub.DeviceJobStatistics) {
	t.Helper()
	if j.DeviceJobStatistics == nil {
		t.Errorf("job %q has no deviceJobStatistics, want %+v", j.JobID, want)
		return
	}
	if d := cmp.Diff(want, *j.DeviceJobStatistics); d != "" {
		t.Errorf("job %q statistics mismatch (-want +got):\n%s", j.JobID, d)
	}
}

// fleetOf creates n devices tagged with a group unique to the test and
// returns their IDs and the query condition that names them.
func fleetOf(t *testing.T, h hub.Hub, n int) (ids []string, condition string) {
	t.Helper()
	group := "g" + randomHex(12)
	for i := range n {
		id := testID(t, fmt.Sprintf("d%d", i))
		createDevice(t, h, &hub.Device{DeviceID: id})
		patchTwin(t, h, id, hub.TwinPatch{Tags: map[string]any{"jobgroup": group}}, "")
		ids = append(ids, id)
	}
	return ids, "tags.jobgroup = '" + group + "'"
}

func testJobTwinUpdate(t *testing.T, h hub.Hub) {
	ids, cond := fleetOf(t, h, 3)
	other := testID(t, "other")
	createDevice(t, h, &hub.Device{DeviceID: other})

	id := jobID(t, "twin")
	req := &hub.JobRequest{
		JobID: id, Type: hub.JobTypeUpdateTwin, QueryCondition: cond,
		UpdateTwin: &hub.JobTwin{ETag: "*", Tags: map[string]any{"updated": true},
			Properties: &hub.JobTwinProperties{Desired: map[string]any{"BuildingNo": 45.0}}},
		MaxExecutionTimeInSeconds: 600,
	}
	created := createJob(t, h, req)
	if created.JobID != id || created.Type != hub.JobTypeUpdateTwin {
		t.Errorf("CreateJob returned job %q of type %q, want %q of type %q", created.JobID, created.Type, id, hub.JobTypeUpdateTwin)
	}
	if created.Status != hub.JobStatusQueued && created.Status != hub.JobStatusRunning && created.Status != hub.JobStatusCompleted {
		t.Errorf("a job starting now was created %s, want queued (or already running or completed)", created.Status)
	}
	j := waitJob(t, h, id)
	if j.Status != hub.JobStatusCompleted {
		t.Fatalf("job ended %s (%s), want completed", j.Status, j.FailureReason)
	}
	wantStatistics(t, j, hub.DeviceJobStatistics{DeviceCount: 3, SucceededCount: 3})
	if j.QueryCondition != cond || j.MaxExecutionTimeInSeconds != 600 {
		t.Errorf("job queryCondition, maxExecutionTimeInSeconds = %q, %d, want %q, 600", j.QueryCondition, j.MaxExecutionTimeInSeconds, cond)
	}
	if j.CreatedTime.IsZero() || j.StartTime.IsZero() || j.EndTime.Before(j.StartTime) {
		t.Errorf("job times created %v, start %v, end %v: want all set, the end not before the start", j.CreatedTime, j.StartTime, j.EndTime)
	}
	if p := j.UpdateTwin.Patch(); !cmp.Equal(p.Desired, map[string]any{"BuildingNo": 45.0}) || !cmp.Equal(p.Tags, map[string]any{"updated": true}) {
		t.Errorf("job updateTwin = %+v, want the patch sent", p)
	}
	for _, dev := range ids {
		tw := getTwin(t, h, dev)
		if got := tw.Properties.Desired.Properties()["BuildingNo"]; got != 45.0 {
			t.Errorf("twin %s desired BuildingNo = %v, want 45", dev, got)
		}
		if tw.Tags["updated"] != true {
			t.Errorf("twin %s tags = %v, want updated: true", dev, tw.Tags)
		}
	}
	if tw := getTwin(t, h, other); tw.Properties.Desired.Properties()["BuildingNo"] != nil {
		t.Errorf("the job wrote twin %s, which its query does not match", other)
	}
	recs, ok := deviceJobs(t, h, id)
	if !ok {
		return
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.DeviceID)
		if r.JobID != id || r.JobType != hub.JobTypeUpdateTwin || r.Status != hub.DeviceJobCompleted {
			t.Errorf("device job %+v, want job %q of type %s completed", r, id, hub.JobTypeUpdateTwin)
		}
	}
	if d := cmp.Diff(ids, got); d != "" {
		t.Errorf("devices.jobs of %q mismatch (-want +got):\n%s", id, d)
	}
}

func testJobMethodOffline(t *testing.T, h hub.Hub) {
	ids, cond := fleetOf(t, h, 2)
	id := jobID(t, "method")
	req := &hub.JobRequest{JobID: id, Type: hub.JobTypeDeviceMethod, QueryCondition: cond,
		CloudToDeviceMethod: &hub.MethodRequest{MethodName: "lockDoor", Payload: json.RawMessage("null"), ResponseTimeoutInSeconds: 5}}
	createJob(t, h, req)
	j := waitJob(t, h, id)
	if j.Status != hub.JobStatusCompleted {
		t.Fatalf("job ended %s (%s), want completed: devices that fail do not fail the job", j.Status, j.FailureReason)
	}
	wantStatistics(t, j, hub.DeviceJobStatistics{DeviceCount: 2, FailedCount: 2})
	if m := j.CloudToDeviceMethod; m == nil || m.MethodName != "lockDoor" || string(m.Payload) != "null" && len(m.Payload) != 0 {
		t.Errorf("job cloudToDeviceMethod = %+v, want lockDoor with a null payload", m)
	}
	recs, ok := deviceJobs(t, h, id)
	if !ok {
		return
	}
	if len(recs) != len(ids) {
		t.Fatalf("devices.jobs of %q holds %d records, want %d: %+v", id, len(recs), len(ids), recs)
	}
	for _, r := range recs {
		if r.Status != hub.DeviceJobFailed || r.Error == nil || r.Error.Code != hub.CodeDeviceNotOnline.Name {
			t.Errorf("device job of offline %s = %+v (error %+v), want failed with code %s", r.DeviceID, r, r.Error, hub.CodeDeviceNotOnline.Name)
		}
	}
}

func testJobScheduledCancelled(t *testing.T, h hub.Hub) {
	_, cond := fleetOf(t, h, 1)
	id := jobID(t, "later")
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	req := &hub.JobRequest{JobID: id, Type: hub.JobTypeDeviceMethod, QueryCondition: cond, StartTime: start,
		CloudToDeviceMethod: &hub.MethodRequest{MethodName: "reboot", Payload: json.RawMessage(`{"delay":5}`)}}
	created := createJob(t, h, req)
	// The Node SDK's end-to-end tests see queued for a job that starts
	// later; the reference's rule for the local hub is scheduled.
	waiting := func(s hub.JobStatus) bool { return s == hub.JobStatusScheduled || s == hub.JobStatusQueued }
	if !waiting(created.Status) {
		t.Errorf("a job starting in an hour was created %s, want scheduled or queued", created.Status)
	}
	j, err := h.Job(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !waiting(j.Status) || !j.StartTime.Equal(start) {
		t.Errorf("job %s starting %v, want waiting to start at %v", j.Status, j.StartTime, start)
	}
	c, err := h.CancelJob(t.Context(), id)
	if err != nil {
		t.Fatalf("CancelJob: %v", err)
	}
	if c.Status != hub.JobStatusCancelled {
		t.Errorf("CancelJob returned status %s, want cancelled", c.Status)
	}
	if j, err = h.Job(t.Context(), id); err != nil || j.Status != hub.JobStatusCancelled {
		t.Errorf("Job after CancelJob: status %v, %v; want cancelled", j.Status, err)
	}
	// Cancelling an ended job changes nothing.
	if c, err = h.CancelJob(t.Context(), id); err != nil || c.Status != hub.JobStatusCancelled {
		t.Errorf("CancelJob of a cancelled job: %v, %v; want it cancelled as it was", c, err)
	}
}

func testJobAlreadyExists(t *testing.T, h hub.Hub) {
	_, cond := fleetOf(t, h, 1)
	id := jobID(t, "dup")
	req := &hub.JobRequest{JobID: id, Type: hub.JobTypeDeviceMethod, QueryCondition: cond, StartTime: time.Now().Add(time.Hour),
		CloudToDeviceMethod: &hub.MethodRequest{MethodName: "reboot"}}
	createJob(t, h, req)
	if _, err := h.CancelJob(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	again := *req
	again.StartTime = time.Time{}
	_, err := h.CreateJob(t.Context(), &again)
	wantError(t, "CreateJob with an ID in use", err, hub.ErrAlreadyExists, hub.CodeJobAlreadyExists.Number)
}

func testJobNotFound(t *testing.T, h hub.Hub) {
	id := jobID(t, "none")
	_, err := h.Job(t.Context(), id)
	wantError(t, "Job of an unknown job", err, hub.ErrNotFound, hub.CodeJobNotFound.Number)
	_, err = h.CancelJob(t.Context(), id)
	wantError(t, "CancelJob of an unknown job", err, hub.ErrNotFound, hub.CodeJobNotFound.Number)
}

func testJobInvalid(t *testing.T, h hub.Hub) {
	method := &hub.MethodRequest{MethodName: "reboot"}
	twin := &hub.JobTwin{ETag: "*", Properties: &hub.JobTwinProperties{Desired: map[string]any{"x": 1.0}}}
	tests := map[string]hub.JobRequest{
		"method job without a method": {Type: hub.JobTypeDeviceMethod, QueryCondition: "*"},
		"twin job without a patch":    {Type: hub.JobTypeUpdateTwin, QueryCondition: "*"},
		"method job with a patch":     {Type: hub.JobTypeDeviceMethod, QueryCondition: "*", CloudToDeviceMethod: method, UpdateTwin: twin},
		"an import job":               {Type: "import", QueryCondition: "*"},
		"no query condition":          {Type: hub.JobTypeUpdateTwin, UpdateTwin: twin},
		"a query that does not parse": {Type: hub.JobTypeUpdateTwin, QueryCondition: "tags.x = = 1", UpdateTwin: twin},
		"a bad method name":           {Type: hub.JobTypeDeviceMethod, QueryCondition: "*", CloudToDeviceMethod: &hub.MethodRequest{MethodName: "a/b"}},
		"a negative time limit":       {Type: hub.JobTypeUpdateTwin, QueryCondition: "*", UpdateTwin: twin, MaxExecutionTimeInSeconds: -1},
	}
	for name, req := range tests {
		req.JobID = jobID(t, "bad")
		_, err := h.CreateJob(t.Context(), &req)
		wantError(t, "CreateJob with "+name, err, hub.ErrBadRequest, 0)
		if err == nil {
			_, _ = h.CancelJob(context.Background(), req.JobID)
		}
	}
	_, err := h.CreateJob(t.Context(), &hub.JobRequest{JobID: "not a job ID!", Type: hub.JobTypeDeviceMethod, QueryCondition: "*", CloudToDeviceMethod: method})
	wantError(t, "CreateJob with an invalid ID", err, hub.ErrBadRequest, hub.CodeArgumentInvalid.Number)
}

// listJobs reads every page of a job listing, checking the page size.
func listJobs(t *testing.T, h hub.Hub, jobType, status string, pageSize int) []hub.JobResponse {
	t.Helper()
	var out []hub.JobResponse
	opts := hub.QueryOptions{PageSize: pageSize}
	for pages := 1; ; pages++ {
		page, err := h.Jobs(t.Context(), jobType, status, opts)
		if err != nil {
			t.Fatalf("Jobs(%q, %q) page %d: %v", jobType, status, pages, err)
		}
		if len(page.Jobs) > pageSize {
			t.Errorf("page %d holds %d jobs, more than the %d asked for", pages, len(page.Jobs), pageSize)
		}
		out = append(out, page.Jobs...)
		if page.Continuation == "" {
			return out
		}
		if pages > 10_000 {
			t.Fatalf("Jobs(%q, %q) does not end", jobType, status)
		}
		opts.Continuation = page.Continuation
	}
}

func testJobList(t *testing.T, h hub.Hub) {
	_, cond := fleetOf(t, h, 1)
	later := time.Now().Add(time.Hour)
	mk := func(suffix string, typ hub.JobType) string {
		req := &hub.JobRequest{JobID: jobID(t, suffix), Type: typ, QueryCondition: cond, StartTime: later}
		if typ == hub.JobTypeDeviceMethod {
			req.CloudToDeviceMethod = &hub.MethodRequest{MethodName: "reboot"}
		} else {
			req.UpdateTwin = &hub.JobTwin{ETag: "*", Properties: &hub.JobTwinProperties{Desired: map[string]any{"x": 1.0}}}
		}
		createJob(t, h, req)
		// One active job at a time: end each before the next.
		if _, err := h.CancelJob(t.Context(), req.JobID); err != nil {
			t.Fatal(err)
		}
		return req.JobID
	}
	m1, m2 := mk("m1", hub.JobTypeDeviceMethod), mk("m2", hub.JobTypeDeviceMethod)
	tw := mk("t1", hub.JobTypeUpdateTwin)
	ours := map[string]bool{m1: true, m2: true, tw: true}

	count := func(jobs []hub.JobResponse) map[string]int {
		n := map[string]int{}
		for _, j := range jobs {
			if ours[j.JobID] {
				n[j.JobID]++
			}
		}
		return n
	}
	all := listJobs(t, h, "", "", 2)
	if d := cmp.Diff(map[string]int{m1: 1, m2: 1, tw: 1}, count(all)); d != "" {
		t.Errorf("Jobs listed our jobs (-want +got times):\n%s", d)
	}
	methods := listJobs(t, h, string(hub.JobTypeDeviceMethod), string(hub.JobStatusCancelled), 1)
	for _, j := range methods {
		if j.Type != hub.JobTypeDeviceMethod || j.Status != hub.JobStatusCancelled {
			t.Errorf("Jobs(%s, cancelled) listed job %q of type %s, %s", hub.JobTypeDeviceMethod, j.JobID, j.Type, j.Status)
		}
	}
	if d := cmp.Diff(map[string]int{m1: 1, m2: 1}, count(methods)); d != "" {
		t.Errorf("Jobs(%s, cancelled) listed our jobs (-want +got times):\n%s", hub.JobTypeDeviceMethod, d)
	}
	// "canceled", as the documentation spells it, is the same status.
	twins := listJobs(t, h, string(hub.JobTypeUpdateTwin), "canceled", 100)
	if d := cmp.Diff(map[string]int{tw: 1}, count(twins)); d != "" {
		t.Errorf("Jobs(%s, canceled) listed our jobs (-want +got times):\n%s", hub.JobTypeUpdateTwin, d)
	}
	if running := count(listJobs(t, h, "", string(hub.JobStatusRunning), 100)); len(running) != 0 {
		t.Errorf("Jobs(running) listed our cancelled jobs: %v", running)
	}
}
