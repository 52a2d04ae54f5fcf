package localhub

import "sync"

// DesiredChange is a committed write to the desired properties of a twin:
// what the hub sends connected devices as a desired-property notification.
type DesiredChange struct {
	DeviceID string
	ModuleID string // "" for a device twin
	// Patch is the written change (nil values remove keys); when Replace is
	// true it is the whole new desired document.
	Patch   map[string]any
	Replace bool
	// Version is the desired $version after the write.
	Version int64
}

// watchers holds the functions told about desired changes.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(DesiredChange)
}

// WatchDesired calls fn after each committed write to desired properties,
// from the writing goroutine; fn must not block. Concurrent writes to one
// twin may be told out of order: Version orders them, as it does for
// devices. The returned function stops the calls.
func (h *Hub) WatchDesired(fn func(DesiredChange)) (stop func()) {
	h.watch.mu.Lock()
	defer h.watch.mu.Unlock()
	if h.watch.fns == nil {
		h.watch.fns = map[int]func(DesiredChange){}
	}
	id := h.watch.next
	h.watch.next++
	h.watch.fns[id] = fn
	return func() {
		h.watch.mu.Lock()
		defer h.watch.mu.Unlock()
		delete(h.watch.fns, id)
	}
}

func (h *Hub) notifyDesired(ch DesiredChange) {
	h.watch.mu.Lock()
	fns := make([]func(DesiredChange), 0, len(h.watch.fns))
	for _, fn := range h.watch.fns {
		fns = append(fns, fn)
	}
	h.watch.mu.Unlock()
	for _, fn := range fns {
		fn(ch)
	}
}
