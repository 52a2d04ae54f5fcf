package state

import "sync"

// Sync is a State shared by the goroutines of an apply. Its methods may be
// called concurrently; they lock, and they copy every Resource that goes in
// or out, so no goroutine ever holds memory another one changes.
//
// Close ends the writes: the final State then belongs to the caller, and a
// later Set or Remove panics, as it is a bug in the program.
type Sync struct {
	mu     sync.RWMutex
	state  *State
	closed bool
}

// NewSync returns a Sync over s, which it takes over: the caller must not
// use s until Close gives it back.
func NewSync(s *State) *Sync {
	if s == nil {
		panic("state: NewSync of a nil State")
	}
	return &Sync{state: s}
}

// Set records a copy of r at r.Addr, replacing any resource there.
func (s *Sync) Set(r *Resource) {
	if r == nil || r.Addr == "" {
		panic("state: Sync.Set of a resource without an address")
	}
	c := r.DeepCopy()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBeOpen("Set")
	if s.state.Resources == nil {
		s.state.Resources = map[string]*Resource{}
	}
	s.state.Resources[c.Addr] = c
}

// Remove forgets the resource at addr, if there is one.
func (s *Sync) Remove(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBeOpen("Remove")
	delete(s.state.Resources, addr)
}

// Resource returns a copy of the resource at addr, or nil if there is none.
func (s *Sync) Resource(addr string) *Resource {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state.Resources[addr].DeepCopy()
}

// Snapshot returns a copy of the whole state, such as to save it.
func (s *Sync) Snapshot() *State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state.DeepCopy()
}

// Close ends the writes and returns the final state, which is the State
// given to NewSync. Resource and Snapshot go on reading it, which is safe
// only as long as the caller does not change it.
func (s *Sync) Close() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.state
}

func (s *Sync) mustBeOpen(method string) {
	if s.closed {
		panic("state: Sync." + method + " after Close")
	}
}
