package localhub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// BulkRegistry carries out a bulk registry call (POST /devices) in one
// transaction. Entries run in order, so one may create a device and a later
// one a module on it. Each entry is checked on its own and either takes
// full effect or none: a failing entry is reported in the result's Errors
// with its error code's name, and the other entries still take effect.
// Only a failure of the store itself undoes the whole call.
//
// The modes (compared without regard to case) do what IoT Hub's do:
//
//   - create registers a device or module as CreateDevice and CreateModule
//     do, and seeds its twin with the entry's tags and desired properties
//     (the new twin is at version 1, its desired at $version 1);
//   - update and updateIfMatchETag replace the identity's updatable fields
//     as UpdateDevice and UpdateModule do; they carry no twin content;
//   - delete and deleteIfMatchETag remove the identity as DeleteDevice and
//     DeleteModule do;
//   - updateTwin and updateTwinIfMatchETag overwrite the twin sections the
//     entry has (tags, desired properties, or both) as ReplaceTwin does,
//     and leave a section the entry lacks as it is.
//
// The IfMatchETag modes compare the entry's ETag (identity modes) or
// TwinETag (updateTwinIfMatchETag) with the stored one; a mismatch is
// PreconditionFailed. Reported properties cannot be written.
func (h *Hub) BulkRegistry(ctx context.Context, entries []hub.ExportImportDevice) (*hub.BulkRegistryOperationResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(entries) > hub.MaxBulkDevices {
		return nil, hub.Errorf(hub.CodeTooManyDevices, "the bulk registry call has %d entries; the most IoT Hub accepts is %d", len(entries), hub.MaxBulkDevices)
	}
	seen := make(map[string]int, len(entries))
	for i, e := range entries {
		key := e.ID + "\x00" + e.ModuleID
		if j, dup := seen[key]; dup {
			return nil, hub.Errorf(hub.CodeDeviceDefinedMultipleTimes, "entries %d and %d both name %s; a bulk registry call names each identity once", j+1, i+1, entryName(e.ID, e.ModuleID))
		}
		seen[key] = i
	}

	prepared := make([]bulkEntry, len(entries))
	failed := make([]error, len(entries))
	for i := range entries {
		prepared[i], failed[i] = prepareEntry(&entries[i])
	}
	var changes []DesiredChange
	outcome := make([]error, len(entries))
	err := h.update("bulk registry operation", func(tx *bolt.Tx) error {
		changes = changes[:0]
		for i := range prepared {
			outcome[i] = failed[i]
			if failed[i] != nil {
				continue
			}
			ch, err := h.applyEntry(tx, &prepared[i])
			var he *hub.Error
			if errors.As(err, &he) {
				outcome[i] = he
				continue
			}
			if err != nil {
				return err
			}
			if ch != nil {
				changes = append(changes, *ch)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &hub.BulkRegistryOperationResult{Errors: []hub.DeviceRegistryOperationError{}, Warnings: []hub.DeviceRegistryOperationWarning{}}
	for i, err := range outcome {
		if err == nil {
			continue
		}
		var he *hub.Error
		if !errors.As(err, &he) {
			he = hub.Errorf(hub.CodeArgumentInvalid, "%v", err)
		}
		op := string(prepared[i].mode)
		if op == "" {
			op = string(entries[i].ImportMode)
		}
		res.Errors = append(res.Errors, hub.DeviceRegistryOperationError{
			DeviceID: entries[i].ID, ModuleID: entries[i].ModuleID,
			ErrorCode: he.Name, ErrorStatus: he.Message, Operation: op,
		})
	}
	res.IsSuccessful = len(res.Errors) == 0
	for _, ch := range changes {
		h.notifyDesired(ch)
	}
	return res, nil
}

// bulkEntry is an entry checked as far as it can be without the store.
type bulkEntry struct {
	mode               hub.ImportMode
	deviceID, moduleID string
	etag, twinETag     string
	in                 *hub.ExportImportDevice
	fields             deviceFields // device identity modes
	// tags and desired are the twin content, plain JSON; setTags and
	// setDesired say whether the entry has each section.
	tags, desired       map[string]any
	setTags, setDesired bool
}

// prepareEntry checks what an entry says on its own.
func prepareEntry(e *hub.ExportImportDevice) (bulkEntry, error) {
	b := bulkEntry{deviceID: e.ID, moduleID: e.ModuleID, etag: e.ETag, twinETag: e.TwinETag, in: e}
	mode, ok := e.ImportMode.Canonical()
	if !ok {
		return b, hub.Errorf(hub.CodeArgumentInvalid, "%s: the import mode %q is not one of create, update, updateIfMatchETag, delete, deleteIfMatchETag, updateTwin and updateTwinIfMatchETag", entryName(e.ID, e.ModuleID), e.ImportMode)
	}
	b.mode = mode
	if err := checkID("device", e.ID); err != nil {
		return b, err
	}
	if e.ModuleID != "" {
		if err := checkID("module", e.ModuleID); err != nil {
			return b, err
		}
	}
	name := entryName(e.ID, e.ModuleID)
	switch mode {
	case hub.ImportUpdateIfMatchETag, hub.ImportDeleteIfMatchETag:
		if strings.TrimSpace(e.ETag) == "" {
			return b, hub.Errorf(hub.CodeArgumentInvalid, "%s: import mode %s needs the identity's eTag", name, mode)
		}
	case hub.ImportUpdateTwinIfMatchETag:
		if strings.TrimSpace(e.TwinETag) == "" {
			return b, hub.Errorf(hub.CodeArgumentInvalid, "%s: import mode %s needs the twin's twinETag", name, mode)
		}
	}
	if e.Properties != nil && len(e.Properties.Reported) > 0 {
		return b, hub.Errorf(hub.CodeArgumentInvalid, "%s: reported properties are written by the device, not through the registry", name)
	}
	b.setTags = e.Tags != nil
	b.setDesired = e.Properties != nil && e.Properties.Desired != nil
	var err error
	if b.tags, err = storedSection(hub.SectionTags, e.Tags); err != nil {
		return b, err
	}
	if e.Properties != nil {
		if b.desired, err = storedSection(hub.SectionDesired, e.Properties.Desired); err != nil {
			return b, err
		}
	}
	switch mode {
	case hub.ImportUpdate, hub.ImportUpdateIfMatchETag, hub.ImportDelete, hub.ImportDeleteIfMatchETag:
		if b.setTags || b.setDesired {
			return b, hub.Errorf(hub.CodeArgumentInvalid, "%s: import mode %s does not write the twin; use updateTwin for tags and desired properties", name, mode)
		}
	case hub.ImportUpdateTwin, hub.ImportUpdateTwinIfMatchETag:
		if !b.setTags && !b.setDesired {
			return b, hub.Errorf(hub.CodeArgumentInvalid, "%s: import mode %s needs tags or desired properties to write", name, mode)
		}
	}
	switch mode {
	case hub.ImportCreate, hub.ImportUpdate, hub.ImportUpdateIfMatchETag:
		if e.ModuleID != "" {
			return b, checkModuleEntry(e)
		}
		b.fields, err = checkDevice(&hub.Device{
			DeviceID: e.ID, Status: e.Status, StatusReason: e.StatusReason,
			Capabilities: e.Capabilities, DeviceScope: e.DeviceScope, ParentScopes: e.ParentScopes,
		})
		return b, err
	}
	return b, nil
}

// checkModuleEntry refuses device-only fields on a module entry: modules
// have no status, capabilities or scopes.
func checkModuleEntry(e *hub.ExportImportDevice) error {
	var bad []string
	if e.Status != "" && !strings.EqualFold(string(e.Status), string(hub.StatusEnabled)) {
		bad = append(bad, "status")
	}
	if e.StatusReason != "" {
		bad = append(bad, "statusReason")
	}
	if e.Capabilities != nil && e.Capabilities.IoTEdge {
		bad = append(bad, "capabilities")
	}
	if e.DeviceScope != "" || len(e.ParentScopes) > 0 {
		bad = append(bad, "scopes")
	}
	if len(bad) > 0 {
		return hub.Errorf(hub.CodeArgumentInvalid, "%s: a module has no %s", entryName(e.ID, e.ModuleID), strings.Join(bad, ", "))
	}
	return nil
}

// applyEntry carries out one prepared entry. A *hub.Error means the entry
// failed before it wrote anything; any other error is the store's.
func (h *Hub) applyEntry(tx *bolt.Tx, b *bulkEntry) (*DesiredChange, error) {
	switch b.mode {
	case hub.ImportCreate:
		if b.moduleID != "" {
			return nil, h.bulkCreateModule(tx, b)
		}
		return nil, h.bulkCreateDevice(tx, b)
	case hub.ImportUpdate, hub.ImportUpdateIfMatchETag:
		ifMatch := "*"
		if b.mode == hub.ImportUpdateIfMatchETag {
			ifMatch = b.etag
		}
		if b.moduleID != "" {
			return nil, h.bulkUpdateModule(tx, b, ifMatch)
		}
		return nil, h.bulkUpdateDevice(tx, b, ifMatch)
	case hub.ImportDelete, hub.ImportDeleteIfMatchETag:
		ifMatch := "*"
		if b.mode == hub.ImportDeleteIfMatchETag {
			ifMatch = b.etag
		}
		return nil, h.bulkDelete(tx, b, ifMatch)
	case hub.ImportUpdateTwin, hub.ImportUpdateTwinIfMatchETag:
		ifMatch := "*"
		if b.mode == hub.ImportUpdateTwinIfMatchETag {
			ifMatch = b.twinETag
		}
		return h.bulkUpdateTwin(tx, b, ifMatch)
	}
	panic(fmt.Sprintf("localhub: unhandled import mode %q", b.mode))
}

func (h *Hub) bulkCreateDevice(tx *bolt.Tx, b *bulkEntry) error {
	prev, err := getDevice(tx, b.deviceID)
	if err != nil {
		return err
	}
	if prev != nil {
		return hub.Errorf(hub.CodeDeviceAlreadyExists, "a device with ID %q is already registered", b.deviceID)
	}
	a, err := authFrom(b.in.Authentication, nil, "device")
	if err != nil {
		return err
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
		DeviceID: b.deviceID,
		Identity: identity{GenerationID: gen, Auth: a, ConnectionState: connectionDisconnected},
		Twin:     seededTwin(now, seq, b.tags, b.desired),
	}
	b.fields.applyTo(r)
	if err := putDevice(tx, r); err != nil {
		return err
	}
	return addStats(tx, hub.Status(r.Status), 1)
}

func (h *Hub) bulkCreateModule(tx *bolt.Tx, b *bulkEntry) error {
	d, err := getDevice(tx, b.deviceID)
	if err != nil {
		return err
	}
	if d == nil {
		return deviceNotFound(b.deviceID)
	}
	prev, err := getModule(tx, b.deviceID, b.moduleID)
	if err != nil {
		return err
	}
	if prev != nil {
		return hub.Errorf(hub.CodeModuleAlreadyExists, "a module with ID %q is already registered on device %q", b.moduleID, b.deviceID)
	}
	if n := len(moduleKeys(tx.Bucket(bucketModules), b.deviceID)); n >= hub.MaxModulesPerDevice {
		return hub.Errorf(hub.CodeTooManyModulesOnDevice, "device %q already has %d modules, the most a device can have", b.deviceID, n)
	}
	a, err := authFrom(b.in.Authentication, nil, "module")
	if err != nil {
		return err
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
	return putModule(tx, &moduleRecord{
		DeviceID: b.deviceID,
		ModuleID: b.moduleID,
		Identity: identity{GenerationID: gen, Auth: a, ConnectionState: connectionDisconnected},
		Twin:     seededTwin(now, seq, b.tags, b.desired),
	})
}

// seededTwin is the twin of a new identity holding tags and desired
// properties from the start: still version 1 with desired at $version 1,
// its desired $metadata stamped at creation.
func seededTwin(now time.Time, etagSeq uint64, tags, desired map[string]any) twinRecord {
	t := newTwin(now, etagSeq)
	t.replaceTags(tags)
	if len(desired) > 0 {
		t.Desired.merge(desired, metaNode{LastUpdated: now, Version: t.Desired.Version})
	}
	return t
}

func (h *Hub) bulkUpdateDevice(tx *bolt.Tx, b *bulkEntry, ifMatch string) error {
	r, err := getDevice(tx, b.deviceID)
	if err != nil {
		return err
	}
	if r == nil {
		return deviceNotFound(b.deviceID)
	}
	if etag := identityETag(r.Identity.ETagSeq); !etagMatches(ifMatch, etag) {
		return preconditionFailed(fmt.Sprintf("device %q", b.deviceID), etag, ifMatch)
	}
	a, err := authFrom(b.in.Authentication, &r.Identity.Auth, "device")
	if err != nil {
		return err
	}
	oldStatus := hub.Status(r.Status)
	r.Identity.Auth = a
	r.Identity.ETagSeq++
	b.fields.applyTo(r)
	if newStatus := hub.Status(r.Status); newStatus != oldStatus {
		r.StatusUpdated = h.clock()
		if err := addStats(tx, oldStatus, -1); err != nil {
			return err
		}
		if err := addStats(tx, newStatus, 1); err != nil {
			return err
		}
	}
	return putDevice(tx, r)
}

func (h *Hub) bulkUpdateModule(tx *bolt.Tx, b *bulkEntry, ifMatch string) error {
	r, err := findModule(tx, b.deviceID, b.moduleID)
	if err != nil {
		return err
	}
	if etag := identityETag(r.Identity.ETagSeq); !etagMatches(ifMatch, etag) {
		return preconditionFailed(fmt.Sprintf("module %q of device %q", b.moduleID, b.deviceID), etag, ifMatch)
	}
	a, err := authFrom(b.in.Authentication, &r.Identity.Auth, "module")
	if err != nil {
		return err
	}
	r.Identity.Auth = a
	r.Identity.ETagSeq++
	return putModule(tx, r)
}

func (h *Hub) bulkDelete(tx *bolt.Tx, b *bulkEntry, ifMatch string) error {
	if b.moduleID != "" {
		r, err := findModule(tx, b.deviceID, b.moduleID)
		if err != nil {
			return err
		}
		if etag := identityETag(r.Identity.ETagSeq); !etagMatches(ifMatch, etag) {
			return preconditionFailed(fmt.Sprintf("module %q of device %q", b.moduleID, b.deviceID), etag, ifMatch)
		}
		return tx.Bucket(bucketModules).Delete(moduleKey(b.deviceID, b.moduleID))
	}
	r, err := getDevice(tx, b.deviceID)
	if err != nil {
		return err
	}
	if r == nil {
		return deviceNotFound(b.deviceID)
	}
	if etag := identityETag(r.Identity.ETagSeq); !etagMatches(ifMatch, etag) {
		return preconditionFailed(fmt.Sprintf("device %q", b.deviceID), etag, ifMatch)
	}
	if err := indexTags(tx, b.deviceID, nil); err != nil {
		return err
	}
	if err := tx.Bucket(bucketDevices).Delete([]byte(b.deviceID)); err != nil {
		return err
	}
	modules := tx.Bucket(bucketModules)
	for _, k := range moduleKeys(modules, b.deviceID) {
		if err := modules.Delete(k); err != nil {
			return err
		}
	}
	return addStats(tx, hub.Status(r.Status), -1)
}

// bulkUpdateTwin overwrites the sections the entry has. The write counts
// as one twin write; desired $version goes up only when desired is written.
func (h *Hub) bulkUpdateTwin(tx *bolt.Tx, b *bulkEntry, ifMatch string) (*DesiredChange, error) {
	var t *twinRecord
	var put func() error
	var what string
	if b.moduleID == "" {
		r, err := getDevice(tx, b.deviceID)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, deviceNotFound(b.deviceID)
		}
		t, put, what = &r.Twin, func() error { return putDevice(tx, r) }, fmt.Sprintf("the twin of device %q", b.deviceID)
	} else {
		r, err := findModule(tx, b.deviceID, b.moduleID)
		if err != nil {
			return nil, err
		}
		t, put, what = &r.Twin, func() error { return putModule(tx, r) }, fmt.Sprintf("the twin of module %q of device %q", b.moduleID, b.deviceID)
	}
	if etag := twinETag(t.ETagSeq); !etagMatches(ifMatch, etag) {
		return nil, preconditionFailed(what, etag, ifMatch)
	}
	if b.setTags {
		t.replaceTags(b.tags)
	}
	if b.setDesired {
		t.replaceDesired(b.desired, h.clock())
	}
	t.Version++
	seq, err := nextTwinETag(tx)
	if err != nil {
		return nil, err
	}
	t.ETagSeq = seq
	if err := put(); err != nil {
		return nil, err
	}
	if !b.setDesired {
		return nil, nil
	}
	return &DesiredChange{DeviceID: b.deviceID, ModuleID: b.moduleID, Patch: nonNil(b.desired), Replace: true, Version: t.Desired.Version}, nil
}

func entryName(deviceID, moduleID string) string {
	if moduleID != "" {
		return fmt.Sprintf("module %q of device %q", moduleID, deviceID)
	}
	return fmt.Sprintf("device %q", deviceID)
}

// Devices returns up to top device identities, with their keys, in device
// ID order: the registry list of GET /devices. It reads them in one
// transaction. top less than 1 means MaxDeviceList.
func (h *Hub) Devices(ctx context.Context, top int) ([]hub.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if top < 1 {
		top = MaxDeviceList
	}
	out := []hub.Device{}
	err := h.view("list devices", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDevices).Cursor()
		for k, v := c.First(); k != nil && len(out) < top; k, v = c.Next() {
			r, err := decodeDevice(v)
			if err != nil {
				return err
			}
			out = append(out, *r.device())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MaxDeviceList is the most devices GET /devices returns.
const MaxDeviceList = 1000

// ConnectedDevices counts the devices whose connection state is Connected,
// in one transaction: the service statistics of GET /statistics/service.
func (h *Hub) ConnectedDevices(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := h.view("count connected devices", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDevices).ForEach(func(_, v []byte) error {
			r, err := decodeDevice(v)
			if err != nil {
				return err
			}
			if r.Identity.ConnectionState == Connected {
				n++
			}
			return nil
		})
	})
	return n, err
}
