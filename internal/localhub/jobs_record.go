package localhub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// The jobs store. A job is one record in bucketJobs under its ID; while it
// is active (queued, scheduled or running) its ID is also a key of
// bucketActiveJobs, so that the scheduler and the concurrency limit read
// only the active jobs. Each device (or module) a job targets has a record
// in bucketDeviceJobs under jobID + "\x00" + deviceID + "\x00" + moduleID
// (moduleID "" for a device), indexed by device in bucketDeviceJobsByDevice
// under deviceID + "\x00" + jobID + "\x00" + moduleID with no value. IDs
// never contain "\x00", so the keys are unambiguous.
//
// A job record keeps the counts of its device records by status; every
// transaction that changes a device record changes the counts with it, so
// the statistics a job reports always equal its records.
var (
	bucketJobs               = []byte("jobs")
	bucketActiveJobs         = []byte("activeJobs")
	bucketDeviceJobs         = []byte("deviceJobs")
	bucketDeviceJobsByDevice = []byte("deviceJobsByDevice")
)

// jobRecord is one job.
type jobRecord struct {
	Schema         int            `json:"schema"`
	ID             string         `json:"id"`
	Type           hub.JobType    `json:"type"`
	QueryCondition string         `json:"queryCondition"`
	Method         *jobMethod     `json:"method,omitempty"`
	Tags           map[string]any `json:"tags,omitempty"`
	Desired        map[string]any `json:"desired,omitempty"`
	// MaxSeconds bounds the run time, counted from Ran.
	MaxSeconds int64     `json:"maxSeconds"`
	Created    time.Time `json:"created"`
	// Start is when the job was asked to start.
	Start time.Time `json:"start"`
	// Ran is when the job went running; zero before.
	Ran time.Time `json:"ran,omitzero"`
	// End is when the job ended; zero while it is active.
	End           time.Time     `json:"end,omitzero"`
	Status        hub.JobStatus `json:"status"`
	FailureReason string        `json:"failureReason,omitempty"`
	Counts        jobCounts     `json:"counts"`
}

// jobMethod is the direct method a method job calls.
type jobMethod struct {
	Name            string          `json:"name"`
	Payload         json.RawMessage `json:"payload,omitempty"`
	ResponseTimeout int             `json:"responseTimeout"`
	ConnectTimeout  int             `json:"connectTimeout,omitempty"`
}

func (m *jobMethod) request() hub.MethodRequest {
	return hub.MethodRequest{
		MethodName:               m.Name,
		Payload:                  m.Payload,
		ResponseTimeoutInSeconds: m.ResponseTimeout,
		ConnectTimeoutInSeconds:  m.ConnectTimeout,
	}
}

// jobCounts counts a job's device records by status.
type jobCounts struct {
	Pending   int `json:"pending,omitempty"` // pending and scheduled
	Running   int `json:"running,omitempty"`
	Completed int `json:"completed,omitempty"`
	Failed    int `json:"failed,omitempty"`
	Canceled  int `json:"canceled,omitempty"`
}

func (c *jobCounts) add(s hub.DeviceJobStatus, n int) {
	switch s {
	case hub.DeviceJobPending, hub.DeviceJobScheduled:
		c.Pending += n
	case hub.DeviceJobRunning:
		c.Running += n
	case hub.DeviceJobCompleted:
		c.Completed += n
	case hub.DeviceJobFailed:
		c.Failed += n
	case hub.DeviceJobCanceled:
		c.Canceled += n
	default:
		panic(fmt.Sprintf("localhub: unknown device job status %q", s))
	}
}

func (c jobCounts) total() int {
	return c.Pending + c.Running + c.Completed + c.Failed + c.Canceled
}

// unfinished is the number of devices whose part has not ended.
func (c jobCounts) unfinished() int { return c.Pending + c.Running }

func (c jobCounts) statistics() *hub.DeviceJobStatistics {
	return &hub.DeviceJobStatistics{
		DeviceCount:    c.total(),
		FailedCount:    c.Failed,
		SucceededCount: c.Completed,
		RunningCount:   c.Running,
		PendingCount:   c.Pending,
	}
}

// expired reports whether an ended job has outlived its retention at now.
func (r *jobRecord) expired(now time.Time) bool {
	return r.Status.Terminal() && !r.End.IsZero() && now.Sub(r.End) > hub.JobRetention
}

// response returns the job as the hub's wire type.
func (r *jobRecord) response() *hub.JobResponse {
	out := &hub.JobResponse{
		JobID:                     r.ID,
		QueryCondition:            r.QueryCondition,
		CreatedTime:               r.Created,
		StartTime:                 r.Start,
		EndTime:                   r.End,
		MaxExecutionTimeInSeconds: r.MaxSeconds,
		Type:                      r.Type,
		Status:                    r.Status,
		FailureReason:             r.FailureReason,
		DeviceJobStatistics:       r.Counts.statistics(),
	}
	if r.Method != nil {
		m := r.Method.request()
		m.Payload = bytes.Clone(m.Payload)
		out.CloudToDeviceMethod = &m
	}
	if r.Type == hub.JobTypeUpdateTwin {
		t := &hub.JobTwin{ETag: "*", Tags: cloneJSON(r.Tags)}
		if r.Desired != nil {
			t.Properties = &hub.JobTwinProperties{Desired: cloneJSON(r.Desired)}
		}
		out.UpdateTwin = t
	}
	return out
}

// deviceJobRecord is one device's (or module's) part in a job.
type deviceJobRecord struct {
	Schema   int                 `json:"schema"`
	JobID    string              `json:"jobId"`
	DeviceID string              `json:"deviceId"`
	ModuleID string              `json:"moduleId,omitempty"`
	Type     hub.JobType         `json:"type"`
	Status   hub.DeviceJobStatus `json:"status"`
	Created  time.Time           `json:"created"`
	Updated  time.Time           `json:"updated"`
	Start    time.Time           `json:"start,omitzero"`
	End      time.Time           `json:"end,omitzero"`
	// Response is the device's answer to a method job.
	Response *hub.MethodResult   `json:"response,omitempty"`
	Error    *hub.DeviceJobError `json:"error,omitempty"`
}

// wire returns the record as the hub's wire type.
func (r *deviceJobRecord) wire() *hub.DeviceJob {
	out := &hub.DeviceJob{
		DeviceID:               r.DeviceID,
		ModuleID:               r.ModuleID,
		JobID:                  r.JobID,
		JobType:                r.Type,
		Status:                 r.Status,
		StartTimeUTC:           r.Start,
		EndTimeUTC:             r.End,
		CreatedDateTimeUTC:     r.Created,
		LastUpdatedDateTimeUTC: r.Updated,
		Outcome:                &hub.DeviceJobOutcome{},
	}
	if r.Response != nil {
		res := *r.Response
		res.Payload = bytes.Clone(res.Payload)
		out.Outcome.DeviceMethodResponse = &res
	}
	if r.Error != nil {
		e := *r.Error
		out.Error = &e
	}
	return out
}

// target is a device (moduleID "") or a module that a job or a
// configuration targets.
type target struct {
	deviceID, moduleID string
}

func deviceJobKey(jobID string, t target) []byte {
	return []byte(jobID + "\x00" + t.deviceID + "\x00" + t.moduleID)
}

func deviceJobIndexKey(jobID string, t target) []byte {
	return []byte(t.deviceID + "\x00" + jobID + "\x00" + t.moduleID)
}

// jobKeyPrefix is the prefix of the keys of a job's device records.
func jobKeyPrefix(jobID string) []byte { return []byte(jobID + "\x00") }

// splitKey splits a three-part key of bucketDeviceJobs or
// bucketDeviceJobsByDevice.
func splitKey(k []byte) (a, b, c string, ok bool) {
	parts := strings.Split(string(k), "\x00")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// jobStore is the jobs buckets of one transaction. In a read-only
// transaction of a hub that never had a job the buckets are nil, and the
// store reads as empty.
type jobStore struct {
	jobs, active, devices, index *bolt.Bucket
}

// readJobStore returns the jobs buckets for reading.
func readJobStore(tx *bolt.Tx) jobStore {
	return jobStore{
		jobs:    tx.Bucket(bucketJobs),
		active:  tx.Bucket(bucketActiveJobs),
		devices: tx.Bucket(bucketDeviceJobs),
		index:   tx.Bucket(bucketDeviceJobsByDevice),
	}
}

// writeJobStore returns the jobs buckets of a read-write transaction,
// creating those that do not exist yet.
func writeJobStore(tx *bolt.Tx) (jobStore, error) {
	var s jobStore
	for _, b := range []struct {
		name []byte
		dst  **bolt.Bucket
	}{
		{bucketJobs, &s.jobs}, {bucketActiveJobs, &s.active},
		{bucketDeviceJobs, &s.devices}, {bucketDeviceJobsByDevice, &s.index},
	} {
		bk, err := tx.CreateBucketIfNotExists(b.name)
		if err != nil {
			return s, fmt.Errorf("create bucket %s: %w", b.name, err)
		}
		*b.dst = bk
	}
	return s, nil
}

// job reads a job record, or returns nil when there is none.
func (s jobStore) job(id string) (*jobRecord, error) {
	if s.jobs == nil {
		return nil, nil
	}
	v := s.jobs.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	return decodeJob(v)
}

func decodeJob(v []byte) (*jobRecord, error) {
	var r jobRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decode job record: %w", err)
	}
	if r.Schema > schemaVersion {
		return nil, fmt.Errorf("job record %q has schema version %d; this iotplan reads versions up to %d", r.ID, r.Schema, schemaVersion)
	}
	return &r, nil
}

// putJob writes a job record and keeps bucketActiveJobs in step with its
// status.
func (s jobStore) putJob(r *jobRecord) error {
	r.Schema = schemaVersion
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode job record: %w", err)
	}
	if err := s.jobs.Put([]byte(r.ID), v); err != nil {
		return err
	}
	if r.Status.Terminal() {
		return s.active.Delete([]byte(r.ID))
	}
	return s.active.Put([]byte(r.ID), nil)
}

// deviceJob reads a device record, or returns nil when there is none.
func (s jobStore) deviceJob(jobID string, t target) (*deviceJobRecord, error) {
	if s.devices == nil {
		return nil, nil
	}
	v := s.devices.Get(deviceJobKey(jobID, t))
	if v == nil {
		return nil, nil
	}
	return decodeDeviceJob(v)
}

func decodeDeviceJob(v []byte) (*deviceJobRecord, error) {
	var r deviceJobRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decode device job record: %w", err)
	}
	if r.Schema > schemaVersion {
		return nil, fmt.Errorf("device job record %q/%q has schema version %d; this iotplan reads versions up to %d", r.JobID, r.DeviceID, r.Schema, schemaVersion)
	}
	return &r, nil
}

// putDeviceJob writes a device record and its index entry.
func (s jobStore) putDeviceJob(r *deviceJobRecord) error {
	r.Schema = schemaVersion
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode device job record: %w", err)
	}
	t := target{r.DeviceID, r.ModuleID}
	if err := s.devices.Put(deviceJobKey(r.JobID, t), v); err != nil {
		return err
	}
	return s.index.Put(deviceJobIndexKey(r.JobID, t), nil)
}

// setDeviceStatus moves a device record to status at now, keeping the
// job's counts in step; the caller writes both records.
func setDeviceStatus(job *jobRecord, r *deviceJobRecord, status hub.DeviceJobStatus, now time.Time) {
	job.Counts.add(r.Status, -1)
	job.Counts.add(status, 1)
	r.Status = status
	r.Updated = now
	switch {
	case status == hub.DeviceJobRunning:
		r.Start = now
	case status.Terminal():
		if r.Start.IsZero() && status != hub.DeviceJobCanceled {
			r.Start = now
		}
		r.End = now
	}
}

// deleteJob removes a job and all its device records.
func (s jobStore) deleteJob(id string) error {
	prefix := jobKeyPrefix(id)
	c := s.devices.Cursor()
	var keys [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		_, deviceID, moduleID, ok := splitKey(k)
		if !ok {
			return fmt.Errorf("corrupt device job key %q", k)
		}
		if err := s.devices.Delete(k); err != nil {
			return err
		}
		if err := s.index.Delete(deviceJobIndexKey(id, target{deviceID, moduleID})); err != nil {
			return err
		}
	}
	if err := s.active.Delete([]byte(id)); err != nil {
		return err
	}
	return s.jobs.Delete([]byte(id))
}

// cloneJSON copies a JSON object decoded by encoding/json.
func cloneJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneJSONValue(v)
	}
	return out
}

func cloneJSONValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneJSON(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneJSONValue(e)
		}
		return out
	}
	return v
}
