package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

// A saved plan file is JSON with its own format version, separate from the
// machine-readable output of `plan -json`, which is meant for people and
// tools rather than for apply.

const planFileVersion = 1

type planFileV1 struct {
	FormatVersion int            `json:"plan_format_version"`
	Lineage       string         `json:"lineage"`
	Serial        uint64         `json:"serial"`
	Hub           string         `json:"hub,omitempty"`
	Destroy       bool           `json:"destroy,omitempty"`
	RefreshOnly   bool           `json:"refresh_only,omitempty"`
	Unchanged     int            `json:"unchanged"`
	Changes       []changeFileV1 `json:"changes"`
}

type changeFileV1 struct {
	Addr                string          `json:"address"`
	Type                string          `json:"type"`
	Action              string          `json:"action"`
	Before              *resourceFileV1 `json:"before,omitempty"`
	After               *resourceFileV1 `json:"after,omitempty"`
	Attrs               []attrFileV1    `json:"attributes,omitempty"`
	DeviceETag          string          `json:"device_etag,omitempty"`
	TwinETag            string          `json:"twin_etag,omitempty"`
	Gone                bool            `json:"gone,omitempty"`
	MovedFrom           string          `json:"moved_from,omitempty"`
	Importing           bool            `json:"importing,omitempty"`
	ImportID            string          `json:"import_id,omitempty"`
	Dependencies        []string        `json:"dependencies,omitempty"`
	CreateBeforeDestroy bool            `json:"create_before_destroy,omitempty"`
	Condition           string          `json:"condition,omitempty"`
	Preview             *int            `json:"preview,omitempty"`
	JobStatus           string          `json:"job_status,omitempty"`
	Owned               int             `json:"owned,omitempty"`
	Foreign             int             `json:"foreign,omitempty"`
	Reason              string          `json:"reason,omitempty"`
}

type resourceFileV1 struct {
	Addr                string `json:"address"`
	Type                string `json:"type"`
	DeviceID            string `json:"device_id"`
	ModuleID            string `json:"module_id,omitempty"`
	GenerationID        string `json:"generation_id,omitempty"`
	ETag                string `json:"etag,omitempty"`
	TwinETag            string `json:"twin_etag,omitempty"`
	Status              string `json:"status"`
	StatusReason        string `json:"status_reason,omitempty"`
	Auth                string `json:"auth"`
	PrimaryThumbprint   string `json:"primary_thumbprint,omitempty"`
	SecondaryThumbprint string `json:"secondary_thumbprint,omitempty"`
	ExplicitKeys        bool   `json:"explicit_keys,omitempty"`
	// PrimaryKey and SecondaryKey are keys the configuration gives (never
	// the hub's): apply needs them. The plan file is written 0600.
	PrimaryKey   string         `json:"primary_key,omitempty"`
	SecondaryKey string         `json:"secondary_key,omitempty"`
	KeyVersion   int            `json:"key_version,omitempty"`
	Edge         bool           `json:"edge,omitempty"`
	Parent       string         `json:"parent,omitempty"`
	ManagedBy    string         `json:"managed_by,omitempty"`
	Dependencies []string       `json:"dependencies,omitempty"`
	Sensitive    []string       `json:"sensitive_paths,omitempty"`
	ObjectID     string         `json:"object_id,omitempty"`
	Spec         map[string]any `json:"spec,omitempty"`
	JobStatus    string         `json:"job_status,omitempty"`
	Tags         map[string]any `json:"tags,omitempty"`
	Desired      map[string]any `json:"desired,omitempty"`
}

type attrFileV1 struct {
	Path      string `json:"path"`
	Op        string `json:"op"`
	Before    any    `json:"before,omitempty"`
	After     any    `json:"after,omitempty"`
	Drift     bool   `json:"drift,omitempty"`
	Prior     any    `json:"prior,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// WriteFile writes p as a saved plan. Secrets are never part of a plan.
func WriteFile(w io.Writer, p *Plan) error {
	f := planFileV1{FormatVersion: planFileVersion, Lineage: p.Lineage, Serial: p.Serial, Hub: p.Hub, Destroy: p.Destroy, RefreshOnly: p.RefreshOnly, Unchanged: p.Unchanged,
		Changes: make([]changeFileV1, 0, len(p.Changes))}
	for _, c := range p.Changes {
		cf := changeFileV1{Addr: c.Addr, Type: c.Type, Action: c.Action.String(), Before: resourceToFile(c.Before), After: resourceToFile(c.After),
			DeviceETag: c.DeviceETag, TwinETag: c.TwinETag, Gone: c.Gone, Owned: c.Owned, Foreign: c.Foreign, Reason: c.Reason,
			MovedFrom: c.MovedFrom, Importing: c.Importing, ImportID: c.ImportID, Dependencies: c.Dependencies,
			CreateBeforeDestroy: c.CreateBeforeDestroy, Condition: c.Condition, JobStatus: c.JobStatus}
		if c.Preview >= 0 && c.Condition != "" {
			n := c.Preview
			cf.Preview = &n
		}
		for _, a := range c.Attrs {
			cf.Attrs = append(cf.Attrs, attrFileV1{Path: a.Path, Op: a.Op.String(), Before: a.Before, After: a.After, Drift: a.Drift, Prior: a.Prior, Sensitive: a.Sensitive})
		}
		f.Changes = append(f.Changes, cf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// ErrNotPlanFile is returned by ReadFile for input that is not a saved plan.
var ErrNotPlanFile = errors.New("not an iotplan plan file")

// ReadFile reads a plan written by WriteFile.
func ReadFile(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var head struct {
		FormatVersion int `json:"plan_format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.FormatVersion == 0 {
		return nil, ErrNotPlanFile
	}
	if head.FormatVersion != planFileVersion {
		return nil, fmt.Errorf("plan file format %d is not supported by this version of iotplan (it reads format %d)", head.FormatVersion, planFileVersion)
	}
	var f planFileV1
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotPlanFile, err)
	}
	p := &Plan{Lineage: f.Lineage, Serial: f.Serial, Hub: f.Hub, Destroy: f.Destroy, RefreshOnly: f.RefreshOnly, Unchanged: f.Unchanged}
	for i, cf := range f.Changes {
		act, err := ParseAction(cf.Action)
		if err != nil {
			return nil, fmt.Errorf("change %d (%s): %w", i, cf.Addr, err)
		}
		c := &Change{Addr: cf.Addr, Type: cf.Type, Action: act, Before: resourceFromFile(cf.Before), After: resourceFromFile(cf.After),
			DeviceETag: cf.DeviceETag, TwinETag: cf.TwinETag, Gone: cf.Gone, Owned: cf.Owned, Foreign: cf.Foreign, Reason: cf.Reason,
			MovedFrom: cf.MovedFrom, Importing: cf.Importing, ImportID: cf.ImportID, Dependencies: cf.Dependencies,
			CreateBeforeDestroy: cf.CreateBeforeDestroy, Condition: cf.Condition, JobStatus: cf.JobStatus}
		switch {
		case cf.Preview != nil:
			c.Preview = *cf.Preview
		case cf.Condition != "":
			c.Preview = -1
		}
		if (act == Create || act == Update || act == Replace) && c.After == nil || (act == Delete || act == Update || act == Replace) && c.Before == nil {
			return nil, fmt.Errorf("change %d (%s): %s without the resource it needs", i, cf.Addr, act)
		}
		for _, af := range cf.Attrs {
			var op AttrOp
			switch af.Op {
			case "add":
				op = OpSet
			case "update":
				op = OpUpdate
			case "remove":
				op = OpRemove
			default:
				return nil, fmt.Errorf("change %d (%s): unknown attribute op %q", i, cf.Addr, af.Op)
			}
			c.Attrs = append(c.Attrs, AttrChange{Path: af.Path, Op: op, Before: af.Before, After: af.After, Drift: af.Drift, Prior: af.Prior, Sensitive: af.Sensitive})
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

func resourceToFile(r *state.Resource) *resourceFileV1 {
	if r == nil {
		return nil
	}
	f := &resourceFileV1{Addr: r.Addr, Type: r.Type, DeviceID: r.DeviceID, ModuleID: r.ModuleID, GenerationID: r.GenerationID, ETag: r.ETag,
		TwinETag: r.TwinETag, Status: string(r.Status), StatusReason: r.StatusReason, Auth: string(r.Auth),
		PrimaryThumbprint: r.PrimaryThumbprint, SecondaryThumbprint: r.SecondaryThumbprint, ExplicitKeys: r.ExplicitKeys,
		KeyVersion: r.KeyVersion, Edge: r.Edge, Parent: r.Parent, ManagedBy: r.ManagedBy, Dependencies: r.Dependencies,
		Sensitive: r.Sensitive, Tags: r.Tags, Desired: r.Desired, ObjectID: r.ObjectID, Spec: r.Spec, JobStatus: r.JobStatus}
	if r.ExplicitKeys {
		f.PrimaryKey, f.SecondaryKey = r.PrimaryKey, r.SecondaryKey
	}
	return f
}

func resourceFromFile(f *resourceFileV1) *state.Resource {
	if f == nil {
		return nil
	}
	r := &state.Resource{Addr: f.Addr, Type: f.Type, DeviceID: f.DeviceID, ModuleID: f.ModuleID, GenerationID: f.GenerationID, ETag: f.ETag,
		TwinETag: f.TwinETag, Status: hub.Status(f.Status), StatusReason: f.StatusReason, Auth: hub.AuthType(f.Auth),
		PrimaryThumbprint: f.PrimaryThumbprint, SecondaryThumbprint: f.SecondaryThumbprint, ExplicitKeys: f.ExplicitKeys,
		KeyVersion: f.KeyVersion, Edge: f.Edge, Parent: f.Parent, ManagedBy: f.ManagedBy, Dependencies: f.Dependencies,
		Sensitive: f.Sensitive, Tags: f.Tags, Desired: f.Desired, ObjectID: f.ObjectID, Spec: f.Spec, JobStatus: f.JobStatus}
	if f.ExplicitKeys {
		r.PrimaryKey, r.SecondaryKey = f.PrimaryKey, f.SecondaryKey
	}
	return r
}
