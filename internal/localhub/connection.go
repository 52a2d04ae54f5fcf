package localhub

import (
	"context"
	"time"

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

// Activity is a mark that an identity sent or received something.
type Activity struct {
	DeviceID, ModuleID string
	At                 time.Time
}

// NoteActivities records many activity marks in one write: lastActivityTime
// becomes each mark's time (never earlier than what is recorded). Marks of
// identities that no longer exist are skipped.
func (h *Hub) NoteActivities(ctx context.Context, marks []Activity) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(marks) == 0 {
		return nil
	}
	return h.update("record activity", func(tx *bolt.Tx) error {
		for _, m := range marks {
			var id *identity
			var put func() error
			if m.ModuleID == "" {
				r, err := getDevice(tx, m.DeviceID)
				if err != nil {
					return err
				}
				if r == nil {
					continue
				}
				id, put = &r.Identity, func() error { return putDevice(tx, r) }
			} else {
				r, err := getModule(tx, m.DeviceID, m.ModuleID)
				if err != nil {
					return err
				}
				if r == nil {
					continue
				}
				id, put = &r.Identity, func() error { return putModule(tx, r) }
			}
			if m.At.After(id.LastActivity) {
				id.LastActivity = m.At.UTC()
				if err := put(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
