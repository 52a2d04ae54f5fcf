package plan

import (
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

// Plan is the set of changes that brings the hub to the configuration. It
// records the state it was computed from, so that a saved plan is applied
// only to that state.
type Plan struct {
	// Lineage and Serial identify the state the plan was made against.
	Lineage string
	Serial  uint64
	// Hub names the hub the plan was made for ("embedded hub …" or
	// "hub HOST"); a saved plan is applied only to that hub.
	Hub string
	// Destroy is true for a plan made by `iotplan destroy`.
	Destroy bool
	// RefreshOnly is true for a plan that changes nothing on the hub: its
	// changes say what changed outside iotplan, and applying it records
	// the hub's values in the state.
	RefreshOnly bool
	// Changes hold one entry per resource with something to do, sorted by
	// address. Resources with nothing to do are not listed.
	Changes []*Change
	// Unchanged counts the managed resources that need nothing.
	Unchanged int
	// Jobs lists the jobs created earlier that the plan leaves alone, with
	// their status as refresh saw it; for humans only.
	Jobs []*Change
}

// Change is one planned action on one resource.
type Change struct {
	Addr   string
	Type   string // "device"
	Action Action
	// Before is the resource as the state records it (nil on Create), with
	// secrets removed. After is the resource as the configuration wants it
	// (nil on Delete), without hub-assigned fields.
	Before, After *state.Resource
	// Attrs lists what changes, sorted by path. On Update these are what
	// apply writes; on Create and Delete they are informative.
	Attrs []AttrChange
	// DeviceETag and TwinETag were seen at refresh; apply sends the twin's
	// as If-Match so that a twin changed since then is not overwritten.
	DeviceETag string
	TwinETag   string
	// Gone is true when the resource no longer exists on the hub.
	Gone bool
	// MovedFrom is the address the state held the resource under, when a
	// moved block renamed it; "" otherwise.
	MovedFrom string
	// Importing is true when the change takes over an identity that exists
	// on the hub (an import block); ImportID is its ID.
	Importing bool
	ImportID  string
	// Dependencies are the addresses the resource depends on: apply creates
	// and updates it after them, and deletes it before them.
	Dependencies []string
	// CreateBeforeDestroy makes a replacement create the new object before
	// deleting the old one (configurations whose ID changes).
	CreateBeforeDestroy bool
	// Condition is the target condition of a configuration or the query of
	// a job; Preview is how many devices it matched when planned (-1 when
	// not counted). Both for humans only.
	Condition string
	Preview   int
	// JobStatus and JobStats are a job's status and device statistics as
	// refresh saw them; for humans only.
	JobStatus string
	JobStats  *hub.DeviceJobStatistics
	// Owned counts the owned twin keys that already hold their value;
	// Foreign counts the twin keys set by others, which apply leaves alone.
	// Both are for humans only.
	Owned, Foreign int
	// Reason explains the action to humans; apply never branches on it.
	Reason string
}

// DeviceID is the device the change is about: the new one when it has one.
func (c *Change) DeviceID() string {
	if c.After != nil {
		return c.After.DeviceID
	}
	return c.Before.DeviceID
}

// HubID is the identity the change is about, as the hub names it: a
// device ID, or "deviceID/moduleID"; the new one when it has one.
func (c *Change) HubID() string {
	if c.After != nil {
		return c.After.HubID()
	}
	return c.Before.HubID()
}

// RegistryChanged reports whether the identity's fields must be written.
func (c *Change) RegistryChanged() bool {
	for _, a := range c.Attrs {
		if a.Section() == "" {
			return true
		}
	}
	return false
}

// Patch returns the twin patch that an Update writes: owned keys set to
// their new values, removed keys set to nil. Sections without changes are
// nil.
func (c *Change) Patch() (tags, desired map[string]any) {
	for _, a := range c.Attrs {
		var m *map[string]any
		switch a.Section() {
		case "tags":
			m = &tags
		case "desired":
			m = &desired
		default:
			continue
		}
		if *m == nil {
			*m = map[string]any{}
		}
		v := a.After
		if a.Op == OpRemove {
			v = nil
		}
		setPath(*m, a.Key(), v)
	}
	return tags, desired
}

// AttrChange is a change to one attribute or one owned twin key.
type AttrChange struct {
	// Path is "status", "status_reason", or a twin key path such as
	// "tags.site" or "desired.config.interval".
	Path string
	Op   AttrOp
	// Before is the value on the hub (nil when absent), After the value the
	// configuration wants (nil on OpRemove).
	Before, After any
	// Drift is true when the hub's value is not what iotplan last wrote:
	// someone changed it outside iotplan. Prior is what iotplan wrote.
	Drift bool
	Prior any
	// Sensitive values are never shown.
	Sensitive bool
}

// AttrOp says what happens to an attribute.
type AttrOp int

// The operations on an attribute.
const (
	OpSet    AttrOp = iota // set a new value where none was
	OpUpdate               // replace a value
	OpRemove               // remove the key
)

func (o AttrOp) String() string {
	switch o {
	case OpSet:
		return "add"
	case OpUpdate:
		return "update"
	case OpRemove:
		return "remove"
	default:
		panic("plan: unknown attribute op")
	}
}

// Section is "tags" or "desired" for a twin key, "" for an identity field.
func (a AttrChange) Section() string {
	if s, _, ok := strings.Cut(a.Path, "."); ok && (s == "tags" || s == "desired") {
		return s
	}
	return ""
}

// Key is the path inside the twin section, "" for an identity field.
func (a AttrChange) Key() string {
	if a.Section() == "" {
		return ""
	}
	_, k, _ := strings.Cut(a.Path, ".")
	return k
}

// Counts returns how many resources the plan adds, changes and destroys, as
// Terraform counts them: a replace adds one and destroys one.
func (p *Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case NoOp:
			if c.Importing {
				change++
			}
		case Create:
			add++
		case Update:
			change++
		case Replace:
			add++
			destroy++
		case Delete:
			destroy++
		default:
			panic("plan: unknown action")
		}
	}
	return add, change, destroy
}

// HasChanges reports whether applying the plan would do anything, to the
// hub or to the state.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != NoOp || c.MovedFrom != "" || c.Importing {
			return true
		}
	}
	return false
}
