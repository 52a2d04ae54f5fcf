package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"slices"

	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

// FormatVersion is the version of the JSON formats of `plan -json` and
// `show -json`, documented in docs/json-format.md and described by
// docs/plan.schema.json. A new field or a new value of an enumeration bumps
// the minor version, and readers ignore what they do not know; a field
// removed, renamed or given another meaning bumps the major version.
const FormatVersion = "1.2"

type jsonPlan struct {
	FormatVersion string `json:"format_version"`
	Lineage       string `json:"lineage"`
	Serial        uint64 `json:"serial"`
	Hub           string `json:"hub,omitempty"`
	Destroy       bool   `json:"destroy"`
	RefreshOnly   bool   `json:"refresh_only"`
	HasChanges    bool   `json:"has_changes"`
	// JSON writes "resource_changes" ([]jsonChange) and "summary"
	// (jsonSummary) after these, one change at a time.
}

type jsonChange struct {
	Address   string     `json:"address"`
	Type      string     `json:"type"`
	DeviceID  string     `json:"device_id,omitempty"`
	ObjectID  string     `json:"object_id,omitempty"`
	Condition string     `json:"condition,omitempty"`
	Preview   *int       `json:"targets_now,omitempty"`
	ModuleID  string     `json:"module_id,omitempty"`
	Action    string     `json:"action"`
	Reason    string     `json:"reason,omitempty"`
	Drift     bool       `json:"drift"`
	Gone      bool       `json:"gone,omitempty"`
	MovedFrom string     `json:"moved_from,omitempty"`
	Importing bool       `json:"importing,omitempty"`
	ImportID  string     `json:"import_id,omitempty"`
	Before    *jsonBody  `json:"before"`
	After     *jsonBody  `json:"after"`
	Changes   []jsonAttr `json:"attribute_changes"`
	Owned     int        `json:"unchanged_owned_keys"`
	Foreign   int        `json:"foreign_keys"`
	DependsOn []string   `json:"dependencies"`
}

type jsonResource struct {
	DeviceID     string `json:"device_id"`
	ModuleID     string `json:"module_id,omitempty"`
	Status       string `json:"status,omitempty"`
	StatusReason string `json:"status_reason"`
	Auth         string `json:"auth"`
	// The thumbprints of x509_thumbprint auth.
	PrimaryThumbprint   string `json:"primary_thumbprint,omitempty"`
	SecondaryThumbprint string `json:"secondary_thumbprint,omitempty"`
	Edge                bool   `json:"edge,omitempty"`
	Parent              string `json:"parent,omitempty"`
	ManagedBy           string `json:"managed_by,omitempty"`
	KeyVersion          int    `json:"key_version,omitempty"`
	// Tags and Desired are objects, or "(sensitive value)".
	Tags    any `json:"tags"`
	Desired any `json:"desired"`
	// Sensitive lists the paths whose values are shown as
	// "(sensitive value)".
	Sensitive []string `json:"sensitive_paths"`
}

type jsonAttr struct {
	Path      string `json:"path"`
	Action    string `json:"action"`
	Before    any    `json:"before"`
	After     any    `json:"after"`
	Drift     bool   `json:"drift"`
	Prior     any    `json:"prior,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

type jsonSummary struct {
	Add       int `json:"add"`
	Change    int `json:"change"`
	Destroy   int `json:"destroy"`
	Unchanged int `json:"unchanged"`
	Import    int `json:"import"`
	Move      int `json:"move"`
	Drift     int `json:"drift"`
}

// JSON writes p in the documented machine-readable format. It writes one
// change at a time, so that a plan of any size needs little more memory
// than its largest change.
func JSON(w io.Writer, p *plan.Plan) error {
	bw := bufio.NewWriter(w)
	head, err := json.MarshalIndent(jsonPlan{FormatVersion: FormatVersion, Lineage: p.Lineage, Serial: p.Serial, Hub: p.Hub,
		Destroy: p.Destroy, RefreshOnly: p.RefreshOnly, HasChanges: p.HasChanges()}, "", "  ")
	if err != nil {
		return err
	}
	bw.Write(bytes.TrimSuffix(head, []byte("\n}")))
	bw.WriteString(",\n  \"resource_changes\": [")
	var sum jsonSummary
	for i, c := range p.Changes {
		if c.Importing {
			sum.Import++
		}
		if c.MovedFrom != "" {
			sum.Move++
		}
		if changedOutside(c) {
			sum.Drift++
		}
		b, err := json.MarshalIndent(jsonChangeOf(c), "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	if len(p.Changes) > 0 {
		bw.WriteString("\n  ")
	}
	sum.Add, sum.Change, sum.Destroy = p.Counts()
	sum.Unchanged = p.Unchanged
	b, err := json.MarshalIndent(sum, "  ", "  ")
	if err != nil {
		return err
	}
	bw.WriteString("],\n  \"summary\": ")
	bw.Write(b)
	bw.WriteString("\n}\n")
	return bw.Flush()
}

func jsonChangeOf(c *plan.Change) jsonChange {
	jc := jsonChange{Address: c.Addr, Type: c.Type, ModuleID: moduleID(c), Action: c.Action.String(),
		Reason: c.Reason, Drift: drifted(c), Gone: c.Gone, MovedFrom: c.MovedFrom, Importing: c.Importing, ImportID: c.ImportID,
		Before: jsonRes(c.Before), After: jsonRes(c.After), Changes: []jsonAttr{}, Owned: c.Owned, Foreign: c.Foreign,
		DependsOn: sortedCopy(c.Dependencies)}
	if c.Type == state.TypeConfiguration || c.Type == state.TypeJob {
		jc.ObjectID, jc.Condition = c.HubID(), c.Condition
		if c.Condition != "" && c.Preview >= 0 {
			n := c.Preview
			jc.Preview = &n
		}
	} else {
		jc.DeviceID = c.DeviceID()
	}
	for _, a := range c.Attrs {
		ja := jsonAttr{Path: a.Path, Action: a.Op.String(), Before: a.Before, After: a.After, Drift: a.Drift, Prior: a.Prior}
		if a.Sensitive {
			ja.Sensitive = true
			ja.Before, ja.After, ja.Prior = hideIf(a.Before), hideIf(a.After), nil
		}
		jc.Changes = append(jc.Changes, ja)
	}
	return jc
}

// jsonAutomation is a configuration or a job: its hub ID and what the
// configuration declares of it.
type jsonAutomation struct {
	ObjectID  string         `json:"object_id"`
	Spec      map[string]any `json:"spec"`
	JobStatus string         `json:"job_status,omitempty"`
}

// jsonBody is the before or after of a change: a resource (a device or a
// module) or an automation object (a configuration or a job).
type jsonBody struct {
	res  *jsonResource
	auto *jsonAutomation
}

func (b jsonBody) MarshalJSON() ([]byte, error) {
	if b.auto != nil {
		return json.Marshal(b.auto)
	}
	return json.Marshal(b.res)
}

func (b *jsonBody) UnmarshalJSON(data []byte) error {
	var probe struct {
		ObjectID *string `json:"object_id"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return err
	}
	if probe.ObjectID != nil {
		b.auto = &jsonAutomation{}
		return json.Unmarshal(data, b.auto)
	}
	b.res = &jsonResource{}
	return json.Unmarshal(data, b.res)
}

func jsonRes(r *state.Resource) *jsonBody {
	if r == nil {
		return nil
	}
	if r.Type == state.TypeConfiguration || r.Type == state.TypeJob {
		return &jsonBody{auto: &jsonAutomation{ObjectID: r.ObjectID, Spec: orEmpty(r.Spec), JobStatus: r.JobStatus}}
	}
	return &jsonBody{res: jsonResourceOf(r)}
}

func jsonResourceOf(r *state.Resource) *jsonResource {
	return &jsonResource{DeviceID: r.DeviceID, ModuleID: r.ModuleID, Status: string(r.Status), StatusReason: r.StatusReason,
		Auth: authName(r.Auth), PrimaryThumbprint: r.PrimaryThumbprint, SecondaryThumbprint: r.SecondaryThumbprint,
		Edge: r.Edge, Parent: r.Parent, ManagedBy: r.ManagedBy, KeyVersion: r.KeyVersion,
		Tags: redacted(orEmpty(r.Tags), "tags", r.Sensitive), Desired: redacted(orEmpty(r.Desired), "desired", r.Sensitive),
		Sensitive: sortedCopy(r.Sensitive)}
}

// moduleID is the module a change is about, "" for a device.
func moduleID(c *plan.Change) string {
	if c.After != nil {
		return c.After.ModuleID
	}
	return c.Before.ModuleID
}

// sortedCopy returns s sorted, never nil, so that it encodes as [].
func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}

// hideIf hides a present value, keeping absence visible.
func hideIf(v any) any {
	if v == nil {
		return nil
	}
	return hidden{}
}

// MarshalJSON writes a hidden value as the sensitive marker.
func (hidden) MarshalJSON() ([]byte, error) { return json.Marshal(sensitiveValue) }

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
