package localhub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// Twin returns a device twin.
func (h *Hub) Twin(ctx context.Context, deviceID string) (*hub.Twin, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkID("device", deviceID); err != nil {
		return nil, err
	}
	var t *hub.Twin
	err := h.view("read twin", func(tx *bolt.Tx) error {
		r, err := getDevice(tx, deviceID)
		if err != nil {
			return err
		}
		if r == nil {
			return deviceNotFound(deviceID)
		}
		t = r.twin()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ModuleTwin returns a module twin.
func (h *Hub) ModuleTwin(ctx context.Context, deviceID, moduleID string) (*hub.Twin, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkModuleIDs(deviceID, moduleID); err != nil {
		return nil, err
	}
	var t *hub.Twin
	err := h.view("read module twin", func(tx *bolt.Tx) error {
		r, err := findModule(tx, deviceID, moduleID)
		if err != nil {
			return err
		}
		t = r.twin()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// PatchTwin merges tags and desired properties into a device twin; see
// twinRecord.patch for the rules. ifMatch is optional: "" or "*" write
// unconditionally.
func (h *Hub) PatchTwin(ctx context.Context, deviceID string, patch hub.TwinPatch, ifMatch string) (*hub.Twin, error) {
	return h.patchTwin(ctx, deviceID, "", twinChange{tags: patch.Tags, desired: patch.Desired}, ifMatch)
}

// PatchModuleTwin merges tags and desired properties into a module twin,
// under the rules of PatchTwin.
func (h *Hub) PatchModuleTwin(ctx context.Context, deviceID, moduleID string, patch hub.TwinPatch, ifMatch string) (*hub.Twin, error) {
	if moduleID == "" {
		return nil, checkID("module", moduleID)
	}
	return h.patchTwin(ctx, deviceID, moduleID, twinChange{tags: patch.Tags, desired: patch.Desired}, ifMatch)
}

// UpdateReported merges a patch into the reported properties of a device
// twin (moduleID "") or a module twin, as a device does: a nil value removes
// a key, objects merge recursively. Reported $version and the twin version
// go up by one and the twin gets a new etag. It is the device side of the
// hub and not part of hub.Hub.
func (h *Hub) UpdateReported(ctx context.Context, deviceID, moduleID string, patch map[string]any) (*hub.Twin, error) {
	return h.patchTwin(ctx, deviceID, moduleID, twinChange{reported: patch}, "")
}

// twinChange is one write to a twin's sections; a nil map leaves its
// section alone.
type twinChange struct {
	tags, desired, reported map[string]any
}

func (h *Hub) patchTwin(ctx context.Context, deviceID, moduleID string, ch twinChange, ifMatch string) (*hub.Twin, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkID("device", deviceID); err != nil {
		return nil, err
	}
	if moduleID != "" {
		if err := checkID("module", moduleID); err != nil {
			return nil, err
		}
	}
	ch, err := ch.normalize()
	if err != nil {
		return nil, err
	}
	var out *hub.Twin
	err = h.update("update twin", func(tx *bolt.Tx) error {
		if moduleID == "" {
			r, err := getDevice(tx, deviceID)
			if err != nil {
				return err
			}
			if r == nil {
				return deviceNotFound(deviceID)
			}
			if err := h.applyTwin(tx, &r.Twin, ch, ifMatch, fmt.Sprintf("the twin of device %q", deviceID)); err != nil {
				return err
			}
			if err := putDevice(tx, r); err != nil {
				return err
			}
			out = r.twin()
			return nil
		}
		r, err := findModule(tx, deviceID, moduleID)
		if err != nil {
			return err
		}
		if err := h.applyTwin(tx, &r.Twin, ch, ifMatch, fmt.Sprintf("the twin of module %q of device %q", moduleID, deviceID)); err != nil {
			return err
		}
		if err := putModule(tx, r); err != nil {
			return err
		}
		out = r.twin()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ch.desired) > 0 {
		h.notifyDesired(DesiredChange{DeviceID: deviceID, ModuleID: moduleID, Patch: ch.desired, Version: out.Properties.Desired.Version()})
	}
	return out, nil
}

// applyTwin checks the etag, applies the change and checks the result.
func (h *Hub) applyTwin(tx *bolt.Tx, t *twinRecord, ch twinChange, ifMatch, what string) error {
	if etag := twinETag(t.ETagSeq); !etagMatches(ifMatch, etag) {
		return preconditionFailed(what, etag, ifMatch)
	}
	if !t.apply(ch, h.clock()) {
		return nil
	}
	for _, s := range []struct {
		name  string
		props map[string]any
		write bool
	}{
		{hub.SectionTags, t.Tags, len(ch.tags) > 0},
		{hub.SectionDesired, t.Desired.Props, len(ch.desired) > 0},
		{hub.SectionReported, t.Reported.Props, len(ch.reported) > 0},
	} {
		if !s.write {
			continue
		}
		if problems := hub.ValidateTwinSection(s.name, s.props, false); len(problems) > 0 {
			return twinContentError(s.name, problems)
		}
	}
	seq, err := nextTwinETag(tx)
	if err != nil {
		return err
	}
	t.ETagSeq = seq
	return nil
}

// normalize makes the change plain JSON, as it would be after a trip
// through the REST API: numbers become float64, typed maps and slices
// become map[string]any and []any, and nothing is shared with the caller.
// Then it checks each section's content; nil values are allowed, as they
// remove keys.
func (ch twinChange) normalize() (twinChange, error) {
	var out twinChange
	for _, s := range []struct {
		name string
		in   map[string]any
		out  *map[string]any
	}{
		{hub.SectionTags, ch.tags, &out.tags},
		{hub.SectionDesired, ch.desired, &out.desired},
		{hub.SectionReported, ch.reported, &out.reported},
	} {
		if len(s.in) == 0 {
			continue
		}
		b, err := json.Marshal(s.in)
		if err != nil {
			return twinChange{}, hub.Errorf(hub.CodeArgumentInvalid, "invalid twin %s: %v", s.name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(s.out); err != nil {
			return twinChange{}, hub.Errorf(hub.CodeArgumentInvalid, "invalid twin %s: %v", s.name, err)
		}
		if problems := hub.ValidateTwinSection(s.name, *s.out, true); len(problems) > 0 {
			return twinChange{}, twinContentError(s.name, problems)
		}
	}
	return out, nil
}

// newTwin is the twin of a new identity: no tags, empty desired and
// reported collections at $version 1, twin version 1. The root $metadata
// of both collections carries the creation time, and desired's also
// $lastUpdatedVersion 1.
func newTwin(now time.Time, etagSeq uint64) twinRecord {
	return twinRecord{
		Version:  1,
		ETagSeq:  etagSeq,
		Desired:  section{Version: 1, Meta: &metaNode{LastUpdated: now, Version: 1}},
		Reported: section{Version: 1, Meta: &metaNode{LastUpdated: now}},
	}
}

// apply merges a change into the twin and reports whether anything was
// written. A section counts as written when its patch has at least one key,
// even when the values equal the stored ones: the write still refreshes
// $metadata, so it bumps the section's $version. The twin version goes up by
// one per write, whatever sections it touched; the caller gives the twin a
// new etag.
//
// Merge rules (IoT Hub's twin PATCH): absent keys stay as they are; a key
// with a nil value is removed; an object merges recursively into an object
// and replaces anything else; any other value replaces the stored one.
// Objects emptied by removals stay in the twin as {}, and an empty object in
// the patch stores {}: IoT Hub removes a key only when told to with null.
func (t *twinRecord) apply(ch twinChange, now time.Time) bool {
	if len(ch.tags) == 0 && len(ch.desired) == 0 && len(ch.reported) == 0 {
		return false
	}
	if len(ch.tags) > 0 {
		if t.Tags == nil {
			t.Tags = map[string]any{}
		}
		// IoT Hub keeps no $metadata for tags.
		mergeProps(t.Tags, ch.tags, nil, metaNode{})
		if len(t.Tags) == 0 {
			t.Tags = nil
		}
	}
	if len(ch.desired) > 0 {
		t.Desired.Version++
		t.Desired.merge(ch.desired, metaNode{LastUpdated: now, Version: t.Desired.Version})
	}
	if len(ch.reported) > 0 {
		t.Reported.Version++
		t.Reported.merge(ch.reported, metaNode{LastUpdated: now})
	}
	t.Version++
	return true
}

func (s *section) merge(patch map[string]any, stamp metaNode) {
	if s.Props == nil {
		s.Props = map[string]any{}
	}
	if s.Meta == nil {
		s.Meta = &metaNode{}
	}
	mergeProps(s.Props, patch, s.Meta, stamp)
	if len(s.Props) == 0 {
		s.Props = nil
	}
}

// mergeProps merges patch into dst and keeps meta, the $metadata node of
// dst, in step: every object of the patch stamps its node, since something
// under it was written; a removed key loses its node, so the removal shows
// only in its parent's stamp; a written leaf gets a fresh node. meta is nil
// for sections without metadata.
func mergeProps(dst, patch map[string]any, meta *metaNode, stamp metaNode) {
	if meta != nil {
		meta.LastUpdated, meta.Version = stamp.LastUpdated, stamp.Version
	}
	for k, pv := range patch {
		if pv == nil {
			delete(dst, k)
			if meta != nil {
				delete(meta.Children, k)
			}
			continue
		}
		po, isObject := pv.(map[string]any)
		if !isObject {
			dst[k] = pv
			if meta != nil {
				meta.child(k, true).stamp(stamp)
			}
			continue
		}
		do, ok := dst[k].(map[string]any)
		fresh := !ok
		if fresh {
			do = map[string]any{}
			dst[k] = do
		}
		var childMeta *metaNode
		if meta != nil {
			childMeta = meta.child(k, fresh)
		}
		mergeProps(do, po, childMeta, stamp)
	}
}

// child returns the node of member k, a new empty one when there is none
// or when reset is set (the member's value was replaced).
func (m *metaNode) child(k string, reset bool) *metaNode {
	if m.Children == nil {
		m.Children = map[string]*metaNode{}
	}
	c := m.Children[k]
	if c == nil || reset {
		c = &metaNode{}
		m.Children[k] = c
	}
	return c
}

func (m *metaNode) stamp(s metaNode) {
	m.LastUpdated, m.Version = s.LastUpdated, s.Version
}

// metadataTimeFormat is how IoT Hub writes $lastUpdated: UTC with seven
// fractional digits.
const metadataTimeFormat = "2006-01-02T15:04:05.0000000Z"

// wire renders the twin record's own members; the caller adds the identity
// fields it mirrors.
func (t *twinRecord) wire() *hub.Twin {
	var tags map[string]any
	if len(t.Tags) > 0 {
		tags = t.Tags
	}
	return &hub.Twin{
		ETag:    twinETag(t.ETagSeq),
		Version: t.Version,
		Tags:    tags,
		Properties: hub.TwinProperties{
			Desired:  t.Desired.collection(),
			Reported: t.Reported.collection(),
		},
		Configurations: t.Configurations.wire(),
	}
}

// collection renders a section as on the wire: its properties plus
// "$version" and "$metadata", with numbers as float64 like any decoded JSON.
func (s *section) collection() hub.TwinCollection {
	c := make(hub.TwinCollection, len(s.Props)+2)
	maps.Copy(c, s.Props)
	c["$version"] = float64(s.Version)
	meta := s.Meta
	if meta == nil {
		meta = &metaNode{}
	}
	c["$metadata"] = meta.wire()
	return c
}

func (m *metaNode) wire() map[string]any {
	out := make(map[string]any, len(m.Children)+2)
	out["$lastUpdated"] = m.LastUpdated.UTC().Format(metadataTimeFormat)
	if m.Version != 0 {
		out["$lastUpdatedVersion"] = float64(m.Version)
	}
	for k, c := range m.Children {
		out[k] = c.wire()
	}
	return out
}
