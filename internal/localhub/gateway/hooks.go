package gateway

import (
	"errors"
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotplan/iotplan/internal/hub"
)

// hooks enforces IoT Hub's protocol on the broker. The broker calls the
// hooks of one client from that client's read loop, one at a time.
//
// Every PUBLISH a device sends is handled here and then ignored by the
// broker, which therefore never routes a message from one client to
// another; everything the hub sends a device is written to that device's
// connection (session.send).
type hooks struct {
	mqtt.HookBase
	g *Gateway
}

func (h *hooks) ID() string { return "iothub" }

func (h *hooks) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnPacketProcessed, mqtt.OnPublish, mqtt.OnWill:
		return true
	}
	return false
}

// OnConnect authenticates a CONNECT. A refusal is answered here with the
// CONNACK code IoT Hub uses (reference §4), and the error makes the broker
// close the connection without touching a live session of the same
// identity.
func (h *hooks) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	g := h.g
	cred, r := g.authenticate(pk, cl.Net.Conn)
	if r != nil {
		g.log.Info("connection refused", "client", pk.Connect.ClientIdentifier, "code", r.code.Code,
			"reason", r.reason, "remote", cl.Net.Remote)
		if err := g.server.SendConnack(cl, r.code, false, nil); err != nil {
			g.log.Debug("send CONNACK", "error", err)
		}
		return r.code
	}
	if cl.State.Keepalive == 0 || cl.State.Keepalive > maxKeepAlive {
		cl.State.Keepalive = maxKeepAlive
	}
	s := &session{g: g, cl: cl, id: cred.id, key: cred.id.clientID(), cred: cred, remote: cl.Net.Remote,
		out: make(chan packets.Packet, outboxSize), done: make(chan struct{}), lastCheck: g.now()}
	g.conns.Store(cl.Net.Conn, s)
	return nil
}

// OnConnectAuthenticate accepts what OnConnect let through.
func (h *hooks) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	return h.g.sessionOf(cl) != nil
}

// OnACLCheck allows an identity its own topics only (reference §5, §6).
// OnPacketRead has closed the connection of a client asking for more.
func (h *hooks) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	s := h.g.sessionOf(cl)
	if s == nil {
		return false
	}
	if write {
		t, err := ParseTopic(topic)
		return err == nil && s.mayPublish(t)
	}
	return s.maySubscribe(topic)
}

func (s *session) mayPublish(t Topic) bool {
	switch t.Kind {
	case Telemetry:
		return t.DeviceID == s.id.deviceID && t.ModuleID == s.id.moduleID
	case TwinGet, ReportedPatch, MethodResponse:
		return true
	}
	return false
}

func (s *session) maySubscribe(filter string) bool {
	sub, deviceID, moduleID, err := ParseFilter(filter)
	if err != nil {
		return false
	}
	switch sub {
	case SubC2D:
		return s.id.moduleID == "" && deviceID == s.id.deviceID
	case SubModuleInputs:
		return s.id.moduleID != "" && deviceID == s.id.deviceID && moduleID == s.id.moduleID
	case SubTwinResponses, SubDesired, SubMethods:
		return true
	}
	return false
}

// OnPacketRead checks every packet of an authenticated client before the
// broker acts on it. IoT Hub answers a forbidden PUBLISH or SUBSCRIBE by
// closing the connection (reference §5), and so does this: the rejection
// ends the client's read loop. It also closes connections whose
// credential has expired, and now and then writes lastActivityTime and
// checks that the identity is still registered and enabled.
func (h *hooks) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	g := h.g
	s := g.sessionOf(cl)
	if s == nil {
		return pk, nil // the CONNECT itself
	}
	now := g.now()
	if !s.cred.expiry.IsZero() && now.After(s.cred.expiry) {
		return pk, g.closeConnection(s, "its credential expired at %s", s.cred.expiry.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if now.Sub(s.lastCheck) >= g.opts.ActivityInterval {
		s.lastCheck = now
		if err := g.checkIdentity(s); err != nil {
			return pk, g.closeConnection(s, "%v", err)
		}
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if pk.FixedHeader.Qos > 1 {
			return pk, g.closeConnection(s, "it published with QoS 2")
		}
		t, err := ParseTopic(pk.TopicName)
		if err != nil {
			return pk, g.closeConnection(s, "it published to %q: %v", pk.TopicName, err)
		}
		if !s.mayPublish(t) {
			return pk, g.closeConnection(s, "it may not publish to %q", pk.TopicName)
		}
		if t.Kind == Telemetry {
			if len(pk.Payload) > MaxMessageBytes {
				return pk, g.closeConnection(s, "its message of %d bytes is larger than %d", len(pk.Payload), MaxMessageBytes)
			}
			if _, err := ParsePropertyBag(t.Bag); err != nil {
				return pk, g.closeConnection(s, "%v", err)
			}
		}
	case packets.Subscribe:
		for _, f := range pk.Filters {
			if !s.maySubscribe(f.Filter) {
				return pk, g.closeConnection(s, "it may not subscribe to %q", f.Filter)
			}
		}
	case packets.Puback:
		g.c2dAcked(s, pk.PacketID)
	}
	return pk, nil
}

// closeConnection logs why a connection is closed and returns the error
// that makes the broker close it.
func (g *Gateway) closeConnection(s *session, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	g.log.Info("closing connection", "client", s.key, "reason", reason)
	return fmt.Errorf("%w: %s", packets.ErrRejectPacket, reason)
}

// checkIdentity queues lastActivityTime and reports an error when the
// identity has been deleted or its device disabled since it connected
// (Azure drops such connections too, reference §8).
func (g *Gateway) checkIdentity(s *session) error {
	d, err := g.h.Device(g.baseCtx, s.id.deviceID)
	switch {
	case errors.Is(err, hub.ErrNotFound):
		return fmt.Errorf("%s has been deleted", s.id)
	case err != nil:
		g.log.Warn("check identity", "client", s.key, "error", err)
		return nil
	case d.Status == hub.StatusDisabled:
		return fmt.Errorf("device %s has been disabled", s.id.deviceID)
	}
	if s.id.moduleID != "" {
		if _, err := g.h.Module(g.baseCtx, s.id.deviceID, s.id.moduleID); errors.Is(err, hub.ErrNotFound) {
			return fmt.Errorf("%s has been deleted", s.id)
		}
	}
	// The write waits for the next flush, off this connection's read path.
	g.activity.mark(s.id, g.now())
	return nil
}

// OnPacketProcessed acts on subscriptions once their SUBACK is written, so
// that nothing reaches a device before it knows its subscription holds.
func (h *hooks) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if err != nil || pk.FixedHeader.Type != packets.Subscribe {
		return
	}
	s := h.g.sessionOf(cl)
	if s == nil {
		return
	}
	for _, f := range pk.Filters {
		sub, _, _, err := ParseFilter(f.Filter)
		if err != nil {
			continue
		}
		switch sub {
		case SubMethods:
			h.g.mu.Lock()
			h.g.broadcastLocked()
			h.g.mu.Unlock()
		case SubC2D:
			h.g.deliverC2D(s)
		}
	}
}

// OnPublish handles a device's PUBLISH (already checked by OnPacketRead)
// and tells the broker to route it nowhere. A QoS 1 PUBLISH is
// acknowledged by the broker after this returns.
func (h *hooks) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	g := h.g
	s := g.sessionOf(cl)
	if s == nil {
		return pk, packets.ErrRejectPacket
	}
	t, err := ParseTopic(pk.TopicName)
	if err != nil {
		return pk, packets.ErrRejectPacket
	}
	switch t.Kind {
	case Telemetry:
		g.telemetry(s, t, pk.Payload, pk.FixedHeader.Retain, "")
	case TwinGet:
		g.twinGet(s, t)
	case ReportedPatch:
		g.reportedPatch(s, t, pk.Payload)
	case MethodResponse:
		g.methodResponse(s, t, pk.Payload)
	}
	return pk, packets.CodeSuccessIgnore
}

// OnSessionEstablished starts the session's writer, makes it the identity's
// live session and delivers the cloud-to-device messages waiting for it when
// its persistent session already subscribes to them.
func (h *hooks) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	s := h.g.sessionOf(cl)
	if s == nil {
		return
	}
	s.startWriter()
	h.g.established(s)
	if s.id.moduleID == "" {
		if _, ok := s.subscription(c2dFilter(s.id.deviceID)); ok {
			h.g.deliverC2D(s)
		}
	}
}

// OnDisconnect ends the session of an established connection.
func (h *hooks) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	s := h.g.sessionOf(cl)
	if s == nil {
		return
	}
	s.stop()
	h.g.ended(s, err)
}

// OnWill delivers a client's will as telemetry with the property
// iothub-MessageType=Will, when its topic is the client's own telemetry
// topic (reference §2). The broker then routes it nowhere.
func (h *hooks) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	s := h.g.sessionOf(cl)
	if s == nil {
		return will, nil
	}
	t, err := ParseTopic(will.TopicName)
	if err != nil || !s.mayPublish(t) || t.Kind != Telemetry {
		return will, nil
	}
	h.g.telemetry(s, t, will.Payload, will.Retain, "Will")
	return will, nil
}
