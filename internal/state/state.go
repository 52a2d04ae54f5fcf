package state

import "github.com/iotplan/iotplan/internal/hub"

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
