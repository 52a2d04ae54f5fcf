package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// jobPath is the path of a job of jobs v2, or of one of its actions.
func jobPath(id string, action ...string) string {
	return apiPath(append([]string{"jobs", "v2", escapeSegment(id)}, action...)...)
}

func configurationPath(id string) string { return apiPath("configurations", escapeSegment(id)) }

// checkJobIDArg checks a job ID before it goes into a path.
func checkJobIDArg(id string) error {
	if err := ValidateJobID(id); err != nil {
		return Errorf(CodeArgumentInvalid, "%v", err)
	}
	return nil
}

// checkConfigurationIDArg checks a configuration ID before it goes into a
// path.
func checkConfigurationIDArg(id string) error {
	if err := ValidateConfigurationID(id); err != nil {
		return Errorf(CodeArgumentInvalid, "invalid configuration ID: %v", err)
	}
	return nil
}

// jobBody is what a job PUT sends: the JobRequest as the Node SDK writes
// it, startTime included and null when the job starts now.
type jobBody struct {
	JobID                     string         `json:"jobId"`
	Type                      JobType        `json:"type"`
	CloudToDeviceMethod       *MethodRequest `json:"cloudToDeviceMethod,omitempty"`
	UpdateTwin                *JobTwin       `json:"updateTwin,omitempty"`
	QueryCondition            string         `json:"queryCondition"`
	StartTime                 *string        `json:"startTime"`
	MaxExecutionTimeInSeconds int64          `json:"maxExecutionTimeInSeconds,omitempty"`
}

// jobTimeLayout is how the client writes a job's start time: UTC with
// milliseconds, as JavaScript's toISOString does.
const jobTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func newJobBody(req *JobRequest) jobBody {
	b := jobBody{
		JobID: req.JobID, Type: req.Type, CloudToDeviceMethod: req.CloudToDeviceMethod,
		QueryCondition: req.QueryCondition, MaxExecutionTimeInSeconds: req.MaxExecutionTimeInSeconds,
	}
	if req.UpdateTwin != nil {
		t := *req.UpdateTwin
		if t.ETag == "" {
			// One job writes many twins: no twin's etag can guard it.
			t.ETag = "*"
		}
		b.UpdateTwin = &t
	}
	if !req.StartTime.IsZero() {
		s := req.StartTime.UTC().Format(jobTimeLayout)
		b.StartTime = &s
	}
	return b
}

// CreateJob creates a job (PUT /jobs/v2/{jobId}). A job acts on many
// devices, so its PUT is never repeated blindly: after an attempt whose
// outcome is unknown the client reads the job, as it does for a device
// create. Absent, it sends the PUT again; present and the same as the
// request (type, query condition, method or twin patch, start time, time
// limit), the create has succeeded and the job is returned; present and
// different, the create fails with 409 JobAlreadyExists.
func (c *Client) CreateJob(ctx context.Context, req *JobRequest) (*JobResponse, error) {
	if req == nil {
		return nil, Errorf(CodeArgumentNull, "no job given")
	}
	if err := checkJobIDArg(req.JobID); err != nil {
		return nil, err
	}
	if m := req.CloudToDeviceMethod; m != nil && len(m.Payload) > 0 && !json.Valid(m.Payload) {
		return nil, Errorf(CodeArgumentInvalid, "the method payload is not valid JSON")
	}
	put := &request{method: http.MethodPut, path: jobPath(req.JobID), body: newJobBody(req), retry: onlyIfNotDone}
	out, err := c.create(ctx, put, func(ctx context.Context) (any, error) { return c.Job(ctx, req.JobID) },
		func(got any) bool { return jobMatches(req, got.(*JobResponse)) },
		func(b []byte) (any, error) { return decodeJobResponse(b) },
		Errorf(CodeJobAlreadyExists, "job %q exists and differs from the one sent; an earlier attempt to create it had an unknown outcome, so another client made it", req.JobID))
	if err != nil {
		return nil, err
	}
	return out.(*JobResponse), nil
}

// Job returns a job (GET /jobs/v2/{jobId}).
func (c *Client) Job(ctx context.Context, id string) (*JobResponse, error) {
	if err := checkJobIDArg(id); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, &request{method: http.MethodGet, path: jobPath(id)}, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeJobResponse(res.body)
}

// CancelJob cancels a job (POST /jobs/v2/{jobId}/cancel). Cancelling twice
// does what cancelling once does, so the call is repeated like a read.
func (c *Client) CancelJob(ctx context.Context, id string) (*JobResponse, error) {
	if err := checkJobIDArg(id); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, &request{method: http.MethodPost, path: jobPath(id, "cancel")}, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeJobResponse(res.body)
}

// Jobs lists jobs one page at a time (GET /jobs/v2/query), paged as the
// SDKs page it: x-ms-max-item-count (at most MaxClientQueryPageSize) and
// x-ms-continuation. The answer may be a bare array, as the service
// sends, or an object with items, as its swagger says.
func (c *Client) Jobs(ctx context.Context, jobType, status string, opts QueryOptions) (*JobPage, error) {
	req := &request{method: http.MethodGet, path: apiPath("jobs", "v2", "query"), query: url.Values{}, header: http.Header{}}
	if jobType != "" {
		req.query.Set("jobType", jobType)
	}
	if status != "" {
		req.query.Set("jobStatus", status)
	}
	if opts.PageSize > 0 {
		req.header.Set("x-ms-max-item-count", strconv.Itoa(min(opts.PageSize, MaxClientQueryPageSize)))
	}
	if opts.Continuation != "" {
		req.header.Set("x-ms-continuation", opts.Continuation)
	}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		return nil, err
	}
	items, err := decodeQueryPage(res.body)
	if err != nil {
		return nil, err
	}
	page := &JobPage{Jobs: make([]JobResponse, 0, len(items)), Continuation: strings.TrimSpace(res.header.Get("x-ms-continuation"))}
	if page.Continuation == "" {
		// The swagger's QueryResult carries the token in the body.
		var obj struct {
			ContinuationToken string `json:"continuationToken"`
		}
		if b := bytes.TrimSpace(res.body); len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &obj) == nil {
			page.Continuation = obj.ContinuationToken
		}
	}
	for _, it := range items {
		j, err := decodeJobResponse(it)
		if err != nil {
			return nil, err
		}
		page.Jobs = append(page.Jobs, *j)
	}
	return page, nil
}

// decodeJobResponse reads a job as the service sends it, leniently: times
// in any of its forms, the status in any of its spellings (made the
// JobStatus constants), the type in either spelling of twin updates.
func decodeJobResponse(b []byte) (*JobResponse, error) {
	var j JobResponse
	w := struct {
		*JobResponse
		CreatedTime wireTime `json:"createdTime"`
		StartTime   wireTime `json:"startTime"`
		EndTime     wireTime `json:"endTime"`
	}{JobResponse: &j}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode job: %w", err)
	}
	j.CreatedTime = w.CreatedTime.time()
	j.StartTime = w.StartTime.time()
	j.EndTime = w.EndTime.time()
	if s, ok := ParseJobStatus(string(j.Status)); ok {
		j.Status = s
	}
	j.Type = canonicalJobType(j.Type)
	return &j, nil
}

// canonicalJobType reads a job type in any case, and the documentation's
// "scheduleTwinUpdate" as scheduleUpdateTwin.
func canonicalJobType(t JobType) JobType {
	switch {
	case strings.EqualFold(string(t), string(JobTypeDeviceMethod)):
		return JobTypeDeviceMethod
	case strings.EqualFold(string(t), string(JobTypeUpdateTwin)), strings.EqualFold(string(t), "scheduleTwinUpdate"):
		return JobTypeUpdateTwin
	}
	return t
}

// jobMatches reports whether got is the job that creating sent would have
// made. What the hub fills in when the request leaves it out (the start
// time, the time limit, the method's response timeout) matches anything
// the hub may have chosen.
func jobMatches(sent *JobRequest, got *JobResponse) bool {
	if canonicalJobType(sent.Type) != got.Type || sent.QueryCondition != got.QueryCondition {
		return false
	}
	if !sent.StartTime.IsZero() && !sent.StartTime.Truncate(time.Millisecond).Equal(got.StartTime.Truncate(time.Millisecond)) {
		return false
	}
	if sent.MaxExecutionTimeInSeconds != 0 && sent.MaxExecutionTimeInSeconds != got.MaxExecutionTimeInSeconds {
		return false
	}
	if (sent.CloudToDeviceMethod == nil) != (got.CloudToDeviceMethod == nil) {
		return false
	}
	if m, g := sent.CloudToDeviceMethod, got.CloudToDeviceMethod; m != nil {
		if m.MethodName != g.MethodName || !sameJSONValue(m.Payload, g.Payload) || m.ConnectTimeoutInSeconds != g.ConnectTimeoutInSeconds {
			return false
		}
		if m.ResponseTimeoutInSeconds != 0 && m.ResponseTimeoutInSeconds != g.ResponseTimeoutInSeconds {
			return false
		}
	}
	sp, gp := sent.UpdateTwin.Patch(), got.UpdateTwin.Patch()
	return sameSection(gp.Tags, plain(sp.Tags)) && sameSection(gp.Desired, plain(sp.Desired))
}

// sameJSONValue compares two JSON texts as values; an empty one is null.
func sameJSONValue(a, b json.RawMessage) bool {
	var va, vb any
	if len(bytes.TrimSpace(a)) > 0 && json.Unmarshal(a, &va) != nil {
		return false
	}
	if len(bytes.TrimSpace(b)) > 0 && json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// configurationBody is what a configuration PUT sends: the ID, the
// content and what an update may change. What the hub computes (metric
// results, system metrics, times) and the etag, which goes in If-Match,
// are left out.
type configurationBody struct {
	ID              string                `json:"id"`
	SchemaVersion   string                `json:"schemaVersion"`
	Labels          map[string]string     `json:"labels,omitempty"`
	Content         ConfigurationContent  `json:"content"`
	ContentType     string                `json:"contentType,omitempty"`
	TargetCondition string                `json:"targetCondition"`
	Priority        int                   `json:"priority"`
	Metrics         *ConfigurationMetrics `json:"metrics,omitempty"`
}

func newConfigurationBody(c *Configuration) configurationBody {
	b := configurationBody{ID: c.ID, SchemaVersion: c.SchemaVersion, Labels: c.Labels, Content: c.Content, ContentType: c.ContentType,
		TargetCondition: c.TargetCondition, Priority: c.Priority}
	if b.SchemaVersion == "" {
		b.SchemaVersion = "1.0"
	}
	if c.Metrics != nil && c.Metrics.Queries != nil {
		b.Metrics = &ConfigurationMetrics{Queries: c.Metrics.Queries}
	}
	return b
}

// Configuration returns an automatic configuration (GET
// /configurations/{id}).
func (c *Client) Configuration(ctx context.Context, id string) (*Configuration, error) {
	if err := checkConfigurationIDArg(id); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, &request{method: http.MethodGet, path: configurationPath(id)}, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeConfiguration(res.body)
}

// Configurations lists up to top configurations (GET /configurations);
// the hub's maximum when top is 0 or less. The list has no paging.
func (c *Client) Configurations(ctx context.Context, top int) ([]Configuration, error) {
	req := &request{method: http.MethodGet, path: apiPath("configurations")}
	if top > 0 {
		req.query = url.Values{"top": {strconv.Itoa(top)}}
	}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeList(res.body, decodeConfiguration)
}

// CreateConfiguration creates a configuration (PUT without If-Match). A
// create whose outcome is unknown is reconciled by reading the
// configuration back, as CreateDevice is: it is ours when its content,
// target condition, priority, labels and metric queries are what was sent.
func (c *Client) CreateConfiguration(ctx context.Context, cfg *Configuration) (*Configuration, error) {
	if cfg == nil {
		return nil, Errorf(CodeArgumentNull, "no configuration given")
	}
	if err := checkConfigurationIDArg(cfg.ID); err != nil {
		return nil, err
	}
	req := &request{method: http.MethodPut, path: configurationPath(cfg.ID), body: newConfigurationBody(cfg), retry: onlyIfNotDone}
	out, err := c.create(ctx, req, func(ctx context.Context) (any, error) { return c.Configuration(ctx, cfg.ID) },
		func(got any) bool { return configurationMatches(cfg, got.(*Configuration), true) },
		func(b []byte) (any, error) { return decodeConfiguration(b) },
		Errorf(CodeConfigurationAlreadyExists, "configuration %q exists and differs from the one sent; an earlier attempt to create it had an unknown outcome, so another client made it", cfg.ID))
	if err != nil {
		return nil, err
	}
	return out.(*Configuration), nil
}

// UpdateConfiguration changes a configuration (PUT with If-Match; ""
// means "*"). Send the configuration's own content, or none: IoT Hub
// refuses a change of content. An update is repeated after a transient
// failure; a 412 after an attempt with an unknown outcome is a success
// when the configuration holds what was sent.
func (c *Client) UpdateConfiguration(ctx context.Context, cfg *Configuration, ifMatch string) (*Configuration, error) {
	if cfg == nil {
		return nil, Errorf(CodeArgumentNull, "no configuration given")
	}
	if err := checkConfigurationIDArg(cfg.ID); err != nil {
		return nil, err
	}
	req := &request{method: http.MethodPut, path: configurationPath(cfg.ID), header: ifMatchHeader(ifMatch), body: newConfigurationBody(cfg)}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		if res.uncertain && errors.Is(err, ErrPreconditionFailed) {
			if got, rerr := c.Configuration(ctx, cfg.ID); rerr == nil && configurationMatches(cfg, got, !cfg.Content.IsZero()) {
				return got, nil
			}
		}
		return nil, err
	}
	return decodeConfiguration(res.body)
}

// DeleteConfiguration removes a configuration (If-Match "" means "*"). A
// 404 after an attempt with an unknown outcome means that attempt
// deleted it.
func (c *Client) DeleteConfiguration(ctx context.Context, id, ifMatch string) error {
	if err := checkConfigurationIDArg(id); err != nil {
		return err
	}
	res, err := c.do(ctx, &request{method: http.MethodDelete, path: configurationPath(id), header: ifMatchHeader(ifMatch)}, c.newBudget())
	if err != nil && res.uncertain && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// TestConfigurationQueries checks queries without creating anything (POST
// /configurations/testQueries); it is repeated like a read.
func (c *Client) TestConfigurationQueries(ctx context.Context, in *ConfigurationQueriesTestInput) (*ConfigurationQueriesTestResponse, error) {
	if in == nil {
		return nil, Errorf(CodeArgumentNull, "no queries given")
	}
	res, err := c.do(ctx, &request{method: http.MethodPost, path: apiPath("configurations", "testQueries"), body: in}, c.newBudget())
	if err != nil {
		return nil, err
	}
	var out ConfigurationQueriesTestResponse
	if err := json.Unmarshal(res.body, &out); err != nil {
		return nil, fmt.Errorf("decode configuration query test: %w", err)
	}
	if out.CustomMetricQueryErrors == nil {
		out.CustomMetricQueryErrors = map[string]string{}
	}
	return &out, nil
}

// decodeConfiguration reads a configuration as the service sends it, its
// times in any of the service's forms.
func decodeConfiguration(b []byte) (*Configuration, error) {
	var cfg Configuration
	w := struct {
		*Configuration
		CreatedTimeUTC     wireTime `json:"createdTimeUtc"`
		LastUpdatedTimeUTC wireTime `json:"lastUpdatedTimeUtc"`
	}{Configuration: &cfg}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode configuration: %w", err)
	}
	cfg.CreatedTimeUTC = w.CreatedTimeUTC.time()
	cfg.LastUpdatedTimeUTC = w.LastUpdatedTimeUTC.time()
	return &cfg, nil
}

// configurationMatches reports whether got holds what a create or update
// sent: the target condition, priority, labels and metric queries, and
// the content when withContent is set.
func configurationMatches(sent, got *Configuration, withContent bool) bool {
	var sq, gq map[string]string
	if sent.Metrics != nil {
		sq = sent.Metrics.Queries
	}
	if got.Metrics != nil {
		gq = got.Metrics.Queries
	}
	if sent.TargetCondition != got.TargetCondition || sent.Priority != got.Priority ||
		!maps.Equal(sent.Labels, got.Labels) || !maps.Equal(sq, gq) {
		return false
	}
	if !withContent {
		return true
	}
	sc, gc := plainContent(sent.Content), plainContent(got.Content)
	return sameSection(sc["deviceContent"], gc["deviceContent"]) && sameSection(sc["moduleContent"], gc["moduleContent"]) &&
		sameSection(sc["modulesContent"], gc["modulesContent"])
}

// plainContent returns a configuration content as plain JSON values, by
// member.
func plainContent(c ConfigurationContent) map[string]map[string]any {
	out := map[string]map[string]any{}
	b, err := json.Marshal(c)
	if err != nil {
		return out
	}
	_ = json.Unmarshal(b, &out)
	return out
}
