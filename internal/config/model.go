package config

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub"
)

// Config is the desired model of a fleet: everything the *.hcl files of a
// working folder declare, with variables, locals, count and for_each
// expanded. A Config is not changed after Load returns it; it is safe for
// concurrent reads.
type Config struct {
	// Devices and Modules are sorted by address, count indexes as numbers
	// (x[2] before x[10]).
	Devices []*Device
	Modules []*Module
	// Configurations and Jobs are sorted by address.
	Configurations []*Configuration
	Jobs           []*Job
	// Outputs are sorted by name.
	Outputs []*Output
	// Moved is in declaration order: files in name order, blocks in file
	// order. Chains (a to b, then b to c) are allowed; no two blocks share
	// a from or a to address, and no chain loops.
	Moved []*Moved
	// Imports are sorted by target address.
	Imports []*Import
	// Hub is nil when the configuration has no hub block: the embedded hub
	// of the working folder is used.
	Hub *HubSettings
	// Backend is nil when the configuration has no iotplan backend block:
	// the local state file iotplan.state is used.
	Backend *Backend
}

// Resource types, as addresses and Addr.Type write them.
const (
	TypeDevice = "device"
	TypeModule = "device_module"
)

// Device is one device instance the configuration declares, after count or
// for_each expansion.
type Device struct {
	Addr         Addr
	DeviceID     string
	Status       hub.Status // enabled when not set
	StatusReason string
	Auth         Auth
	// Edge marks an IoT Edge device (capabilities.iotEdge).
	Edge bool
	// Parent is the device ID of the edge device this device sits behind
	// (deviceScope and parentScopes), "" for none. When a device of the
	// configuration has that ID, it is an edge device and a dependency.
	Parent string
	// KeyVersion is a number the user bumps to have the hub generate new
	// SAS keys in place; 0 when not set. Only meaningful with SAS auth and
	// hub-generated keys.
	KeyVersion int
	// Tags and Desired are the twin sections the configuration owns, as JSON
	// values (string, float64, bool, map[string]any, []any). Null values in
	// the configuration are left out, as if not written. nil when not set.
	Tags    map[string]any
	Desired map[string]any

	Lifecycle Lifecycle
	// DependsOn holds the addresses of the depends_on argument as written
	// (device.gw, device.thermo["a"], device_module.m), each checked to
	// name a declared resource.
	DependsOn []string
	// Dependencies are the resource instance addresses this instance
	// depends on, sorted: those its expressions refer to (directly or
	// through locals), those of depends_on, the device of its parent, and
	// for a module the device with its device_id.
	Dependencies []string
	// Sensitive lists, sorted, the paths of the values that are sensitive:
	// "auth.primary_key" and "auth.secondary_key" when keys are given, and
	// any attribute or twin property ("desired.token") whose value comes
	// from a sensitive variable or attribute. Renderers show such values as
	// (sensitive value).
	Sensitive []string

	// DeclRange is the range of the block header; Ranges holds the range of
	// each attribute's expression by attribute name, and of the auth
	// arguments as "auth.type", "auth.primary_key", ...
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Module is one module identity instance the configuration declares, after
// count or for_each expansion.
type Module struct {
	Addr      Addr
	DeviceID  string
	ModuleID  string
	Auth      Auth
	ManagedBy string
	// KeyVersion: as for Device.
	KeyVersion int
	// Tags and Desired: the module twin's sections, as for Device.
	Tags    map[string]any
	Desired map[string]any

	Lifecycle    Lifecycle
	DependsOn    []string
	Dependencies []string
	Sensitive    []string

	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// AuthType is the kind of credential an identity has, as the configuration
// writes it.
type AuthType string

// The auth types of the language.
const (
	AuthSAS            AuthType = "sas"             // symmetric keys
	AuthX509Thumbprint AuthType = "x509_thumbprint" // self-signed certificate
	AuthX509CA         AuthType = "x509_ca"         // certificate signed by a CA
	AuthNone           AuthType = "none"
)

// HubType returns the registry's name of the auth type.
func (t AuthType) HubType() hub.AuthType {
	switch t {
	case AuthSAS, "":
		return hub.AuthSAS
	case AuthX509Thumbprint:
		return hub.AuthSelfSigned
	case AuthX509CA:
		return hub.AuthCertificateAuthority
	case AuthNone:
		return hub.AuthNone
	}
	panic(fmt.Sprintf("config: unknown auth type %q", string(t)))
}

// Auth is an identity's credential as declared. The zero value is SAS with
// keys the hub generates.
type Auth struct {
	Type AuthType // AuthSAS when not set
	// PrimaryKey and SecondaryKey are explicit SAS keys (base64 of 16 to
	// 64 bytes), both or neither; empty when the hub generates them.
	// Sensitive.
	PrimaryKey, SecondaryKey string
	// PrimaryThumbprint and SecondaryThumbprint are the hex SHA-1 (40
	// digits) or SHA-256 (64 digits) certificate thumbprints of
	// x509_thumbprint auth, upper-cased; the secondary one may be empty.
	PrimaryThumbprint, SecondaryThumbprint string
}

// Lifecycle holds the lifecycle block of a resource.
type Lifecycle struct {
	// PreventDestroy makes a plan that deletes or replaces the instance
	// an error.
	PreventDestroy bool
	// IgnoreChanges lists, sorted, the attribute paths whose differences
	// the plan ignores after creation: attribute names ("status",
	// "managed_by"), whole twin sections ("tags") or twin keys joined with
	// dots ("tags.lastService", "desired.telemetry.interval"), as plan
	// writes AttrChange paths. A path covers everything below it.
	IgnoreChanges []string
}

// Ignores tells whether the lifecycle ignores changes to path: whether path
// is one of IgnoreChanges or lies below one.
func (l Lifecycle) Ignores(path string) bool {
	for _, p := range l.IgnoreChanges {
		if path == p || len(path) > len(p) && path[:len(p)] == p && path[len(p)] == '.' {
			return true
		}
	}
	return false
}

// Output is one output block, evaluated.
type Output struct {
	Name        string
	Description string
	// Value keeps its cty marks: parts that are sensitive carry
	// SensitiveMark. Parts that only the hub knows after apply (keys,
	// generation IDs, connection strings of instances not yet applied)
	// are unknown: render them as (known after apply).
	Value cty.Value
	// Sensitive is the output's sensitive argument. An output whose value
	// holds a sensitive part must set it.
	Sensitive bool
	DeclRange hcl.Range
}

// Moved is one moved block: the resource or instance at From is now at To,
// with no change on the hub. When neither address has a key, the whole
// resource moves, each instance keeping its key; otherwise one instance
// moves (a nil Key being the instance of a block without count or
// for_each). From and To have the same Type.
type Moved struct {
	From, To  Addr
	DeclRange hcl.Range
}

// Import is one import block: the hub object with ID becomes the
// instance To, which the configuration declares.
type Import struct {
	To Addr
	// ID is the device ID, or "deviceId/moduleId" for a device_module;
	// DeviceID and ModuleID are its parts.
	ID                 string
	DeviceID, ModuleID string
	DeclRange          hcl.Range
}

// HubSettings is the hub block: which hub to manage.
type HubSettings struct {
	// ConnectionString is a service connection string. Sensitive.
	ConnectionString string
	Tier             string // F1, B1, B2, B3, S1, S2 or S3; S1 when not set
	Units            int    // at least 1; 1 when not set
	// CAFile is a PEM file of CA certificates to trust for the hub's TLS
	// certificate, such as the .iotplan/ca.pem of `iotplan hub serve`; ""
	// trusts the system's.
	CAFile string
	// Insecure speaks plain HTTP to the hub: only `iotplan hub serve
	// --insecure` answers it.
	Insecure  bool
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Backend is the backend block of the iotplan block: where state lives.
type Backend struct {
	Type string // "local" or "pg"
	// Path is the state file of the local backend; iotplan.state when not
	// set.
	Path string
	// ConnStr is the PostgreSQL connection string of the pg backend.
	// Sensitive.
	ConnStr   string
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Addr is the address of a resource instance, as Terraform writes them:
// device.thermo, device.thermo["a"], device.thermo[0],
// device_module.agent["a"].
type Addr struct {
	Type string // TypeDevice or TypeModule
	Name string // the block label
	// Key is nil for a block without for_each or count, a string for
	// for_each, an int for count.
	Key any
}

func (a Addr) String() string {
	s := a.Type + "." + a.Name
	switch k := a.Key.(type) {
	case nil:
	case string:
		s += "[" + strconv.Quote(k) + "]"
	case int:
		s += "[" + strconv.Itoa(k) + "]"
	default:
		panic(fmt.Sprintf("config: address key of type %T", k))
	}
	return s
}

// Resource returns the address of the resource (the block) the instance
// belongs to, without its key.
func (a Addr) Resource() Addr {
	return Addr{Type: a.Type, Name: a.Name}
}
