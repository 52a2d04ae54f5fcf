package state

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSyncCopies(t *testing.T) {
	s := NewSync(stateWith("device.a"))

	r := fullResource("device.b")
	s.Set(r)
	r.Tags["nested"].(map[string]any)["deep"].(map[string]any)["leaf"] = "changed after Set"
	r.DeviceID = "changed after Set"

	got := s.Resource("device.b")
	if d := cmp.Diff(fullResource("device.b"), got); d != "" {
		t.Errorf("Resource() after Set() mismatch (-want +got):\n%s", d)
	}
	got.Tags["site"] = "changed after Resource"
	if d := cmp.Diff(fullResource("device.b"), s.Resource("device.b")); d != "" {
		t.Errorf("changing what Resource() returned changed the state (-want +got):\n%s", d)
	}

	snap := s.Snapshot()
	snap.Resources["device.b"].Desired["interval"] = -1.0
	delete(snap.Resources, "device.a")
	if d := cmp.Diff([]string{"device.a", "device.b"}, s.Snapshot().Addresses()); d != "" {
		t.Errorf("changing a Snapshot() changed the state (-want +got):\n%s", d)
	}
	if d := cmp.Diff(fullResource("device.b"), s.Resource("device.b")); d != "" {
		t.Errorf("changing a Snapshot() changed a resource (-want +got):\n%s", d)
	}

	if s.Resource("device.none") != nil {
		t.Error("Resource() of a missing address is not nil")
	}
	s.Remove("device.a")
	s.Remove("device.none")
	final := s.Close()
	if d := cmp.Diff([]string{"device.b"}, final.Addresses()); d != "" {
		t.Errorf("Close() state mismatch (-want +got):\n%s", d)
	}
}

func TestSyncNilResources(t *testing.T) {
	s := NewSync(&State{Lineage: "l"})
	s.Set(&Resource{Addr: "device.a"})
	if got := s.Close().Addresses(); len(got) != 1 {
		t.Errorf("Set() on a state without a map: addresses %q", got)
	}
}

func TestSyncClosed(t *testing.T) {
	tests := map[string]func(s *Sync){
		"Set":    func(s *Sync) { s.Set(&Resource{Addr: "device.b"}) },
		"Remove": func(s *Sync) { s.Remove("device.a") },
	}
	for name, write := range tests {
		t.Run(name, func(t *testing.T) {
			s := NewSync(stateWith("device.a"))
			final := s.Close()
			defer func() {
				if recover() == nil {
					t.Errorf("%s after Close() did not panic", name)
				}
				if d := cmp.Diff(stateWith("device.a"), final); d != "" {
					t.Errorf("%s after Close() changed the state (-want +got):\n%s", name, d)
				}
				// Reads go on working.
				if s.Resource("device.a") == nil || len(s.Snapshot().Resources) != 1 {
					t.Errorf("reads after Close() lost the state")
				}
			}()
			write(s)
		})
	}
}

func TestSyncSetPanics(t *testing.T) {
	for name, r := range map[string]*Resource{"nil": nil, "no address": {Type: "device"}} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Set() did not panic")
				}
			}()
			NewSync(New()).Set(r)
		})
	}
}

// TestSyncConcurrent is meant for -race: many goroutines write, read and
// snapshot at once, as the goroutines of an apply do.
func TestSyncConcurrent(t *testing.T) {
	s := NewSync(New())
	const workers, rounds = 32, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				addr := fmt.Sprintf("device.d%d_%d", w, i)
				r := fullResource(addr)
				s.Set(r)
				r.Tags["site"] = "changed by its writer" // must not reach the state
				got := s.Resource(addr)
				got.Desired["interval"] = float64(i) // must not reach the state either
				if i%2 == 1 {
					s.Remove(addr)
				}
				if i%10 == 0 {
					for _, sr := range s.Snapshot().Resources {
						sr.Tags["list"].([]any)[0] = "changed in a snapshot"
					}
				}
			}
		})
	}
	wg.Wait()
	final := s.Close()
	if got, want := len(final.Resources), workers*rounds/2; got != want {
		t.Fatalf("Close() has %d resources, want %d", got, want)
	}
	for addr, r := range final.Resources {
		if d := cmp.Diff(fullResource(addr), r); d != "" {
			t.Fatalf("resource %s mismatch (-want +got):\n%s", addr, d)
		}
	}
}
