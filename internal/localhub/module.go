package localhub

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// Module returns a module identity, with its keys.
func (h *Hub) Module(ctx context.Context, deviceID, moduleID string) (*hub.Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkModuleIDs(deviceID, moduleID); err != nil {
		return nil, err
	}
	var m *hub.Module
	err := h.view("read module", func(tx *bolt.Tx) error {
		r, err := findModule(tx, deviceID, moduleID)
		if err != nil {
			return err
		}
		m = r.module()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Modules lists the modules of a device, sorted by module ID.
func (h *Hub) Modules(ctx context.Context, deviceID string) ([]hub.Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkID("device", deviceID); err != nil {
		return nil, err
	}
	var out []hub.Module
	err := h.view("list modules", func(tx *bolt.Tx) error {
		d, err := getDevice(tx, deviceID)
		if err != nil {
			return err
		}
		if d == nil {
			return deviceNotFound(deviceID)
		}
		out = []hub.Module{}
		b := tx.Bucket(bucketModules)
		if b == nil {
			return nil
		}
		prefix := moduleKeyPrefix(deviceID)
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			r, err := decodeModule(v)
			if err != nil {
				return err
			}
			out = append(out, *r.module())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateModule registers a module and its twin on an existing device. SAS
// keys left empty are generated. A device holds at most
// hub.MaxModulesPerDevice modules.
func (h *Hub) CreateModule(ctx context.Context, m *hub.Module) (*hub.Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "no module given")
	}
	if err := checkModuleIDs(m.DeviceID, m.ModuleID); err != nil {
		return nil, err
	}
	a, err := authFrom(m.Authentication, nil, "module")
	if err != nil {
		return nil, err
	}
	var out *hub.Module
	err = h.update("create module", func(tx *bolt.Tx) error {
		d, err := getDevice(tx, m.DeviceID)
		if err != nil {
			return err
		}
		if d == nil {
			return deviceNotFound(m.DeviceID)
		}
		prev, err := getModule(tx, m.DeviceID, m.ModuleID)
		if err != nil {
			return err
		}
		if prev != nil {
			return hub.Errorf(hub.CodeModuleAlreadyExists, "a module with ID %q is already registered on device %q", m.ModuleID, m.DeviceID)
		}
		if n := len(moduleKeys(tx.Bucket(bucketModules), m.DeviceID)); n >= hub.MaxModulesPerDevice {
			return hub.Errorf(hub.CodeTooManyModulesOnDevice, "device %q already has %d modules, the most a device can have", m.DeviceID, n)
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
		r := &moduleRecord{
			DeviceID:  m.DeviceID,
			ModuleID:  m.ModuleID,
			Identity:  identity{GenerationID: gen, Auth: a, ConnectionState: connectionDisconnected},
			ManagedBy: m.ManagedBy,
			Twin:      newTwin(now, seq),
		}
		if err := putModule(tx, r); err != nil {
			return err
		}
		out = r.module()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateModule replaces a module's updatable fields (authentication and
// managedBy) under the same rules as UpdateDevice.
func (h *Hub) UpdateModule(ctx context.Context, m *hub.Module, ifMatch string) (*hub.Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "no module given")
	}
	if err := checkModuleIDs(m.DeviceID, m.ModuleID); err != nil {
		return nil, err
	}
	var out *hub.Module
	err := h.update("update module", func(tx *bolt.Tx) error {
		r, err := findModule(tx, m.DeviceID, m.ModuleID)
		if err != nil {
			return err
		}
		if etag := identityETag(r.Identity.ETagSeq); !etagMatches(ifMatch, etag) {
			return preconditionFailed(fmt.Sprintf("module %q of device %q", m.ModuleID, m.DeviceID), etag, ifMatch)
		}
		a, err := authFrom(m.Authentication, &r.Identity.Auth, "module")
		if err != nil {
			return err
		}
		r.Identity.Auth = a
		r.Identity.ETagSeq++
		r.ManagedBy = m.ManagedBy
		if err := putModule(tx, r); err != nil {
			return err
		}
		out = r.module()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteModule removes a module and its twin.
func (h *Hub) DeleteModule(ctx context.Context, deviceID, moduleID, ifMatch string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkModuleIDs(deviceID, moduleID); err != nil {
		return err
	}
	return h.update("delete module", func(tx *bolt.Tx) error {
		r, err := findModule(tx, deviceID, moduleID)
		if err != nil {
			return err
		}
		if etag := identityETag(r.Identity.ETagSeq); !etagMatches(ifMatch, etag) {
			return preconditionFailed(fmt.Sprintf("module %q of device %q", moduleID, deviceID), etag, ifMatch)
		}
		return tx.Bucket(bucketModules).Delete(moduleKey(deviceID, moduleID))
	})
}

func checkModuleIDs(deviceID, moduleID string) error {
	if err := checkID("device", deviceID); err != nil {
		return err
	}
	return checkID("module", moduleID)
}

// findModule reads a module record. A missing module is ModuleNotFound,
// or DeviceNotFound when its device is missing too.
func findModule(tx *bolt.Tx, deviceID, moduleID string) (*moduleRecord, error) {
	r, err := getModule(tx, deviceID, moduleID)
	if err != nil {
		return nil, err
	}
	if r != nil {
		return r, nil
	}
	d, err := getDevice(tx, deviceID)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, deviceNotFound(deviceID)
	}
	return nil, moduleNotFound(deviceID, moduleID)
}
