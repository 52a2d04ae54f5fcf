package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// The endpoints of jobs v2 (/jobs/v2/...) and of automatic device
// configurations (/configurations...). Their routes bind the job's or the
// configuration's ID as {id}: it is in params.deviceID.

// jobReadOnly are the members of a JobResponse that the hub sets. A client
// that sends back a job it read carries them along; they are ignored.
type jobReadOnly struct {
	CreatedTime         json.RawMessage `json:"createdTime"`
	EndTime             json.RawMessage `json:"endTime"`
	Status              json.RawMessage `json:"status"`
	FailureReason       json.RawMessage `json:"failureReason"`
	StatusMessage       json.RawMessage `json:"statusMessage"`
	DeviceJobStatistics json.RawMessage `json:"deviceJobStatistics"`
	DeviceID            json.RawMessage `json:"deviceId"`
	ParentJobID         json.RawMessage `json:"parentJobId"`
}

// jobIn is the body of PUT /jobs/v2/{jobId} (JobRequest). startTime may be
// null (the Node SDK sends null for "now") and may lack its zone (UTC);
// updateTwin is a twin, of which the job writes the tags and desired
// properties.
type jobIn struct {
	JobID                     string          `json:"jobId"`
	Type                      string          `json:"type"`
	CloudToDeviceMethod       *methodIn       `json:"cloudToDeviceMethod"`
	UpdateTwin                *twinIn         `json:"updateTwin"`
	QueryCondition            string          `json:"queryCondition"`
	StartTime                 json.RawMessage `json:"startTime"`
	MaxExecutionTimeInSeconds int64           `json:"maxExecutionTimeInSeconds"`
	jobReadOnly
}

// zonelessLayouts are the forms of a time without a zone that the service
// writes and reads as UTC.
var zonelessLayouts = []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"}

// parseWireTime reads a JSON time member: null, absent or "" is zero; a
// string is an ISO-8601 time, UTC when it has no zone.
func parseWireTime(member string, raw json.RawMessage) (time.Time, error) {
	bad := hub.Errorf(hub.CodeArgumentInvalid, "%s must be an ISO-8601 time such as \"2026-03-01T12:00:00Z\", not %s", member, safeText(string(raw), 40))
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, bad
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range zonelessLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, bad
}

// jobType reads a job type without regard to case.
func jobType(s string) hub.JobType {
	for _, t := range []hub.JobType{hub.JobTypeDeviceMethod, hub.JobTypeUpdateTwin} {
		if strings.EqualFold(s, string(t)) {
			return t
		}
	}
	return hub.JobType(s)
}

// request turns the body into the hub's JobRequest for the job at the
// path.
func (in *jobIn) request(pathID string) (*hub.JobRequest, error) {
	id, err := sameID("jobId", in.JobID, pathID)
	if err != nil {
		return nil, err
	}
	start, err := parseWireTime("startTime", in.StartTime)
	if err != nil {
		return nil, err
	}
	req := &hub.JobRequest{JobID: id, Type: jobType(in.Type), QueryCondition: in.QueryCondition, StartTime: start,
		MaxExecutionTimeInSeconds: in.MaxExecutionTimeInSeconds}
	if m := in.CloudToDeviceMethod; m != nil {
		req.CloudToDeviceMethod = &hub.MethodRequest{MethodName: m.MethodName, Payload: m.Payload,
			ResponseTimeoutInSeconds: m.ResponseTimeoutInSeconds, ConnectTimeoutInSeconds: m.ConnectTimeoutInSeconds}
	}
	if t := in.UpdateTwin; t != nil {
		jt := &hub.JobTwin{Tags: t.Tags}
		if len(t.ETag) > 0 && string(t.ETag) != "null" {
			if err := json.Unmarshal(t.ETag, &jt.ETag); err != nil {
				return nil, hub.Errorf(hub.CodeArgumentInvalid, "updateTwin.etag must be a string: \"*\"")
			}
		}
		if p := t.Properties; p != nil {
			// A twin read back carries these; a job does not write them.
			delete(p.Desired, "$version")
			delete(p.Desired, "$metadata")
			jt.Properties = &hub.JobTwinProperties{Desired: p.Desired}
			if len(p.Reported) > 0 && string(p.Reported) != "null" {
				if err := json.Unmarshal(p.Reported, &jt.Properties.Reported); err != nil {
					return nil, hub.Errorf(hub.CodeArgumentInvalid, "updateTwin.properties.reported must be an object")
				}
			}
		}
		req.UpdateTwin = jt
	}
	return req, nil
}

// putJob creates a job and answers 200 with it (reference §1.1).
func (s *Server) putJob(w http.ResponseWriter, r *http.Request, p params) error {
	var in jobIn
	if err := decodeBody(w, r, MaxBodyBytes, "a job (JobRequest)", &in); err != nil {
		return err
	}
	req, err := in.request(p.deviceID)
	if err != nil {
		return err
	}
	job, err := s.hub.CreateJob(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, job)
	return nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, p params) error {
	job, err := s.hub.Job(r.Context(), p.deviceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, job)
	return nil
}

// cancelJob answers POST /jobs/v2/{jobId}/cancel, which has no body, with
// the job: cancelled, or as it ended.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request, p params) error {
	job, err := s.hub.CancelJob(r.Context(), p.deviceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, job)
	return nil
}

// queryJobs answers GET /jobs/v2/query?jobType=&jobStatus= with one page of
// jobs: a bare JSON array, x-ms-item-type "jobResponse", and
// x-ms-continuation only when more pages follow, as the SDKs read it. The
// page size and token come from the headers the SDKs send
// (x-ms-max-item-count, x-ms-continuation) or from the query parameters
// the documentation names (pageSize, continuationToken).
func (s *Server) queryJobs(w http.ResponseWriter, r *http.Request, _ params) error {
	q := r.URL.Query()
	opts := hub.QueryOptions{Continuation: r.Header.Get("x-ms-continuation")}
	if opts.Continuation == "" {
		opts.Continuation = q.Get("continuationToken")
	}
	size, name := r.Header.Get("x-ms-max-item-count"), "x-ms-max-item-count"
	if strings.TrimSpace(size) == "" {
		size, name = q.Get("pageSize"), "pageSize"
	}
	if v := strings.TrimSpace(size); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return hub.Errorf(hub.CodeArgumentInvalid, "%s must be a whole number of items, not %q", name, safeText(v, 20))
		}
		opts.PageSize = n
	}
	page, err := s.hub.Jobs(r.Context(), q.Get("jobType"), q.Get("jobStatus"), opts)
	if err != nil {
		return err
	}
	jobs := page.Jobs
	if jobs == nil {
		jobs = []hub.JobResponse{}
	}
	w.Header().Set("x-ms-item-type", "jobResponse")
	if page.Continuation != "" {
		w.Header().Set("x-ms-continuation", page.Continuation)
	}
	writeJSON(w, http.StatusOK, jobs)
	return nil
}

// configurationIn is the body of PUT /configurations/{id}. The members the
// hub computes (times, system metrics, metric results) and the etag, which
// If-Match carries, may be sent back as read; they are ignored.
type configurationIn struct {
	ID                 string                    `json:"id"`
	SchemaVersion      string                    `json:"schemaVersion"`
	Labels             map[string]string         `json:"labels"`
	Content            *hub.ConfigurationContent `json:"content"`
	ContentType        string                    `json:"contentType"`
	TargetCondition    string                    `json:"targetCondition"`
	Priority           int                       `json:"priority"`
	Metrics            *metricsIn                `json:"metrics"`
	SystemMetrics      json.RawMessage           `json:"systemMetrics"`
	CreatedTimeUTC     json.RawMessage           `json:"createdTimeUtc"`
	LastUpdatedTimeUTC json.RawMessage           `json:"lastUpdatedTimeUtc"`
	ETag               json.RawMessage           `json:"etag"`
}

type metricsIn struct {
	Queries map[string]string `json:"queries"`
	Results json.RawMessage   `json:"results"`
}

// putConfiguration creates a configuration (no If-Match) or updates it
// (If-Match: an etag or "*"); both answer 200 with the configuration and
// its ETag header. The reference allows 201 on create; the hub answers
// 200, as it does for modules.
func (s *Server) putConfiguration(w http.ResponseWriter, r *http.Request, p params) error {
	var in configurationIn
	if err := decodeBody(w, r, MaxBodyBytes, "a configuration", &in); err != nil {
		return err
	}
	id, err := sameID("id", in.ID, p.deviceID)
	if err != nil {
		return err
	}
	c := &hub.Configuration{ID: id, SchemaVersion: in.SchemaVersion, Labels: in.Labels, ContentType: in.ContentType,
		TargetCondition: in.TargetCondition, Priority: in.Priority}
	if in.Content != nil {
		// An SDK may send the members it does not use as {}: they are
		// absent, as null ones are.
		c.Content = *in.Content
		if len(c.Content.DeviceContent) == 0 {
			c.Content.DeviceContent = nil
		}
		if len(c.Content.ModuleContent) == 0 {
			c.Content.ModuleContent = nil
		}
		if len(c.Content.ModulesContent) == 0 {
			c.Content.ModulesContent = nil
		}
	}
	if in.Metrics != nil {
		c.Metrics = &hub.ConfigurationMetrics{Queries: in.Metrics.Queries}
	}
	var out *hub.Configuration
	if etag, ok := ifMatch(r); ok {
		out, err = s.hub.UpdateConfiguration(r.Context(), c, etag)
	} else {
		out, err = s.hub.CreateConfiguration(r.Context(), c)
	}
	if err != nil {
		return err
	}
	setETag(w, out.ETag)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getConfiguration(w http.ResponseWriter, r *http.Request, p params) error {
	c, err := s.hub.Configuration(r.Context(), p.deviceID)
	if err != nil {
		return err
	}
	setETag(w, c.ETag)
	writeJSON(w, http.StatusOK, c)
	return nil
}

// deleteConfiguration answers 204. A missing If-Match means "*", as for
// devices.
func (s *Server) deleteConfiguration(w http.ResponseWriter, r *http.Request, p params) error {
	etag, ok := ifMatch(r)
	if !ok {
		etag = "*"
	}
	if err := s.hub.DeleteConfiguration(r.Context(), p.deviceID, etag); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listConfigurations answers GET /configurations?top=N: up to N
// configurations (all of them, at most hub.MaxConfigurations, without top
// or with one below 1), in ID order, without paging.
func (s *Server) listConfigurations(w http.ResponseWriter, r *http.Request, _ params) error {
	top := 0
	if v := r.URL.Query().Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return hub.Errorf(hub.CodeArgumentInvalid, "top must be a whole number, not %q", safeText(v, 20))
		}
		top = n
	}
	cs, err := s.hub.Configurations(r.Context(), top)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []hub.Configuration{}
	}
	writeJSON(w, http.StatusOK, cs)
	return nil
}

// testConfigurationQueries answers POST /configurations/testQueries with
// what is wrong with each query; it changes nothing.
func (s *Server) testConfigurationQueries(w http.ResponseWriter, r *http.Request, _ params) error {
	var in hub.ConfigurationQueriesTestInput
	if err := decodeBody(w, r, MaxBodyBytes, "a configuration query test (ConfigurationQueriesTestInput)", &in); err != nil {
		return err
	}
	out, err := s.hub.TestConfigurationQueries(r.Context(), &in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
