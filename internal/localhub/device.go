package localhub

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// Device returns a device identity, with its keys.
func (h *Hub) Device(ctx context.Context, id string) (*hub.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkID("device", id); err != nil {
		return nil, err
	}
	var d *hub.Device
	err := h.view("read device", func(tx *bolt.Tx) error {
		r, err := getDevice(tx, id)
		if err != nil {
			return err
		}
		if r == nil {
			return deviceNotFound(id)
		}
		d = r.device()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// CreateDevice registers a device and its twin. The status defaults to
// enabled; SAS keys left empty are generated. An edge device gets its
// device scope from the hub.
func (h *Hub) CreateDevice(ctx context.Context, d *hub.Device) (*hub.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := checkDevice(d)
	if err != nil {
		return nil, err
	}
	a, err := authFrom(d.Authentication, nil, "device")
	if err != nil {
		return nil, err
	}
	var out *hub.Device
	err = h.update("create device", func(tx *bolt.Tx) error {
		prev, err := getDevice(tx, d.DeviceID)
		if err != nil {
			return err
		}
		if prev != nil {
			return hub.Errorf(hub.CodeDeviceAlreadyExists, "a device with ID %q is already registered", d.DeviceID)
		}
		now := h.clock()
		gen, err := h.nextGenerationID(tx, now)
		if err != nil {
			return err
		}
		seq, err := nextTwinETag(tx)
		if err != nil {
			return err
		}
		r := &deviceRecord{
			DeviceID: d.DeviceID,
			Identity: identity{GenerationID: gen, Auth: a, ConnectionState: connectionDisconnected},
			Twin:     newTwin(now, seq),
		}
		in.applyTo(r)
		if err := putDevice(tx, r); err != nil {
			return err
		}
		if err := addStats(tx, hub.Status(r.Status), 1); err != nil {
			return err
		}
		out = r.device()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateDevice replaces a device's updatable fields (status, status reason,
// authentication, capabilities, device scope, parent scopes); those left
// empty are reset to their defaults, except SAS keys: a sas device updated
// with empty keys keeps the keys it has. The etag changes on every update,
// and the status update time when the status changes.
func (h *Hub) UpdateDevice(ctx context.Context, d *hub.Device, ifMatch string) (*hub.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := checkDevice(d)
	if err != nil {
		return nil, err
	}
	var out *hub.Device
	err = h.update("update device", func(tx *bolt.Tx) error {
		r, err := getDevice(tx, d.DeviceID)
		if err != nil {
			return err
		}
		if r == nil {
			return deviceNotFound(d.DeviceID)
		}
		if etag := identityETag(r.Identity.ETagSeq); !etagMatches(ifMatch, etag) {
			return preconditionFailed(fmt.Sprintf("device %q", d.DeviceID), etag, ifMatch)
		}
		a, err := authFrom(d.Authentication, &r.Identity.Auth, "device")
		if err != nil {
			return err
		}
		oldStatus := hub.Status(r.Status)
		r.Identity.Auth = a
		r.Identity.ETagSeq++
		in.applyTo(r)
		if newStatus := hub.Status(r.Status); newStatus != oldStatus {
			r.StatusUpdated = h.clock()
			if err := addStats(tx, oldStatus, -1); err != nil {
				return err
			}
			if err := addStats(tx, newStatus, 1); err != nil {
				return err
			}
		}
		if err := putDevice(tx, r); err != nil {
			return err
		}
		out = r.device()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDevice removes a device, its twin, its modules and their twins.
func (h *Hub) DeleteDevice(ctx context.Context, id, ifMatch string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID("device", id); err != nil {
		return err
	}
	return h.update("delete device", func(tx *bolt.Tx) error {
		r, err := getDevice(tx, id)
		if err != nil {
			return err
		}
		if r == nil {
			return deviceNotFound(id)
		}
		if etag := identityETag(r.Identity.ETagSeq); !etagMatches(ifMatch, etag) {
			return preconditionFailed(fmt.Sprintf("device %q", id), etag, ifMatch)
		}
		if err := indexTags(tx, id, nil); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDevices).Delete([]byte(id)); err != nil {
			return err
		}
		modules := tx.Bucket(bucketModules)
		for _, k := range moduleKeys(modules, id) {
			if err := modules.Delete(k); err != nil {
				return err
			}
		}
		return addStats(tx, hub.Status(r.Status), -1)
	})
}

// Statistics counts the devices of the hub by status.
func (h *Hub) Statistics(ctx context.Context) (*hub.RegistryStatistics, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var s stats
	err := h.view("read statistics", func(tx *bolt.Tx) error {
		var err error
		s, err = readStats(tx.Bucket(bucketMeta))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &hub.RegistryStatistics{
		TotalDeviceCount:    s.Enabled + s.Disabled,
		EnabledDeviceCount:  s.Enabled,
		DisabledDeviceCount: s.Disabled,
	}, nil
}

const (
	connectionDisconnected = "Disconnected"
	edgeScopePrefix        = "ms-azure-iot-edge://"
)

// deviceFields are the checked updatable fields of a device write.
type deviceFields struct {
	status       hub.Status
	statusReason string
	iotEdge      bool
	deviceScope  string
	parentScopes []string
}

// checkDevice checks the caller's part of a device create or update; the
// credential is checked apart, since an update needs the stored one.
func checkDevice(d *hub.Device) (deviceFields, error) {
	if d == nil {
		return deviceFields{}, hub.Errorf(hub.CodeArgumentInvalid, "no device given")
	}
	if err := checkID("device", d.DeviceID); err != nil {
		return deviceFields{}, err
	}
	f := deviceFields{statusReason: d.StatusReason, deviceScope: d.DeviceScope, parentScopes: slices.Clone(d.ParentScopes)}
	switch {
	case d.Status == "" || strings.EqualFold(string(d.Status), string(hub.StatusEnabled)):
		f.status = hub.StatusEnabled
	case strings.EqualFold(string(d.Status), string(hub.StatusDisabled)):
		f.status = hub.StatusDisabled
	default:
		return deviceFields{}, hub.Errorf(hub.CodeArgumentInvalid, "device %q: the status %q is neither enabled nor disabled", d.DeviceID, d.Status)
	}
	if err := hub.ValidateStatusReason(d.StatusReason); err != nil {
		return deviceFields{}, hub.Errorf(hub.CodeArgumentInvalid, "device %q: %v", d.DeviceID, err)
	}
	if len(d.ParentScopes) > 1 {
		return deviceFields{}, hub.Errorf(hub.CodeArgumentInvalid, "device %q has %d parent scopes; a device has at most one parent", d.DeviceID, len(d.ParentScopes))
	}
	if d.Capabilities != nil {
		f.iotEdge = d.Capabilities.IoTEdge
	}
	return f, nil
}

// applyTo writes the fields into a record. An edge device's scope is the
// hub's and never changes while it stays an edge device; any other device
// takes the scope it is given (a child names its parent's scope).
func (f deviceFields) applyTo(r *deviceRecord) {
	r.Status = string(f.status)
	r.StatusReason = f.statusReason
	r.ParentScopes = f.parentScopes
	switch {
	case f.iotEdge && r.IoTEdge && strings.HasPrefix(r.DeviceScope, edgeScopePrefix):
		// keep the scope the hub gave it
	case f.iotEdge:
		r.DeviceScope = edgeScopePrefix + r.DeviceID + "-" + r.Identity.GenerationID
	default:
		r.DeviceScope = f.deviceScope
	}
	r.IoTEdge = f.iotEdge
}

// moduleKeys returns the keys of a device's modules, in order.
func moduleKeys(b *bolt.Bucket, deviceID string) [][]byte {
	if b == nil {
		return nil
	}
	prefix := moduleKeyPrefix(deviceID)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return keys
}
