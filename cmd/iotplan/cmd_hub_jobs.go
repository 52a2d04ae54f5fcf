package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/hub"
)

// embeddedEngines is what the embedded hub offers beyond hubAPI: running
// the jobs that are due and a pass of the automatic configurations. A
// served hub does both on its own; for the embedded hub, which nothing
// runs between commands, the job and configuration commands do it.
type embeddedEngines interface {
	RunPendingJobs(ctx context.Context) error
	ApplyConfigurations(ctx context.Context) error
}

// catchUp makes the embedded hub do what a served hub would have done by
// now: run the jobs that are due, apply the configurations. It does
// nothing for a hub reached over REST.
func catchUp(ctx context.Context, h hubAPI, jobs, configs bool) error {
	e, ok := h.(embeddedEngines)
	if !ok {
		return nil
	}
	if jobs {
		if err := e.RunPendingJobs(ctx); err != nil {
			return err
		}
	}
	if configs {
		return e.ApplyConfigurations(ctx)
	}
	return nil
}

// jobFlags are the flags of the job commands, named as `az iot hub job`
// names them.
type jobFlags struct {
	jobID, jobType, jobStatus, query string
	methodName, methodPayload        string
	responseTimeout, connectTimeout  int
	twinPatch, startTime             string
	ttl                              int64
	wait                             bool
	pollInterval, pollDuration       float64
	top                              int
}

func newHubJobCmd(s *streams) *cobra.Command {
	t := &hubTarget{}
	f := &jobFlags{}
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Schedule direct methods and twin updates on many devices (az iot hub job)",
		Long: `Jobs call a direct method, or apply a twin patch, on every device a query
condition matches, now or at a start time (jobs v2 of IoT Hub's service API).

On the embedded hub, which no process runs between commands, every job command
first runs the jobs that are due, as a served hub would have; a job created to
start now runs before "create" returns. Method jobs reach only devices connected
to a served hub ("iotplan hub serve"): on the embedded hub every device is
offline.`,
	}
	idFlag := func(c *cobra.Command) {
		c.Flags().StringVar(&f.jobID, "job-id", "", "the job ID")
		_ = c.MarkFlagRequired("job-id")
	}

	create := &cobra.Command{
		Use:   "create",
		Short: "Create a job; --wait follows it to its end",
		Long: `Create a job: --job-type scheduleDeviceMethod calls --method-name with
--method-payload on the devices --query-condition matches; --job-type
scheduleUpdateTwin merges --twin-patch (tags and properties.desired, as in
'{"properties":{"desired":{"BuildingNo":45}}}') into their twins. Without
--job-id the job gets a generated one.

With --wait, progress lines go to standard error every --poll-interval seconds
until the job ends; the job is then printed, and the command fails when the job
failed, was cancelled, or failed on any device.`,
		Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			job, err := h.CreateJob(ctx, req)
			if err != nil {
				return err
			}
			if f.wait {
				return waitForJob(ctx, s, t, h, job, f)
			}
			if _, embedded := h.(embeddedEngines); embedded && !job.StartTime.After(time.Now()) {
				if err := catchUp(ctx, h, true, false); err != nil {
					return err
				}
				if job, err = h.Job(ctx, job.JobID); err != nil {
					return err
				}
			}
			return t.print(s, job, "jobId", "type", "status", "startTime")
		}),
	}
	cf := create.Flags()
	cf.StringVar(&f.jobID, "job-id", "", "the job ID: letters, digits and '-', up to 64 (default: generated)")
	cf.StringVar(&f.jobType, "job-type", "", "scheduleDeviceMethod or scheduleUpdateTwin")
	_ = create.MarkFlagRequired("job-type")
	cf.StringVar(&f.query, "query-condition", "", `the devices: the WHERE condition of a twin query, such as "tags.building = '43'", or "*" for all`)
	cf.StringVar(&f.methodName, "method-name", "", "the direct method to call (scheduleDeviceMethod)")
	cf.StringVar(&f.methodPayload, "method-payload", "{}", "the method's payload as JSON, or a file holding it; null sends JSON null")
	cf.IntVar(&f.responseTimeout, "method-response-timeout", 30, "seconds to wait for each device's answer (5 to 300)")
	cf.IntVar(&f.connectTimeout, "method-connect-timeout", 30, "seconds to wait for an offline device to connect (0 to 300)")
	cf.StringVar(&f.twinPatch, "twin-patch", "", `the twin patch as JSON, or a file holding it (scheduleUpdateTwin): {"tags":{…},"properties":{"desired":{…}}}`)
	cf.StringVar(&f.startTime, "start-time", "", "when the job starts, in ISO 8601 (2026-03-01T12:00:00Z); default now")
	cf.Int64Var(&f.ttl, "ttl", 0, "the most seconds the job may run (default 3600)")
	aliasFlag(cf, "ttl", "max-execution-time")
	cf.BoolVar(&f.wait, "wait", false, "follow the job until it ends")
	cf.Float64Var(&f.pollInterval, "poll-interval", 2, "seconds between progress reads with --wait")
	cf.Float64Var(&f.pollDuration, "poll-duration", 600, "the most seconds --wait follows the job")
	aliasFlag(cf, "query-condition", "qc")
	aliasFlag(cf, "method-response-timeout", "mrt")
	aliasFlag(cf, "method-connect-timeout", "mct")
	aliasFlag(cf, "twin-patch", "patch")
	aliasFlag(cf, "start-time", "start")

	show := &cobra.Command{
		Use: "show", Short: "Show a job and its statistics", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			if err := catchUp(ctx, h, true, false); err != nil {
				return err
			}
			job, err := h.Job(ctx, f.jobID)
			if err != nil {
				return err
			}
			return t.print(s, job, "jobId", "type", "status", "startTime", "endTime")
		}),
	}
	idFlag(show)

	cancel := &cobra.Command{
		Use: "cancel", Short: "Cancel a job that has not ended", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			if err := catchUp(ctx, h, true, false); err != nil {
				return err
			}
			job, err := h.CancelJob(ctx, f.jobID)
			if err != nil {
				return err
			}
			return t.print(s, job, "jobId", "type", "status")
		}),
	}
	idFlag(cancel)

	list := &cobra.Command{
		Use: "list", Short: "List jobs", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			if err := catchUp(ctx, h, true, false); err != nil {
				return err
			}
			jobs := []hub.JobResponse{}
			opts := hub.QueryOptions{PageSize: hub.DefaultQueryPageSize}
			for {
				page, err := h.Jobs(ctx, f.jobType, f.jobStatus, opts)
				if err != nil {
					return err
				}
				jobs = append(jobs, page.Jobs...)
				if page.Continuation == "" || f.top > 0 && len(jobs) >= f.top {
					break
				}
				opts.Continuation = page.Continuation
			}
			if f.top > 0 && len(jobs) > f.top {
				jobs = jobs[:f.top]
			}
			return t.print(s, jobs, "jobId", "type", "status", "startTime", "endTime")
		}),
	}
	list.Flags().StringVar(&f.jobType, "job-type", "", "only jobs of this type: scheduleDeviceMethod or scheduleUpdateTwin")
	list.Flags().StringVar(&f.jobStatus, "job-status", "", "only jobs in this status: queued, scheduled, running, completed, failed or cancelled")
	list.Flags().IntVar(&f.top, "top", 0, "the most jobs to list (all when 0)")

	for _, c := range []*cobra.Command{create, show, cancel, list} {
		t.register(c.Flags())
	}
	cmd.AddCommand(create, show, cancel, list)
	return cmd
}

// readJSONArg reads a flag's JSON value: the text itself, or, as az
// allows, the name of a file holding it.
func readJSONArg(flag, v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if v != "" && !json.Valid([]byte(v)) {
		if b, err := os.ReadFile(v); err == nil {
			v = strings.TrimSpace(string(b))
		}
	}
	if !json.Valid([]byte(v)) {
		return nil, fmt.Errorf("--%s is neither JSON nor a file holding JSON: %s", flag, v)
	}
	return []byte(v), nil
}

// decodeStrict decodes JSON into v, refusing members v does not know.
func decodeStrict(flag string, b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("--%s: %v", flag, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("--%s: something follows the JSON value", flag)
	}
	return nil
}

// newJobID makes a job ID for a job created without one: the time, and
// random digits so that two made in one second differ.
func newJobID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "job-" + time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b[:])
}

// request builds the job the create flags describe.
func (f *jobFlags) request() (*hub.JobRequest, error) {
	req := &hub.JobRequest{JobID: f.jobID, QueryCondition: f.query, MaxExecutionTimeInSeconds: f.ttl}
	if req.JobID == "" {
		req.JobID = newJobID()
	}
	if err := hub.ValidateJobID(req.JobID); err != nil {
		return nil, fmt.Errorf("--job-id: %v", err)
	}
	if strings.TrimSpace(f.query) == "" {
		return nil, errors.New(`give --query-condition: the devices of the job, as the WHERE condition of a twin query ("tags.building = '43'") or "*" for all`)
	}
	if f.ttl < 0 {
		return nil, fmt.Errorf("--ttl cannot be negative")
	}
	if f.pollInterval <= 0 || f.pollDuration <= 0 {
		return nil, fmt.Errorf("--poll-interval and --poll-duration must be positive")
	}
	if f.startTime != "" {
		st, err := time.Parse(time.RFC3339Nano, f.startTime)
		if err != nil {
			st, err = time.ParseInLocation("2006-01-02T15:04:05", f.startTime, time.UTC)
		}
		if err != nil {
			return nil, fmt.Errorf("--start-time %q is not an ISO 8601 time such as 2026-03-01T12:00:00Z", f.startTime)
		}
		req.StartTime = st.UTC()
	}
	switch {
	case strings.EqualFold(f.jobType, string(hub.JobTypeDeviceMethod)):
		req.Type = hub.JobTypeDeviceMethod
		if f.methodName == "" {
			return nil, errors.New("a scheduleDeviceMethod job needs --method-name")
		}
		if f.twinPatch != "" {
			return nil, errors.New("--twin-patch is for scheduleUpdateTwin jobs; a scheduleDeviceMethod job calls --method-name")
		}
		payload, err := readJSONArg("method-payload", f.methodPayload)
		if err != nil {
			return nil, err
		}
		req.CloudToDeviceMethod = &hub.MethodRequest{MethodName: f.methodName, Payload: payload,
			ResponseTimeoutInSeconds: f.responseTimeout, ConnectTimeoutInSeconds: f.connectTimeout}
	case strings.EqualFold(f.jobType, string(hub.JobTypeUpdateTwin)):
		req.Type = hub.JobTypeUpdateTwin
		if f.methodName != "" {
			return nil, errors.New("--method-name is for scheduleDeviceMethod jobs; a scheduleUpdateTwin job applies --twin-patch")
		}
		if f.twinPatch == "" {
			return nil, errors.New(`a scheduleUpdateTwin job needs --twin-patch, such as '{"properties":{"desired":{"BuildingNo":45}}}'`)
		}
		b, err := readJSONArg("twin-patch", f.twinPatch)
		if err != nil {
			return nil, err
		}
		var patch struct {
			ETag       string         `json:"etag"`
			Tags       map[string]any `json:"tags"`
			Properties *struct {
				Desired map[string]any `json:"desired"`
			} `json:"properties"`
		}
		if err := decodeStrict("twin-patch", b, &patch); err != nil {
			return nil, fmt.Errorf(`%v; a twin patch holds "tags" and "properties": {"desired": …}`, err)
		}
		t := &hub.JobTwin{ETag: "*", Tags: patch.Tags}
		if patch.Properties != nil {
			t.Properties = &hub.JobTwinProperties{Desired: patch.Properties.Desired}
		}
		req.UpdateTwin = t
	default:
		return nil, fmt.Errorf("--job-type must be scheduleDeviceMethod or scheduleUpdateTwin, not %q", f.jobType)
	}
	return req, nil
}

// waitForJob follows a job to its end, a progress line on standard error
// each time its status or statistics change, prints it, and fails when the
// job did not succeed everywhere. On the embedded hub it runs the job
// itself, at its start time.
func waitForJob(ctx context.Context, s *streams, t *hubTarget, h hubAPI, job *hub.JobResponse, f *jobFlags) error {
	interval := time.Duration(f.pollInterval * float64(time.Second))
	deadline := time.Now().Add(time.Duration(f.pollDuration * float64(time.Second)))
	var ran chan error // the embedded hub's run of the job; nil on a served hub
	if e, ok := h.(embeddedEngines); ok {
		ran = make(chan error, 1)
		start := job.StartTime
		go func() {
			if wait := time.Until(start); wait > 0 {
				timer := time.NewTimer(wait)
				defer timer.Stop()
				select {
				case <-timer.C:
				case <-ctx.Done():
					ran <- ctx.Err()
					return
				}
			}
			ran <- e.RunPendingJobs(ctx)
		}()
	}
	last := ""
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if line := jobProgress(job); line != last {
			fmt.Fprintln(s.Err, line)
			last = line
		}
		if job.Status.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job %s is still %s after %s of --poll-duration; it goes on: iotplan hub job show --job-id %s",
				job.JobID, job.Status, time.Duration(f.pollDuration*float64(time.Second)), job.JobID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ran:
			if err != nil {
				return fmt.Errorf("run job %s: %w", job.JobID, err)
			}
			ran = nil // the last read below sees its end
		case <-ticker.C:
		}
		next, err := h.Job(ctx, job.JobID)
		if err != nil {
			return err
		}
		job = next
		if ran == nil && !job.Status.Terminal() {
			if _, embedded := h.(embeddedEngines); embedded {
				return fmt.Errorf("job %s is still %s after the embedded hub ran the jobs that were due", job.JobID, job.Status)
			}
		}
	}
	if err := t.print(s, job, "jobId", "type", "status", "startTime", "endTime"); err != nil {
		return err
	}
	return jobOutcome(job)
}

// jobProgress is a line saying where a job stands.
func jobProgress(j *hub.JobResponse) string {
	line := fmt.Sprintf("Job %s: %s", j.JobID, j.Status)
	switch j.Status {
	case hub.JobStatusScheduled:
		return line + " to start at " + j.StartTime.UTC().Format(time.RFC3339)
	case hub.JobStatusQueued:
		return line
	}
	if st := j.DeviceJobStatistics; st != nil {
		line += fmt.Sprintf(" — %s: %d succeeded, %d failed, %d running, %d pending",
			numbered(st.DeviceCount, "device", "devices"), st.SucceededCount, st.FailedCount, st.RunningCount, st.PendingCount)
	}
	if j.FailureReason != "" {
		line += " — " + j.FailureReason
	}
	return line
}

// numbered writes n and the noun for n.
func numbered(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(n, one, many))
}

// jobOutcome is nil for a job that completed on every device, and says
// what went wrong otherwise.
func jobOutcome(j *hub.JobResponse) error {
	switch {
	case j.Status == hub.JobStatusFailed:
		return fmt.Errorf("job %s failed: %s", j.JobID, j.FailureReason)
	case j.Status == hub.JobStatusCancelled:
		return fmt.Errorf("job %s was cancelled", j.JobID)
	case j.DeviceJobStatistics != nil && j.DeviceJobStatistics.FailedCount > 0:
		st := j.DeviceJobStatistics
		return fmt.Errorf("job %s completed, but failed on %d of %s; their records say why: iotplan hub query -q \"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '%s' AND devices.jobs.status = 'failed'\"",
			j.JobID, st.FailedCount, numbered(st.DeviceCount, "device", "devices"), j.JobID)
	}
	return nil
}

// configFlags are the flags of the configuration commands, named as `az iot
// hub configuration` names them.
type configFlags struct {
	id, content, target, labels, metrics, etag string
	priority, top                              int
}

func newHubConfigurationCmd(s *streams) *cobra.Command {
	t := &hubTarget{}
	f := &configFlags{}
	cmd := &cobra.Command{
		Use:   "configuration",
		Short: "Manage automatic device configurations (az iot hub configuration)",
		Long: `An automatic device configuration writes its content (desired properties) into
every twin its target condition matches; where configurations overlap, the
higher priority wins. Its metrics count the twins their queries return.

On the embedded hub, which no process runs between commands, every
configuration command first applies the configurations, as a served hub does
on its own.`,
	}
	idFlag := func(c *cobra.Command) {
		c.Flags().StringVarP(&f.id, "config-id", "c", "", "the configuration ID: lower-case letters, digits and - + % _ * ! '")
		_ = c.MarkFlagRequired("config-id")
	}
	columns := []string{"id", "priority", "targetCondition", "createdTimeUtc"}

	create := &cobra.Command{
		Use: "create", Short: "Create a configuration", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			c := &hub.Configuration{ID: f.id, TargetCondition: f.target, Priority: f.priority}
			content, err := parseContent(f.content)
			if err != nil {
				return err
			}
			c.Content = content
			if c.Labels, err = parseLabels(f.labels); err != nil {
				return err
			}
			if c.Metrics, err = parseMetrics(f.metrics); err != nil {
				return err
			}
			out, err := h.CreateConfiguration(ctx, c)
			if err != nil {
				return err
			}
			if out, err = applied(ctx, h, out); err != nil {
				return err
			}
			return t.print(s, out, columns...)
		}),
	}
	idFlag(create)
	create.Flags().StringVarP(&f.content, "content", "k", "", `the content as JSON, or a file holding it: {"deviceContent":{"properties.desired.x":1}}`)
	_ = create.MarkFlagRequired("content")
	create.Flags().StringVarP(&f.target, "target-condition", "t", "", `the twins it targets: a WHERE condition such as "tags.building = '43'", or "*"`)
	create.Flags().IntVarP(&f.priority, "priority", "p", 0, "its priority: where configurations overlap, the highest wins")
	create.Flags().StringVar(&f.labels, "labels", "", `labels as a JSON object of strings: {"team":"heating"}`)
	create.Flags().StringVarP(&f.metrics, "metrics", "m", "", `custom metrics as JSON, or a file holding it: {"queries":{"name":"SELECT deviceId FROM devices WHERE …"}}`)

	show := &cobra.Command{
		Use: "show", Short: "Show a configuration and its metrics", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			if err := catchUp(ctx, h, false, true); err != nil {
				return err
			}
			c, err := h.Configuration(ctx, f.id)
			if err != nil {
				return err
			}
			return t.print(s, c, columns...)
		}),
	}
	idFlag(show)

	list := &cobra.Command{
		Use: "list", Short: "List configurations", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			if err := catchUp(ctx, h, false, true); err != nil {
				return err
			}
			cs, err := h.Configurations(ctx, f.top)
			if err != nil {
				return err
			}
			if cs == nil {
				cs = []hub.Configuration{}
			}
			return t.print(s, cs, columns...)
		}),
	}
	list.Flags().IntVar(&f.top, "top", 0, "the most configurations to list (all when 0)")

	var update *cobra.Command
	update = &cobra.Command{
		Use:   "update",
		Short: "Change a configuration's priority, target condition, labels or metrics",
		Long: `Change what may change of a configuration: its priority, target condition,
labels and metrics. Its content cannot change: create a configuration with a
new ID instead.`,
		Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			c, err := h.Configuration(ctx, f.id)
			if err != nil {
				return err
			}
			fs := update.Flags()
			changed := false
			if fs.Changed("priority") {
				c.Priority, changed = f.priority, true
			}
			if fs.Changed("target-condition") {
				c.TargetCondition, changed = f.target, true
			}
			if fs.Changed("labels") {
				if c.Labels, err = parseLabels(f.labels); err != nil {
					return err
				}
				changed = true
			}
			if fs.Changed("metrics") {
				if c.Metrics, err = parseMetrics(f.metrics); err != nil {
					return err
				}
				changed = true
			}
			if !changed {
				return errors.New("nothing to update: give --priority, --target-condition, --labels or --metrics")
			}
			etag := c.ETag
			if f.etag != "" {
				etag = f.etag
			}
			out, err := h.UpdateConfiguration(ctx, c, etag)
			if err != nil {
				return err
			}
			if out, err = applied(ctx, h, out); err != nil {
				return err
			}
			return t.print(s, out, columns...)
		}),
	}
	idFlag(update)
	update.Flags().StringVarP(&f.target, "target-condition", "t", "", "the new target condition")
	update.Flags().IntVarP(&f.priority, "priority", "p", 0, "the new priority")
	update.Flags().StringVar(&f.labels, "labels", "", "the new labels, as a JSON object of strings")
	update.Flags().StringVarP(&f.metrics, "metrics", "m", "", "the new custom metrics, as JSON or a file holding it")
	update.Flags().StringVar(&f.etag, "etag", "", "update only if the configuration's etag is this")

	del := &cobra.Command{
		Use: "delete", Short: "Delete a configuration; the hub takes its content out of the twins", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			etag := f.etag
			if etag == "" {
				etag = "*"
			}
			if err := h.DeleteConfiguration(ctx, f.id, etag); err != nil {
				return err
			}
			return catchUp(ctx, h, false, true)
		}),
	}
	idFlag(del)
	del.Flags().StringVar(&f.etag, "etag", "", "delete only if the configuration's etag is this")

	var metrics []string
	var interval, timeout float64
	wait := &cobra.Command{
		Use:   "wait",
		Short: "Wait until a configuration's metrics reach the counts given",
		Long: `Wait until a configuration's metrics reach the counts given with --metric
NAME=COUNT: the system metrics targetedCount and appliedCount, or custom
metrics by name. The hub applies configurations and counts their metrics on
its own, shortly after a change; this reads the configuration every --interval
seconds until every count is reached, and fails after --timeout seconds.`,
		Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			want := map[string]int64{}
			for _, m := range metrics {
				name, v, ok := strings.Cut(m, "=")
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if !ok || err != nil || strings.TrimSpace(name) == "" {
					return fmt.Errorf("--metric %q: give NAME=COUNT, such as appliedCount=10", m)
				}
				want[strings.TrimSpace(name)] = n
			}
			if interval <= 0 || timeout <= 0 {
				return errors.New("--interval and --timeout must be positive")
			}
			_, embedded := h.(embeddedEngines)
			deadline := time.Now().Add(time.Duration(timeout * float64(time.Second)))
			for {
				if err := catchUp(ctx, h, false, true); err != nil {
					return err
				}
				c, err := h.Configuration(ctx, f.id)
				if err != nil {
					return err
				}
				missing := metricsMissing(c, want)
				if len(missing) == 0 {
					return t.print(s, c, columns...)
				}
				if embedded || time.Now().After(deadline) {
					return fmt.Errorf("configuration %s: %s", f.id, strings.Join(missing, "; "))
				}
				if err := sleepCtx(ctx, time.Duration(interval*float64(time.Second))); err != nil {
					return err
				}
			}
		}),
	}
	idFlag(wait)
	wait.Flags().StringArrayVar(&metrics, "metric", nil, "NAME=COUNT: a metric and the count to wait for (repeat for more)")
	_ = wait.MarkFlagRequired("metric")
	wait.Flags().Float64Var(&interval, "interval", 1, "seconds between reads")
	wait.Flags().Float64Var(&timeout, "timeout", 300, "the most seconds to wait")

	for _, c := range []*cobra.Command{create, show, list, update, del, wait} {
		t.register(c.Flags())
	}
	cmd.AddCommand(create, show, list, update, del, wait)
	return cmd
}

// metricsMissing says which of the wanted metric counts a configuration
// has not reached: system metrics and custom ones, by name.
func metricsMissing(c *hub.Configuration, want map[string]int64) []string {
	have := map[string]int64{}
	known := map[string]bool{}
	for _, m := range []*hub.ConfigurationMetrics{c.SystemMetrics, c.Metrics} {
		if m == nil {
			continue
		}
		for name := range m.Queries {
			known[name] = true
		}
		for name, v := range m.Results {
			have[name], known[name] = v, true
		}
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		switch {
		case !known[name]:
			out = append(out, fmt.Sprintf("it has no metric %q", name))
		case have[name] != want[name]:
			out = append(out, fmt.Sprintf("%s is %d, not %d", name, have[name], want[name]))
		}
	}
	return out
}

// sleepCtx waits d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applied returns a configuration as the hub holds it once applied: on
// the embedded hub, after a pass of the configurations, with its metrics;
// on a served hub, as it is, the hub applying it on its own.
func applied(ctx context.Context, h hubAPI, c *hub.Configuration) (*hub.Configuration, error) {
	if _, embedded := h.(embeddedEngines); !embedded {
		return c, nil
	}
	if err := catchUp(ctx, h, false, true); err != nil {
		return nil, err
	}
	return h.Configuration(ctx, c.ID)
}

// parseContent reads --content: a ConfigurationContent, or one wrapped in
// {"content": …} as az writes it.
func parseContent(v string) (hub.ConfigurationContent, error) {
	var c hub.ConfigurationContent
	b, err := readJSONArg("content", v)
	if err != nil {
		return c, err
	}
	var wrapped struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(b, &wrapped) == nil && len(wrapped.Content) > 0 {
		b = wrapped.Content
	}
	if err := decodeStrict("content", b, &c); err != nil {
		return c, fmt.Errorf(`%v; the content is {"deviceContent":{"properties.desired.<path>":<value>,…}} or {"moduleContent":…}`, err)
	}
	if c.IsZero() {
		return c, errors.New(`--content sets nothing; give {"deviceContent":{"properties.desired.<path>":<value>}}`)
	}
	return c, nil
}

// parseMetrics reads --metrics: {"queries": …}, or one wrapped in
// {"metrics": …} as az writes it. "" means no metrics.
func parseMetrics(v string) (*hub.ConfigurationMetrics, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	b, err := readJSONArg("metrics", v)
	if err != nil {
		return nil, err
	}
	var wrapped struct {
		Metrics json.RawMessage `json:"metrics"`
	}
	if json.Unmarshal(b, &wrapped) == nil && len(wrapped.Metrics) > 0 {
		b = wrapped.Metrics
	}
	var m struct {
		Queries map[string]string `json:"queries"`
	}
	if err := decodeStrict("metrics", b, &m); err != nil {
		return nil, fmt.Errorf(`%v; metrics are {"queries":{"<name>":"SELECT deviceId FROM devices WHERE …"}}`, err)
	}
	return &hub.ConfigurationMetrics{Queries: m.Queries}, nil
}

// parseLabels reads --labels, a JSON object of strings; "" means none.
func parseLabels(v string) (map[string]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var m map[string]string
	if err := decodeStrict("labels", []byte(v), &m); err != nil {
		return nil, fmt.Errorf(`%v; labels are a JSON object of strings, such as {"team":"heating"}`, err)
	}
	return m, nil
}
