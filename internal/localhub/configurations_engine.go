package localhub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
)

// Timing of RunConfigurations.
const (
	// configPeriod is how often a pass runs when nothing changes, as IoT
	// Hub runs configurations every five minutes.
	configPeriod = 5 * time.Minute
	// configPoll is how often RunConfigurations looks for changes to the
	// registry and the twins, and the shortest time between two passes
	// that such changes start. A pass that takes long stretches it, so
	// that passes take at most a tenth of the time.
	configPoll = time.Second
)

// configEngine is the in-process state of the automatic configurations:
// the lock that keeps passes one at a time, the wake-up signal of
// RunConfigurations, and what the last pass learnt. Its zero value is
// ready; it is safe for concurrent use.
type configEngine struct {
	pass sync.Mutex // held for a whole pass

	mu   sync.Mutex
	wake chan struct{} // buffered (1): a configuration changed
	// clean[src] is true when, after the last pass, no twin of src holds
	// configuration state: with no configuration for src, a pass need not
	// read its twins.
	clean map[source]bool
}

func (e *configEngine) signal() {
	select {
	case e.wakeup() <- struct{}{}:
	default:
	}
}

func (e *configEngine) wakeup() chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wake == nil {
		e.wake = make(chan struct{}, 1)
	}
	return e.wake
}

func (e *configEngine) isClean(src source) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clean[src]
}

func (e *configEngine) setClean(src source, clean bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.clean == nil {
		e.clean = map[source]bool{}
	}
	e.clean[src] = clean
}

// RunConfigurations applies the automatic configurations of a served hub
// until ctx is done: a pass (see ApplyConfigurations) at once, again as
// soon as a configuration is created, updated or deleted, within about a
// second of a change to the registry or to a twin, and every five minutes
// in any case, for the metrics. It returns nil when ctx is done, and an
// error only when the store fails. Call it at most once at a time per hub;
// Close the hub only after it returned.
func (h *Hub) RunConfigurations(ctx context.Context) error {
	if h.readOnly {
		return fmt.Errorf("run configurations: the hub database at %s is open %w", h.path, ErrReadOnly)
	}
	var last time.Time
	var lastSeen string
	gap := configPoll
	woke := true
	for {
		seen, err := h.registryFingerprint()
		if err != nil {
			return err
		}
		now := h.clock()
		if woke || seen != lastSeen && now.Sub(last) >= gap || now.Sub(last) >= configPeriod {
			start := time.Now()
			wrote, err := h.configurationPass(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			gap = max(configPoll, 10*time.Since(start))
			last = h.clock()
			lastSeen = seen
			if wrote {
				// The pass's own writes change the fingerprint; the
				// next pass, which finds nothing to do, settles it.
				lastSeen = ""
			}
		}
		woke = false
		t := time.NewTimer(configPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-h.configs.wakeup():
			woke = true
		case <-t.C:
		}
		t.Stop()
	}
}

// registryFingerprint changes whenever a device or module is created or
// deleted, a device's status changes, or a twin is written: it is the
// hub-wide counters those writes draw from.
func (h *Hub) registryFingerprint() (string, error) {
	var fp string
	err := h.view("read registry", func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		fp = fmt.Sprintf("%d/%d/%s", counter(meta, keyTwinETag), counter(meta, keyGeneration), meta.Get(keyStats))
		return nil
	})
	return fp, err
}

// Run runs the engines of a served hub, RunJobs and RunConfigurations,
// until ctx is done; then it waits for both and returns nil. It returns
// the first error of either, having stopped the other.
func (h *Hub) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return h.RunJobs(gctx) })
	g.Go(func() error { return h.RunConfigurations(gctx) })
	err := g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	return err
}
