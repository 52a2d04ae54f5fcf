package state

import (
	"maps"
	"slices"

	"github.com/iotplan/iotplan/internal/hub"
)

// State is what iotplan knows it manages: one Resource per address. A State
// value is not safe for concurrent use; apply goes through Sync.
type State struct {
	// Lineage is fixed when a state is first created; Serial grows by one
	// each time a changed state is saved.
	Lineage string
	Serial  uint64
	// Resources are keyed by address (device.thermo["a"]).
	Resources map[string]*Resource
}

// Resource is one managed hub object as of the last apply.
type Resource struct {
	Addr         string
	Type         string // "device"
	DeviceID     string
	GenerationID string
	ETag         string // identity etag after the last write
	TwinETag     string // twin etag after the last write
	Status       hub.Status
	StatusReason string
	Auth         hub.AuthType
	// Tags and Desired hold the twin keys iotplan owns, with the values it
	// last wrote. Keys set by others are never recorded here.
	Tags    map[string]any
	Desired map[string]any
	// PrimaryKey and SecondaryKey are the SAS keys the hub generated.
	// Sensitive: never printed.
	PrimaryKey   string
	SecondaryKey string
}

// New returns an empty state with a new random lineage and serial 0.
func New() *State {
	return &State{Lineage: newUUID(), Resources: map[string]*Resource{}}
}

// Addresses returns the addresses of s's resources, sorted.
func (s *State) Addresses() []string {
	return slices.Sorted(maps.Keys(s.Resources))
}

// DeepCopy returns a copy of s that shares no memory with it. A nil State
// copies to nil.
func (s *State) DeepCopy() *State {
	if s == nil {
		return nil
	}
	c := &State{Lineage: s.Lineage, Serial: s.Serial}
	if s.Resources != nil {
		c.Resources = make(map[string]*Resource, len(s.Resources))
		for addr, r := range s.Resources {
			c.Resources[addr] = r.DeepCopy()
		}
	}
	return c
}

// DeepCopy returns a copy of r that shares no memory with it, down to the
// nested objects and arrays of Tags and Desired. Those hold JSON values:
// string, float64, bool, nil, map[string]any and []any; any other value is
// copied as it is, so it must not be changed in place. A nil Resource copies
// to nil.
func (r *Resource) DeepCopy() *Resource {
	if r == nil {
		return nil
	}
	c := *r
	c.Tags = copyObject(r.Tags)
	c.Desired = copyObject(r.Desired)
	return &c
}

// copyObject deep-copies a JSON object, keeping nil apart from empty.
func copyObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = copyValue(v)
	}
	return c
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyObject(v)
	case []any:
		if v == nil {
			return v
		}
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = copyValue(e)
		}
		return c
	default:
		return v
	}
}
