package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iotplan/iotplan/internal/hub"
)

// The local extension (docs/local-extensions.md): two endpoints under
// /$local for what Azure IoT Hub does outside its service REST API. Azure
// takes cloud-to-device messages over AMQP and hands device-to-cloud
// messages out through an Event Hubs-compatible endpoint, and this hub
// speaks neither protocol; `iotplan hub c2d-message send` and `iotplan hub
// monitor-events` use these instead. The official SDKs never call them.
//
//	POST /$local/devices/{id}/messages/devicebound   queue a cloud-to-device message (204)
//	GET  /$local/events[?deviceId=…]                 stream device-to-cloud messages (NDJSON)
//
// Both need the ServiceConnect right, as their Azure counterparts do, and
// take the api-version of every other endpoint.

// C2DMessage is a cloud-to-device message as the extension hands it to
// Options.SendC2D, checked.
type C2DMessage struct {
	MessageID       string
	CorrelationID   string
	UserID          string
	ContentType     string
	ContentEncoding string
	// Ack is "none", "positive", "negative", "full", or "" (none).
	Ack string
	// ExpiryTime is when the message expires; zero leaves it to the hub.
	ExpiryTime time.Time
	Properties map[string]string
	Body       []byte
}

// DeviceEvent is a device-to-cloud message as an EventSource delivers it.
type DeviceEvent struct {
	DeviceID string
	ModuleID string // "" for a device
	// System holds the system properties the device set, by their MQTT
	// wire names without "$." ("mid", "cid", "ct", "ce", …).
	System     map[string]string
	Properties map[string]string
	Body       []byte
	// EnqueuedTime is when the hub accepted the message.
	EnqueuedTime time.Time
}

// EventSource is one subscription to the device-to-cloud messages of every
// device, for one event stream.
type EventSource interface {
	// Next returns the next message, waiting for it until ctx is done
	// (then it returns ctx's error and loses nothing). It returns io.EOF
	// once the hub has stopped.
	Next(ctx context.Context) (DeviceEvent, error)
	// Dropped counts the messages the subscription has missed because its
	// reader fell behind.
	Dropped() int64
	// Close ends the subscription.
	Close()
}

// Limits of the extension's cloud-to-device messages. The body limit is IoT
// Hub's; the property limit keeps the property bag of the delivery within
// what an MQTT topic can carry once percent-encoded.
const (
	MaxC2DBodyBytes     = 64 * 1024
	MaxC2DPropertyBytes = 8 * 1024
	maxC2DIDLength      = 128
)

// DefaultEventHeartbeat is how long an event stream stays silent before
// the server writes an empty line, so that clients and proxies can tell a
// quiet stream from a dead one.
const DefaultEventHeartbeat = 15 * time.Second

// contentTypeNDJSON is the content type of an event stream.
const contentTypeNDJSON = "application/x-ndjson"

func localRoutes() []route {
	service := []hub.Right{hub.ServiceConnect}
	return []route{
		{http.MethodPost, []string{"$local", "devices", "{id}", "messages", "devicebound"}, service, (*Server).sendC2D},
		{http.MethodGet, []string{"$local", "events"}, service, (*Server).streamEvents},
	}
}

// notServed is the answer of an extension endpoint the server was given
// no implementation for.
func notServed(what string) error {
	return hub.Errorf(hub.CodeGenericNotFound, "this hub serves no %s: it runs without a device gateway (iotplan hub serve runs one)", what)
}

// c2dIn is the body of POST /$local/devices/{id}/messages/devicebound.
type c2dIn struct {
	Body            string            `json:"body"`
	BodyEncoding    string            `json:"bodyEncoding"`
	Properties      map[string]string `json:"properties"`
	MessageID       string            `json:"messageId"`
	CorrelationID   string            `json:"correlationId"`
	UserID          string            `json:"userId"`
	ContentType     string            `json:"contentType"`
	ContentEncoding string            `json:"contentEncoding"`
	Ack             string            `json:"ack"`
	ExpiryTimeUTC   string            `json:"expiryTimeUtc"`
}

const c2dWhat = "a cloud-to-device message"

// sendC2D queues a cloud-to-device message for an enabled device and
// answers 204. An unknown or disabled device is 404001 DeviceNotFound, a
// body over MaxC2DBodyBytes or properties over MaxC2DPropertyBytes 413001
// MessageTooLarge, and a device whose queue is full 403004 (from SendC2D).
func (s *Server) sendC2D(w http.ResponseWriter, r *http.Request, p params) error {
	if s.opts.SendC2D == nil {
		return notServed("cloud-to-device messages")
	}
	b, err := readBody(w, r, MaxBodyBytes)
	var he *hub.Error
	if errors.As(err, &he) && he.Code == hub.CodeGenericRequestEntityTooLarge.Number {
		return hub.Errorf(hub.CodeMessageTooLarge, "the request is larger than %d bytes; a cloud-to-device message body holds at most %d bytes", MaxBodyBytes, MaxC2DBodyBytes)
	}
	if err != nil {
		return err
	}
	var in c2dIn
	if err := decodeJSON(b, c2dWhat, &in); err != nil {
		return err
	}
	msg, err := in.message(s.now())
	if err != nil {
		return err
	}
	d, err := s.hub.Device(r.Context(), p.deviceID)
	if err != nil {
		return err
	}
	if d.Status == hub.StatusDisabled {
		return hub.Errorf(hub.CodeDeviceNotFound, "device %s is disabled; cloud-to-device messages go to enabled devices only", p.deviceID)
	}
	if err := s.opts.SendC2D(r.Context(), p.deviceID, msg); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// message checks the body and turns it into a C2DMessage.
func (in *c2dIn) message(now time.Time) (C2DMessage, error) {
	m := C2DMessage{
		MessageID: in.MessageID, CorrelationID: in.CorrelationID, UserID: in.UserID,
		ContentType: in.ContentType, ContentEncoding: in.ContentEncoding, Ack: in.Ack,
		Properties: in.Properties,
	}
	switch in.BodyEncoding {
	case "", "utf-8":
		m.Body = []byte(in.Body)
	case "base64":
		body, err := base64.StdEncoding.DecodeString(in.Body)
		if err != nil {
			return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, body is not valid base64 (bodyEncoding is \"base64\")", c2dWhat)
		}
		m.Body = body
	default:
		return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, bodyEncoding must be \"utf-8\" or \"base64\", not %q", c2dWhat, safeText(in.BodyEncoding, 32))
	}
	if len(m.Body) > MaxC2DBodyBytes {
		return C2DMessage{}, hub.Errorf(hub.CodeMessageTooLarge, "the message body is %d bytes; the most a cloud-to-device message holds is %d", len(m.Body), MaxC2DBodyBytes)
	}
	switch m.Ack {
	case "", "none", "positive", "negative", "full":
	default:
		return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, ack must be \"none\", \"positive\", \"negative\" or \"full\", not %q", c2dWhat, safeText(m.Ack, 32))
	}
	for _, f := range []struct{ name, v string }{{"messageId", m.MessageID}, {"correlationId", m.CorrelationID}, {"userId", m.UserID}} {
		if utf8.RuneCountInString(f.v) > maxC2DIDLength {
			return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, %s is longer than %d characters", c2dWhat, f.name, maxC2DIDLength)
		}
	}
	size := len(m.MessageID) + len(m.CorrelationID) + len(m.UserID) + len(m.ContentType) + len(m.ContentEncoding)
	for k, v := range m.Properties {
		lower := strings.ToLower(k)
		switch {
		case k == "":
			return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, a property has an empty name", c2dWhat)
		case strings.HasPrefix(k, "$"):
			return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, property %q starts with '$', which marks system properties; set those with the body's own members (messageId, contentType, …)", c2dWhat, safeText(k, 64))
		case strings.HasPrefix(lower, "iothub-"):
			return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, property %q starts with \"iothub-\", which the hub reserves for itself", c2dWhat, safeText(k, 64))
		}
		size += len(k) + len(v)
	}
	if size > MaxC2DPropertyBytes {
		return C2DMessage{}, hub.Errorf(hub.CodeMessageTooLarge, "the message's properties and system properties hold %d bytes; the most this hub carries is %d", size, MaxC2DPropertyBytes)
	}
	if in.ExpiryTimeUTC != "" {
		t, err := time.Parse(time.RFC3339Nano, in.ExpiryTimeUTC)
		if err != nil {
			return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, expiryTimeUtc must be a time such as \"2030-01-02T15:04:05Z\", not %q", c2dWhat, safeText(in.ExpiryTimeUTC, 40))
		}
		if !t.After(now) {
			return C2DMessage{}, hub.Errorf(hub.CodeArgumentInvalid, "in %s, expiryTimeUtc %s has passed", c2dWhat, t.UTC().Format(time.RFC3339))
		}
		m.ExpiryTime = t.UTC()
	}
	return m, nil
}

// eventOut is one line of an event stream.
type eventOut struct {
	DeviceID         string            `json:"deviceId"`
	ModuleID         string            `json:"moduleId"`
	EnqueuedTimeUTC  string            `json:"enqueuedTimeUtc"`
	SystemProperties map[string]string `json:"systemProperties"`
	Properties       map[string]string `json:"properties"`
	Body             string            `json:"body"`
	BodyEncoding     string            `json:"bodyEncoding"`
	// Missed counts the messages, of any device, that the stream lost
	// before this one because its reader fell behind.
	Missed int64 `json:"missed,omitempty"`
}

func newEventOut(ev DeviceEvent, missed int64) eventOut {
	out := eventOut{
		DeviceID: ev.DeviceID, ModuleID: ev.ModuleID,
		EnqueuedTimeUTC:  ev.EnqueuedTime.UTC().Format(time.RFC3339Nano),
		SystemProperties: ev.System, Properties: ev.Properties,
		Body: string(ev.Body), BodyEncoding: "utf-8",
		Missed: missed,
	}
	if !utf8.Valid(ev.Body) {
		out.Body, out.BodyEncoding = base64.StdEncoding.EncodeToString(ev.Body), "base64"
	}
	if out.SystemProperties == nil {
		out.SystemProperties = map[string]string{}
	}
	if out.Properties == nil {
		out.Properties = map[string]string{}
	}
	return out
}

// streamEvents answers 200 with a stream of the device-to-cloud messages
// the hub accepts from now on, of every device or of ?deviceId=: one JSON
// object a line, each flushed as it comes, and an empty line after
// Options.EventHeartbeat without one. The stream ends when the client goes
// away, the server shuts down, or the hub stops.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, _ params) error {
	if s.opts.Subscribe == nil {
		return notServed("device-to-cloud messages")
	}
	deviceID := r.URL.Query().Get("deviceId")
	ctx := r.Context()
	src, err := s.opts.Subscribe(ctx)
	if err != nil {
		return err
	}
	defer src.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", contentTypeNDJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil // the answer has begun: there is nothing else to tell
	}

	heartbeat := s.opts.EventHeartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultEventHeartbeat
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	lastWrite := time.Now()
	var dropped int64
	write := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		lastWrite = time.Now()
		return rc.Flush() == nil
	}
	for {
		wait, cancel := context.WithTimeout(ctx, time.Until(lastWrite.Add(heartbeat)))
		ev, err := src.Next(wait)
		cancel()
		switch {
		case err == nil:
			if deviceID != "" && ev.DeviceID != deviceID {
				if time.Since(lastWrite) >= heartbeat && !write([]byte("\n")) {
					return nil
				}
				continue
			}
			now := src.Dropped()
			missed := now - dropped
			dropped = now
			buf.Reset()
			if err := enc.Encode(newEventOut(ev, missed)); err != nil {
				s.log.Error("encode a device-to-cloud message", "device", ev.DeviceID, "err", err)
				continue
			}
			if !write(buf.Bytes()) {
				return nil
			}
		case ctx.Err() != nil:
			return nil // the client went away, or the server is shutting down
		case errors.Is(err, context.DeadlineExceeded):
			if !write([]byte("\n")) {
				return nil
			}
		case errors.Is(err, io.EOF):
			return nil // the hub stopped: the stream ends cleanly
		default:
			s.log.Warn("event stream failed", "err", err)
			return nil
		}
	}
}
