package localhub

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// Connection states, as the registry reports them.
const (
	Connected    = "Connected"
	Disconnected = "Disconnected"
)

// SetConnectionState records that a device (moduleID "") or module
// connected or disconnected: connectionState, its update time and
// lastActivityTime change; etags and twin versions do not.
func (h *Hub) SetConnectionState(ctx context.Context, deviceID, moduleID string, connected bool) error {
	state := Disconnected
	if connected {
		state = Connected
	}
	return h.touch(ctx, "record connection state", deviceID, moduleID, func(id *identity) {
		now := h.clock()
		if id.ConnectionState != state {
			id.ConnectionState = state
			id.ConnectionTime = now
		}
		id.LastActivity = now
	})
}

// NoteActivity records that a device or module sent or received something:
// lastActivityTime changes.
func (h *Hub) NoteActivity(ctx context.Context, deviceID, moduleID string) error {
	return h.touch(ctx, "record activity", deviceID, moduleID, func(id *identity) { id.LastActivity = h.clock() })
}

func (h *Hub) touch(ctx context.Context, op, deviceID, moduleID string, fn func(*identity)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return h.update(op, func(tx *bolt.Tx) error {
		if moduleID == "" {
			r, err := getDevice(tx, deviceID)
			if err != nil {
				return err
			}
			if r == nil {
				return deviceNotFound(deviceID)
			}
			fn(&r.Identity)
			return putDevice(tx, r)
		}
		r, err := findModule(tx, deviceID, moduleID)
		if err != nil {
			return err
		}
		fn(&r.Identity)
		return putModule(tx, r)
	})
}
