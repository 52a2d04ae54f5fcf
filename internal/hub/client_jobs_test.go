package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

func twinJob(id string) *hub.JobRequest {
	return &hub.JobRequest{JobID: id, Type: hub.JobTypeUpdateTwin, QueryCondition: "tags.site = 'berlin'",
		UpdateTwin: &hub.JobTwin{Properties: &hub.JobTwinProperties{Desired: map[string]any{"BuildingNo": 45}}}}
}

// TestClientJobCreateReconciled follows a job create whose outcome is
// unknown: a job acts on many devices, so the client reads it back rather
// than sending the PUT again blindly.
func TestClientJobCreateReconciled(t *testing.T) {
	const key = "PUT /jobs/v2/j"
	tests := map[string]struct {
		faults   []fault
		existing *hub.JobRequest // created by someone else before the call
		sneakIn  bool            // the same job created just before the second PUT
		wantCode int             // 0: success
		wantPuts int
		wantGets int
		timeout  time.Duration
	}{
		"applied, answer lost":    {faults: []fault{lost503}, wantPuts: 1, wantGets: 1},
		"applied, connection cut": {faults: []fault{lostReset}, wantPuts: 1, wantGets: 1},
		"applied, timed out":      {faults: []fault{lostHang}, wantPuts: 1, wantGets: 1, timeout: 200 * time.Millisecond},
		"not applied":             {faults: []fault{fail500}, wantPuts: 2, wantGets: 1},
		"throttled":               {faults: []fault{throttle}, wantPuts: 2, wantGets: 0},
		"someone else's job": {faults: []fault{unavail}, existing: &hub.JobRequest{JobID: "j", Type: hub.JobTypeDeviceMethod, QueryCondition: "*",
			CloudToDeviceMethod: &hub.MethodRequest{MethodName: "reboot"}}, wantCode: hub.CodeJobAlreadyExists.Number, wantPuts: 1, wantGets: 1},
		"409 after a retried create": {faults: []fault{unavail}, sneakIn: true, wantPuts: 2, wantGets: 2},
		"a plain conflict":           {existing: twinJob("j"), wantCode: hub.CodeJobAlreadyExists.Number, wantPuts: 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, hub.ClientOptions{RequestTimeout: tt.timeout})
			ctx := t.Context()
			if tt.existing != nil {
				ex := *tt.existing
				if ex.UpdateTwin != nil {
					ex.UpdateTwin.ETag = "*"
				}
				if _, err := r.h.CreateJob(ctx, &ex); err != nil {
					t.Fatal(err)
				}
			}
			r.on(key, tt.faults...)
			if tt.sneakIn {
				r.beforeRequest(key, 2, func() {
					same := twinJob("j")
					same.UpdateTwin.ETag = "*"
					if _, err := r.h.CreateJob(context.Background(), same); err != nil {
						t.Errorf("sneak in: %v", err)
					}
				})
			}
			got, err := r.client.CreateJob(ctx, twinJob("j"))
			if tt.wantCode != 0 {
				if code(err) != tt.wantCode {
					t.Fatalf("err = %v, want code %d", err, tt.wantCode)
				}
			} else if err != nil {
				t.Fatalf("CreateJob: %v", err)
			}
			if n := r.count(key); n != tt.wantPuts {
				t.Errorf("%d PUTs, want %d", n, tt.wantPuts)
			}
			if n := r.count("GET /jobs/v2/j"); n != tt.wantGets {
				t.Errorf("%d GETs, want %d", n, tt.wantGets)
			}
			if tt.wantCode != 0 {
				return
			}
			stored, err := r.h.Job(ctx, "j")
			if err != nil {
				t.Fatal(err)
			}
			if got.JobID != "j" || !got.CreatedTime.Equal(stored.CreatedTime) || got.Type != hub.JobTypeUpdateTwin {
				t.Errorf("result %+v, stored %+v", got, stored)
			}
		})
	}
}

// TestClientConfigurationWritesReconciled: a configuration create, update
// and delete whose answers are lost succeed when the hub holds what was
// sent.
func TestClientConfigurationWritesReconciled(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	ctx := t.Context()
	in := &hub.Configuration{ID: "c1", Priority: 3, TargetCondition: "tags.site = 'berlin'", Labels: map[string]string{"a": "b"},
		Content: hub.ConfigurationContent{DeviceContent: map[string]any{"properties.desired.x": map[string]any{"y": 1}}}}
	r.on("PUT /configurations/c1", lost503)
	created, err := r.client.CreateConfiguration(ctx, in)
	if err != nil || created.Priority != 3 {
		t.Fatalf("CreateConfiguration after a lost answer: %+v, %v", created, err)
	}
	if n, g := r.count("PUT /configurations/c1"), r.count("GET /configurations/c1"); n != 1 || g != 1 {
		t.Errorf("%d PUTs and %d GETs, want 1 and 1", n, g)
	}
	up := *created
	up.Priority = 4
	r.on("PUT /configurations/c1", lostReset)
	updated, err := r.client.UpdateConfiguration(ctx, &up, created.ETag)
	if err != nil || updated.Priority != 4 {
		t.Fatalf("UpdateConfiguration after a cut connection: %+v, %v", updated, err)
	}
	// Someone else's create of a different configuration: a conflict.
	other := *in
	other.ID = "c2"
	if _, err := r.h.CreateConfiguration(ctx, &hub.Configuration{ID: "c2", TargetCondition: "*",
		Content: hub.ConfigurationContent{DeviceContent: map[string]any{"properties.desired.z": 1}}}); err != nil {
		t.Fatal(err)
	}
	r.on("PUT /configurations/c2", unavail)
	if _, err := r.client.CreateConfiguration(ctx, &other); code(err) != hub.CodeConfigurationAlreadyExists.Number {
		t.Errorf("CreateConfiguration over someone else's: %v, want 409401", err)
	}
	r.on("DELETE /configurations/c1", lost503)
	if err := r.client.DeleteConfiguration(ctx, "c1", ""); err != nil {
		t.Errorf("DeleteConfiguration after a lost answer: %v", err)
	}
	if err := r.client.DeleteConfiguration(ctx, "c1", ""); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("DeleteConfiguration of a missing configuration: %v, want not found", err)
	}
}

// TestClientJobWire checks what the client sends for a job (the Node
// SDK's body: startTime null, the twin patch's etag "*") and that it reads
// what other hubs answer: zone-less times, other spellings of statuses,
// and a listing in the swagger's QueryResult shape.
func TestClientJobWire(t *testing.T) {
	var got []map[string]any
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("body %s: %v", b, err)
			}
			got = append(got, m)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		job := `{"jobId":"j","type":"scheduleTwinUpdate","status":"canceled","createdTime":"2026-03-01T12:00:00.1234567",` +
			`"startTime":"2026-03-01T12:00:00Z","endTime":null,"deviceJobStatistics":{"deviceCount":1,"failedCount":0,"succeededCount":1,"runningCount":0,"pendingCount":0}}`
		if strings.HasSuffix(r.URL.Path, "/query") {
			if r.Header.Get("x-ms-continuation") == "" {
				io.WriteString(w, `{"type":"jobResponse","items":[`+job+`],"continuationToken":"next"}`)
				return
			}
			w.Header().Set("x-ms-item-type", "jobResponse")
			io.WriteString(w, `[`+strings.Replace(job, `"canceled"`, `"enqueued"`, 1)+`]`)
			return
		}
		io.WriteString(w, job)
	}))
	defer srv.Close()
	c, err := hub.NewClient(&hub.ConnectionString{HostName: "hub.test", SharedAccessKeyName: "iothubowner", SharedAccessKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		hub.ClientOptions{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	j, err := c.CreateJob(ctx, twinJob("j"))
	if err != nil {
		t.Fatal(err)
	}
	want := &hub.JobResponse{JobID: "j", Type: hub.JobTypeUpdateTwin, Status: hub.JobStatusCancelled,
		CreatedTime: time.Date(2026, 3, 1, 12, 0, 0, 123456700, time.UTC), StartTime: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		DeviceJobStatistics: &hub.DeviceJobStatistics{DeviceCount: 1, SucceededCount: 1}}
	if d := cmp.Diff(want, j); d != "" {
		t.Errorf("decoded job (-want +got):\n%s", d)
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 77_000_000, time.FixedZone("CET", 3600))
	_, err = c.CreateJob(ctx, &hub.JobRequest{JobID: "j", Type: hub.JobTypeDeviceMethod, QueryCondition: "*", StartTime: start, MaxExecutionTimeInSeconds: 20,
		CloudToDeviceMethod: &hub.MethodRequest{MethodName: "m", Payload: json.RawMessage("null")}})
	if err != nil {
		t.Fatal(err)
	}
	wantBodies := []map[string]any{
		{"jobId": "j", "type": "scheduleUpdateTwin", "queryCondition": "tags.site = 'berlin'", "startTime": nil,
			"updateTwin": map[string]any{"etag": "*", "properties": map[string]any{"desired": map[string]any{"BuildingNo": 45.0}}}},
		{"jobId": "j", "type": "scheduleDeviceMethod", "queryCondition": "*", "startTime": "2026-03-01T11:00:00.077Z", "maxExecutionTimeInSeconds": 20.0,
			"cloudToDeviceMethod": map[string]any{"methodName": "m", "payload": nil}},
	}
	if d := cmp.Diff(wantBodies, got); d != "" {
		t.Errorf("request bodies (-want +got):\n%s", d)
	}

	page, err := c.Jobs(ctx, "scheduleUpdateTwin", "cancelled", hub.QueryOptions{PageSize: 500})
	if err != nil || len(page.Jobs) != 1 || page.Continuation != "next" || page.Jobs[0].Status != hub.JobStatusCancelled {
		t.Fatalf("first page %+v, %v; want one job and the body's continuation token", page, err)
	}
	page, err = c.Jobs(ctx, "", "", hub.QueryOptions{Continuation: page.Continuation})
	if err != nil || len(page.Jobs) != 1 || page.Continuation != "" || page.Jobs[0].Status != hub.JobStatusQueued {
		t.Fatalf("second page %+v, %v; want one queued job, the last", page, err)
	}
	wantPaths := []string{
		"PUT /jobs/v2/j?api-version=2021-04-12",
		"PUT /jobs/v2/j?api-version=2021-04-12",
		"GET /jobs/v2/query?api-version=2021-04-12&jobStatus=cancelled&jobType=scheduleUpdateTwin",
		"GET /jobs/v2/query?api-version=2021-04-12",
	}
	if d := cmp.Diff(wantPaths, paths); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}
