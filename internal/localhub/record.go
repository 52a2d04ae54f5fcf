package localhub

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// The records below are the file format of the hub database: JSON, one
// value per identity, each with the schema version it was written in. They
// are separate from the hub's wire types so that either can change without
// the other.

// deviceRecord is one device: its identity and its twin.
type deviceRecord struct {
	Schema       int      `json:"schema"`
	DeviceID     string   `json:"deviceId"`
	Identity     identity `json:"identity"`
	Status       string   `json:"status"`
	StatusReason string   `json:"statusReason,omitempty"`
	// StatusUpdated is zero until the status first changes.
	StatusUpdated time.Time  `json:"statusUpdated"`
	IoTEdge       bool       `json:"iotEdge,omitempty"`
	DeviceScope   string     `json:"deviceScope,omitempty"`
	ParentScopes  []string   `json:"parentScopes,omitempty"`
	Twin          twinRecord `json:"twin"`
}

// moduleRecord is one module: its identity and its twin. Its key is
// DeviceID + "\x00" + ModuleID.
type moduleRecord struct {
	Schema    int        `json:"schema"`
	DeviceID  string     `json:"deviceId"`
	ModuleID  string     `json:"moduleId"`
	Identity  identity   `json:"identity"`
	ManagedBy string     `json:"managedBy,omitempty"`
	Twin      twinRecord `json:"twin"`
}

// identity holds what devices and modules have in common.
type identity struct {
	GenerationID string `json:"generationId"`
	// ETagSeq is the identity's write counter: 0 after create, one more
	// after every update. The etag is its decimal text in base64.
	ETagSeq         uint64    `json:"etagSeq"`
	Auth            auth      `json:"auth"`
	ConnectionState string    `json:"connectionState"`
	ConnectionTime  time.Time `json:"connectionStateUpdated"`
	LastActivity    time.Time `json:"lastActivity"`
	C2DCount        int32     `json:"c2dCount,omitempty"`
}

// auth is an identity's credential. Only the members of its Type are set.
type auth struct {
	Type                string `json:"type"`
	PrimaryKey          string `json:"primaryKey,omitempty"`
	SecondaryKey        string `json:"secondaryKey,omitempty"`
	PrimaryThumbprint   string `json:"primaryThumbprint,omitempty"`
	SecondaryThumbprint string `json:"secondaryThumbprint,omitempty"`
}

// twinRecord is a twin's own state; the identity fields it shows are taken
// from the record around it when it is read. Identity writes change what
// the twin mirrors (deviceEtag, status, ...) but neither its version nor its
// etag: those follow writes to tags, desired and reported only.
type twinRecord struct {
	// Version counts the writes to tags, desired and reported; 1 when new.
	Version int64 `json:"version"`
	// ETagSeq is the etag counter, drawn from the hub-wide twin etag
	// sequence on every write.
	ETagSeq  uint64         `json:"etagSeq"`
	Tags     map[string]any `json:"tags,omitempty"`
	Desired  section        `json:"desired"`
	Reported section        `json:"reported"`
	// Configurations is the automatic configurations' state on the twin;
	// nil when none targets it. Writing it changes neither the version nor
	// the etag.
	Configurations *twinConfigurations `json:"configurations,omitempty"`
}

// section is the desired or the reported collection of a twin.
type section struct {
	// Version is the collection's $version; 1 when new.
	Version int64          `json:"version"`
	Props   map[string]any `json:"props,omitempty"`
	Meta    *metaNode      `json:"meta"`
}

// metaNode is one level of a collection's $metadata: when the node was last
// written and, for desired, at which $version. Children mirror the object
// members of the node's value; a leaf has none.
type metaNode struct {
	LastUpdated time.Time            `json:"t"`
	Version     int64                `json:"v,omitempty"`
	Children    map[string]*metaNode `json:"c,omitempty"`
}

func moduleKey(deviceID, moduleID string) []byte {
	return []byte(deviceID + "\x00" + moduleID)
}

// moduleKeyPrefix is the prefix of the keys of a device's modules.
func moduleKeyPrefix(deviceID string) []byte {
	return []byte(deviceID + "\x00")
}

func decodeDevice(v []byte) (*deviceRecord, error) {
	var r deviceRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decode device record: %w", err)
	}
	if r.Schema > schemaVersion {
		return nil, fmt.Errorf("device record %q has schema version %d; this iotplan reads versions up to %d", r.DeviceID, r.Schema, schemaVersion)
	}
	return &r, nil
}

func decodeModule(v []byte) (*moduleRecord, error) {
	var r moduleRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decode module record: %w", err)
	}
	if r.Schema > schemaVersion {
		return nil, fmt.Errorf("module record %q/%q has schema version %d; this iotplan reads versions up to %d", r.DeviceID, r.ModuleID, r.Schema, schemaVersion)
	}
	return &r, nil
}

// getDevice reads a device record, or returns nil when there is none.
func getDevice(tx *bolt.Tx, id string) (*deviceRecord, error) {
	b := tx.Bucket(bucketDevices)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	return decodeDevice(v)
}

// getModule reads a module record, or returns nil when there is none.
func getModule(tx *bolt.Tx, deviceID, moduleID string) (*moduleRecord, error) {
	b := tx.Bucket(bucketModules)
	if b == nil {
		return nil, nil
	}
	v := b.Get(moduleKey(deviceID, moduleID))
	if v == nil {
		return nil, nil
	}
	return decodeModule(v)
}

func putDevice(tx *bolt.Tx, r *deviceRecord) error {
	r.Schema = schemaVersion
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode device record: %w", err)
	}
	if err := tx.Bucket(bucketDevices).Put([]byte(r.DeviceID), v); err != nil {
		return err
	}
	return indexTags(tx, r.DeviceID, r.Twin.Tags)
}

func putModule(tx *bolt.Tx, r *moduleRecord) error {
	r.Schema = schemaVersion
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode module record: %w", err)
	}
	return tx.Bucket(bucketModules).Put(moduleKey(r.DeviceID, r.ModuleID), v)
}

// device returns the record as the hub's wire type.
func (r *deviceRecord) device() *hub.Device {
	return &hub.Device{
		DeviceID:                   r.DeviceID,
		GenerationID:               r.Identity.GenerationID,
		ETag:                       identityETag(r.Identity.ETagSeq),
		ConnectionState:            r.Identity.ConnectionState,
		Status:                     hub.Status(r.Status),
		StatusReason:               r.StatusReason,
		ConnectionStateUpdatedTime: r.Identity.ConnectionTime,
		StatusUpdatedTime:          r.StatusUpdated,
		LastActivityTime:           r.Identity.LastActivity,
		CloudToDeviceMessageCount:  r.Identity.C2DCount,
		Authentication:             r.Identity.Auth.mechanism(),
		Capabilities:               &hub.DeviceCapabilities{IoTEdge: r.IoTEdge},
		DeviceScope:                r.DeviceScope,
		ParentScopes:               slices.Clone(r.ParentScopes),
	}
}

// twin returns the device twin: the twin record plus the identity fields
// it mirrors.
func (r *deviceRecord) twin() *hub.Twin {
	t := r.Twin.wire()
	t.DeviceID = r.DeviceID
	t.DeviceETag = identityETag(r.Identity.ETagSeq)
	t.Status = hub.Status(r.Status)
	t.StatusReason = r.StatusReason
	t.StatusUpdateTime = r.StatusUpdated
	t.ConnectionState = r.Identity.ConnectionState
	t.LastActivityTime = r.Identity.LastActivity
	t.CloudToDeviceMessageCount = r.Identity.C2DCount
	t.AuthenticationType = hub.AuthType(r.Identity.Auth.Type)
	t.X509Thumbprint = *r.Identity.Auth.thumbprint()
	t.Capabilities = &hub.DeviceCapabilities{IoTEdge: r.IoTEdge}
	t.DeviceScope = r.DeviceScope
	t.ParentScopes = slices.Clone(r.ParentScopes)
	return t
}

// module returns the record as the hub's wire type.
func (r *moduleRecord) module() *hub.Module {
	return &hub.Module{
		ModuleID:                   r.ModuleID,
		DeviceID:                   r.DeviceID,
		ManagedBy:                  r.ManagedBy,
		GenerationID:               r.Identity.GenerationID,
		ETag:                       identityETag(r.Identity.ETagSeq),
		ConnectionState:            r.Identity.ConnectionState,
		ConnectionStateUpdatedTime: r.Identity.ConnectionTime,
		LastActivityTime:           r.Identity.LastActivity,
		CloudToDeviceMessageCount:  r.Identity.C2DCount,
		Authentication:             r.Identity.Auth.mechanism(),
	}
}

// twin returns the module twin. Modules have no status or capabilities; its
// deviceEtag is the module identity's etag.
func (r *moduleRecord) twin() *hub.Twin {
	t := r.Twin.wire()
	t.DeviceID = r.DeviceID
	t.ModuleID = r.ModuleID
	t.ManagedBy = r.ManagedBy
	t.DeviceETag = identityETag(r.Identity.ETagSeq)
	t.ConnectionState = r.Identity.ConnectionState
	t.LastActivityTime = r.Identity.LastActivity
	t.CloudToDeviceMessageCount = r.Identity.C2DCount
	t.AuthenticationType = hub.AuthType(r.Identity.Auth.Type)
	t.X509Thumbprint = *r.Identity.Auth.thumbprint()
	return t
}

// mechanism returns the credential as the wire type. Like IoT Hub it always
// sends both members, empty where the type has no such material.
func (a auth) mechanism() *hub.AuthenticationMechanism {
	return &hub.AuthenticationMechanism{
		SymmetricKey:   &hub.SymmetricKey{PrimaryKey: a.PrimaryKey, SecondaryKey: a.SecondaryKey},
		X509Thumbprint: a.thumbprint(),
		Type:           hub.AuthType(a.Type),
	}
}

func (a auth) thumbprint() *hub.X509Thumbprint {
	return &hub.X509Thumbprint{PrimaryThumbprint: optional(a.PrimaryThumbprint), SecondaryThumbprint: optional(a.SecondaryThumbprint)}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
