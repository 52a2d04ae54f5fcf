package device

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	pahopackets "github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/iotplan/iotplan/internal/hub"
)

// APIVersion is the api-version the client names in its username.
const APIVersion = "2021-04-12"

// DefaultPort is IoT Hub's MQTT over TLS port.
const DefaultPort = "8883"

// Config says where and as whom a Client connects.
type Config struct {
	// Host is the hub's host name, with an optional port
	// ("myhub.azure-devices.net", "localhost:18883"). It is dialled, on
	// port 8883 unless it carries one, and it is the host named in the
	// username and in SAS tokens unless HostName is set.
	Host string
	// HostName, when set, is the hub's host name as its connection strings
	// give it, for the username and tokens, while Host is only dialled
	// (Host is then what a connection string calls GatewayHostName).
	HostName string
	// DeviceID is the device; ModuleID, when set, one of its modules.
	DeviceID string
	ModuleID string
	// Key is the base64 key SAS tokens are signed with: the device's or
	// module's own, or, with KeyName, that of a shared access policy with
	// DeviceConnect.
	Key     string
	KeyName string
	// Token is a SAS token to connect with instead of a Key. It cannot be
	// renewed: when it expires the hub closes the connection.
	Token string
	// TokenLifetime is how long the tokens signed with Key live; zero
	// means one hour. They are renewed, by reconnecting, when a quarter of
	// their lifetime is left, as the Node SDK does (15 of 60 minutes).
	TokenLifetime time.Duration
	// TLS configures the TLS connection: its RootCAs, and for an X.509
	// identity (no Key or Token) its client Certificates. Nil uses the
	// system's roots. ServerName defaults to Host's name.
	TLS *tls.Config
	// Insecure connects over plain TCP, which only iotplan's own hub
	// offers (hub serve --insecure); IoT Hub requires TLS.
	Insecure bool
	// KeepAlive is the MQTT keep-alive; zero means 180 s, as the Node SDK.
	KeepAlive time.Duration
	// OnConnectionChange, when set, is told when the connection is lost
	// (err says why) and when it is back. It is called from the client's
	// own goroutine, one call at a time, and must not call Close.
	OnConnectionChange func(connected bool, err error)
	// Now is the clock tokens are signed by; nil means time.Now.
	Now func() time.Time
}

// Client is a connected device or module. Its methods are safe for
// concurrent use. The callbacks given to OnDesired, OnMethod and OnC2D run
// one at a time, in the order their messages arrived, on a goroutine of the
// client; they may use the twin and send events, but must not call Close,
// Reconnect or Flush.
//
// Requests (Twin, UpdateReported, SendEvent) have no timeout of their own,
// as in the SDKs: give them a ctx with a deadline.
type Client struct {
	cfg      Config
	hostName string
	pc       paho.Client
	now      func() time.Time

	ctx    context.Context // done when Close is called
	cancel context.CancelFunc
	wg     sync.WaitGroup
	conn   chan connEvent // from paho's callbacks to the supervisor
	inbox  chan func()    // callbacks for the dispatcher
	connMu sync.Mutex     // serialises connecting and disconnecting
	closed sync.Once

	mu          sync.Mutex
	subs        map[string]subscription // made, renewed on every connect
	twins       map[string]chan response
	tokenExpiry time.Time
	onDesired   func(patch map[string]any, version int64)
	onMethod    func(name string, payload []byte) (int, []byte)
	onC2D       func(Message)

	rid atomic.Uint64
}

type subscription struct {
	qos     byte
	handler paho.MessageHandler
}

type connEvent struct {
	up  bool
	err error
}

// ConnectError is a connection the hub refused at CONNACK. It Is
// ErrNotAuthorized for return code 5, which IoT Hub answers every
// authentication failure with.
type ConnectError struct {
	ReturnCode byte
}

// ErrNotAuthorized is the hub's refusal of a bad, expired or foreign
// credential, an unknown identity or a disabled device (CONNACK 5).
var ErrNotAuthorized = errors.New("not authorized")

func (e *ConnectError) Error() string {
	text, ok := connackText[e.ReturnCode]
	if !ok {
		text = "for an unknown reason"
	}
	return fmt.Sprintf("the hub refused the connection: %s (CONNACK %d)", text, e.ReturnCode)
}

// connackText says what each CONNACK return code of MQTT 3.1.1 means to IoT
// Hub's devices (reference §4).
var connackText = map[byte]string{
	1: "unacceptable protocol version",
	2: "identifier rejected",
	3: "server unavailable",
	4: "bad username or password",
	5: "not authorized",
}

// Is reports whether target is ErrNotAuthorized and the code 5.
func (e *ConnectError) Is(target error) bool {
	return target == ErrNotAuthorized && e.ReturnCode == pahopackets.ErrRefusedNotAuthorised
}

// Connect connects to the hub as cfg says and returns once the hub has
// accepted the connection. A refusal is a *ConnectError. Once connected,
// the client reconnects by itself when the connection is lost, with
// backoff, until Close.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Host == "" || cfg.DeviceID == "" {
		return nil, errors.New("device: Host and DeviceID are required")
	}
	if cfg.Key != "" && cfg.Token != "" {
		return nil, errors.New("device: give Key or Token, not both")
	}
	if cfg.Key != "" {
		if err := hub.ValidateSymmetricKey(cfg.Key); err != nil {
			return nil, fmt.Errorf("device: key: %w", err)
		}
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 180 * time.Second
	}
	c := &Client{cfg: cfg, hostName: cfg.HostName, now: cfg.Now,
		conn: make(chan connEvent, 4), inbox: make(chan func(), 64),
		subs: map[string]subscription{}, twins: map[string]chan response{}}
	if c.hostName == "" {
		c.hostName = cfg.Host
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())

	o := paho.NewClientOptions()
	scheme := "tls"
	if cfg.Insecure {
		scheme = "tcp"
	}
	o.AddBroker(scheme + "://" + dialAddress(cfg.Host))
	o.SetClientID(c.clientID())
	o.SetCredentialsProvider(func() (string, string) { return c.username(), c.password() })
	o.SetCleanSession(false) // as the SDKs: subscriptions survive reconnects
	o.SetProtocolVersion(4)
	o.SetKeepAlive(cfg.KeepAlive)
	o.SetPingTimeout(30 * time.Second)
	o.SetConnectTimeout(30 * time.Second)
	o.SetWriteTimeout(30 * time.Second)
	o.SetAutoReconnect(false) // the supervisor reconnects, with a fresh token
	o.SetConnectRetry(false)
	o.SetOrderMatters(true)
	o.SetCustomOpenConnectionFn(c.dial)
	o.SetOnConnectHandler(func(paho.Client) { c.signal(connEvent{up: true}) })
	o.SetConnectionLostHandler(func(_ paho.Client, err error) { c.signal(connEvent{err: err}) })
	c.pc = paho.NewClient(o)

	if err := c.connect(ctx); err != nil {
		c.cancel()
		return nil, err
	}
	c.wg.Add(2)
	go c.supervise()
	go c.dispatch()
	return c, nil
}

// dialAddress adds the default port to a host without one.
func dialAddress(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(host, DefaultPort)
}

// dial opens the network connection for paho: TLS unless Insecure, with
// ServerName defaulting to the dialled host's name.
func (c *Client) dial(uri *url.URL, opts paho.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: opts.ConnectTimeout}
	if c.cfg.Insecure {
		return d.Dial("tcp", uri.Host)
	}
	cfg := &tls.Config{}
	if c.cfg.TLS != nil {
		cfg = c.cfg.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = uri.Hostname()
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return tls.DialWithDialer(d, "tcp", uri.Host, cfg)
}

func (c *Client) clientID() string {
	if c.cfg.ModuleID == "" {
		return c.cfg.DeviceID
	}
	return c.cfg.DeviceID + "/" + c.cfg.ModuleID
}

// username is {host}/{clientID}/?api-version=… (reference §2).
func (c *Client) username() string {
	return c.hostName + "/" + c.clientID() + "/?api-version=" + APIVersion + "&DeviceClientType=iotplan"
}

// password returns the SAS token to connect with: Token as given, or a new
// one signed with Key; "" for an X.509 identity.
func (c *Client) password() string {
	switch {
	case c.cfg.Token != "":
		return c.cfg.Token
	case c.cfg.Key == "":
		return ""
	}
	resource := c.hostName + "/devices/" + c.cfg.DeviceID
	if c.cfg.ModuleID != "" {
		resource += "/modules/" + c.cfg.ModuleID
	}
	expiry := c.now().Add(c.cfg.TokenLifetime)
	tok, err := hub.NewSASToken(resource, c.cfg.Key, c.cfg.KeyName, expiry)
	if err != nil {
		return "" // the key was checked by Connect
	}
	c.mu.Lock()
	c.tokenExpiry = expiry
	c.mu.Unlock()
	return tok
}

// connect makes one connection attempt.
func (c *Client) connect(ctx context.Context) error {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	tok := c.pc.Connect()
	if err := wait(ctx, tok); err != nil {
		if errors.Is(err, ctx.Err()) {
			c.pc.Disconnect(0)
			return err
		}
		if ct, ok := tok.(*paho.ConnectToken); ok && ct.ReturnCode() != pahopackets.Accepted && ct.ReturnCode() != pahopackets.ErrNetworkError {
			return &ConnectError{ReturnCode: ct.ReturnCode()}
		}
		return fmt.Errorf("connect to %s: %w", c.cfg.Host, err)
	}
	return nil
}

// Reconnect closes the connection and opens a new one with a fresh token,
// as the SDKs do to renew their tokens and as a device does when it
// reboots. Subscriptions are made again. When the new connection fails,
// the client keeps trying, as after any lost connection.
func (c *Client) Reconnect(ctx context.Context) error {
	err := c.reconnect(ctx)
	if err != nil && c.ctx.Err() == nil {
		c.signal(connEvent{err: err})
	}
	return err
}

func (c *Client) reconnect(ctx context.Context) error {
	c.connMu.Lock()
	c.pc.Disconnect(250)
	c.connMu.Unlock()
	return c.connect(ctx)
}

// wait waits for a paho token or ctx.
func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signal passes a connection event from paho to the supervisor.
func (c *Client) signal(ev connEvent) {
	select {
	case c.conn <- ev:
	case <-c.ctx.Done():
	}
}

// supervise owns the connection: it makes the subscriptions again after
// every connect, renews key-signed tokens before they expire, and
// reconnects with backoff when the connection is lost.
func (c *Client) supervise() {
	defer c.wg.Done()
	renew := time.NewTimer(time.Hour)
	renew.Stop()
	defer renew.Stop()
	first := true
	for {
		select {
		case <-c.ctx.Done():
			return
		case ev := <-c.conn:
			if ev.up {
				c.resubscribe()
				c.scheduleRenewal(renew)
				if !first {
					c.tell(true, nil)
				}
				first = false
				continue
			}
			first = false
			if c.pc.IsConnectionOpen() {
				continue // reconnected already
			}
			renew.Stop()
			c.recover(ev.err)
		case <-renew.C:
			if err := c.reconnect(c.ctx); err != nil && c.ctx.Err() == nil {
				c.recover(fmt.Errorf("renew token: %w", err))
			}
		}
	}
}

// scheduleRenewal sets the renewal timer for the token just connected
// with: when a quarter of its lifetime is left.
func (c *Client) scheduleRenewal(renew *time.Timer) {
	c.mu.Lock()
	expiry := c.tokenExpiry
	c.mu.Unlock()
	if c.cfg.Key == "" || expiry.IsZero() {
		return
	}
	renew.Reset(max(expiry.Sub(c.now())-c.cfg.TokenLifetime/4, 0))
}

// recover reconnects after the connection was lost, waiting 1 s before
// the first attempt and up to 30 s between later ones.
func (c *Client) recover(err error) {
	backoff := time.Second
	for {
		c.tell(false, err)
		t := time.NewTimer(backoff)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if c.pc.IsConnectionOpen() {
			return
		}
		if err = c.connect(c.ctx); err == nil || c.ctx.Err() != nil {
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// tell passes a connection change to the application.
func (c *Client) tell(connected bool, err error) {
	if c.cfg.OnConnectionChange != nil {
		c.cfg.OnConnectionChange(connected, err)
	}
}

// resubscribe makes every subscription again, for a session the hub may
// have lost.
func (c *Client) resubscribe() {
	c.mu.Lock()
	subs := make(map[string]subscription, len(c.subs))
	for f, s := range c.subs {
		subs[f] = s
	}
	c.mu.Unlock()
	for f, s := range subs {
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		_ = wait(ctx, c.pc.Subscribe(f, s.qos, s.handler))
		cancel()
	}
}

// ErrClosed is the error of a call on a closed client.
var ErrClosed = errors.New("device client closed")

// Flush waits until the callbacks of the messages received so far have run
// and their answers (method responses) have been sent: a device that
// restarts after answering a method calls it before Reconnect.
func (c *Client) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case c.inbox <- func() { close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClosed
	}
}

// dispatch runs the application's callbacks one at a time.
func (c *Client) dispatch() {
	defer c.wg.Done()
	for {
		select {
		case fn := <-c.inbox:
			fn()
		case <-c.ctx.Done():
			return
		}
	}
}

// enqueue hands a callback to the dispatcher; paho's message handlers call
// it, so a slow application slows the connection down rather than losing
// messages.
func (c *Client) enqueue(fn func()) {
	select {
	case c.inbox <- fn:
	case <-c.ctx.Done():
	}
}

// subscribe subscribes to filter once, and again after every reconnect.
func (c *Client) subscribe(ctx context.Context, filter string, qos byte, h paho.MessageHandler) error {
	c.mu.Lock()
	_, done := c.subs[filter]
	c.mu.Unlock()
	if done {
		return nil
	}
	if err := wait(ctx, c.pc.Subscribe(filter, qos, h)); err != nil {
		return fmt.Errorf("subscribe to %s: %w", filter, err)
	}
	c.mu.Lock()
	c.subs[filter] = subscription{qos: qos, handler: h}
	c.mu.Unlock()
	return nil
}

// Close disconnects and waits for the client's goroutines, callbacks
// included, to end.
// Calling it again does nothing.
func (c *Client) Close() error {
	c.closed.Do(func() {
		c.cancel()
		c.wg.Wait()
		c.connMu.Lock()
		defer c.connMu.Unlock()
		c.pc.Disconnect(250)
	})
	return nil
}

// nextRID returns a request ID for a twin request.
func (c *Client) nextRID() string {
	return strconv.FormatUint(c.rid.Add(1), 10)
}
