package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/iotplan/iotplan/internal/localhub"
)

// activityFlushInterval is how often queued activity marks are written.
const activityFlushInterval = time.Second

// activityLog queues the lastActivityTime marks of connections, so that a
// device's packets never wait for a database write: Run writes the queue
// in one transaction a second, and once more when it stops.
type activityLog struct {
	mu      sync.Mutex
	pending map[identity]time.Time
}

func (a *activityLog) mark(id identity, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		a.pending = map[identity]time.Time{}
	}
	if at.After(a.pending[id]) {
		a.pending[id] = at
	}
}

func (a *activityLog) take() []localhub.Activity {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
		return nil
	}
	out := make([]localhub.Activity, 0, len(a.pending))
	for id, at := range a.pending {
		out = append(out, localhub.Activity{DeviceID: id.deviceID, ModuleID: id.moduleID, At: at})
	}
	a.pending = nil
	return out
}

// flushActivity writes the queued marks until ctx is done, then once more.
func (g *Gateway) flushActivity(ctx context.Context) {
	t := time.NewTicker(activityFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			g.writeActivity()
			return
		case <-t.C:
			g.writeActivity()
		}
	}
}

func (g *Gateway) writeActivity() {
	if marks := g.activity.take(); len(marks) > 0 {
		if err := g.h.NoteActivities(g.baseCtx, marks); err != nil {
			g.log.Warn("record activity", "identities", len(marks), "error", err)
		}
	}
}
