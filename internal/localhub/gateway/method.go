package gateway

import (
	"context"
	"encoding/json"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

var _ localhub.MethodRouter = (*Gateway)(nil)

// call is a direct method sent to a device and not yet answered.
type call struct {
	s      *session
	answer chan *hub.MethodResult // buffered: the first answer wins
}

// InvokeMethod delivers a direct method to the live session of a device
// (moduleID "") or module and waits for its answer: it publishes
// $iothub/methods/POST/{method}/?$rid={rid} and waits for
// $iothub/methods/res/{status}/?$rid={rid} (reference §6, direct methods).
//
// An identity that is not connected, or has not subscribed to
// $iothub/methods/POST/#, is waited for up to req.ConnectTimeoutInSeconds
// and then answered with 404103 DeviceNotOnline; a device that does not
// answer within req.ResponseTimeoutInSeconds with 504101 GatewayTimeout.
// Both timeouts count in Options.TimeoutUnit. req has been checked by the
// hub, which calls this as its localhub.MethodRouter.
func (g *Gateway) InvokeMethod(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error) {
	if !ValidMethodName(req.MethodName) {
		return nil, hub.Errorf(hub.CodeArgumentInvalid, "the method name %q cannot be sent over MQTT: it must be printable and free of / ? # +", req.MethodName)
	}
	id := identity{deviceID: deviceID, moduleID: moduleID}
	connectWait := time.Duration(req.ConnectTimeoutInSeconds) * g.opts.TimeoutUnit
	s := g.waitForMethods(ctx, id.clientID(), connectWait)
	if s == nil {
		if err := g.interrupted(ctx); err != nil {
			return nil, err
		}
		return nil, deviceNotOnline(id)
	}

	rid := g.nextRID()
	c := &call{s: s, answer: make(chan *hub.MethodResult, 1)}
	g.mu.Lock()
	g.calls[rid] = c
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.calls, rid)
		g.mu.Unlock()
	}()

	payload := []byte(req.Payload)
	if len(payload) == 0 {
		// Never an empty body: the Node SDK answers 400 itself for one
		// (reference §6).
		payload = []byte("null")
	}
	topic := Topic{Kind: MethodRequest, Method: req.MethodName, RequestID: rid}.String()
	if !s.send(publish(topic, payload, 0, 0, false)) {
		return nil, deviceNotOnline(id)
	}
	timeout := time.NewTimer(time.Duration(req.ResponseTimeoutInSeconds) * g.opts.TimeoutUnit)
	defer timeout.Stop()
	select {
	case res := <-c.answer:
		return res, nil
	case <-timeout.C:
		return nil, hub.Errorf(hub.CodeGatewayTimeout, "Timed out waiting for the response from %s.", id)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-g.stopping:
		return nil, hub.Errorf(hub.CodeServiceUnavailable, "the hub is shutting down")
	}
}

// waitForMethods returns the live session of key once it subscribes to
// methods, waiting up to wait for it; nil when none comes.
func (g *Gateway) waitForMethods(ctx context.Context, key string, wait time.Duration) *session {
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		g.mu.Lock()
		s, changed := g.current[key], g.changed
		g.mu.Unlock()
		if s != nil {
			if _, ok := s.subscription(filterMethods); ok {
				return s
			}
		}
		if deadline == nil {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return nil
		case <-ctx.Done():
			return nil
		case <-g.stopping:
			return nil
		}
	}
}

// interrupted returns why a wait ended early: the caller gave up, or the
// gateway is stopping.
func (g *Gateway) interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-g.stopping:
		return hub.Errorf(hub.CodeServiceUnavailable, "the hub is shutting down")
	default:
		return nil
	}
}

func deviceNotOnline(id identity) error {
	return hub.Errorf(hub.CodeDeviceNotOnline, "The operation failed because the requested %s isn't online or hasn't registered the direct method callback.", id)
}

// methodResponse hands a device's answer to the call waiting for it. An
// answer to a call this session was not sent is ignored. The payload is
// passed on as JSON: an empty body as null, a body that is not JSON as a
// JSON string of its text.
func (g *Gateway) methodResponse(s *session, t Topic, body []byte) {
	g.mu.Lock()
	c := g.calls[t.RequestID]
	g.mu.Unlock()
	if c == nil || c.s.key != s.key {
		g.log.Debug("method response for no call", "client", s.key, "rid", t.RequestID)
		return
	}
	var payload json.RawMessage
	switch {
	case len(body) == 0:
		payload = json.RawMessage("null")
	case json.Valid(body):
		payload = append(json.RawMessage(nil), body...)
	default:
		payload, _ = json.Marshal(string(body))
	}
	select {
	case c.answer <- &hub.MethodResult{Status: t.Status, Payload: payload}:
	default: // answered already
	}
}
