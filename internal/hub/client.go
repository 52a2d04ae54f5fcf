package hub

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ClientAPIVersion is the service API version the client speaks.
const ClientAPIVersion = "2021-04-12"

// Client defaults.
const (
	DefaultMaxAttempts    = 5
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultRequestTimeout = time.Minute
	DefaultTokenLifetime  = time.Hour
	// methodTimeoutSlack is added to a direct method's own timeouts to
	// bound its HTTP call, as the C# SDK does.
	methodTimeoutSlack = 15 * time.Second
	// maxResponseBytes bounds what the client reads of an answer: a query
	// page of 1,000 twins at their largest.
	maxResponseBytes = 64 << 20
)

// ClientOptions configures a Client. The zero value talks HTTPS to the
// connection string's HostName with the system's trusted CAs.
type ClientOptions struct {
	// BaseURL replaces the URL derived from the connection string, e.g.
	// "https://127.0.0.1:8443" or a test server's URL. Tokens are still
	// signed for the connection string's HostName.
	BaseURL string
	// Insecure speaks plain HTTP to HostName (`iotplan hub serve
	// --insecure`). It never turns off certificate checks.
	Insecure bool
	// RootCAs are the CAs trusted for the hub's certificate, e.g. the
	// local hub's ca.pem; nil means the system's. Ignored with HTTPClient.
	RootCAs *x509.CertPool
	// HTTPClient sends the requests; nil means one made for this client.
	// Its Timeout should be zero: the client bounds each attempt itself.
	HTTPClient *http.Client
	// Logger receives a debug line per attempt and one per retry; nil
	// discards. Keys and tokens are never logged.
	Logger *slog.Logger
	// MaxAttempts bounds the attempts of one call (DefaultMaxAttempts when
	// zero); MinBackoff and MaxBackoff bound the exponential backoff
	// between them (DefaultMinBackoff, DefaultMaxBackoff).
	MaxAttempts            int
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one attempt (DefaultRequestTimeout when zero).
	// A direct method's attempt lasts its connect and response timeouts
	// plus 15 s instead.
	RequestTimeout time.Duration
	// TokenLifetime is how long the SAS tokens the client signs are valid
	// (DefaultTokenLifetime when zero). A token is reused until a fifth of
	// its lifetime is left.
	TokenLifetime time.Duration
	// UserAgent is sent with every request; "iotplan" when empty.
	UserAgent string
}

// Client is a Hub over IoT Hub's service REST API (api-version
// 2021-04-12): Azure IoT Hub, or `iotplan hub serve`. It is safe for
// concurrent use.
//
// Every call signs its request with a SAS token made from the connection
// string's policy key (cached, renewed before it expires), and retries
// throttling (429), server errors (500, 503, 504) and broken connections
// with exponential backoff and jitter, honouring Retry-After, up to
// MaxAttempts and never past ctx. A write is repeated only when repeating
// it is harmless:
//
//   - reads, updates and deletes are repeated as they are: an update sends
//     the same content and a delete removes the same identity. When an
//     attempt whose outcome is unknown (a 500, 503 or 504, a timeout or a
//     broken connection) is followed by an answer that only makes sense if
//     it took effect, the client checks: a delete answered 404 has
//     succeeded; an update or twin write answered 412 has succeeded when a
//     fresh read shows exactly what was sent, and is refused otherwise.
//   - a create is never repeated blindly. After an attempt with an unknown
//     outcome the client reads the identity: absent, it sends the create
//     again; present and matching what was sent (status, status reason,
//     authentication type, keys or thumbprints when given, capabilities,
//     scopes, managedBy), the create has succeeded and its result is
//     returned; present and different, someone else's identity holds the
//     ID and the create fails with 409 DeviceAlreadyExists
//     (ModuleAlreadyExistsOnDevice). A 409 after such an attempt is
//     checked the same way. An identical identity made by someone else in
//     that window is indistinguishable from ours and counts as ours, which
//     leaves the registry as the create would have.
//   - bulk calls and direct methods act more than once if repeated, so
//     they are retried only when the hub certainly did not act: a 429, or
//     a connection that never reached it. Otherwise their error says that
//     the outcome is unknown.
//
// Errors answered by the hub are *Error values parsed from any of the
// service's error bodies. No error or log line holds a key or a token.
type Client struct {
	base     *url.URL
	hc       *http.Client
	tokens   *tokenSource
	log      *slog.Logger
	opts     ClientOptions
	hostName string
	// sleep waits between attempts; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ Hub = (*Client)(nil)

// NewClient returns a client of the hub a service connection string names.
// The connection string must carry a policy's key (SharedAccessKeyName and
// SharedAccessKey) or a ready-made policy token (SharedAccessSignature),
// which is used as it is until it expires.
func NewClient(cs *ConnectionString, opts ClientOptions) (*Client, error) {
	if cs == nil || cs.HostName == "" {
		return nil, errors.New("hub client: the connection string has no HostName")
	}
	if cs.DeviceID != "" {
		return nil, errors.New("hub client: a device or module connection string cannot call the service API; use one of the hub's shared access policies (e.g. iothubowner)")
	}
	if cs.SharedAccessKey != "" && cs.SharedAccessKeyName == "" {
		return nil, errors.New("hub client: the connection string has a SharedAccessKey but no SharedAccessKeyName naming its policy")
	}
	if cs.SharedAccessKey == "" && cs.SharedAccessSignature == "" {
		return nil, errors.New("hub client: the connection string has neither SharedAccessKey nor SharedAccessSignature")
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "iotplan"
	}
	raw := opts.BaseURL
	if raw == "" {
		scheme := "https"
		if opts.Insecure {
			scheme = "http"
		}
		raw = scheme + "://" + cs.HostName
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" {
		return nil, fmt.Errorf("hub client: %q is not an http or https base URL", raw)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = ""
	hc := opts.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}
		hc = &http.Client{Transport: t}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Client{
		base:     base,
		hc:       hc,
		tokens:   newTokenSource(cs, opts.TokenLifetime, time.Now),
		log:      log,
		opts:     opts,
		hostName: cs.HostName,
		sleep:    sleepCtx,
	}, nil
}

// HostName is the hub's host name, as the connection string gives it.
func (c *Client) HostName() string { return c.hostName }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryKind says which failures a request may be repeated after.
type retryKind int

const (
	// repeatable requests are repeated after any transient failure.
	repeatable retryKind = iota
	// onlyIfNotDone requests are repeated only when the hub certainly did
	// not act on them: a 429, or a connection that never reached it.
	onlyIfNotDone
)

// request is one call of the service API.
type request struct {
	method string
	path   string // escaped, from the API's root
	query  url.Values
	header http.Header
	body   any // sent as JSON when not nil
	retry  retryKind
	// timeout bounds one attempt; zero means ClientOptions.RequestTimeout.
	timeout time.Duration
}

// response is the hub's final answer to a request.
type response struct {
	status int
	header http.Header
	body   []byte
	// uncertain is set when an earlier attempt failed in a way that leaves
	// open whether the hub carried it out.
	uncertain bool
}

// budget counts the attempts of one call, across the requests it makes.
type budget struct{ used, max int }

func (c *Client) newBudget() *budget { return &budget{max: c.opts.MaxAttempts} }

// do sends a request until it gets a final answer: a success, an error
// that retrying cannot fix, a failure the request's retry kind forbids
// repeating, or the last attempt's failure. The response is never nil;
// err is an *Error for an error status.
func (c *Client) do(ctx context.Context, req *request, b *budget) (*response, error) {
	var body []byte
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return &response{}, fmt.Errorf("%s %s: encode the request body: %w", req.method, req.path, err)
		}
	}
	res := &response{}
	for {
		b.used++
		status, header, data, sent, err := c.attempt(ctx, req, body)
		if err == nil && status < 300 {
			res.status, res.header, res.body = status, header, data
			return res, nil
		}
		var wait time.Duration
		var retryable, notDone bool
		if err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("%s %s: %w", req.method, c.pathForLog(req.path), ctx.Err())
			}
			err = fmt.Errorf("%s %s: %w", req.method, c.pathForLog(req.path), err)
			retryable, notDone = true, !sent
		} else {
			res.status, res.header, res.body = status, header, data
			err = parseError(status, header, data)
			switch status {
			case http.StatusTooManyRequests:
				retryable, notDone = true, true
			case http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				retryable = true
			}
			wait = retryAfter(header, time.Now())
		}
		if !retryable {
			return res, err
		}
		if !notDone {
			res.uncertain = true
		}
		if req.retry == onlyIfNotDone && !notDone {
			return res, &UncertainError{Err: err}
		}
		if b.used >= b.max {
			return res, err
		}
		if wait <= 0 {
			wait = c.backoff(b.used)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return res, err
		}
		c.log.Info("hub call failed; retrying", "method", req.method, "path", c.pathForLog(req.path), "attempt", b.used, "wait", wait, "err", err)
		if serr := c.sleep(ctx, wait); serr != nil {
			return res, fmt.Errorf("%w; gave up waiting to retry: %w", err, serr)
		}
	}
}

// UncertainError is the failure of a write that was not repeated because
// the hub may have carried it out (a bulk call, a direct method): whether
// it did is unknown. It unwraps to the failure.
type UncertainError struct{ Err error }

func (e *UncertainError) Error() string {
	return e.Err.Error() + " (the hub may have carried out the call; it was not repeated)"
}

func (e *UncertainError) Unwrap() error { return e.Err }

// attempt sends the request once. sent reports whether the request may
// have reached the hub: false only when no connection was made.
func (c *Client) attempt(ctx context.Context, req *request, body []byte) (status int, header http.Header, data []byte, sent bool, err error) {
	timeout := req.timeout
	if timeout <= 0 {
		timeout = c.opts.RequestTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var connected atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }})

	u := *c.base
	u.RawPath = c.base.EscapedPath() + req.path
	u.Path, _ = url.PathUnescape(u.RawPath)
	q := url.Values{}
	for k, v := range req.query {
		q[k] = v
	}
	q.Set("api-version", ClientAPIVersion)
	u.RawQuery = q.Encode()

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(actx, req.method, u.String(), rd)
	if err != nil {
		return 0, nil, nil, false, err
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	token, err := c.tokens.token()
	if err != nil {
		return 0, nil, nil, false, err
	}
	hr.Header.Set("Authorization", token)
	hr.Header.Set("Request-Id", newRequestID())
	hr.Header.Set("User-Agent", c.opts.UserAgent)
	hr.Header.Set("Accept", "application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	start := time.Now()
	resp, err := c.hc.Do(hr)
	if err != nil {
		c.log.Debug("hub call", "method", req.method, "path", c.pathForLog(req.path), "err", redactURLError(err), "duration", time.Since(start))
		return 0, nil, nil, connected.Load(), redactURLError(err)
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err == nil && len(data) > maxResponseBytes {
		err = fmt.Errorf("the answer is larger than %d bytes", maxResponseBytes)
	}
	c.log.Debug("hub call", "method", req.method, "path", c.pathForLog(req.path), "status", resp.StatusCode, "duration", time.Since(start))
	if err != nil {
		return 0, nil, nil, true, fmt.Errorf("read the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, data, true, nil
}

// redactURLError drops the request URL that net/http puts in its errors:
// it holds no secret, but the same error text repeats the method and path
// the caller wraps around it.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// pathForLog is a request path as logs and errors show it.
func (c *Client) pathForLog(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}

// backoff is the wait before attempt n+1: exponential from MinBackoff,
// capped at MaxBackoff, with equal jitter (between half and all of it).
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.MinBackoff
	for i := 1; i < n && d < c.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxBackoff)
	half := d / 2
	j, err := rand.Int(rand.Reader, big.NewInt(int64(half)+1))
	if err != nil {
		return d
	}
	return half + time.Duration(j.Int64())
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, 3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, time.Hour)
		}
	}
	return 0
}

// newRequestID returns a random UUID (version 4), as the Node SDK sends in
// Request-Id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// escapeSegment percent-encodes one path segment: every byte but ASCII
// letters, digits and - _ ~ is escaped (more than the SDKs' encoders do,
// so that no front end reads a '+', '$' or ';' specially), and a segment
// of dots is escaped whole so that no one takes it for "." or "..".
func escapeSegment(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	dots := strings.Trim(s, ".") == ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '~' || c == '.' && !dots {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// apiPath joins literal segments and IDs into an escaped request path.
func apiPath(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(s)
	}
	return b.String()
}

// quoteETag makes an If-Match value: quoted, as the SDKs send it, "*"
// included; "" means "*".
func quoteETag(etag string) string {
	etag = strings.TrimSpace(etag)
	if etag == "" {
		etag = "*"
	}
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag
	}
	return `"` + etag + `"`
}
