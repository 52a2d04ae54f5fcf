package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

// Limits of the device protocol (reference/iothub-mqtt-device.md §1, §5).
const (
	// MaxMessageBytes is the largest device-to-cloud message body.
	MaxMessageBytes = 256 * 1024
	// maxPacketBytes bounds every packet a client may send: the largest
	// message plus room for its topic and property bag. A larger packet
	// closes the connection before it is read.
	maxPacketBytes = MaxMessageBytes + 64*1024
	// maxKeepAlive is the keep-alive the hub applies to a client asking for
	// none or for more: it times clients out at 1.5 × keep-alive, at most
	// 1767 s.
	maxKeepAlive = 1178
	// outboxSize is how many packets may wait to be written to one
	// connection; a device that falls further behind is disconnected.
	outboxSize = 256
)

// Options configures a Gateway.
type Options struct {
	// HostName is the hub's host name as its connection strings give it
	// ("localhost"). Usernames and token audiences must name it; a port
	// after either is ignored. Required.
	HostName string
	// TLS, when set, serves MQTT over TLS with this server configuration.
	// Client certificates are requested, for X.509 identities, but not
	// required. Nil serves plain MQTT, which IoT Hub never does: only for
	// iotplan's own clients (--insecure).
	TLS *tls.Config
	// ClientCAs verifies the client certificates of identities whose
	// authentication type is certificateAuthority. Nil: they cannot connect.
	ClientCAs *x509.CertPool
	// Now is the clock for token and certificate validity and message
	// times; nil means time.Now.
	Now func() time.Time
	// TimeoutUnit is how long one second of a direct method's
	// responseTimeoutInSeconds and connectTimeoutInSeconds lasts; zero
	// means time.Second. Tests shorten it.
	TimeoutUnit time.Duration
	// ConnectTimeout bounds the time from accepting a connection to
	// receiving its CONNECT packet, TLS handshake included; zero means 30 s.
	ConnectTimeout time.Duration
	// ActivityInterval is how often, at most, a connection's
	// lastActivityTime is written and its identity checked again (deleted
	// or disabled identities are disconnected then); zero means 10 s.
	ActivityInterval time.Duration
	// C2DTTL is how long a cloud-to-device message without an expiry time
	// waits for its device; zero means one hour, IoT Hub's default.
	C2DTTL time.Duration
	// Logger receives connection and protocol events; nil discards them.
	Logger *slog.Logger
}

// Gateway is the device MQTT endpoint of a local hub. It is safe for
// concurrent use; Run serves it once.
//
// While it runs it is the hub's MethodRouter and it watches desired
// property changes, so that direct methods and desired notifications reach
// connected devices.
type Gateway struct {
	h    *localhub.Hub
	opts Options
	log  *slog.Logger
	now  func() time.Time
	// baseCtx is Run's context without its cancellation: what the hooks
	// write to the hub with, so that shutdown still records disconnections.
	baseCtx context.Context

	// mu guards the fields up to the blank line.
	mu       sync.Mutex
	started  bool
	addr     net.Addr
	server   *mqtt.Server         // set by Run
	listener *listener            // set by Run
	stopping chan struct{}        // closed when Run begins to shut down
	current  map[string]*session  // the live session of each identity, by client ID
	changed  chan struct{}        // closed and replaced when current or a subscription changes
	calls    map[string]*call     // direct methods awaiting their answer, by $rid
	c2d      map[string]*c2dQueue // cloud-to-device messages, by device ID

	conns    sync.Map       // net.Conn → *session: every authenticated connection
	stateMu  sync.Mutex     // orders connection-state writes as current changes
	rid      atomic.Uint64  // last $rid handed out
	mid      atomic.Uint64  // last generated C2D message ID
	events   eventHub       // device-to-cloud subscribers
	writers  sync.WaitGroup // session writers
	activity activityLog    // lastActivityTime marks waiting to be written
}

// New returns a gateway for h. It does not listen until Run.
func New(h *localhub.Hub, opts Options) (*Gateway, error) {
	if h == nil {
		return nil, errors.New("gateway: no hub")
	}
	if opts.HostName == "" {
		return nil, errors.New("gateway: Options.HostName is required")
	}
	if opts.TimeoutUnit <= 0 {
		opts.TimeoutUnit = time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 30 * time.Second
	}
	if opts.ActivityInterval <= 0 {
		opts.ActivityInterval = 10 * time.Second
	}
	if opts.C2DTTL <= 0 {
		opts.C2DTTL = time.Hour
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Gateway{
		h: h, opts: opts, log: log, now: now, baseCtx: context.Background(),
		stopping: make(chan struct{}),
		current:  map[string]*session{},
		changed:  make(chan struct{}),
		calls:    map[string]*call{},
		c2d:      map[string]*c2dQueue{},
	}, nil
}

// Addr returns the address Run listens on, or nil before Run.
func (g *Gateway) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addr
}

// Run serves devices on ln until ctx is done, then disconnects them, stops
// and returns nil once every goroutine it started has ended. ln is closed.
// With Options.TLS set, connections are TLS. Run may be called once.
func (g *Gateway) Run(ctx context.Context, ln net.Listener) error {
	g.mu.Lock()
	if g.started {
		g.mu.Unlock()
		ln.Close()
		return errors.New("gateway: Run called twice")
	}
	g.started = true
	g.addr = ln.Addr()
	g.baseCtx = context.WithoutCancel(ctx)
	g.mu.Unlock()

	if g.opts.TLS != nil {
		cfg := g.opts.TLS.Clone()
		if cfg.ClientAuth == tls.NoClientCert {
			cfg.ClientAuth = tls.RequestClientCert
		}
		if cfg.MinVersion == 0 {
			cfg.MinVersion = tls.VersionTLS12
		}
		ln = tls.NewListener(ln, cfg)
	}

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MinimumProtocolVersion = 4
	caps.MaximumQos = 1 // QoS 2 subscriptions are granted QoS 1 (reference §5)
	caps.MaximumPacketSize = maxPacketBytes
	caps.MaximumClientWritesPending = 16 // the broker itself routes nothing
	caps.MaximumSessionExpiryInterval = 24 * 60 * 60
	caps.SharedSubAvailable = 0
	caps.SubIDAvailable = 0
	caps.TopicAliasMaximum = 0
	server := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 slog.New(brokerLog{g.log.Handler()}).With("component", "mqtt"),
		SysTopicResendInterval: 24 * 60 * 60, // $SYS topics are never readable
	})
	if err := server.AddHook(&hooks{g: g}, nil); err != nil {
		ln.Close()
		return fmt.Errorf("gateway: %w", err)
	}
	l := newListener("iothub", ln, g.opts.ConnectTimeout, g.connectionEnded)
	if err := server.AddListener(l); err != nil {
		ln.Close()
		return fmt.Errorf("gateway: %w", err)
	}
	g.mu.Lock()
	g.server, g.listener = server, l
	g.mu.Unlock()

	stopWatch := g.h.WatchDesired(g.desiredChanged)
	g.h.SetMethodRouter(g)
	if err := server.Serve(); err != nil {
		g.h.SetMethodRouter(nil)
		stopWatch()
		_ = server.Close()
		return fmt.Errorf("gateway: %w", err)
	}
	flushCtx, stopFlush := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		g.flushActivity(flushCtx)
	}()
	g.log.Info("device endpoint ready", "address", ln.Addr().String(), "tls", g.opts.TLS != nil)

	<-ctx.Done()

	g.mu.Lock()
	close(g.stopping)
	g.mu.Unlock()
	g.h.SetMethodRouter(nil)
	stopWatch()
	_ = server.Close() // closes the listener, disconnects every client
	l.wait()
	g.writers.Wait()
	stopFlush()
	<-flushed
	g.events.closeAll()
	g.log.Info("device endpoint stopped")
	return nil
}

// brokerLog demotes what the broker itself logs below errors to debug:
// its lines are about its own machinery (hooks added, a packet refused),
// and the gateway logs what matters to the hub's operator, in IoT Hub's
// terms.
type brokerLog struct{ slog.Handler }

func demote(l slog.Level) slog.Level {
	if l < slog.LevelError {
		return slog.LevelDebug
	}
	return l
}

func (h brokerLog) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, demote(l))
}

func (h brokerLog) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h brokerLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return brokerLog{h.Handler.WithAttrs(attrs)}
}

func (h brokerLog) WithGroup(name string) slog.Handler { return brokerLog{h.Handler.WithGroup(name)} }

// sessionOf returns the session of an authenticated connection, or nil.
func (g *Gateway) sessionOf(cl *mqtt.Client) *session {
	if s, ok := g.conns.Load(cl.Net.Conn); ok {
		return s.(*session)
	}
	return nil
}

// connectionEnded forgets a connection once the broker is done with it.
func (g *Gateway) connectionEnded(c net.Conn) {
	g.conns.Delete(c)
}

// broadcastLocked wakes everything waiting for a session or subscription
// change. g.mu must be held.
func (g *Gateway) broadcastLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// established records the connection in the registry and then makes s
// the live session of its identity, so that whoever sees the session also
// sees the state.
func (g *Gateway) established(s *session) {
	g.stateMu.Lock()
	defer g.stateMu.Unlock()
	if err := g.h.SetConnectionState(g.baseCtx, s.id.deviceID, s.id.moduleID, true); err != nil {
		g.log.Warn("record connection", "client", s.key, "error", err)
	}
	g.mu.Lock()
	g.current[s.key] = s
	g.broadcastLocked()
	g.mu.Unlock()
	g.log.Info("connected", "client", s.key, "auth", s.cred.method, "remote", s.remote)
}

// ended forgets s. When it was its identity's live session, and not one
// taken over by a newer connection, the disconnection is recorded first.
func (g *Gateway) ended(s *session, cause error) {
	g.stateMu.Lock()
	defer g.stateMu.Unlock()
	g.mu.Lock()
	live := g.current[s.key] == s
	g.mu.Unlock()
	if live {
		if err := g.h.SetConnectionState(g.baseCtx, s.id.deviceID, s.id.moduleID, false); err != nil && !errors.Is(err, hub.ErrNotFound) {
			g.log.Warn("record disconnection", "client", s.key, "error", err)
		}
		g.mu.Lock()
		delete(g.current, s.key)
		g.broadcastLocked()
		g.mu.Unlock()
	}
	g.log.Info("disconnected", "client", s.key, "cause", errString(cause), "replaced", !live)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// nextRID hands out a request ID for a hub-to-device request.
func (g *Gateway) nextRID() string {
	return strconv.FormatUint(g.rid.Add(1), 10)
}

// publish builds a PUBLISH packet for a client.
func publish(topic string, payload []byte, qos byte, packetID uint16, dup bool) packets.Packet {
	return packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Dup: dup},
		TopicName:   topic,
		Payload:     payload,
		PacketID:    packetID,
	}
}
