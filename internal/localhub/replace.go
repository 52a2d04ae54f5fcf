package localhub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// ReplaceTwin replaces the tags and the desired properties of a device twin
// (IoT Hub's twin PUT): the replacement's Tags and Desired become the
// twin's, a nil map leaving its section empty. Every replace counts as a
// write to both sections: desired $version and the twin version go up by
// one, the twin gets a new etag, and desired $metadata is stamped afresh at
// every level. Reported properties stay as they are. ifMatch is optional,
// as for PatchTwin.
//
// Connected devices are told of the new desired document as a whole
// (DesiredChange.Replace).
func (h *Hub) ReplaceTwin(ctx context.Context, deviceID string, replacement hub.TwinPatch, ifMatch string) (*hub.Twin, error) {
	return h.replaceTwin(ctx, deviceID, "", replacement, ifMatch)
}

// ReplaceModuleTwin replaces the tags and desired properties of a module
// twin under the rules of ReplaceTwin.
func (h *Hub) ReplaceModuleTwin(ctx context.Context, deviceID, moduleID string, replacement hub.TwinPatch, ifMatch string) (*hub.Twin, error) {
	if moduleID == "" {
		return nil, checkID("module", moduleID)
	}
	return h.replaceTwin(ctx, deviceID, moduleID, replacement, ifMatch)
}

func (h *Hub) replaceTwin(ctx context.Context, deviceID, moduleID string, replacement hub.TwinPatch, ifMatch string) (*hub.Twin, error) {
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
	tags, err := storedSection(hub.SectionTags, replacement.Tags)
	if err != nil {
		return nil, err
	}
	desired, err := storedSection(hub.SectionDesired, replacement.Desired)
	if err != nil {
		return nil, err
	}
	var out *hub.Twin
	err = h.update("replace twin", func(tx *bolt.Tx) error {
		if moduleID == "" {
			r, err := getDevice(tx, deviceID)
			if err != nil {
				return err
			}
			if r == nil {
				return deviceNotFound(deviceID)
			}
			if err := h.replaceIn(tx, &r.Twin, tags, desired, ifMatch, fmt.Sprintf("the twin of device %q", deviceID)); err != nil {
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
		if err := h.replaceIn(tx, &r.Twin, tags, desired, ifMatch, fmt.Sprintf("the twin of module %q of device %q", moduleID, deviceID)); err != nil {
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
	h.notifyDesired(DesiredChange{DeviceID: deviceID, ModuleID: moduleID, Patch: nonNil(desired), Replace: true,
		Version: out.Properties.Desired.Version()})
	return out, nil
}

// replaceIn checks the etag and replaces both sections of a twin.
func (h *Hub) replaceIn(tx *bolt.Tx, t *twinRecord, tags, desired map[string]any, ifMatch, what string) error {
	if etag := twinETag(t.ETagSeq); !etagMatches(ifMatch, etag) {
		return preconditionFailed(what, etag, ifMatch)
	}
	now := h.clock()
	t.replaceTags(tags)
	t.replaceDesired(desired, now)
	t.Version++
	seq, err := nextTwinETag(tx)
	if err != nil {
		return err
	}
	t.ETagSeq = seq
	return nil
}

// replaceTags makes tags the twin's tags; IoT Hub keeps no $metadata for
// them.
func (t *twinRecord) replaceTags(tags map[string]any) {
	if len(tags) == 0 {
		tags = nil
	}
	t.Tags = tags
}

// replaceDesired makes desired the twin's desired properties at the next
// $version, with every $metadata node stamped now. The caller counts the
// twin version.
func (t *twinRecord) replaceDesired(desired map[string]any, now time.Time) {
	version := t.Desired.Version + 1
	t.Desired = section{Version: version, Meta: &metaNode{}}
	t.Desired.merge(desired, metaNode{LastUpdated: now, Version: version})
}

// storedSection makes a section's new content plain JSON, shared with no
// caller, and checks it as stored content: unlike in a patch, nil values
// are refused. An empty section is nil.
func storedSection(name string, in map[string]any) (map[string]any, error) {
	if len(in) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "invalid twin %s: %v", name, err)
	}
	var out map[string]any
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&out); err != nil {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "invalid twin %s: %v", name, err)
	}
	if problems := hub.ValidateTwinSection(name, out, false); len(problems) > 0 {
		return nil, twinContentError(name, problems)
	}
	return out, nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
