package localhub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/query"
)

// compiledConfig is a configuration ready to be evaluated, with the
// metrics one pass computes for it.
type compiledConfig struct {
	id       string
	priority int
	created  time.Time
	seq      uint64
	modules  bool
	target   *query.Query // nil: targets nothing
	leaves   []contentLeaf
	metrics  map[string]*query.Query
	queries  map[string]string // the text of each metric

	targeted, applied int64
	results           map[string]int64
}

func compileConfig(r *configRecord) (*compiledConfig, error) {
	c := &compiledConfig{id: r.ID, priority: r.Priority, created: r.Created, seq: r.Seq, modules: r.modules(),
		metrics: map[string]*query.Query{}, queries: maps.Clone(r.Metrics), results: map[string]int64{}}
	var err error
	if c.target, err = compileTarget(r.TargetCondition, c.modules); err != nil {
		return nil, fmt.Errorf("configuration %q: %w", r.ID, err)
	}
	content := r.DeviceContent
	if c.modules {
		content = r.ModuleContent
	}
	if c.leaves, err = contentLeaves(content); err != nil {
		return nil, fmt.Errorf("configuration %q: %w", r.ID, err)
	}
	for name, q := range r.Metrics {
		pq, err := compileMetric(name, q, c.modules)
		if err != nil {
			return nil, fmt.Errorf("configuration %q: %w", r.ID, err)
		}
		c.metrics[name] = pq
		c.results[name] = 0
	}
	return c, nil
}

// precedes orders configurations by precedence, the winner first: higher
// priority, then the one created later.
func precedes(a, b *compiledConfig) int {
	if c := cmp.Compare(b.priority, a.priority); c != 0 {
		return c
	}
	if c := b.created.Compare(a.created); c != 0 {
		return c
	}
	return cmp.Compare(b.seq, a.seq)
}

// ApplyConfigurations runs one pass of the automatic configurations over
// every twin, and returns when it is done. For each device twin (module
// twin for module configurations) it finds the configurations whose target
// condition matches, writes into its desired properties, as a twin PATCH
// does, the content of the winning one at each path (the highest priority,
// then the one created last), takes out what configurations wrote that no
// longer applies, and records in the twin's configurations member which
// configurations target it ("Targeted") and which wrote some of their
// content ("Applied"). Then it computes every configuration's metrics.
//
// A value a configuration wrote is written again only when another
// configuration takes the path over: a change the twin's owner makes to it
// afterwards is left alone. RunConfigurations runs passes on its own; call
// this for in-process use, where none runs.
func (h *Hub) ApplyConfigurations(ctx context.Context) error {
	if h.readOnly {
		return fmt.Errorf("apply configurations: the hub database at %s is open %w", h.path, ErrReadOnly)
	}
	_, err := h.configurationPass(ctx)
	return err
}

// configurationPass is ApplyConfigurations; it reports whether it wrote
// any twin.
func (h *Hub) configurationPass(ctx context.Context) (wrote bool, err error) {
	h.configs.pass.Lock()
	defer h.configs.pass.Unlock()
	var recs []*configRecord
	if err := h.view("read configurations", func(tx *bolt.Tx) error {
		var err error
		recs, err = allConfigs(tx)
		return err
	}); err != nil {
		return false, err
	}
	var all []*compiledConfig
	for _, r := range recs {
		c, err := compileConfig(r)
		if err != nil {
			return false, fmt.Errorf("apply configurations: %w", err)
		}
		all = append(all, c)
	}
	slices.SortFunc(all, precedes)
	for _, src := range []source{sourceDevices, sourceModules} {
		var cs []*compiledConfig
		for _, c := range all {
			if c.modules == (src == sourceModules) {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 && h.configs.isClean(src) {
			continue
		}
		todo, stateLeft, err := h.evaluateTwins(ctx, src, cs)
		if err != nil {
			return wrote, err
		}
		n, err := h.writeTwinConfigurations(ctx, src, cs, todo)
		if err != nil {
			return wrote, err
		}
		wrote = wrote || n > 0
		h.configs.setClean(src, !stateLeft)
	}
	return wrote, h.writeMetrics(all)
}

// twinPlan is what one pass does to one twin.
type twinPlan struct {
	state *twinConfigurations // the twin's new configurations state; nil for none
	patch map[string]any      // the desired patch to write; nil for none
}

// planTwin decides what the configurations cs (sorted by precedence) do to
// one twin: doc is the twin as queries see it, old its configurations state
// and desired its desired properties. It reports whether anything changes.
func planTwin(doc map[string]any, old *twinConfigurations, desired map[string]any, cs []*compiledConfig) (twinPlan, bool) {
	state := &twinConfigurations{Status: map[string]hub.ConfigurationStatus{}, Written: map[string]string{}}
	var sets []contentLeaf
	var setBy []string
	for _, c := range cs {
		if c.target == nil || !c.target.Match(doc) {
			continue
		}
		status := hub.ConfigurationTargeted
		for _, l := range c.leaves {
			if claimedAround(state.Written, l.key) {
				continue
			}
			state.Written[l.key] = c.id
			sets = append(sets, l)
			setBy = append(setBy, c.id)
			status = hub.ConfigurationApplied
		}
		state.Status[c.id] = status
	}
	if state.empty() {
		state = nil
	}
	var oldWritten map[string]string
	if old != nil {
		oldWritten = old.Written
	}
	patch := map[string]any{}
	for _, key := range slices.Sorted(maps.Keys(oldWritten)) {
		if state == nil || state.Written[key] == "" {
			setPath(patch, strings.Split(key, "."), nil)
		}
	}
	for i, l := range sets {
		if oldWritten[l.key] != setBy[i] {
			setPath(patch, l.path, cloneJSONValue(l.value))
		}
	}
	pruneEmptied(patch, desired)
	if len(patch) == 0 {
		patch = nil
	}
	return twinPlan{state: state, patch: patch}, patch != nil || !state.equal(old)
}

// claimedAround reports whether written holds key, a path inside it, or a
// path it lies inside.
func claimedAround(written map[string]string, key string) bool {
	if _, ok := written[key]; ok {
		return true
	}
	for i := 0; i < len(key); i++ {
		if key[i] == '.' {
			if _, ok := written[key[:i]]; ok {
				return true
			}
		}
	}
	for k := range written {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// setPath sets path in the nested patch to v, making objects on the way
// and replacing whatever else is there.
func setPath(patch map[string]any, path []string, v any) {
	m := patch
	for _, s := range path[:len(path)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// pruneEmptied turns into a removal each object of patch that removes every
// member of a non-empty object of cur and sets nothing: what a
// configuration wrote goes away whole, without leaving an empty object.
func pruneEmptied(patch, cur map[string]any) {
	for k, pv := range patch {
		po, ok := pv.(map[string]any)
		if !ok {
			continue
		}
		co, ok := cur[k].(map[string]any)
		if !ok {
			continue
		}
		pruneEmptied(po, co)
		if len(co) == 0 {
			continue
		}
		all := true
		for ck := range co {
			if v, ok := po[ck]; !ok || v != nil {
				all = false
				break
			}
		}
		for _, v := range po {
			if v != nil {
				all = false
			}
		}
		if all {
			patch[k] = nil
		}
	}
}

// twinOf decodes a record of src into its twin record and the twin.
func twinOf(src source, v []byte) (*twinRecord, *hub.Twin, error) {
	if src == sourceModules {
		r, err := decodeModule(v)
		if err != nil {
			return nil, nil, err
		}
		return &r.Twin, r.twin(), nil
	}
	r, err := decodeDevice(v)
	if err != nil {
		return nil, nil, err
	}
	return &r.Twin, r.twin(), nil
}

// evaluateTwins reads every twin of src, plans what cs do to it, and counts
// the metrics of cs as they will stand once the plans are written. It
// returns the twins to write, and whether any twin will hold
// configuration state.
func (h *Hub) evaluateTwins(ctx context.Context, src source, cs []*compiledConfig) (todo []target, stateLeft bool, err error) {
	err = h.view("apply configurations", func(tx *bolt.Tx) error {
		b := tx.Bucket(src.bucket())
		if b == nil {
			return nil
		}
		n := 0
		return b.ForEach(func(_, v []byte) error {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			tr, t, err := twinOf(src, v)
			if err != nil {
				return err
			}
			doc, err := document(t)
			if err != nil {
				return err
			}
			plan, changed := planTwin(doc, tr.Configurations, tr.Desired.Props, cs)
			if changed {
				todo = append(todo, target{t.DeviceID, t.ModuleID})
			}
			if plan.state != nil {
				stateLeft = true
			}
			countMetrics(doc, plan, cs)
			return nil
		})
	})
	for _, c := range cs {
		for name, q := range c.metrics {
			if top, ok := q.Top(); ok {
				c.results[name] = min(c.results[name], int64(top))
			}
		}
	}
	return todo, stateLeft, err
}

// countMetrics adds one twin to the metrics of cs, as the twin stands once
// plan is written.
func countMetrics(doc map[string]any, plan twinPlan, cs []*compiledConfig) {
	if plan.state != nil {
		confs := map[string]any{}
		for id, s := range plan.state.Status {
			confs[id] = map[string]any{"status": string(s)}
		}
		doc["configurations"] = confs
	} else {
		delete(doc, "configurations")
	}
	if plan.patch != nil {
		if props, ok := doc["properties"].(map[string]any); ok {
			desired, ok := props["desired"].(map[string]any)
			if !ok {
				desired = map[string]any{}
				props["desired"] = desired
			}
			mergeProps(desired, cloneJSON(plan.patch), nil, metaNode{})
		}
	}
	for _, c := range cs {
		if plan.state != nil {
			switch plan.state.Status[c.id] {
			case hub.ConfigurationApplied:
				c.applied++
				c.targeted++
			case hub.ConfigurationTargeted:
				c.targeted++
			}
		}
		for name, q := range c.metrics {
			if q.Match(doc) {
				c.results[name]++
			}
		}
	}
}

// writeTwinConfigurations writes the plans of the twins todo names,
// jobBatch twins per transaction. Each twin is planned again from what the
// transaction reads, so that a write made since it was evaluated is not
// lost. A twin whose desired properties cannot take the content (they would
// outgrow the hub's limits) is left as it is. It returns the number of
// twins written.
func (h *Hub) writeTwinConfigurations(ctx context.Context, src source, cs []*compiledConfig, todo []target) (int, error) {
	written := 0
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		batch := todo[:min(jobBatch, len(todo))]
		todo = todo[len(batch):]
		var changes []DesiredChange
		err := h.update("apply configurations", func(tx *bolt.Tx) error {
			changes = changes[:0]
			for _, t := range batch {
				ch, err := h.writeTwinConfiguration(tx, src, t, cs)
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
			return written, err
		}
		written += len(batch)
		for _, ch := range changes {
			h.notifyDesired(ch)
		}
	}
	return written, nil
}

// writeTwinConfiguration plans and writes one twin inside tx, and returns
// the desired change it made, if any.
func (h *Hub) writeTwinConfiguration(tx *bolt.Tx, src source, t target, cs []*compiledConfig) (*DesiredChange, error) {
	var dev *deviceRecord
	var mod *moduleRecord
	var tr *twinRecord
	var wire *hub.Twin
	var err error
	if src == sourceModules {
		if mod, err = getModule(tx, t.deviceID, t.moduleID); err != nil || mod == nil {
			return nil, err
		}
		tr, wire = &mod.Twin, mod.twin()
	} else {
		if dev, err = getDevice(tx, t.deviceID); err != nil || dev == nil {
			return nil, err
		}
		tr, wire = &dev.Twin, dev.twin()
	}
	doc, err := document(wire)
	if err != nil {
		return nil, err
	}
	plan, changed := planTwin(doc, tr.Configurations, tr.Desired.Props, cs)
	if !changed {
		return nil, nil
	}
	var out *DesiredChange
	if plan.patch != nil {
		ch, err := twinChange{desired: plan.patch}.normalize()
		if err == nil {
			err = h.applyTwin(tx, tr, ch, "", "the twin")
		}
		var he *hub.Error
		if errors.As(err, &he) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		out = &DesiredChange{DeviceID: t.deviceID, ModuleID: t.moduleID, Patch: ch.desired, Version: tr.Desired.Version}
	}
	tr.Configurations = plan.state
	if mod != nil {
		err = putModule(tx, mod)
	} else {
		err = putDevice(tx, dev)
	}
	return out, err
}

// writeMetrics records the metrics a pass computed in the configurations
// that still exist. Metrics are not writes: etags stay.
func (h *Hub) writeMetrics(cs []*compiledConfig) error {
	if len(cs) == 0 {
		return nil
	}
	return h.update("record configuration metrics", func(tx *bolt.Tx) error {
		for _, c := range cs {
			r, err := getConfig(tx, c.id)
			if err != nil {
				return err
			}
			if r == nil {
				continue
			}
			results := map[string]int64{}
			for name, q := range r.Metrics {
				if v, ok := c.results[name]; ok && c.queries[name] == q {
					results[name] = v
				} else {
					results[name] = r.Results[name]
				}
			}
			if r.Targeted == c.targeted && r.Applied == c.applied && maps.Equal(r.Results, results) {
				continue
			}
			r.Targeted, r.Applied, r.Results = c.targeted, c.applied, results
			if err := putConfig(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
}
