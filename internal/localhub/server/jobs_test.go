package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/hubtest"
	"github.com/iotplan/iotplan/internal/localhub"
)

// runEngines runs the hub's jobs scheduler and configurations until the
// test ends, as hub serve does.
func runEngines(t *testing.T, h *localhub.Hub) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// servedClient serves a hub whose engines run over plain HTTP on a loopback
// port and returns the REST client of its owner.
func servedClient(t *testing.T) hub.Hub {
	t.Helper()
	h := openHub(t)
	runEngines(t, h)
	ln, port := listen(t)
	hostName := "127.0.0.1:" + port
	runListener(t, New(h, Options{HostName: hostName}), ln)
	owner := policy(t, h, "iothubowner")
	c, err := hub.NewClient(&hub.ConnectionString{HostName: hostName, SharedAccessKeyName: owner.KeyName, SharedAccessKey: owner.PrimaryKey},
		hub.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// localWithEngines opens a fresh local hub running its engines.
func localWithEngines(t *testing.T) hub.Hub {
	h := openHub(t)
	runEngines(t, h)
	return h
}

// TestJobsContract runs the jobs contract on the local hub and on the REST
// client talking to this server.
func TestJobsContract(t *testing.T) {
	t.Run("localhub", func(t *testing.T) { hubtest.Jobs(t, localWithEngines) })
	t.Run("client", func(t *testing.T) {
		c := servedClient(t)
		hubtest.Jobs(t, func(*testing.T) hub.Hub { return c })
	})
}

// TestConfigurationsContract runs the configurations contract on the local
// hub and on the REST client talking to this server.
func TestConfigurationsContract(t *testing.T) {
	t.Run("localhub", func(t *testing.T) { hubtest.Configurations(t, localWithEngines) })
	t.Run("client", func(t *testing.T) {
		c := servedClient(t)
		hubtest.Configurations(t, func(*testing.T) hub.Hub { return c })
	})
}

// TestJobWire checks the jobs endpoints byte by byte where the SDKs care:
// the Node SDK's request body (startTime null), the 200 answers, the
// listing's bare array and headers, cancellation's spelling.
func TestJobWire(t *testing.T) {
	f := newFixture(t)
	if _, err := f.h.CreateDevice(t.Context(), &hub.Device{DeviceID: "dev1"}); err != nil {
		t.Fatal(err)
	}
	// As the Node SDK's JobClient.scheduleDeviceMethod sends it.
	body := `{"jobId":"job01","type":"scheduleDeviceMethod","queryCondition":"deviceId IN ['dev1']",` +
		`"cloudToDeviceMethod":{"methodName":"lockDoor","payload":null,"responseTimeoutInSeconds":30},"startTime":null}`
	var created map[string]any
	ok(t, f.do(req{method: "PUT", path: "/jobs/v2/job01", body: body}), http.StatusOK, &created)
	if created["jobId"] != "job01" || created["type"] != "scheduleDeviceMethod" || created["status"] != "queued" {
		t.Errorf("created job %v, want job01, scheduleDeviceMethod, queued", created)
	}
	m, _ := created["cloudToDeviceMethod"].(map[string]any)
	if p, has := m["payload"]; !has || p != nil {
		t.Errorf("cloudToDeviceMethod %v, want payload null", m)
	}
	var got map[string]any
	ok(t, f.do(req{method: "GET", path: "/jobs/v2/job01"}), http.StatusOK, &got)
	if d := cmp.Diff(created, got); d != "" {
		t.Errorf("GET differs from the PUT's answer (-put +get):\n%s", d)
	}
	ok(t, f.do(req{method: "POST", path: "/jobs/v2/job01/cancel"}), http.StatusOK, &got)
	if got["status"] != "cancelled" {
		t.Errorf("cancelled job's status %v, want cancelled", got["status"])
	}

	// A twin update with a start time lacking its zone, as the service
	// writes times; the same job ID again is 409104.
	twin := `{"jobId":"job02","type":"scheduleUpdateTwin","queryCondition":"tags.building = '43'",` +
		`"updateTwin":{"properties":{"desired":{"test1":"value1"}},"tags":{"x":1},"etag":"*"},` +
		`"startTime":"2099-05-08T12:19:56.868","maxExecutionTimeInSeconds":20}`
	ok(t, f.do(req{method: "PUT", path: "/jobs/v2/job02", body: twin}), http.StatusOK, &got)
	if got["status"] != "scheduled" || got["startTime"] != "2099-05-08T12:19:56.868Z" || got["maxExecutionTimeInSeconds"] != 20.0 {
		t.Errorf("scheduled job %v, want scheduled at 2099-05-08T12:19:56.868Z for 20 s", got)
	}
	wantError(t, f.do(req{method: "PUT", path: "/jobs/v2/job02", body: twin}), 409, hub.CodeJobAlreadyExists)
	ok(t, f.do(req{method: "POST", path: "/jobs/v2/job02/cancel"}), http.StatusOK, nil)

	// Listing: a bare array of jobResponse items, paged by the SDKs'
	// headers or the documentation's query parameters, the continuation
	// absent on the last page.
	for _, page := range []struct {
		path   string
		header map[string]string
	}{
		{"/jobs/v2/query", map[string]string{"x-ms-max-item-count": "1"}},
		{"/jobs/v2/query?pageSize=1", nil},
	} {
		rec := f.do(req{method: "GET", path: page.path, header: page.header})
		var jobs []hub.JobResponse
		ok(t, rec, http.StatusOK, &jobs)
		if len(jobs) != 1 || jobs[0].JobID != "job01" || rec.Header().Get("x-ms-item-type") != "jobResponse" {
			t.Fatalf("first page %+v, item type %q; want job01 alone, jobResponse", jobs, rec.Header().Get("x-ms-item-type"))
		}
		token := rec.Header().Get("x-ms-continuation")
		if token == "" {
			t.Fatal("no x-ms-continuation on the first of two pages")
		}
		next := req{method: "GET", path: page.path, header: map[string]string{"x-ms-continuation": token, "x-ms-max-item-count": "1"}}
		if page.header == nil {
			next = req{method: "GET", path: page.path + "&continuationToken=" + token}
		}
		rec = f.do(next)
		ok(t, rec, http.StatusOK, &jobs)
		if len(jobs) != 1 || jobs[0].JobID != "job02" {
			t.Errorf("second page %+v, want job02", jobs)
		}
		if _, has := rec.Header()["X-Ms-Continuation"]; has {
			t.Errorf("x-ms-continuation %q on the last page", rec.Header().Get("x-ms-continuation"))
		}
	}
	var jobs []hub.JobResponse
	ok(t, f.do(req{method: "GET", path: "/jobs/v2/query?jobType=scheduleUpdateTwin&jobStatus=canceled"}), http.StatusOK, &jobs)
	if len(jobs) != 1 || jobs[0].JobID != "job02" {
		t.Errorf("twin jobs canceled: %+v, want job02", jobs)
	}
	ok(t, f.do(req{method: "GET", path: "/jobs/v2/query?jobStatus=running"}), http.StatusOK, &jobs)
	if jobs == nil || len(jobs) != 0 {
		t.Errorf("running jobs: %+v, want []", jobs)
	}
	if rec := f.do(req{method: "GET", path: "/jobs/v2/query?jobStatus=running"}); strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("empty listing %s, want []", rec.Body)
	}
}

func TestJobErrors(t *testing.T) {
	f := newFixture(t)
	method := `"cloudToDeviceMethod":{"methodName":"m"}`
	tests := map[string]struct {
		method, path, body string
		status             int
		code               hub.ErrorCode
	}{
		"unknown job":         {"GET", "/jobs/v2/nojob", "", 404, hub.CodeJobNotFound},
		"cancel unknown job":  {"POST", "/jobs/v2/nojob/cancel", "", 404, hub.CodeJobNotFound},
		"IDs differ":          {"PUT", "/jobs/v2/a", `{"jobId":"b","type":"scheduleDeviceMethod","queryCondition":"*",` + method + `}`, 400, hub.CodeArgumentInvalid},
		"bad job ID":          {"PUT", "/jobs/v2/a_b", `{"type":"scheduleDeviceMethod","queryCondition":"*",` + method + `}`, 400, hub.CodeArgumentInvalid},
		"not JSON":            {"PUT", "/jobs/v2/a", `{"jobId":`, 400, hub.CodeIotHubFormatError},
		"unknown member":      {"PUT", "/jobs/v2/a", `{"type":"scheduleDeviceMethod","queryCondition":"*","deviceIds":[],` + method + `}`, 400, hub.CodeArgumentInvalid},
		"bad start time":      {"PUT", "/jobs/v2/a", `{"type":"scheduleDeviceMethod","queryCondition":"*","startTime":"tomorrow",` + method + `}`, 400, hub.CodeArgumentInvalid},
		"no method":           {"PUT", "/jobs/v2/a", `{"type":"scheduleDeviceMethod","queryCondition":"*"}`, 400, hub.CodeArgumentNull},
		"twin without etag":   {"PUT", "/jobs/v2/a", `{"type":"scheduleUpdateTwin","queryCondition":"*","updateTwin":{"properties":{"desired":{"a":1}}}}`, 400, hub.CodeArgumentInvalid},
		"twin reported":       {"PUT", "/jobs/v2/a", `{"type":"scheduleUpdateTwin","queryCondition":"*","updateTwin":{"etag":"*","properties":{"reported":{"a":1}}}}`, 400, hub.CodeArgumentInvalid},
		"bad job type filter": {"GET", "/jobs/v2/query?jobType=export", "", 400, hub.CodeArgumentInvalid},
		"bad page size":       {"GET", "/jobs/v2/query?pageSize=x", "", 400, hub.CodeArgumentInvalid},
		"bad continuation":    {"GET", "/jobs/v2/query?continuationToken=zzz", "", 400, hub.CodeArgumentInvalid},
		"DELETE a job":        {"DELETE", "/jobs/v2/a", "", 405, hub.CodeGenericMethodNotAllowed},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			wantError(t, f.do(req{method: tt.method, path: tt.path, body: tt.body}), tt.status, tt.code)
		})
	}
	// Twin-update jobs accept the members of a twin read back.
	body := `{"type":"scheduleUpdateTwin","queryCondition":"*","startTime":"2099-01-01T00:00:00Z",` +
		`"updateTwin":{"deviceId":null,"etag":"*","version":3,"tags":{"a":1},"properties":{"desired":{"b":2,"$version":3,"$metadata":{}},"reported":null}}}`
	ok(t, f.do(req{method: "PUT", path: "/jobs/v2/twin", body: body}), http.StatusOK, nil)
	// More active jobs than the tier allows is 429004.
	wantError(t, f.do(req{method: "PUT", path: "/jobs/v2/second", body: `{"type":"scheduleDeviceMethod","queryCondition":"*",` + method + `}`}),
		429, hub.CodeMaxActiveJobCountExceeded)
}

// TestJobAndConfigurationRights checks the reference's rules: jobs take
// ServiceConnect or RegistryWrite; configurations RegistryRead or
// ServiceConnect to read, RegistryWrite or ServiceConnect to write.
func TestJobAndConfigurationRights(t *testing.T) {
	f := newFixture(t)
	exp := time.Now().Add(time.Hour)
	tok := func(name string) string { return token(t, testHost, policy(t, f.h, name), exp) }
	cfg := func(id string) string {
		return `{"id":"` + id + `","content":{"deviceContent":{"properties.desired.x":1}},"targetCondition":"*","priority":1}`
	}
	tests := []struct {
		policy, method, path, body string
		allowed                    bool
	}{
		{"registryRead", "GET", "/jobs/v2/query", "", false},
		{"registryRead", "GET", "/jobs/v2/j", "", false},
		{"registryReadWrite", "GET", "/jobs/v2/query", "", true},
		{"service", "GET", "/jobs/v2/query", "", true},
		{"device", "GET", "/jobs/v2/query", "", false},
		{"registryRead", "GET", "/configurations", "", true},
		{"registryRead", "POST", "/configurations/testQueries", `{"targetCondition":"*"}`, true},
		{"registryRead", "PUT", "/configurations/c1", cfg("c1"), false},
		{"registryReadWrite", "PUT", "/configurations/c2", cfg("c2"), true},
		{"service", "PUT", "/configurations/c3", cfg("c3"), true},
		{"service", "DELETE", "/configurations/c3", "", true},
		{"registryRead", "DELETE", "/configurations/c2", "", false},
		{"device", "GET", "/configurations", "", false},
	}
	for _, tt := range tests {
		rec := f.do(req{method: tt.method, path: tt.path, body: tt.body, auth: tok(tt.policy)})
		if tt.allowed && rec.Code == http.StatusUnauthorized || !tt.allowed && rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s %s: status %d; allowed %v", tt.policy, tt.method, tt.path, rec.Code, tt.allowed)
		}
	}
}

// TestConfigurationWire checks the configurations endpoints with the body
// the C# SDK sends (server-set members present with their defaults), the
// ETag header, If-Match, the status codes and the testQueries shape.
func TestConfigurationWire(t *testing.T) {
	f := newFixture(t)
	body := `{"id":"chiller-settings-wa","schemaVersion":"1.0","labels":{"HostPlatform":"Linux"},` +
		`"content":{"deviceContent":{"properties.desired.chillerWaterSettings":{"temperature":38,"pressure":78}},"modulesContent":{},"moduleContent":null},` +
		`"contentType":"assignment","targetCondition":"tags.location.state='Washington'","createdTimeUtc":"0001-01-01T00:00:00",` +
		`"lastUpdatedTimeUtc":"0001-01-01T00:00:00","priority":10,"systemMetrics":{"results":{},"queries":{}},` +
		`"metrics":{"results":{},"queries":{"compliant":"SELECT deviceId FROM devices WHERE properties.reported.chillerWaterSettings.status='current'"}},"etag":null}`
	rec := f.do(req{method: "PUT", path: "/configurations/chiller-settings-wa", body: body})
	var c hub.Configuration
	ok(t, rec, http.StatusOK, &c)
	if rec.Header().Get("ETag") != `"`+c.ETag+`"` || c.ETag == "" {
		t.Errorf("ETag header %q, body etag %q", rec.Header().Get("ETag"), c.ETag)
	}
	if c.ID != "chiller-settings-wa" || c.Priority != 10 || c.ContentType != "assignment" || c.SchemaVersion != "1.0" || c.CreatedTimeUTC.Year() < 2000 {
		t.Errorf("created %+v", c)
	}
	wantError(t, f.do(req{method: "PUT", path: "/configurations/chiller-settings-wa", body: body}), 409, hub.CodeConfigurationAlreadyExists)

	// Update: If-Match with the etag, quoted as the SDKs send it.
	up := strings.Replace(body, `"priority":10`, `"priority":20`, 1)
	rec = f.do(req{method: "PUT", path: "/configurations/chiller-settings-wa", body: up, header: map[string]string{"If-Match": `"` + c.ETag + `"`}})
	var u hub.Configuration
	ok(t, rec, http.StatusOK, &u)
	if u.Priority != 20 || u.ETag == c.ETag {
		t.Errorf("updated %+v", u)
	}
	wantError(t, f.do(req{method: "PUT", path: "/configurations/chiller-settings-wa", body: up, header: map[string]string{"If-Match": `"` + c.ETag + `"`}}),
		412, hub.CodePreconditionFailed)
	changed := strings.Replace(body, `"temperature":38`, `"temperature":40`, 1)
	wantError(t, f.do(req{method: "PUT", path: "/configurations/chiller-settings-wa", body: changed, header: map[string]string{"If-Match": "*"}}),
		400, hub.CodeImmutableConfigurationContent)
	wantError(t, f.do(req{method: "PUT", path: "/configurations/other", body: body}), 400, hub.CodeArgumentInvalid)
	wantError(t, f.do(req{method: "PUT", path: "/configurations/bad", body: `{"content":{"deviceContent":{"x":1}},"targetCondition":"*"}`}),
		400, hub.CodeInvalidConfigurationContent)
	wantError(t, f.do(req{method: "PUT", path: "/configurations/bad", body: `{"content":{"deviceContent":{"properties.desired.x":1}},"targetCondition":"tags.x = = 1"}`}),
		400, hub.CodeInvalidTargetCondition)
	wantError(t, f.do(req{method: "PUT", path: "/configurations/bad", body: `{"content":{"deviceContent":{"properties.desired.x":1}},"targetCondition":"*","metrics":{"queries":{"m":"SELECT"}}}`}),
		400, hub.CodeInvalidMetricsQuery)

	var got hub.Configuration
	rec = f.do(req{method: "GET", path: "/configurations/chiller-settings-wa"})
	ok(t, rec, http.StatusOK, &got)
	if got.ETag != u.ETag || rec.Header().Get("ETag") != `"`+u.ETag+`"` {
		t.Errorf("GET etag %q (header %q), want %q", got.ETag, rec.Header().Get("ETag"), u.ETag)
	}
	var list []hub.Configuration
	ok(t, f.do(req{method: "GET", path: "/configurations?top=5"}), http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != "chiller-settings-wa" {
		t.Errorf("list %+v", list)
	}
	wantError(t, f.do(req{method: "GET", path: "/configurations?top=x"}), 400, hub.CodeArgumentInvalid)

	rec = f.do(req{method: "POST", path: "/configurations/testQueries", body: `{"targetCondition":"tags.a = 1","customMetricQueries":{"m":"SELECT deviceId FROM devices"}}`})
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"targetConditionError":"","customMetricQueryErrors":{}}` {
		t.Errorf("testQueries: %d %s", rec.Code, rec.Body)
	}
	var tq hub.ConfigurationQueriesTestResponse
	ok(t, f.do(req{method: "POST", path: "/configurations/testQueries", body: `{"targetCondition":"tags.a = = 1","customMetricQueries":{"m":"SELECT"}}`}), http.StatusOK, &tq)
	if tq.TargetConditionError == "" || tq.CustomMetricQueryErrors["m"] == "" {
		t.Errorf("testQueries of bad queries: %+v", tq)
	}

	wantError(t, f.do(req{method: "DELETE", path: "/configurations/chiller-settings-wa", header: map[string]string{"If-Match": `"` + c.ETag + `"`}}),
		412, hub.CodePreconditionFailed)
	if rec := f.do(req{method: "DELETE", path: "/configurations/chiller-settings-wa"}); rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Errorf("DELETE: %d %q, want 204 without a body", rec.Code, rec.Body)
	}
	wantError(t, f.do(req{method: "GET", path: "/configurations/chiller-settings-wa"}), 404, hub.CodeConfigurationNotFound)
	wantError(t, f.do(req{method: "DELETE", path: "/configurations/chiller-settings-wa"}), 404, hub.CodeConfigurationNotFound)
}

// TestDeviceJobsQuery checks that the query endpoint serves devices.jobs
// with item type deviceJob.
func TestDeviceJobsQuery(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.h.CreateDevice(ctx, &hub.Device{DeviceID: "myDeviceId"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.h.CreateJob(ctx, &hub.JobRequest{JobID: "twin", Type: hub.JobTypeUpdateTwin, QueryCondition: "deviceId = 'myDeviceId'",
		UpdateTwin: &hub.JobTwin{ETag: "*", Properties: &hub.JobTwinProperties{Desired: map[string]any{"BuildingNo": 45}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.h.RunPendingJobs(ctx); err != nil {
		t.Fatal(err)
	}
	rec := f.do(req{method: "POST", path: "/devices/query", body: `{"query":"SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId'"}`})
	var items []map[string]any
	ok(t, rec, http.StatusOK, &items)
	if rec.Header().Get("x-ms-item-type") != "deviceJob" || len(items) != 1 || items[0]["jobId"] != "twin" || items[0]["status"] != "completed" {
		t.Errorf("devices.jobs: item type %q, %v", rec.Header().Get("x-ms-item-type"), items)
	}
	var raw json.RawMessage
	ok(t, f.do(req{method: "POST", path: "/devices/query", body: `{"query":"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'none'"}`}), http.StatusOK, &raw)
	if string(raw) != "[]" {
		t.Errorf("no records: %s, want []", raw)
	}
}
