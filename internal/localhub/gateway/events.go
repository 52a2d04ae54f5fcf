package gateway

import (
	"sync"
	"sync/atomic"
	"time"
)

// Event is a device-to-cloud message as the hub accepted it.
type Event struct {
	DeviceID string
	ModuleID string // "" for a device
	// System holds the system properties the device set, by their wire
	// names without "$." (PropContentType, PropMessageID, …).
	System map[string]string
	// Properties holds the application properties. A message published
	// with RETAIN has "mqtt-retain": "true"; a will, "iothub-MessageType":
	// "Will" (reference §2, §5).
	Properties map[string]string
	Body       []byte
	// EnqueuedTime is when the hub accepted the message, in UTC.
	EnqueuedTime time.Time
}

// DefaultEventBuffer is the buffer of an event stream asked for with none.
const DefaultEventBuffer = 1024

// EventStream is a subscription to the device-to-cloud messages of every
// device, in the order each device sent them. It is safe for concurrent
// use.
//
// A stream never slows devices down: when its buffer is full the hub drops
// the message for this stream and counts it (Dropped).
type EventStream struct {
	c       chan Event
	dropped atomic.Int64
	hub     *eventHub
}

// C returns the stream's channel. It is closed by Close and when the
// gateway stops.
func (s *EventStream) C() <-chan Event { return s.c }

// Dropped returns how many messages the stream has missed because its
// buffer was full.
func (s *EventStream) Dropped() int64 { return s.dropped.Load() }

// Close ends the subscription and closes C.
func (s *EventStream) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.streams[s]; ok {
		delete(s.hub.streams, s)
		close(s.c)
	}
}

// eventHub fans device-to-cloud messages out to the streams.
type eventHub struct {
	mu      sync.RWMutex
	streams map[*EventStream]struct{}
	closed  bool
}

// Events subscribes to device-to-cloud messages, buffering up to buffer of
// them (DefaultEventBuffer when buffer ≤ 0). Call Close when done. After
// the gateway has stopped, the stream's channel is closed from the start.
func (g *Gateway) Events(buffer int) *EventStream {
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	e := &g.events
	s := &EventStream{c: make(chan Event, buffer), hub: e}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		close(s.c)
		return s
	}
	if e.streams == nil {
		e.streams = map[*EventStream]struct{}{}
	}
	e.streams[s] = struct{}{}
	return s
}

func (e *eventHub) publish(ev Event) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for s := range e.streams {
		select {
		case s.c <- ev:
		default:
			s.dropped.Add(1)
		}
	}
}

func (e *eventHub) closeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for s := range e.streams {
		delete(e.streams, s)
		close(s.c)
	}
}

// telemetry turns a device's telemetry PUBLISH (or will) into an Event.
func (g *Gateway) telemetry(s *session, t Topic, body []byte, retain bool, messageType string) {
	props, err := ParsePropertyBag(t.Bag)
	if err != nil {
		g.log.Debug("telemetry property bag", "client", s.key, "error", err)
		return
	}
	if retain || messageType != "" {
		if props.App == nil {
			props.App = map[string]string{}
		}
		if retain {
			props.App["mqtt-retain"] = "true"
		}
		if messageType != "" {
			props.App["iothub-MessageType"] = messageType
		}
	}
	g.events.publish(Event{
		DeviceID:     s.id.deviceID,
		ModuleID:     s.id.moduleID,
		System:       props.System,
		Properties:   props.App,
		Body:         body,
		EnqueuedTime: g.now().UTC(),
	})
}
