package hub

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Limits and defaults of jobs (jobs v2: scheduled device methods and twin
// updates).
const (
	MaxJobIDLength = 64
	// DefaultJobMaxExecutionSeconds is the maximum run time of a job that
	// gives none (maxExecutionTimeInSeconds 0), the default of the SDKs.
	DefaultJobMaxExecutionSeconds = 3600
	// JobRetention is how long the hub keeps a job and its per-device
	// records after the job ended.
	JobRetention = 30 * 24 * time.Hour
)

// The largest number of jobs that may be active (queued, scheduled or
// running) at once on a hub of each tier. Creating one more is a 429
// ThrottlingMaxActiveJobCountExceeded error.
const (
	MaxActiveJobsS1 = 1 // the Free and S1 tiers
	MaxActiveJobsS2 = 5
	MaxActiveJobsS3 = 10
)

// More of IoT Hub's error codes: those of jobs and configurations.
var (
	CodeJobNotFound                   = ErrorCode{404002, "JobNotFound"}
	CodeJobAlreadyExists              = ErrorCode{409104, "JobAlreadyExists"}
	CodeMaxActiveJobCountExceeded     = ErrorCode{429004, "ThrottlingMaxActiveJobCountExceeded"}
	CodeInvalidTargetCondition        = ErrorCode{400401, "InvalidConfigurationTargetCondition"}
	CodeInvalidConfigurationContent   = ErrorCode{400402, "InvalidConfigurationContent"}
	CodeImmutableConfigurationContent = ErrorCode{400403, "CannotModifyImmutableConfigurationContent"}
	CodeInvalidMetricsQuery           = ErrorCode{400404, "InvalidConfigurationCustomMetricsQuery"}
	CodeConfigurationNotFound         = ErrorCode{404301, "ConfigurationNotFound"}
	CodeConfigurationAlreadyExists    = ErrorCode{409401, "ConfigurationAlreadyExists"}
	CodeConfigurationCountExceeded    = ErrorCode{413101, "ConfigurationCountLimitExceeded"}
)

// JobType is the kind of a job.
type JobType string

// The two job types of jobs v2. The service's enum lists import, export and
// other legacy types, which jobs v2 refuses.
const (
	JobTypeDeviceMethod JobType = "scheduleDeviceMethod"
	JobTypeUpdateTwin   JobType = "scheduleUpdateTwin"
)

// JobStatus is the status of a job as a whole.
type JobStatus string

// The job statuses, spelled as the service's enum spells them ("cancelled"
// with two l's). A job goes queued → scheduled (while its start time is in
// the future) → running → completed, failed or cancelled; see docs/jobs.md.
const (
	JobStatusUnknown   JobStatus = "unknown"
	JobStatusQueued    JobStatus = "queued"
	JobStatusEnqueued  JobStatus = "enqueued" // the service's older name of queued
	JobStatusScheduled JobStatus = "scheduled"
	JobStatusRunning   JobStatus = "running"
	JobStatusCompleted JobStatus = "completed"
	JobStatusFailed    JobStatus = "failed"
	JobStatusCancelled JobStatus = "cancelled"
)

// ParseJobStatus reads a job status as any of the service, its SDKs and its
// documentation spell it, without regard to case: "canceled" is
// JobStatusCancelled, "enqueued" and "pending" are JobStatusQueued.
func ParseJobStatus(s string) (JobStatus, bool) {
	switch strings.ToLower(s) {
	case "queued", "enqueued", "pending":
		return JobStatusQueued, true
	case "scheduled":
		return JobStatusScheduled, true
	case "running":
		return JobStatusRunning, true
	case "completed":
		return JobStatusCompleted, true
	case "failed":
		return JobStatusFailed, true
	case "cancelled", "canceled":
		return JobStatusCancelled, true
	case "unknown":
		return JobStatusUnknown, true
	}
	return "", false
}

// Terminal reports whether a job in status s has ended.
func (s JobStatus) Terminal() bool {
	return s == JobStatusCompleted || s == JobStatusFailed || s == JobStatusCancelled
}

// JobRequest is the body of a job creation (PUT /jobs/v2/{jobId}).
type JobRequest struct {
	JobID string  `json:"jobId"`
	Type  JobType `json:"type"`
	// CloudToDeviceMethod is the method to call; required for
	// scheduleDeviceMethod jobs and only for them.
	CloudToDeviceMethod *MethodRequest `json:"cloudToDeviceMethod,omitempty"`
	// UpdateTwin is the twin patch to apply; required for
	// scheduleUpdateTwin jobs and only for them.
	UpdateTwin *JobTwin `json:"updateTwin,omitempty"`
	// QueryCondition is the WHERE condition of a twin query naming the
	// devices of the job, such as "tags.floor = 3", or "*" for every
	// device. "FROM devices.modules WHERE <condition>" targets module
	// twins instead.
	QueryCondition string `json:"queryCondition"`
	// StartTime is when the job starts; zero or past means now.
	StartTime time.Time `json:"startTime,omitzero"`
	// MaxExecutionTimeInSeconds bounds the job's run time from the moment
	// it starts running; 0 means DefaultJobMaxExecutionSeconds.
	MaxExecutionTimeInSeconds int64 `json:"maxExecutionTimeInSeconds,omitempty"`
}

// JobTwin is the updateTwin member of a job: a twin (a Twin on the wire) of
// which a job applies the tags and the desired properties, merged into
// each target twin as a twin PATCH does. ETag must be "*".
type JobTwin struct {
	ETag       string             `json:"etag,omitempty"`
	Tags       map[string]any     `json:"tags,omitempty"`
	Properties *JobTwinProperties `json:"properties,omitempty"`
}

// JobTwinProperties is the properties member of a JobTwin. Reported is
// there only so that a job that tries to write reported properties can be
// told it cannot.
type JobTwinProperties struct {
	Desired  map[string]any `json:"desired,omitempty"`
	Reported map[string]any `json:"reported,omitempty"`
}

// Patch returns the twin patch the job applies.
func (t *JobTwin) Patch() TwinPatch {
	if t == nil {
		return TwinPatch{}
	}
	p := TwinPatch{Tags: t.Tags}
	if t.Properties != nil {
		p.Desired = t.Properties.Desired
	}
	return p
}

// JobResponse is a job as the hub reports it.
type JobResponse struct {
	JobID          string `json:"jobId"`
	QueryCondition string `json:"queryCondition,omitempty"`
	// CreatedTime is when the job was created; StartTime when it was asked
	// to start; EndTime when it ended, zero until then.
	CreatedTime               time.Time      `json:"createdTime,omitzero"`
	StartTime                 time.Time      `json:"startTime,omitzero"`
	EndTime                   time.Time      `json:"endTime,omitzero"`
	MaxExecutionTimeInSeconds int64          `json:"maxExecutionTimeInSeconds,omitempty"`
	Type                      JobType        `json:"type"`
	CloudToDeviceMethod       *MethodRequest `json:"cloudToDeviceMethod,omitempty"`
	UpdateTwin                *JobTwin       `json:"updateTwin,omitempty"`
	Status                    JobStatus      `json:"status"`
	// FailureReason says why a failed job failed.
	FailureReason string `json:"failureReason,omitempty"`
	StatusMessage string `json:"statusMessage,omitempty"`
	// DeviceJobStatistics counts the job's devices by the status of their
	// per-device records; all zero before the job starts.
	DeviceJobStatistics *DeviceJobStatistics `json:"deviceJobStatistics,omitempty"`
}

// DeviceJobStatistics counts the devices of a job by the status of their
// per-device records. DeviceCount is every device of the job: the sum of
// the four other counts and of the devices whose record was canceled.
type DeviceJobStatistics struct {
	DeviceCount    int `json:"deviceCount"`
	FailedCount    int `json:"failedCount"`
	SucceededCount int `json:"succeededCount"`
	RunningCount   int `json:"runningCount"`
	PendingCount   int `json:"pendingCount"`
}

// JobPage is one page of a job listing (GET /jobs/v2/query).
type JobPage struct {
	Jobs []JobResponse
	// Continuation is the token for the next page; "" on the last page.
	Continuation string
}

// DeviceJobStatus is the status of one device's part in a job.
type DeviceJobStatus string

// The per-device statuses, spelled as the SDKs spell them ("canceled" with
// one l, unlike the job's own status).
const (
	DeviceJobPending   DeviceJobStatus = "pending"
	DeviceJobScheduled DeviceJobStatus = "scheduled"
	DeviceJobRunning   DeviceJobStatus = "running"
	DeviceJobCompleted DeviceJobStatus = "completed"
	DeviceJobFailed    DeviceJobStatus = "failed"
	DeviceJobCanceled  DeviceJobStatus = "canceled"
)

// Terminal reports whether a device's part in a job has ended.
func (s DeviceJobStatus) Terminal() bool {
	return s == DeviceJobCompleted || s == DeviceJobFailed || s == DeviceJobCanceled
}

// DeviceJob is one device's (or module's) part in a job: a record of
// devices.jobs, as SELECT * FROM devices.jobs returns it.
type DeviceJob struct {
	DeviceID string          `json:"deviceId"`
	ModuleID string          `json:"moduleId,omitempty"`
	JobID    string          `json:"jobId"`
	JobType  JobType         `json:"jobType"`
	Status   DeviceJobStatus `json:"status"`
	// StartTimeUTC is when the device's part began, EndTimeUTC when it
	// ended; zero until then.
	StartTimeUTC           time.Time `json:"startTimeUtc"`
	EndTimeUTC             time.Time `json:"endTimeUtc"`
	CreatedDateTimeUTC     time.Time `json:"createdDateTimeUtc"`
	LastUpdatedDateTimeUTC time.Time `json:"lastUpdatedDateTimeUtc"`
	// Outcome holds the device's answer to a method job.
	Outcome *DeviceJobOutcome `json:"outcome,omitempty"`
	// Error says why the device's part failed.
	Error *DeviceJobError `json:"error,omitempty"`
}

// DeviceJobTimeFormat is how devices.jobs records write their times: UTC,
// with seven fractional digits always, so that the query language, which
// compares strings, orders them as it orders the times.
const DeviceJobTimeFormat = "2006-01-02T15:04:05.0000000Z"

// deviceJobWire is DeviceJob with its times as text.
type deviceJobWire struct {
	DeviceID               string            `json:"deviceId"`
	ModuleID               string            `json:"moduleId,omitempty"`
	JobID                  string            `json:"jobId"`
	JobType                JobType           `json:"jobType"`
	Status                 DeviceJobStatus   `json:"status"`
	StartTimeUTC           string            `json:"startTimeUtc,omitempty"`
	EndTimeUTC             string            `json:"endTimeUtc,omitempty"`
	CreatedDateTimeUTC     string            `json:"createdDateTimeUtc,omitempty"`
	LastUpdatedDateTimeUTC string            `json:"lastUpdatedDateTimeUtc,omitempty"`
	Outcome                *DeviceJobOutcome `json:"outcome,omitempty"`
	Error                  *DeviceJobError   `json:"error,omitempty"`
}

// MarshalJSON writes the record with its times in DeviceJobTimeFormat,
// leaving out the times that are zero.
func (j DeviceJob) MarshalJSON() ([]byte, error) {
	return json.Marshal(deviceJobWire{
		DeviceID: j.DeviceID, ModuleID: j.ModuleID, JobID: j.JobID, JobType: j.JobType, Status: j.Status,
		StartTimeUTC:           formatJobTime(j.StartTimeUTC),
		EndTimeUTC:             formatJobTime(j.EndTimeUTC),
		CreatedDateTimeUTC:     formatJobTime(j.CreatedDateTimeUTC),
		LastUpdatedDateTimeUTC: formatJobTime(j.LastUpdatedDateTimeUTC),
		Outcome:                j.Outcome, Error: j.Error,
	})
}

// UnmarshalJSON reads a record, accepting times with or without the
// trailing Z (the service's own examples have both) and with any number of
// fractional digits.
func (j *DeviceJob) UnmarshalJSON(b []byte) error {
	var w deviceJobWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*j = DeviceJob{DeviceID: w.DeviceID, ModuleID: w.ModuleID, JobID: w.JobID, JobType: w.JobType, Status: w.Status, Outcome: w.Outcome, Error: w.Error}
	for _, f := range []struct {
		name string
		in   string
		out  *time.Time
	}{
		{"startTimeUtc", w.StartTimeUTC, &j.StartTimeUTC},
		{"endTimeUtc", w.EndTimeUTC, &j.EndTimeUTC},
		{"createdDateTimeUtc", w.CreatedDateTimeUTC, &j.CreatedDateTimeUTC},
		{"lastUpdatedDateTimeUtc", w.LastUpdatedDateTimeUTC, &j.LastUpdatedDateTimeUTC},
	} {
		t, err := parseJobTime(f.in)
		if err != nil {
			return fmt.Errorf("device job %s: %w", f.name, err)
		}
		*f.out = t
	}
	return nil
}

func formatJobTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(DeviceJobTimeFormat)
}

func parseJobTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time", s)
	}
	return t, nil
}

// DeviceJobOutcome is what a device's part in a job produced: for a
// method job, the device's answer; nil (JSON null) otherwise.
type DeviceJobOutcome struct {
	DeviceMethodResponse *MethodResult `json:"deviceMethodResponse"`
}

// DeviceJobError says why a device's part in a job failed, for instance
// {"code": "DeviceNotOnline", "description": "Timed out waiting for device
// to connect."}.
type DeviceJobError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// ValidateJobID checks a job ID against the hub's rule: 1 to 64 ASCII
// letters, digits and hyphens.
func ValidateJobID(id string) error {
	if id == "" {
		return fmt.Errorf("the job ID is empty")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("job ID %q contains %s; a job ID may contain only ASCII letters, digits and '-'", id, quoteRune(r))
		}
	}
	if len(id) > MaxJobIDLength {
		return fmt.Errorf("job ID %q is %d characters long; the most IoT Hub allows is %d", id, len(id), MaxJobIDLength)
	}
	return nil
}

// methodNameExcluded lists the printable ASCII characters a method name may
// not contain.
const methodNameExcluded = `$()<>@,;:\"/[]?={} `

// ValidateMethodName checks a direct method's name against the service's
// rule: printable US-ASCII characters other than $ ( ) < > @ , ; : \ " / [
// ] ? = { }, space and tab.
func ValidateMethodName(name string) error {
	if name == "" {
		return fmt.Errorf("the method name is empty")
	}
	for _, r := range name {
		if r < 0x21 || r > 0x7e || strings.ContainsRune(methodNameExcluded, r) {
			return fmt.Errorf("the method name %q contains %s, which IoT Hub does not allow in a method name", name, quoteRune(r))
		}
	}
	return nil
}
