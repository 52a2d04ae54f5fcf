package localhub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// Tuning of job runs.
const (
	// jobParallelism bounds the direct methods a method job has in flight.
	jobParallelism = 64
	// jobBatch bounds the device records one transaction of a job run
	// writes: the twins a twin-update job patches, the results a method
	// job records, the devices it marks running before calling them.
	jobBatch = 256
	// startBatch bounds the pending records one transaction writes when a
	// job starts.
	startBatch = 10000
)

// Per-device error codes of jobs, as devices.jobs records report them.
const (
	jobErrDeviceNotOnline = "DeviceNotOnline"
	jobErrTimedOut        = "JobTimedOut"
)

// runJob runs one job that the caller has claimed, from where it stands to
// its end: it starts a queued or scheduled job (evaluating its query into
// device records), calls or patches the devices not yet done, and ends the
// job. stop is closed when the job is cancelled.
//
// When ctx is done first, it returns with the job still running in the
// store, for a later run to resume; what was in flight is done again then.
// It returns an error only when the store fails.
func (h *Hub) runJob(ctx context.Context, id string, stop <-chan struct{}) error {
	job, err := h.startJob(ctx, id)
	if err != nil || job == nil {
		return ignoreDone(ctx, err)
	}
	timedOut := false
	if job.Status == hub.JobStatusRunning {
		deadline := job.Ran.Add(time.Duration(job.MaxSeconds) * time.Second)
		left := deadline.Sub(h.clock())
		timedOut = left <= 0
		if !timedOut {
			runCtx, cancel := context.WithTimeout(ctx, left)
			err := h.runDevices(runCtx, ctx, job, stop)
			timedOut = errors.Is(runCtx.Err(), context.DeadlineExceeded)
			cancel()
			if err != nil {
				return ignoreDone(ctx, err)
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return h.finishJob(id, timedOut)
}

// runDevices carries out a running job on the devices whose part has not
// ended.
func (h *Hub) runDevices(ctx, parent context.Context, job *jobRecord, stop <-chan struct{}) error {
	todo, err := h.unfinishedTargets(job.ID)
	if err != nil {
		return err
	}
	switch job.Type {
	case hub.JobTypeDeviceMethod:
		return h.runMethodJob(ctx, parent, job, todo, stop)
	case hub.JobTypeUpdateTwin:
		return h.runTwinJob(ctx, job, todo, stop)
	}
	return fmt.Errorf("job %q has unknown type %q", job.ID, job.Type)
}

// ignoreDone returns nil for the error of a ctx that is done: the work
// stopped because the caller asked it to.
func ignoreDone(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

// startJob makes a queued or scheduled job that is due running: it
// evaluates the job's query, once, and writes a pending record for each
// device (or module) it matches. It returns the job as it then stands, or
// nil when there is nothing to run (the job ended, or is not due).
func (h *Hub) startJob(ctx context.Context, id string) (*jobRecord, error) {
	var job *jobRecord
	err := h.view("read job", func(tx *bolt.Tx) error {
		var err error
		job, err = readJobStore(tx).job(id)
		return err
	})
	if err != nil || job == nil {
		return nil, err
	}
	switch {
	case job.Status == hub.JobStatusRunning:
		return job, nil
	case job.Status.Terminal():
		// Cancelled while a run was starting: settle what is left.
		return job, nil
	case job.Status == hub.JobStatusScheduled && job.Start.After(h.clock()):
		return nil, nil
	}
	q, err := parseTargetCondition(job.QueryCondition)
	var targets []target
	if err == nil {
		targets, err = h.targets(ctx, q)
		if err != nil {
			return nil, err
		}
	}
	queryErr := err
	// The records go in batches of startBatch, each transaction checking
	// that the job has not been cancelled meanwhile; the job turns running
	// in the last one. A batch written again, after a restart, counts its
	// records once.
	for {
		n := min(len(targets), startBatch)
		batch := targets[:n]
		targets = targets[n:]
		last := len(targets) == 0
		err = h.update("start job", func(tx *bolt.Tx) error {
			s, err := writeJobStore(tx)
			if err != nil {
				return err
			}
			r, err := s.job(id)
			if err != nil {
				return err
			}
			job = r
			if r == nil || r.Status != hub.JobStatusQueued && r.Status != hub.JobStatusScheduled {
				last = true
				return nil
			}
			now := h.clock()
			for _, t := range batch {
				if d, err := s.deviceJob(id, t); err != nil || d != nil {
					if err != nil {
						return err
					}
					continue
				}
				d := &deviceJobRecord{JobID: id, DeviceID: t.deviceID, ModuleID: t.moduleID, Type: r.Type,
					Status: hub.DeviceJobPending, Created: now, Updated: now}
				r.Counts.add(hub.DeviceJobPending, 1)
				if err := s.putDeviceJob(d); err != nil {
					return err
				}
			}
			if last {
				r.Ran = now
				r.Status = hub.JobStatusRunning
				if queryErr != nil {
					r.Status = hub.JobStatusFailed
					r.End = now
					r.FailureReason = fmt.Sprintf("The query condition could not be evaluated: %v", queryErr)
				}
			}
			return s.putJob(r)
		})
		if err != nil || last {
			return job, err
		}
	}
}

// unfinishedTargets returns the devices of a job whose part has not
// ended: pending, or running when an earlier process stopped.
func (h *Hub) unfinishedTargets(id string) ([]target, error) {
	var out []target
	err := h.view("read job", func(tx *bolt.Tx) error {
		s := readJobStore(tx)
		if s.devices == nil {
			return nil
		}
		prefix := jobKeyPrefix(id)
		c := s.devices.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			r, err := decodeDeviceJob(v)
			if err != nil {
				return err
			}
			if !r.Status.Terminal() {
				out = append(out, target{r.DeviceID, r.ModuleID})
			}
		}
		return nil
	})
	return out, err
}

// finishJob ends a job whose run is over. A cancelled job's parts still
// unfinished are cancelled. A job that ran out of time fails, and so do its
// unfinished parts. A job whose every part has ended completes, whatever
// the outcome of each. A job with parts still unfinished otherwise stays
// running, for the scheduler to resume.
func (h *Hub) finishJob(id string, timedOut bool) error {
	return h.update("end job", func(tx *bolt.Tx) error {
		s, err := writeJobStore(tx)
		if err != nil {
			return err
		}
		r, err := s.job(id)
		if err != nil || r == nil {
			return err
		}
		now := h.clock()
		switch {
		case r.Status == hub.JobStatusCancelled:
			if err := s.settleCancelled(r, true, now); err != nil {
				return err
			}
		case r.Status.Terminal():
			return nil
		case timedOut:
			n := r.Counts.unfinished()
			if err := s.failUnfinished(r, now); err != nil {
				return err
			}
			r.Status = hub.JobStatusFailed
			r.End = now
			r.FailureReason = fmt.Sprintf("The job did not finish within its maximum execution time of %d seconds", r.MaxSeconds)
			if n > 0 {
				r.FailureReason += fmt.Sprintf(": %s not reached", plural(n, "device was", "devices were"))
			}
			r.FailureReason += "."
		case r.Counts.unfinished() == 0:
			r.Status = hub.JobStatusCompleted
			r.End = now
		default:
			return nil
		}
		return s.putJob(r)
	})
}

// failUnfinished fails the device parts of a job that ran out of time.
func (s jobStore) failUnfinished(job *jobRecord, now time.Time) error {
	prefix := jobKeyPrefix(job.ID)
	c := s.devices.Cursor()
	var recs []*deviceJobRecord
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		r, err := decodeDeviceJob(v)
		if err != nil {
			return err
		}
		if !r.Status.Terminal() {
			recs = append(recs, r)
		}
	}
	for _, r := range recs {
		setDeviceStatus(job, r, hub.DeviceJobFailed, now)
		r.Error = &hub.DeviceJobError{Code: jobErrTimedOut,
			Description: fmt.Sprintf("The job reached its maximum execution time of %d seconds before this device was done.", job.MaxSeconds)}
		if err := s.putDeviceJob(r); err != nil {
			return err
		}
	}
	return nil
}

// deviceResult is the end of one device's part in a method job.
type deviceResult struct {
	t   target
	res *hub.MethodResult
	err *hub.DeviceJobError // nil when the device answered
}

// runMethodJob calls the job's method on each target, at most
// jobParallelism at a time, and records each answer. ctx bounds the run
// (it carries the job's deadline); parent is the caller's context, done
// when the run must stop and leave the job for a later resume.
//
// A dispatcher marks the targets running, a batch per transaction, and
// hands them to the workers; the caller's goroutine collects the results
// and records them, as many per transaction as have arrived. Cancelling
// the job (stop) or reaching its deadline stops the dispatch; calls in
// flight end on their own (cancellation) or fail (deadline). Every
// goroutine started here has ended when it returns.
func (h *Hub) runMethodJob(ctx, parent context.Context, job *jobRecord, todo []target, stop <-chan struct{}) error {
	req := job.Method.request()
	work := make(chan target)
	results := make(chan deviceResult, jobParallelism)
	dispatchCtx, stopDispatch := context.WithCancel(ctx)
	defer stopDispatch()
	var dispatchErr error
	var wg, workers sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		dispatchErr = h.dispatch(dispatchCtx, job.ID, todo, stop, work)
	}()
	for range min(jobParallelism, len(todo)) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for t := range work {
				res, err := h.invoke(ctx, t.deviceID, t.moduleID, req)
				if err != nil && parent.Err() != nil {
					continue // abandoned: the device is called again on resume
				}
				results <- deviceResult{t: t, res: res, err: deviceJobError(ctx, err)}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		workers.Wait()
		close(results)
	}()
	recordErr := h.collect(job.ID, results, stopDispatch)
	wg.Wait()
	return errors.Join(dispatchErr, recordErr)
}

// dispatch marks the targets running, jobBatch at a time, and sends them
// to work, until they are all sent, the job is cancelled or ctx is done.
func (h *Hub) dispatch(ctx context.Context, id string, todo []target, stop <-chan struct{}, work chan<- target) error {
	for len(todo) > 0 {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil
		default:
		}
		n := min(jobBatch, len(todo), jobParallelism*2)
		batch := todo[:n]
		todo = todo[n:]
		var started []target
		err := h.update("run job", func(tx *bolt.Tx) error {
			started = started[:0]
			s, err := writeJobStore(tx)
			if err != nil {
				return err
			}
			job, err := s.job(id)
			if err != nil || job == nil || job.Status != hub.JobStatusRunning {
				return err
			}
			now := h.clock()
			for _, t := range batch {
				r, err := s.deviceJob(id, t)
				if err != nil {
					return err
				}
				if r == nil || r.Status.Terminal() {
					continue
				}
				if r.Status != hub.DeviceJobRunning {
					setDeviceStatus(job, r, hub.DeviceJobRunning, now)
					if err := s.putDeviceJob(r); err != nil {
						return err
					}
				}
				started = append(started, t)
			}
			return s.putJob(job)
		})
		if err != nil {
			return err
		}
		if len(started) == 0 && len(batch) > 0 {
			// The job is no longer running (cancelled): stop.
			if h.jobRunning(id) {
				continue
			}
			return nil
		}
		for _, t := range started {
			select {
			case work <- t:
			case <-stop:
				return nil // finishJob cancels the parts marked running and not sent
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

// jobRunning reports whether a job's status is running.
func (h *Hub) jobRunning(id string) bool {
	running := false
	_ = h.view("read job", func(tx *bolt.Tx) error {
		r, err := readJobStore(tx).job(id)
		running = err == nil && r != nil && r.Status == hub.JobStatusRunning
		return nil
	})
	return running
}

// collect records results as they arrive, all those waiting in one
// transaction, until results is closed. A record that has ended already
// (the job was cancelled before the device's part began) is left alone.
//
// When the store fails it calls abort, to stop the dispatch, and goes on
// reading results, without recording them, until the workers have ended.
func (h *Hub) collect(id string, results <-chan deviceResult, abort func()) error {
	var firstErr error
	batch := make([]deviceResult, 0, jobBatch)
	for r := range results {
		batch = append(batch[:0], r)
	more:
		for len(batch) < jobBatch {
			select {
			case r, ok := <-results:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		if firstErr != nil {
			continue // keep draining so that the workers can end
		}
		firstErr = h.update("record job results", func(tx *bolt.Tx) error {
			s, err := writeJobStore(tx)
			if err != nil {
				return err
			}
			job, err := s.job(id)
			if err != nil || job == nil {
				return err
			}
			now := h.clock()
			for _, res := range batch {
				d, err := s.deviceJob(id, res.t)
				if err != nil {
					return err
				}
				if d == nil || d.Status.Terminal() {
					continue
				}
				if res.err != nil {
					setDeviceStatus(job, d, hub.DeviceJobFailed, now)
					d.Error = res.err
				} else {
					setDeviceStatus(job, d, hub.DeviceJobCompleted, now)
					d.Response = res.res
				}
				if err := s.putDeviceJob(d); err != nil {
					return err
				}
			}
			return s.putJob(job)
		})
		if firstErr != nil {
			abort()
		}
	}
	return firstErr
}

// deviceJobError turns the error of one device's call or patch into the
// error its devices.jobs record reports; nil for nil.
func deviceJobError(ctx context.Context, err error) *hub.DeviceJobError {
	if err == nil {
		return nil
	}
	var he *hub.Error
	switch {
	case errors.As(err, &he) && he.Code == hub.CodeDeviceNotOnline.Number:
		return &hub.DeviceJobError{Code: jobErrDeviceNotOnline, Description: "Timed out waiting for device to connect."}
	case errors.As(err, &he):
		return &hub.DeviceJobError{Code: he.Name, Description: he.Message}
	case ctx.Err() != nil:
		return &hub.DeviceJobError{Code: jobErrTimedOut, Description: "The job reached its maximum execution time before the device answered."}
	}
	return &hub.DeviceJobError{Code: hub.CodeServerError.Name, Description: err.Error()}
}

// runTwinJob patches the twin of each target, jobBatch twins per
// transaction, each device's record written in the same transaction as its
// twin, so that a restart neither loses nor repeats a patch. It stops when
// the job is cancelled or ctx is done.
func (h *Hub) runTwinJob(ctx context.Context, job *jobRecord, todo []target, stop <-chan struct{}) error {
	for len(todo) > 0 {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil
		default:
		}
		n := min(jobBatch, len(todo))
		batch := todo[:n]
		todo = todo[n:]
		var changes []DesiredChange
		running := true
		err := h.update("run job", func(tx *bolt.Tx) error {
			changes = changes[:0]
			s, err := writeJobStore(tx)
			if err != nil {
				return err
			}
			r, err := s.job(job.ID)
			if err != nil || r == nil {
				return err
			}
			if r.Status != hub.JobStatusRunning {
				running = false
				return nil
			}
			now := h.clock()
			for _, t := range batch {
				d, err := s.deviceJob(job.ID, t)
				if err != nil {
					return err
				}
				if d == nil || d.Status.Terminal() {
					continue
				}
				setDeviceStatus(r, d, hub.DeviceJobRunning, now)
				ch, version, perr := h.patchTargetTwin(tx, t, r)
				if perr != nil {
					var he *hub.Error
					if !errors.As(perr, &he) {
						return perr
					}
					setDeviceStatus(r, d, hub.DeviceJobFailed, now)
					d.Error = deviceJobError(ctx, perr)
				} else {
					setDeviceStatus(r, d, hub.DeviceJobCompleted, now)
					if len(ch.desired) > 0 {
						changes = append(changes, DesiredChange{DeviceID: t.deviceID, ModuleID: t.moduleID, Patch: ch.desired, Version: version})
					}
				}
				if err := s.putDeviceJob(d); err != nil {
					return err
				}
			}
			return s.putJob(r)
		})
		if err != nil {
			return err
		}
		for _, ch := range changes {
			h.notifyDesired(ch)
		}
		if !running {
			return nil
		}
	}
	return nil
}

// patchTargetTwin applies a twin-update job's patch to the twin of one
// device or module, inside tx, and returns the change written and the
// desired $version after it. A missing twin or a patch the twin cannot
// take is a *hub.Error.
func (h *Hub) patchTargetTwin(tx *bolt.Tx, t target, job *jobRecord) (twinChange, int64, error) {
	ch, err := twinChange{tags: cloneJSON(job.Tags), desired: cloneJSON(job.Desired)}.normalize()
	if err != nil {
		return ch, 0, err
	}
	if t.moduleID == "" {
		r, err := getDevice(tx, t.deviceID)
		if err != nil {
			return ch, 0, err
		}
		if r == nil {
			return ch, 0, deviceNotFound(t.deviceID)
		}
		if err := h.applyTwin(tx, &r.Twin, ch, "", fmt.Sprintf("the twin of device %q", t.deviceID)); err != nil {
			return ch, 0, err
		}
		return ch, r.Twin.Desired.Version, putDevice(tx, r)
	}
	r, err := findModule(tx, t.deviceID, t.moduleID)
	if err != nil {
		return ch, 0, err
	}
	if err := h.applyTwin(tx, &r.Twin, ch, "", fmt.Sprintf("the twin of module %q of device %q", t.moduleID, t.deviceID)); err != nil {
		return ch, 0, err
	}
	return ch, r.Twin.Desired.Version, putModule(tx, r)
}
