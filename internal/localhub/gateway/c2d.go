package gateway

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// Cloud-to-device limits of IoT Hub.
const (
	// MaxC2DBytes is the largest cloud-to-device message body.
	MaxC2DBytes = 64 * 1024
	// MaxC2DPending is how many messages may wait for one device,
	// delivered or not, until it acknowledges them.
	MaxC2DPending = 50
)

// CodeQueueFull is IoT Hub's answer to a message for a device whose queue
// is full.
var CodeQueueFull = hub.ErrorCode{Number: 403004, Name: "DeviceMaximumQueueDepthExceeded"}

// Message is a cloud-to-device message.
type Message struct {
	// MessageID is generated when empty.
	MessageID       string
	CorrelationID   string
	UserID          string
	ContentType     string
	ContentEncoding string
	// Ack is the delivery feedback asked for: "none" (when empty),
	// "positive", "negative" or "full". It travels to the device as
	// iothub-ack; the local hub keeps no feedback.
	Ack string
	// ExpiryTime is when the message is dropped if not yet acknowledged;
	// zero means Options.C2DTTL after it was sent.
	ExpiryTime time.Time
	Properties map[string]string
	Body       []byte
}

// c2dQueue holds the messages of one device not yet acknowledged, oldest
// first.
type c2dQueue struct {
	entries []*c2dEntry
}

type c2dEntry struct {
	bag    string
	body   []byte
	expiry time.Time
	// sentOn is the session it was last written to (nil: never sent),
	// with the packet ID it went with there.
	sentOn   *session
	packetID uint16
}

// SendC2D queues a message for a device and delivers it when the device is
// connected and subscribed to devices/{id}/messages/devicebound/#, at once
// or when it next is. A message stays pending, and is sent again on the
// device's next connection, until the device acknowledges it (PUBACK; at
// QoS 0, once written). Pending messages live in memory only.
//
// Errors: the device does not exist (404001), the body is larger than
// MaxC2DBytes (413001), the device already has MaxC2DPending messages
// pending (403004).
func (g *Gateway) SendC2D(ctx context.Context, deviceID string, msg Message) error {
	if _, err := g.h.Device(ctx, deviceID); err != nil {
		return err
	}
	if len(msg.Body) > MaxC2DBytes {
		return hub.Errorf(hub.CodeMessageTooLarge, "the message body is %d bytes; the most IoT Hub accepts is %d", len(msg.Body), MaxC2DBytes)
	}
	now := g.now()
	if msg.MessageID == "" {
		msg.MessageID = "c2d-" + strconv.FormatUint(g.mid.Add(1), 10) + "-" + strconv.FormatInt(now.UnixNano(), 36)
	}
	e := &c2dEntry{bag: c2dBag(deviceID, msg), body: msg.Body, expiry: msg.ExpiryTime}
	if e.expiry.IsZero() {
		e.expiry = now.Add(g.opts.C2DTTL)
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	q := g.c2d[deviceID]
	if q == nil {
		q = &c2dQueue{}
		g.c2d[deviceID] = q
	}
	q.prune(now)
	if len(q.entries) >= MaxC2DPending {
		return hub.Errorf(CodeQueueFull, "device %s already has %d cloud-to-device messages pending", deviceID, MaxC2DPending)
	}
	q.entries = append(q.entries, e)
	if s := g.current[deviceID]; s != nil {
		g.deliverC2DLocked(s)
	}
	return nil
}

// c2dBag builds the property bag of a delivery as Azure sends it
// (reference §7): $.mid, $.to, the other system properties, iothub-ack,
// then the application properties in key order.
func c2dBag(deviceID string, msg Message) string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escapeBag(k))
		b.WriteByte('=')
		b.WriteString(escapeBag(v))
	}
	add(systemPrefix+PropMessageID, msg.MessageID)
	add(systemPrefix+PropTo, "/devices/"+deviceID+"/messages/devicebound")
	for _, p := range []struct{ k, v string }{
		{PropCorrelationID, msg.CorrelationID}, {PropUserID, msg.UserID},
		{PropContentType, msg.ContentType}, {PropContentEncoding, msg.ContentEncoding},
	} {
		if p.v != "" {
			add(systemPrefix+p.k, p.v)
		}
	}
	if !msg.ExpiryTime.IsZero() {
		add(systemPrefix+PropExpiry, msg.ExpiryTime.UTC().Format(time.RFC3339))
	}
	ack := msg.Ack
	if ack == "" {
		ack = "none"
	}
	add("iothub-ack", ack)
	for _, k := range slices.Sorted(maps.Keys(msg.Properties)) {
		add(k, msg.Properties[k])
	}
	return b.String()
}

// prune drops expired messages.
func (q *c2dQueue) prune(now time.Time) {
	q.entries = slices.DeleteFunc(q.entries, func(e *c2dEntry) bool { return now.After(e.expiry) })
}

func c2dFilter(deviceID string) string {
	return "devices/" + deviceID + "/messages/devicebound/#"
}

// deliverC2D sends a device session the messages it has not been sent.
func (g *Gateway) deliverC2D(s *session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deliverC2DLocked(s)
}

func (g *Gateway) deliverC2DLocked(s *session) {
	if s.id.moduleID != "" || g.current[s.key] != s {
		return
	}
	sub, ok := s.subscription(c2dFilter(s.id.deviceID))
	if !ok {
		return
	}
	q := g.c2d[s.id.deviceID]
	if q == nil {
		return
	}
	q.prune(g.now())
	qos := min(sub.Qos, 1)
	inUse := func(id uint16) bool {
		return slices.ContainsFunc(q.entries, func(e *c2dEntry) bool { return e.sentOn == s && e.packetID == id })
	}
	for _, e := range q.entries {
		if e.sentOn == s {
			continue
		}
		dup := e.sentOn != nil
		var id uint16
		if qos > 0 {
			id = s.nextPacketIDLocked(inUse)
		}
		topic := Topic{Kind: C2D, DeviceID: s.id.deviceID, Bag: e.bag}.String()
		if !s.send(publish(topic, e.body, qos, id, dup && qos > 0)) {
			return
		}
		e.sentOn, e.packetID = s, id
	}
	if qos == 0 {
		q.entries = slices.DeleteFunc(q.entries, func(e *c2dEntry) bool { return e.sentOn == s })
	}
	if len(q.entries) == 0 {
		delete(g.c2d, s.id.deviceID)
	}
}

// c2dAcked completes the message a device acknowledged.
func (g *Gateway) c2dAcked(s *session, packetID uint16) {
	if s.id.moduleID != "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	q := g.c2d[s.id.deviceID]
	if q == nil {
		return
	}
	q.entries = slices.DeleteFunc(q.entries, func(e *c2dEntry) bool { return e.sentOn == s && e.packetID == packetID })
	if len(q.entries) == 0 {
		delete(g.c2d, s.id.deviceID)
	}
}
