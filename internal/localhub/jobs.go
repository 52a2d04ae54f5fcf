package localhub

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// CreateJob creates a job (jobs v2): a direct method to call, or a twin
// patch to apply, on every device that req.QueryCondition matches when the
// job starts. A job whose start time is in the future is scheduled; one
// without, or with a past one, is queued to start at once. The hub runs
// jobs in RunJobs, or in RunPendingJobs for in-process use.
//
// Errors: an invalid request is 400 (ArgumentInvalid, ArgumentNull; a
// payload over 128 KB 413 MessageTooLarge); an ID in use is 409104
// JobAlreadyExists; more active jobs than Options.MaxConcurrentJobs is
// 429004 ThrottlingMaxActiveJobCountExceeded.
func (h *Hub) CreateJob(ctx context.Context, req *hub.JobRequest) (*hub.JobResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := h.clock()
	r, err := newJobRecord(req, now)
	if err != nil {
		return nil, err
	}
	limit := h.jobs.maxActive()
	err = h.update("create job", func(tx *bolt.Tx) error {
		s, err := writeJobStore(tx)
		if err != nil {
			return err
		}
		prev, err := s.job(r.ID)
		if err != nil {
			return err
		}
		if prev != nil {
			if !prev.expired(now) {
				return hub.Errorf(hub.CodeJobAlreadyExists, "a job with ID %q already exists", r.ID)
			}
			if err := s.deleteJob(r.ID); err != nil {
				return err
			}
		}
		var active []string
		c := s.active.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			active = append(active, string(k))
		}
		if len(active) >= limit {
			return hub.Errorf(hub.CodeMaxActiveJobCountExceeded,
				"the hub allows %d active job(s) at a time and %s active (%s); wait for one to end or cancel it",
				limit, plural(len(active), "job is", "jobs are"), strings.Join(active, ", "))
		}
		return s.putJob(r)
	})
	if err != nil {
		return nil, err
	}
	h.jobs.signal()
	return r.response(), nil
}

// newJobRecord checks a job request and returns the job it creates.
func newJobRecord(req *hub.JobRequest, now time.Time) (*jobRecord, error) {
	if req == nil {
		return nil, hub.Errorf(hub.CodeArgumentNull, "the job request is empty")
	}
	if err := hub.ValidateJobID(req.JobID); err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "%v", err)
	}
	r := &jobRecord{
		ID:             req.JobID,
		Type:           req.Type,
		QueryCondition: req.QueryCondition,
		MaxSeconds:     req.MaxExecutionTimeInSeconds,
		Created:        now,
		Start:          req.StartTime.UTC(),
		Status:         hub.JobStatusQueued,
	}
	if strings.TrimSpace(req.QueryCondition) == "" {
		return nil, hub.Errorf(hub.CodeArgumentNull, "job %q has no queryCondition; give the WHERE condition of a twin query, or \"*\" for every device", req.JobID)
	}
	if _, err := parseTargetCondition(req.QueryCondition); err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "The query is invalid. Please check the format of the query and try again. queryCondition %q: %v", req.QueryCondition, err)
	}
	switch {
	case r.MaxSeconds < 0:
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "maxExecutionTimeInSeconds is %d; it must be positive", r.MaxSeconds)
	case r.MaxSeconds == 0:
		r.MaxSeconds = hub.DefaultJobMaxExecutionSeconds
	}
	if r.Start.IsZero() {
		r.Start = now
	}
	if r.Start.After(now) {
		r.Status = hub.JobStatusScheduled
	}
	switch req.Type {
	case hub.JobTypeDeviceMethod:
		if req.UpdateTwin != nil {
			return nil, hub.Errorf(hub.CodeArgumentInvalid, "job %q is a %s job, which takes cloudToDeviceMethod and not updateTwin", req.JobID, req.Type)
		}
		m, err := checkJobMethod(req.CloudToDeviceMethod)
		if err != nil {
			return nil, err
		}
		r.Method = m
	case hub.JobTypeUpdateTwin:
		if req.CloudToDeviceMethod != nil {
			return nil, hub.Errorf(hub.CodeArgumentInvalid, "job %q is a %s job, which takes updateTwin and not cloudToDeviceMethod", req.JobID, req.Type)
		}
		ch, err := checkJobTwin(req.UpdateTwin)
		if err != nil {
			return nil, err
		}
		r.Tags, r.Desired = ch.tags, ch.desired
	case "":
		return nil, hub.Errorf(hub.CodeArgumentNull, "job %q has no type; give %s or %s", req.JobID, hub.JobTypeDeviceMethod, hub.JobTypeUpdateTwin)
	default:
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "job type %q is not one of jobs v2; give %s or %s", req.Type, hub.JobTypeDeviceMethod, hub.JobTypeUpdateTwin)
	}
	return r, nil
}

// checkJobMethod checks the method of a method job and fills in its
// default response timeout.
func checkJobMethod(m *hub.MethodRequest) (*jobMethod, error) {
	if m == nil {
		return nil, hub.Errorf(hub.CodeArgumentNull, "a %s job needs cloudToDeviceMethod", hub.JobTypeDeviceMethod)
	}
	if err := hub.ValidateMethodName(m.MethodName); err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "%v", err)
	}
	req, err := checkMethodRequest(*m)
	if err != nil {
		return nil, err
	}
	return &jobMethod{
		Name:            req.MethodName,
		Payload:         bytes.Clone(req.Payload),
		ResponseTimeout: req.ResponseTimeoutInSeconds,
		ConnectTimeout:  req.ConnectTimeoutInSeconds,
	}, nil
}

// checkJobTwin checks the twin patch of a twin-update job and returns it as
// plain JSON. The patch must carry "etag": "*": one job writes many twins,
// so no single twin's etag can guard it.
func checkJobTwin(t *hub.JobTwin) (twinChange, error) {
	if t == nil {
		return twinChange{}, hub.Errorf(hub.CodeArgumentNull, "a %s job needs updateTwin", hub.JobTypeUpdateTwin)
	}
	if etag := strings.Trim(strings.TrimSpace(t.ETag), `"`); etag != "*" {
		return twinChange{}, hub.Errorf(hub.CodeArgumentInvalid, "updateTwin must carry \"etag\": \"*\" (it has %q): a job writes every twin it targets, whatever their etags", t.ETag)
	}
	if t.Properties != nil && len(t.Properties.Reported) > 0 {
		return twinChange{}, hub.Errorf(hub.CodeArgumentInvalid, "updateTwin sets reported properties, which only devices write; a job may set tags and desired properties")
	}
	p := t.Patch()
	if len(p.Tags) == 0 && len(p.Desired) == 0 {
		return twinChange{}, hub.Errorf(hub.CodeArgumentInvalid, "updateTwin sets neither tags nor properties.desired")
	}
	return twinChange{tags: p.Tags, desired: p.Desired}.normalize()
}

// Job returns a job. An unknown job, or one ended more than
// hub.JobRetention ago, is 404002 JobNotFound.
func (h *Hub) Job(ctx context.Context, id string) (*hub.JobResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := hub.ValidateJobID(id); err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "%v", err)
	}
	now := h.clock()
	var out *hub.JobResponse
	err := h.view("read job", func(tx *bolt.Tx) error {
		r, err := readJobStore(tx).job(id)
		if err != nil {
			return err
		}
		if r == nil || r.expired(now) {
			return jobNotFound(id)
		}
		out = r.response()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CancelJob cancels a job that has not ended and returns it. The job's
// status becomes cancelled at once, and so does every device part not yet
// begun; calls in flight are left to end, and their results are recorded.
// Cancelling a job that has ended changes nothing and returns it.
func (h *Hub) CancelJob(ctx context.Context, id string) (*hub.JobResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := hub.ValidateJobID(id); err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "%v", err)
	}
	now := h.clock()
	var out *hub.JobResponse
	err := h.update("cancel job", func(tx *bolt.Tx) error {
		s, err := writeJobStore(tx)
		if err != nil {
			return err
		}
		r, err := s.job(id)
		if err != nil {
			return err
		}
		if r == nil || r.expired(now) {
			return jobNotFound(id)
		}
		if !r.Status.Terminal() {
			r.Status = hub.JobStatusCancelled
			r.End = now
			// A runner in this process settles the parts it has in
			// flight when they end; without one, nothing is in flight.
			if err := s.settleCancelled(r, !h.jobs.claimed(id), now); err != nil {
				return err
			}
			if err := s.putJob(r); err != nil {
				return err
			}
		}
		out = r.response()
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.jobs.stop(id)
	return out, nil
}

// settleCancelled cancels the unfinished device parts of a cancelled job:
// the pending ones, and the running ones too when running is set. The
// caller writes the job record.
func (s jobStore) settleCancelled(job *jobRecord, running bool, now time.Time) error {
	if job.Counts.Pending == 0 && (!running || job.Counts.Running == 0) {
		return nil
	}
	prefix := jobKeyPrefix(job.ID)
	c := s.devices.Cursor()
	var recs []*deviceJobRecord
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		r, err := decodeDeviceJob(v)
		if err != nil {
			return err
		}
		if r.Status.Terminal() || r.Status == hub.DeviceJobRunning && !running {
			continue
		}
		recs = append(recs, r)
	}
	for _, r := range recs {
		setDeviceStatus(job, r, hub.DeviceJobCanceled, now)
		if err := s.putDeviceJob(r); err != nil {
			return err
		}
	}
	return nil
}

// Jobs lists the jobs of the hub, sorted by job ID, one page at a time.
// jobType and status filter them when not empty; status may be spelled as
// any of the service's spellings ("canceled" and "cancelled", "queued",
// "enqueued" and "pending").
func (h *Hub) Jobs(ctx context.Context, jobType, status string, opts hub.QueryOptions) (*hub.JobPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var wantType hub.JobType
	switch {
	case jobType == "":
	case strings.EqualFold(jobType, string(hub.JobTypeDeviceMethod)):
		wantType = hub.JobTypeDeviceMethod
	case strings.EqualFold(jobType, string(hub.JobTypeUpdateTwin)):
		wantType = hub.JobTypeUpdateTwin
	default:
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "jobType %q is not one of jobs v2; give %s or %s", jobType, hub.JobTypeDeviceMethod, hub.JobTypeUpdateTwin)
	}
	var wantStatus hub.JobStatus
	if status != "" {
		s, ok := hub.ParseJobStatus(status)
		if !ok {
			return nil, hub.Errorf(hub.CodeArgumentInvalid, "jobStatus %q is not a job status; give queued, scheduled, running, completed, failed or cancelled", status)
		}
		wantStatus = s
	}
	tok, err := decodeJobsToken(tokenJobList, opts.Continuation)
	if err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "invalid continuation token: %v", err)
	}
	size := pageSize(opts.PageSize)
	now := h.clock()
	page := &hub.JobPage{Jobs: []hub.JobResponse{}}
	err = h.view("list jobs", func(tx *bolt.Tx) error {
		b := readJobStore(tx).jobs
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.First()
		if tok.after != nil {
			k, v = c.Seek(tok.after)
			if k != nil && bytes.Equal(k, tok.after) {
				k, v = c.Next()
			}
		}
		var last []byte
		for ; k != nil; k, v = c.Next() {
			if len(page.Jobs) == size {
				page.Continuation = encodeJobsToken(tokenJobList, jobsToken{after: last, returned: tok.returned + len(page.Jobs)})
				return nil
			}
			last = k
			r, err := decodeJob(v)
			if err != nil {
				return err
			}
			if r.expired(now) || wantType != "" && r.Type != wantType || wantStatus != "" && r.Status != wantStatus {
				continue
			}
			page.Jobs = append(page.Jobs, *r.response())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

func jobNotFound(id string) error {
	return hub.Errorf(hub.CodeJobNotFound, "job %q does not exist", id)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
