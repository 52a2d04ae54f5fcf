package gateway

import (
	"errors"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// session is one authenticated connection of a device or module.
//
// Packets for the device go through its outbox, written by one goroutine,
// so that nothing that produces them (a desired-property write, a method
// call, a twin response) ever waits for the device's network.
type session struct {
	g      *Gateway
	cl     *mqtt.Client
	id     identity
	key    string // client ID
	cred   *credential
	remote string

	out      chan packets.Packet
	done     chan struct{} // closed when the connection ends
	stopOnce sync.Once

	// Touched only from the connection's own goroutine (the broker calls
	// the hooks of one client from its read loop).
	lastCheck time.Time

	// Guarded by g.mu.
	lastPacketID uint16
}

// errSlowDevice closes a connection whose outbox is full.
var errSlowDevice = errors.New("the device does not read what the hub sends it")

// startWriter starts the goroutine that writes the outbox.
func (s *session) startWriter() {
	s.g.writers.Add(1)
	go func() {
		defer s.g.writers.Done()
		for {
			select {
			case pk := <-s.out:
				if err := s.cl.WritePacket(pk); err != nil {
					s.g.log.Debug("write to device", "client", s.key, "error", err)
				}
			case <-s.done:
				return
			}
		}
	}()
}

// stop ends the writer.
func (s *session) stop() {
	s.stopOnce.Do(func() { close(s.done) })
}

// send queues a packet for the device without blocking. It reports false
// when the connection has ended, or has fallen so far behind that it is
// closed now.
func (s *session) send(pk packets.Packet) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.out <- pk:
		return true
	case <-s.done:
		return false
	default:
		s.g.log.Warn("disconnecting slow device", "client", s.key, "queued", len(s.out))
		s.cl.Stop(errSlowDevice)
		return false
	}
}

// subscription returns the device's subscription to filter, inherited
// sessions included.
func (s *session) subscription(filter string) (packets.Subscription, bool) {
	return s.cl.State.Subscriptions.Get(filter)
}

// nextPacketIDLocked returns a packet ID for a QoS 1 publish that no
// message in flight on s uses. g.mu must be held.
func (s *session) nextPacketIDLocked(inUse func(uint16) bool) uint16 {
	for {
		s.lastPacketID++
		if s.lastPacketID == 0 {
			s.lastPacketID = 1
		}
		if !inUse(s.lastPacketID) {
			return s.lastPacketID
		}
	}
}
