package gateway

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

// twinGet answers $iothub/twin/GET with the properties section of the
// identity's twin, {"desired":{…,"$version":n},"reported":{…,"$version":m}},
// not wrapped in "properties" (reference §6, twin GET rules).
func (g *Gateway) twinGet(s *session, t Topic) {
	var tw *hub.Twin
	var err error
	if s.id.moduleID == "" {
		tw, err = g.h.Twin(g.baseCtx, s.id.deviceID)
	} else {
		tw, err = g.h.ModuleTwin(g.baseCtx, s.id.deviceID, s.id.moduleID)
	}
	if err != nil {
		g.twinError(s, t.RequestID, err)
		return
	}
	body, err := json.Marshal(struct {
		Desired  map[string]any `json:"desired"`
		Reported map[string]any `json:"reported"`
	}{withoutMetadata(tw.Properties.Desired), withoutMetadata(tw.Properties.Reported)})
	if err != nil {
		g.twinError(s, t.RequestID, err)
		return
	}
	s.send(publish(Topic{Kind: TwinResponse, Status: http.StatusOK, RequestID: t.RequestID}.String(), body, 0, 0, false))
}

// withoutMetadata returns a collection without its $metadata, which devices
// are not sent.
func withoutMetadata(c hub.TwinCollection) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		if k != "$metadata" {
			out[k] = v
		}
	}
	return out
}

// reportedPatch merges a device's reported PATCH into its twin and answers
// 204 with the new reported $version in the topic, or 400 for a body that
// is not a JSON object (reference §6).
func (g *Gateway) reportedPatch(s *session, t Topic, body []byte) {
	var patch map[string]any
	if err := json.Unmarshal(body, &patch); err != nil || patch == nil {
		g.twinError(s, t.RequestID, hub.Errorf(hub.CodeArgumentInvalid, "the reported properties patch is not a JSON object"))
		return
	}
	tw, err := g.h.UpdateReported(g.baseCtx, s.id.deviceID, s.id.moduleID, patch)
	if err != nil {
		g.twinError(s, t.RequestID, err)
		return
	}
	resp := Topic{Kind: TwinResponse, Status: http.StatusNoContent, RequestID: t.RequestID, Version: tw.Properties.Reported.Version()}
	s.send(publish(resp.String(), nil, 0, 0, false))
}

// twinError answers a twin request with an error: the status in the topic
// and a body with errorCode, which is what the SDKs look at (reference §6:
// Node ignores the status segment).
func (g *Gateway) twinError(s *session, rid string, err error) {
	var he *hub.Error
	if !errors.As(err, &he) {
		g.log.Warn("twin request", "client", s.key, "error", err)
		he = hub.Errorf(hub.CodeServerError, "the hub could not complete the request")
	}
	body, _ := json.Marshal(struct {
		ErrorCode int    `json:"errorCode"`
		Message   string `json:"message"`
	}{he.Code, he.Message})
	s.send(publish(Topic{Kind: TwinResponse, Status: he.StatusCode, RequestID: rid}.String(), body, 0, 0, false))
}

// desiredChanged sends a desired-property notification to the identity's
// live session when it subscribes to them: the written patch plus
// "$version" (reference §6). It is called by the writer of the change and
// does not block.
func (g *Gateway) desiredChanged(ch localhub.DesiredChange) {
	key := identity{deviceID: ch.DeviceID, moduleID: ch.ModuleID}.clientID()
	g.mu.Lock()
	s := g.current[key]
	g.mu.Unlock()
	if s == nil {
		return
	}
	if _, ok := s.subscription(filterDesired); !ok {
		return
	}
	body := make(map[string]any, len(ch.Patch)+1)
	for k, v := range ch.Patch {
		body[k] = v
	}
	body["$version"] = ch.Version
	b, err := json.Marshal(body)
	if err != nil {
		g.log.Warn("encode desired notification", "client", key, "error", err)
		return
	}
	s.send(publish(Topic{Kind: DesiredPatch, Version: ch.Version}.String(), b, 0, 0, false))
}
