package hub

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"
)

// The local extension of `iotplan hub serve` (docs/local-extensions.md):
// cloud-to-device messages and a stream of device-to-cloud messages over
// REST, which Azure IoT Hub offers only over AMQP and its Event
// Hubs-compatible endpoint. Azure IoT Hub answers these calls 404.

// C2DMessage is a cloud-to-device message for SendC2D. Its JSON form is
// the extension's request body: the body as text when it is UTF-8, else in
// base64, with bodyEncoding saying which.
type C2DMessage struct {
	Body       []byte
	Properties map[string]string
	// MessageID is made up by the hub when empty.
	MessageID       string
	CorrelationID   string
	UserID          string
	ContentType     string
	ContentEncoding string
	// Ack is the delivery feedback asked for: "none" (when empty),
	// "positive", "negative" or "full". It reaches the device as the
	// iothub-ack property.
	Ack string
	// ExpiryTime is when the hub drops the message if the device has not
	// taken it; zero leaves it to the hub (an hour).
	ExpiryTime time.Time
}

type c2dWire struct {
	Body            string            `json:"body"`
	BodyEncoding    string            `json:"bodyEncoding"`
	Properties      map[string]string `json:"properties,omitempty"`
	MessageID       string            `json:"messageId,omitempty"`
	CorrelationID   string            `json:"correlationId,omitempty"`
	UserID          string            `json:"userId,omitempty"`
	ContentType     string            `json:"contentType,omitempty"`
	ContentEncoding string            `json:"contentEncoding,omitempty"`
	Ack             string            `json:"ack,omitempty"`
	ExpiryTimeUTC   string            `json:"expiryTimeUtc,omitempty"`
}

// MarshalJSON writes the extension's request body.
func (m C2DMessage) MarshalJSON() ([]byte, error) {
	body, enc := encodeBody(m.Body)
	w := c2dWire{
		Body: body, BodyEncoding: enc, Properties: m.Properties,
		MessageID: m.MessageID, CorrelationID: m.CorrelationID, UserID: m.UserID,
		ContentType: m.ContentType, ContentEncoding: m.ContentEncoding, Ack: m.Ack,
	}
	if !m.ExpiryTime.IsZero() {
		w.ExpiryTimeUTC = m.ExpiryTime.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the extension's request body.
func (m *C2DMessage) UnmarshalJSON(b []byte) error {
	var w c2dWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	body, err := decodeBody(w.Body, w.BodyEncoding)
	if err != nil {
		return err
	}
	*m = C2DMessage{
		Body: body, Properties: w.Properties,
		MessageID: w.MessageID, CorrelationID: w.CorrelationID, UserID: w.UserID,
		ContentType: w.ContentType, ContentEncoding: w.ContentEncoding, Ack: w.Ack,
	}
	if w.ExpiryTimeUTC != "" {
		if m.ExpiryTime, err = time.Parse(time.RFC3339Nano, w.ExpiryTimeUTC); err != nil {
			return fmt.Errorf("expiryTimeUtc: %w", err)
		}
	}
	return nil
}

// DeviceEvent is a device-to-cloud message as MonitorEvents hands it over.
// Its JSON form is one line of the extension's event stream.
type DeviceEvent struct {
	DeviceID string
	ModuleID string // "" for a device's own messages
	// EnqueuedTime is when the hub accepted the message.
	EnqueuedTime time.Time
	// System holds the system properties the device set, by their MQTT
	// wire names without "$." ("mid" message ID, "cid" correlation ID,
	// "ct" content type, "ce" content encoding, …).
	System     map[string]string
	Properties map[string]string
	Body       []byte
	// Missed counts the messages, of any device, that the stream lost just
	// before this one because its reader fell behind.
	Missed int64
}

type eventWire struct {
	DeviceID         string            `json:"deviceId"`
	ModuleID         string            `json:"moduleId"`
	EnqueuedTimeUTC  time.Time         `json:"enqueuedTimeUtc"`
	SystemProperties map[string]string `json:"systemProperties"`
	Properties       map[string]string `json:"properties"`
	Body             string            `json:"body"`
	BodyEncoding     string            `json:"bodyEncoding"`
	Missed           int64             `json:"missed,omitempty"`
}

// MarshalJSON writes one line of the event stream.
func (e DeviceEvent) MarshalJSON() ([]byte, error) {
	body, enc := encodeBody(e.Body)
	w := eventWire{
		DeviceID: e.DeviceID, ModuleID: e.ModuleID, EnqueuedTimeUTC: e.EnqueuedTime.UTC(),
		SystemProperties: e.System, Properties: e.Properties, Body: body, BodyEncoding: enc, Missed: e.Missed,
	}
	if w.SystemProperties == nil {
		w.SystemProperties = map[string]string{}
	}
	if w.Properties == nil {
		w.Properties = map[string]string{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads one line of the event stream.
func (e *DeviceEvent) UnmarshalJSON(b []byte) error {
	var w eventWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	body, err := decodeBody(w.Body, w.BodyEncoding)
	if err != nil {
		return err
	}
	*e = DeviceEvent{
		DeviceID: w.DeviceID, ModuleID: w.ModuleID, EnqueuedTime: w.EnqueuedTimeUTC,
		System: w.SystemProperties, Properties: w.Properties, Body: body, Missed: w.Missed,
	}
	return nil
}

// encodeBody returns a body as the extension carries it: as text when it
// is UTF-8, else in base64.
func encodeBody(b []byte) (text, encoding string) {
	if utf8.Valid(b) {
		return string(b), "utf-8"
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

func decodeBody(text, encoding string) ([]byte, error) {
	switch encoding {
	case "", "utf-8":
		return []byte(text), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("body: not valid base64: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("bodyEncoding %q is neither \"utf-8\" nor \"base64\"", encoding)
}

// SendC2D queues a cloud-to-device message for a device; the hub delivers
// it when the device is connected and subscribed, at once or later. It
// needs the ServiceConnect right. An unknown or disabled device is a 404
// DeviceNotFound (404001) error, a body over 64 KiB a 413 MessageTooLarge
// (413001), a device with 50 messages pending a 403
// DeviceMaximumQueueDepthExceeded (403004).
//
// A message is sent again only when the hub certainly did not take it (a
// 429, or no connection); after a failure that leaves that open, the
// error is an *UncertainError, since sending again could deliver it twice.
func (c *Client) SendC2D(ctx context.Context, deviceID string, msg C2DMessage) error {
	if err := checkIDArg("device", deviceID); err != nil {
		return err
	}
	req := &request{method: http.MethodPost, path: c2dPath(deviceID), body: msg, retry: onlyIfNotDone}
	_, err := c.do(ctx, req, c.newBudget())
	return localError(err)
}

func c2dPath(deviceID string) string {
	return apiPath("$local", "devices", escapeSegment(deviceID), "messages", "devicebound")
}

const eventsPath = "/$local/events"

// EventHeartbeat is how long the event stream of `iotplan hub serve` stays
// silent before the hub writes an empty line to it. MonitorEvents takes
// three times as long without a line for a broken connection.
const EventHeartbeat = 15 * time.Second

// eventIdleLimit is how long MonitorEvents waits for a line; a variable so
// that tests can shorten it.
var eventIdleLimit = 3 * EventHeartbeat

// maxEventLine bounds one line of the event stream: a 256 KiB message in
// base64, or as text with every character escaped, and its properties.
const maxEventLine = 4 << 20

// contentTypeNDJSON is the content type of the event stream.
const contentTypeNDJSON = "application/x-ndjson"

// ErrEventStreamEnded is MonitorEvents' error when the hub ends the stream
// itself, as it does when it shuts down.
var ErrEventStreamEnded = errors.New("the hub ended the event stream (it has stopped, or stopped serving devices)")

// errNoHeartbeat cancels a stream that has gone silent.
var errNoHeartbeat = errors.New("no heartbeat")

// MonitorEvents streams the device-to-cloud messages the hub accepts from
// now on, of every device or of deviceID, and calls each with every one,
// in the order the hub accepted them. It needs the ServiceConnect right.
//
// It returns each's error as it is when each fails, ctx's error when ctx
// is done, ErrEventStreamEnded when the hub ends the stream, and an error
// when the stream breaks or stays silent (not even a heartbeat) for three
// EventHeartbeats. Opening the stream is retried as reads are; a broken
// stream is not resumed, since the messages in between are lost.
func (c *Client) MonitorEvents(ctx context.Context, deviceID string, each func(DeviceEvent) error) error {
	q := url.Values{}
	if deviceID != "" {
		if err := checkIDArg("device", deviceID); err != nil {
			return err
		}
		q.Set("deviceId", deviceID)
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.openStream(sctx, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	idle := time.AfterFunc(eventIdleLimit, func() { cancel(errNoHeartbeat) })
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	for sc.Scan() {
		idle.Reset(eventIdleLimit)
		line := sc.Bytes()
		if len(line) == 0 {
			continue // a heartbeat
		}
		var ev DeviceEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("GET %s: the hub sent a line that is not an event: %w", eventsPath, err)
		}
		if err := each(ev); err != nil {
			return err
		}
	}
	err = sc.Err()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(context.Cause(sctx), errNoHeartbeat):
		return fmt.Errorf("GET %s: the hub sent nothing for %s, not even its heartbeat: the connection seems broken", eventsPath, eventIdleLimit)
	case err == nil:
		return ErrEventStreamEnded
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("GET %s: the hub sent a line longer than %d bytes", eventsPath, maxEventLine)
	}
	return fmt.Errorf("GET %s: the stream broke: %w", eventsPath, redactURLError(err))
}

// openStream opens the event stream, retrying throttling, server errors and
// broken connections as the client retries reads. It returns the answer
// with its body to read, or an error.
func (c *Client) openStream(ctx context.Context, q url.Values) (*http.Response, error) {
	b := c.newBudget()
	for {
		b.used++
		resp, err := c.streamAttempt(ctx, q)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %w", eventsPath, ctx.Err())
		}
		var wait time.Duration
		var se *streamError
		switch {
		case errors.As(err, &se):
			err = se.err
			switch se.err.StatusCode {
			case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			default:
				return nil, localError(err)
			}
			wait = se.retryAfter
		case !isTransport(err):
			return nil, err
		}
		if b.used >= b.max {
			return nil, localError(err)
		}
		if wait <= 0 {
			wait = c.backoff(b.used)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, localError(err)
		}
		c.log.Info("hub call failed; retrying", "method", http.MethodGet, "path", eventsPath, "attempt", b.used, "wait", wait, "err", err)
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%w; gave up waiting to retry: %w", err, serr)
		}
	}
}

// streamError is an error answer to the stream's request, with the
// Retry-After it came with.
type streamError struct {
	err        *Error
	retryAfter time.Duration
}

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

// transportError is a failure to reach the hub or read its answer.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func isTransport(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}

// streamAttempt sends the stream's request once. Answering its headers
// may take up to ClientOptions.RequestTimeout; reading the stream is
// bounded by ctx alone.
func (c *Client) streamAttempt(ctx context.Context, q url.Values) (*http.Response, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + eventsPath
	u.Path, _ = url.PathUnescape(u.RawPath)
	query := url.Values{}
	for k, v := range q {
		query[k] = v
	}
	query.Set("api-version", ClientAPIVersion)
	u.RawQuery = query.Encode()

	actx, cancel := context.WithCancelCause(ctx)
	hr, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	token, err := c.tokens.token()
	if err != nil {
		cancel(nil)
		return nil, err
	}
	hr.Header.Set("Authorization", token)
	hr.Header.Set("Request-Id", newRequestID())
	hr.Header.Set("User-Agent", c.opts.UserAgent)
	hr.Header.Set("Accept", contentTypeNDJSON)

	errHeaders := fmt.Errorf("no answer within %s", c.opts.RequestTimeout)
	timer := time.AfterFunc(c.opts.RequestTimeout, func() { cancel(errHeaders) })
	start := time.Now()
	resp, err := c.hc.Do(hr)
	if !timer.Stop() {
		if resp != nil {
			resp.Body.Close()
		}
		c.log.Debug("hub call", "method", http.MethodGet, "path", eventsPath, "err", errHeaders, "duration", time.Since(start))
		return nil, &transportError{fmt.Errorf("GET %s: %w", eventsPath, errHeaders)}
	}
	if err != nil {
		cancel(nil)
		err = redactURLError(err)
		c.log.Debug("hub call", "method", http.MethodGet, "path", eventsPath, "err", err, "duration", time.Since(start))
		// Opening the stream is a read: whether the hub saw it or not,
		// trying again is harmless.
		return nil, &transportError{fmt.Errorf("GET %s: %w", eventsPath, err)}
	}
	c.log.Debug("hub call", "method", http.MethodGet, "path", eventsPath, "status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel(nil)
		if resp.StatusCode < 300 {
			return nil, fmt.Errorf("GET %s: the hub answered %d, not an event stream", eventsPath, resp.StatusCode)
		}
		return nil, &streamError{err: parseError(resp.StatusCode, resp.Header, data), retryAfter: retryAfter(resp.Header, time.Now())}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != contentTypeNDJSON {
		resp.Body.Close()
		cancel(nil)
		return nil, fmt.Errorf("GET %s: the hub answered with %q, not an event stream (%s)", eventsPath, resp.Header.Get("Content-Type"), contentTypeNDJSON)
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

// cancelOnClose releases a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// localError explains a 404 that is not about a device: the hub does not
// serve the local extension (Azure IoT Hub does not).
func localError(err error) error {
	var he *Error
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound || he.Code == CodeDeviceNotFound.Number {
		return err
	}
	return fmt.Errorf("%w\n\nThe hub does not serve iotplan's local message endpoints (/$local, docs/local-extensions.md); `iotplan hub serve` does. Azure IoT Hub takes cloud-to-device messages over AMQP and hands device-to-cloud messages out through its Event Hubs-compatible endpoint, which iotplan does not speak: use the Azure tools there", err)
}
