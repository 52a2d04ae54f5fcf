package localhub

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// The configurations store: one record per configuration in
// bucketConfigurations under its ID, and in the meta bucket the counter
// that orders their creation.
var (
	bucketConfigurations = []byte("configurations")
	keyConfigurationSeq  = []byte("configurationSeq")
)

// configRecord is one automatic configuration.
type configRecord struct {
	Schema        int               `json:"schema"`
	ID            string            `json:"id"`
	SchemaVersion string            `json:"schemaVersion,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	// Exactly one of DeviceContent and ModuleContent is set, as given
	// (decoded JSON); it never changes after creation.
	DeviceContent   map[string]any `json:"deviceContent,omitempty"`
	ModuleContent   map[string]any `json:"moduleContent,omitempty"`
	ContentType     string         `json:"contentType,omitempty"`
	TargetCondition string         `json:"targetCondition"`
	Priority        int            `json:"priority"`
	Created         time.Time      `json:"created"`
	Updated         time.Time      `json:"updated"`
	// Seq orders the creations, for configurations created at the same
	// instant.
	Seq uint64 `json:"seq"`
	// ETagSeq is the write counter: 1 after create, one more after every
	// update. Metrics do not count as writes.
	ETagSeq uint64            `json:"etagSeq"`
	Metrics map[string]string `json:"metrics,omitempty"`
	// Results are the last computed metrics: Targeted and Applied, and
	// the custom ones by name.
	Targeted int64            `json:"targeted"`
	Applied  int64            `json:"applied"`
	Results  map[string]int64 `json:"results,omitempty"`
}

// modules reports whether the configuration targets module twins.
func (r *configRecord) modules() bool { return r.ModuleContent != nil }

// wire returns the configuration as the hub's wire type.
func (r *configRecord) wire() *hub.Configuration {
	c := &hub.Configuration{
		ID:                 r.ID,
		SchemaVersion:      r.SchemaVersion,
		Labels:             maps.Clone(r.Labels),
		ContentType:        r.ContentType,
		TargetCondition:    r.TargetCondition,
		CreatedTimeUTC:     r.Created,
		LastUpdatedTimeUTC: r.Updated,
		Priority:           r.Priority,
		ETag:               identityETag(r.ETagSeq),
		SystemMetrics: &hub.ConfigurationMetrics{
			Results: map[string]int64{hub.MetricTargetedCount: r.Targeted, hub.MetricAppliedCount: r.Applied},
			Queries: r.systemQueries(),
		},
		Metrics: &hub.ConfigurationMetrics{Results: map[string]int64{}, Queries: map[string]string{}},
	}
	if r.modules() {
		c.Content.ModuleContent = cloneJSON(r.ModuleContent)
	} else {
		c.Content.DeviceContent = cloneJSON(r.DeviceContent)
	}
	for name, q := range r.Metrics {
		c.Metrics.Queries[name] = q
		c.Metrics.Results[name] = r.Results[name]
	}
	return c
}

// systemQueries are the queries of the system metrics, in the query
// language: what targetedCount and appliedCount count.
func (r *configRecord) systemQueries() map[string]string {
	sel := "SELECT deviceId FROM devices"
	if r.modules() {
		sel = "SELECT deviceId, moduleId FROM devices.modules"
	}
	cond := strings.TrimSpace(r.TargetCondition)
	if m := moduleTargetForm.FindStringSubmatch(cond); m != nil {
		cond = strings.TrimSpace(m[1])
	}
	targeted := sel
	switch cond {
	case "":
		if strings.TrimSpace(r.TargetCondition) == "" {
			targeted = sel + " WHERE false"
		}
	case "*":
	default:
		targeted = sel + " WHERE " + cond
	}
	return map[string]string{
		hub.MetricTargetedCount: targeted,
		hub.MetricAppliedCount:  sel + " WHERE configurations.[[" + r.ID + "]].status = 'Applied'",
	}
}

func decodeConfig(v []byte) (*configRecord, error) {
	var r configRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decode configuration record: %w", err)
	}
	if r.Schema > schemaVersion {
		return nil, fmt.Errorf("configuration record %q has schema version %d; this iotplan reads versions up to %d", r.ID, r.Schema, schemaVersion)
	}
	return &r, nil
}

// getConfig reads a configuration record, or returns nil when there is
// none.
func getConfig(tx *bolt.Tx, id string) (*configRecord, error) {
	b := tx.Bucket(bucketConfigurations)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	return decodeConfig(v)
}

// putConfig writes a configuration record, creating the bucket when
// needed.
func putConfig(tx *bolt.Tx, r *configRecord) error {
	b, err := tx.CreateBucketIfNotExists(bucketConfigurations)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketConfigurations, err)
	}
	r.Schema = schemaVersion
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode configuration record: %w", err)
	}
	return b.Put([]byte(r.ID), v)
}

// allConfigs reads every configuration record, sorted by ID.
func allConfigs(tx *bolt.Tx) ([]*configRecord, error) {
	b := tx.Bucket(bucketConfigurations)
	if b == nil {
		return nil, nil
	}
	var out []*configRecord
	err := b.ForEach(func(_, v []byte) error {
		r, err := decodeConfig(v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// twinConfigurations is what automatic configurations left on one twin.
type twinConfigurations struct {
	// Status is what each configuration that targets the twin is to it.
	Status map[string]hub.ConfigurationStatus `json:"status,omitempty"`
	// Written maps each desired property the configurations wrote (its
	// path below desired, keys joined by ".", which twin keys cannot
	// contain) to the configuration whose value it holds. Content never
	// changes, so the pair names the value.
	Written map[string]string `json:"written,omitempty"`
}

// wire returns the twin's configurations member; nil when there is none.
func (c *twinConfigurations) wire() map[string]hub.TwinConfiguration {
	if c == nil || len(c.Status) == 0 {
		return nil
	}
	out := make(map[string]hub.TwinConfiguration, len(c.Status))
	for id, s := range c.Status {
		out[id] = hub.TwinConfiguration{Status: s}
	}
	return out
}

func (c *twinConfigurations) empty() bool {
	return c == nil || len(c.Status) == 0 && len(c.Written) == 0
}

// equal reports whether c and o hold the same state; nil equals empty.
func (c *twinConfigurations) equal(o *twinConfigurations) bool {
	if c.empty() || o.empty() {
		return c.empty() && o.empty()
	}
	return maps.Equal(c.Status, o.Status) && maps.Equal(c.Written, o.Written)
}
