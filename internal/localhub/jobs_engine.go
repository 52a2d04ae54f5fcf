package localhub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/iotplan/iotplan/internal/hub"
)

// jobSweepInterval is how often RunJobs removes the jobs that have outlived
// hub.JobRetention.
const jobSweepInterval = time.Hour

// jobEngine is the in-process state of the jobs scheduler: which jobs a
// goroutine of this process is running, and the wake-up signal of RunJobs.
// The jobs themselves, and everything that must survive a restart, are in
// the store. Its zero value is ready; it is safe for concurrent use.
type jobEngine struct {
	limit int // Options.MaxConcurrentJobs; set once by Open

	mu      sync.Mutex
	running map[string]chan struct{} // job ID → closed when the job is cancelled
	wake    chan struct{}            // buffered (1): something changed
}

func (e *jobEngine) maxActive() int {
	if e.limit <= 0 {
		return hub.MaxActiveJobsS1
	}
	return e.limit
}

// claim marks a job as run by the caller. It returns false when another
// goroutine runs it; otherwise stop is closed when the job is cancelled,
// and the caller must release the job when done.
func (e *jobEngine) claim(id string) (stop <-chan struct{}, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, busy := e.running[id]; busy {
		return nil, false
	}
	if e.running == nil {
		e.running = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	e.running[id] = ch
	return ch, true
}

func (e *jobEngine) release(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.running, id)
}

func (e *jobEngine) claimed(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.running[id]
	return ok
}

// stop tells the goroutine running a job, if any, that it was cancelled.
func (e *jobEngine) stop(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.running[id]
	if !ok {
		return
	}
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// signal wakes RunJobs up to look at the jobs again.
func (e *jobEngine) signal() {
	select {
	case e.wakeup() <- struct{}{}:
	default:
	}
}

func (e *jobEngine) wakeup() chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wake == nil {
		e.wake = make(chan struct{}, 1)
	}
	return e.wake
}

// RunJobs is the jobs scheduler of a served hub: it starts each job when
// its start time comes, runs it to its end, and removes the jobs that
// ended more than hub.JobRetention ago, until ctx is done. Jobs left
// running by an earlier process resume with the devices not yet done.
//
// When ctx is done it stops dispatching, abandons the calls in flight
// (their devices are called again when the job resumes), waits for every
// goroutine it started and returns nil. It returns an error only when the
// store fails. Call it at most once at a time per hub; Close the hub only
// after it returned.
func (h *Hub) RunJobs(ctx context.Context) error {
	if h.readOnly {
		return fmt.Errorf("run jobs: the hub database at %s is open %w", h.path, ErrReadOnly)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var swept time.Time
		for {
			now := h.clock()
			if now.Sub(swept) >= jobSweepInterval {
				if err := h.sweepJobs(now); err != nil {
					return err
				}
				swept = now
			}
			due, next, err := h.dueJobs(now)
			if err != nil {
				return err
			}
			for _, id := range due {
				stop, ok := h.jobs.claim(id)
				if !ok {
					continue
				}
				g.Go(func() error {
					defer h.jobs.signal()
					defer h.jobs.release(id)
					return h.runJob(gctx, id, stop)
				})
			}
			wait := jobSweepInterval - h.clock().Sub(swept)
			if !next.IsZero() {
				wait = min(wait, next.Sub(h.clock()))
			}
			t := time.NewTimer(max(wait, 0))
			select {
			case <-gctx.Done():
				t.Stop()
				return gctx.Err()
			case <-h.jobs.wakeup():
			case <-t.C:
			}
			t.Stop()
		}
	})
	err := g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

// RunPendingJobs runs every job that is due now (queued, scheduled with a
// start time that has come, or left running by an earlier process) to its
// end, and returns when they have ended. It is the jobs scheduler for
// in-process use, where no RunJobs runs: tests, and commands on the
// embedded hub. Jobs whose start time is still to come are left waiting,
// and so are jobs another goroutine is running. It also removes the jobs
// that ended more than hub.JobRetention ago.
//
// When ctx is done it abandons the calls in flight, as RunJobs does, and
// returns ctx's error.
func (h *Hub) RunPendingJobs(ctx context.Context) error {
	if h.readOnly {
		return fmt.Errorf("run jobs: the hub database at %s is open %w", h.path, ErrReadOnly)
	}
	now := h.clock()
	if err := h.sweepJobs(now); err != nil {
		return err
	}
	due, _, err := h.dueJobs(now)
	if err != nil {
		return err
	}
	var g errgroup.Group
	for _, id := range due {
		stop, ok := h.jobs.claim(id)
		if !ok {
			continue
		}
		g.Go(func() error {
			defer h.jobs.release(id)
			return h.runJob(ctx, id, stop)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// dueJobs returns the IDs of the active jobs due at now, and the earliest
// start time of those still to come (zero when there is none).
func (h *Hub) dueJobs(now time.Time) (due []string, next time.Time, err error) {
	err = h.view("read jobs", func(tx *bolt.Tx) error {
		s := readJobStore(tx)
		if s.active == nil {
			return nil
		}
		c := s.active.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			r, err := s.job(string(k))
			if err != nil {
				return err
			}
			if r == nil || r.Status.Terminal() {
				continue
			}
			if r.Status == hub.JobStatusScheduled && r.Start.After(now) {
				if next.IsZero() || r.Start.Before(next) {
					next = r.Start
				}
				continue
			}
			due = append(due, r.ID)
		}
		return nil
	})
	return due, next, err
}

// sweepJobs removes the jobs that ended more than hub.JobRetention before
// now, with their device records.
func (h *Hub) sweepJobs(now time.Time) error {
	var expired []string
	err := h.view("read jobs", func(tx *bolt.Tx) error {
		b := readJobStore(tx).jobs
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			r, err := decodeJob(v)
			if err != nil {
				return err
			}
			if r.expired(now) {
				expired = append(expired, r.ID)
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return err
	}
	return h.update("remove expired jobs", func(tx *bolt.Tx) error {
		s, err := writeJobStore(tx)
		if err != nil {
			return err
		}
		for _, id := range expired {
			r, err := s.job(id)
			if err != nil {
				return err
			}
			if r != nil && r.expired(now) {
				if err := s.deleteJob(id); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
