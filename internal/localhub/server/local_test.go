package server

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

// c2dRecorder is an Options.SendC2D that records what it is given and
// answers with err.
type c2dRecorder struct {
	mu   sync.Mutex
	sent []sentC2D
	err  error
}

type sentC2D struct {
	deviceID string
	msg      C2DMessage
}

func (r *c2dRecorder) send(_ context.Context, deviceID string, m C2DMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.sent = append(r.sent, sentC2D{deviceID, m})
	return nil
}

func (r *c2dRecorder) all() []sentC2D {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentC2D(nil), r.sent...)
}

// newLocalFixture is a fixture whose server serves the local extension
// with the given SendC2D and Subscribe, and devices "d" (enabled) and
// "off" (disabled).
func newLocalFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	h := openHub(t)
	opts.HostName = testHost
	opts.Logger = slog.New(slog.DiscardHandler)
	f := &fixture{t: t, h: h, s: New(h, opts), owner: policy(t, h, "iothubowner")}
	for _, d := range []*hub.Device{{DeviceID: "d"}, {DeviceID: "off", Status: hub.StatusDisabled}} {
		if _, err := h.CreateDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestSendC2D(t *testing.T) {
	rec := &c2dRecorder{}
	f := newLocalFixture(t, Options{SendC2D: rec.send})
	expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	body := `{"body":"hello ünïcode","bodyEncoding":"utf-8","properties":{"color":"blue","empty":""},` +
		`"messageId":"m-1","correlationId":"c-1","userId":"u-1","contentType":"text/plain","contentEncoding":"utf-8",` +
		`"ack":"full","expiryTimeUtc":"` + expiry.Format(time.RFC3339) + `"}`
	r := f.do(req{method: "POST", path: "/$local/devices/d/messages/devicebound", body: body})
	if r.Code != http.StatusNoContent || r.Body.Len() != 0 {
		t.Fatalf("status %d, body %q; want 204 without a body", r.Code, r.Body)
	}
	want := []sentC2D{{"d", C2DMessage{
		MessageID: "m-1", CorrelationID: "c-1", UserID: "u-1", ContentType: "text/plain", ContentEncoding: "utf-8",
		Ack: "full", ExpiryTime: expiry, Properties: map[string]string{"color": "blue", "empty": ""},
		Body: []byte("hello ünïcode"),
	}}}
	if d := cmp.Diff(want, rec.all(), cmp.AllowUnexported(sentC2D{})); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}

	// A binary body in base64; the smallest body there is; the '$' of the
	// path percent-encoded; the device ID percent-encoded.
	if _, err := f.h.CreateDevice(t.Context(), &hub.Device{DeviceID: "a:b+c"}); err != nil {
		t.Fatal(err)
	}
	binary := []byte{0xff, 0x00, 0xfe, 'x'}
	for _, tt := range []struct {
		path, body string
		want       sentC2D
	}{
		{"/$local/devices/d/messages/devicebound", `{"body":"` + base64.StdEncoding.EncodeToString(binary) + `","bodyEncoding":"base64"}`, sentC2D{"d", C2DMessage{Body: binary}}},
		{"/%24local/devices/d/messages/devicebound/", `{}`, sentC2D{"d", C2DMessage{Body: []byte{}}}},
		{"/$local/devices/a%3Ab%2Bc/messages/devicebound", `{"body":"x"}`, sentC2D{"a:b+c", C2DMessage{Body: []byte("x")}}},
	} {
		before := len(rec.all())
		if r := f.do(req{method: "POST", path: tt.path, body: tt.body}); r.Code != http.StatusNoContent {
			t.Fatalf("POST %s %s: status %d, body %s", tt.path, tt.body, r.Code, r.Body)
		}
		got := rec.all()[before:]
		if d := cmp.Diff([]sentC2D{tt.want}, got, cmp.AllowUnexported(sentC2D{})); d != "" {
			t.Errorf("POST %s %s: sent (-want +got):\n%s", tt.path, tt.body, d)
		}
	}
}

func TestSendC2DErrors(t *testing.T) {
	rec := &c2dRecorder{}
	f := newLocalFixture(t, Options{SendC2D: rec.send})
	path := "/$local/devices/d/messages/devicebound"
	big := strings.Repeat("x", MaxC2DBodyBytes+1)
	tests := map[string]struct {
		path, body string
		status     int
		code       hub.ErrorCode
		want       string
	}{
		"unknown device":       {"/$local/devices/nobody/messages/devicebound", `{"body":"x"}`, 404, hub.CodeDeviceNotFound, "nobody"},
		"disabled device":      {"/$local/devices/off/messages/devicebound", `{"body":"x"}`, 404, hub.CodeDeviceNotFound, "disabled"},
		"body too large":       {path, `{"body":"` + big + `"}`, 413, hub.CodeMessageTooLarge, "the most a cloud-to-device message holds is 65536"},
		"base64 too large":     {path, `{"body":"` + base64.StdEncoding.EncodeToString([]byte(big)) + `","bodyEncoding":"base64"}`, 413, hub.CodeMessageTooLarge, "65537 bytes"},
		"request too large":    {path, `{"body":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, hub.CodeMessageTooLarge, "the request is larger than"},
		"properties too large": {path, `{"properties":{"k":"` + strings.Repeat("v", MaxC2DPropertyBytes) + `"}}`, 413, hub.CodeMessageTooLarge, "properties"},
		"no body":              {path, ``, 400, hub.CodeArgumentNull, "needs a cloud-to-device message"},
		"not JSON":             {path, `{"body":`, 400, hub.CodeIotHubFormatError, "not valid JSON"},
		"unknown member":       {path, `{"body":"x","priority":1}`, 400, hub.CodeArgumentInvalid, "has no member"},
		"number property":      {path, `{"properties":{"n":1}}`, 400, hub.CodeArgumentInvalid, "must be a string"},
		"bad encoding":         {path, `{"body":"x","bodyEncoding":"utf-16"}`, 400, hub.CodeArgumentInvalid, `bodyEncoding must be "utf-8" or "base64"`},
		"bad base64":           {path, `{"body":"!!","bodyEncoding":"base64"}`, 400, hub.CodeArgumentInvalid, "not valid base64"},
		"bad ack":              {path, `{"ack":"always"}`, 400, hub.CodeArgumentInvalid, `ack must be "none", "positive", "negative" or "full"`},
		"system property":      {path, `{"properties":{"$.mid":"x"}}`, 400, hub.CodeArgumentInvalid, "system properties"},
		"reserved property":    {path, `{"properties":{"IoTHub-Ack":"full"}}`, 400, hub.CodeArgumentInvalid, "reserves"},
		"empty property name":  {path, `{"properties":{"":"x"}}`, 400, hub.CodeArgumentInvalid, "empty name"},
		"long message ID":      {path, `{"messageId":"` + strings.Repeat("m", 129) + `"}`, 400, hub.CodeArgumentInvalid, "messageId is longer than 128"},
		"expiry not a time":    {path, `{"expiryTimeUtc":"tomorrow"}`, 400, hub.CodeArgumentInvalid, "expiryTimeUtc must be a time"},
		"expiry passed":        {path, `{"expiryTimeUtc":"2001-01-01T00:00:00Z"}`, 400, hub.CodeArgumentInvalid, "has passed"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := f.do(req{method: "POST", path: tt.path, body: tt.body})
			if text := wantError(t, r, tt.status, tt.code); !strings.Contains(text, tt.want) {
				t.Errorf("message %q, want it to say %q", text, tt.want)
			}
		})
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("%d messages sent, want none", n)
	}

	// The errors of SendC2D itself are answered as they are.
	queueFull := hub.ErrorCode{Number: 403004, Name: "DeviceMaximumQueueDepthExceeded"}
	for _, tt := range []struct {
		err    error
		status int
		code   hub.ErrorCode
	}{
		{hub.Errorf(queueFull, "device d already has 50 cloud-to-device messages pending"), 403, queueFull},
		{hub.Errorf(hub.CodeMessageTooLarge, "too large"), 413, hub.CodeMessageTooLarge},
		{errors.New("disk on fire"), 500, hub.CodeGenericServerError},
	} {
		rec.err = tt.err
		wantError(t, f.do(req{method: "POST", path: path, body: `{"body":"x"}`}), tt.status, tt.code)
	}
}

func TestLocalAuthAndRouting(t *testing.T) {
	rec := &c2dRecorder{}
	f := newLocalFixture(t, Options{SendC2D: rec.send, Subscribe: func(context.Context) (EventSource, error) {
		return nil, hub.Errorf(hub.CodeServiceUnavailable, "not now")
	}})
	now := time.Now()
	c2d := "/$local/devices/d/messages/devicebound"
	for name, tt := range map[string]struct {
		method, path, auth string
		status             int
		code               hub.ErrorCode
		want               string
	}{
		"no token":                    {"POST", c2d, "-", 401, hub.CodeUnauthorized, "no Authorization header"},
		"registryRead cannot send":    {"POST", c2d, token(t, testHost, policy(t, f.h, "registryRead"), now.Add(time.Hour)), 401, hub.CodeUnauthorized, "lacks the ServiceConnect right that POST /$local/devices/d/messages/devicebound needs"},
		"registryReadWrite cannot":    {"POST", c2d, token(t, testHost, policy(t, f.h, "registryReadWrite"), now.Add(time.Hour)), 401, hub.CodeUnauthorized, "ServiceConnect"},
		"registryRead cannot monitor": {"GET", "/$local/events", token(t, testHost, policy(t, f.h, "registryRead"), now.Add(time.Hour)), 401, hub.CodeUnauthorized, "lacks the ServiceConnect right that GET /$local/events needs"},
		"GET devicebound":             {"GET", c2d, "", 405, hub.CodeGenericMethodNotAllowed, "accepts POST"},
		"POST events":                 {"POST", "/$local/events", "", 405, hub.CodeGenericMethodNotAllowed, "accepts GET"},
		"unknown local path":          {"GET", "/$local/nothing", "", 404, hub.CodeGenericNotFound, "no endpoint"},
		"subscribe fails":             {"GET", "/$local/events", "", 503, hub.CodeServiceUnavailable, "not now"},
	} {
		t.Run(name, func(t *testing.T) {
			body := ""
			if tt.method == "POST" {
				body = `{"body":"x"}`
			}
			r := f.do(req{method: tt.method, path: tt.path, body: body, auth: tt.auth})
			if text := wantError(t, r, tt.status, tt.code); !strings.Contains(text, tt.want) {
				t.Errorf("message %q, want it to say %q", text, tt.want)
			}
		})
	}
	service := token(t, testHost, policy(t, f.h, "service"), now.Add(time.Hour))
	if r := f.do(req{method: "POST", path: c2d, body: `{"body":"x"}`, auth: service}); r.Code != http.StatusNoContent {
		t.Errorf("the service policy sends: status %d, body %s", r.Code, r.Body)
	}

	// Without SendC2D and Subscribe, the endpoints are not served.
	bare := newFixture(t)
	if _, err := bare.h.CreateDevice(t.Context(), &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*httptest.ResponseRecorder{
		bare.do(req{method: "POST", path: c2d, body: `{"body":"x"}`}),
		bare.do(req{method: "GET", path: "/$local/events"}),
	} {
		if text := wantError(t, r, 404, hub.CodeGenericNotFound); !strings.Contains(text, "runs without a device gateway") {
			t.Errorf("message %q, want it to say that the hub runs without a device gateway", text)
		}
	}
}

// fakeSource is an EventSource fed by a test.
type fakeSource struct {
	events  chan DeviceEvent
	dropped atomic.Int64
	closed  chan struct{}
	once    sync.Once
}

func newFakeSource() *fakeSource {
	return &fakeSource{events: make(chan DeviceEvent), closed: make(chan struct{})}
}

func (f *fakeSource) Next(ctx context.Context) (DeviceEvent, error) {
	select {
	case <-ctx.Done():
		return DeviceEvent{}, ctx.Err()
	case ev, ok := <-f.events:
		if !ok {
			return DeviceEvent{}, io.EOF
		}
		return ev, nil
	}
}

// send hands the server one event, failing the test if it does not take
// it.
func (f *fakeSource) send(t *testing.T, ev DeviceEvent) {
	t.Helper()
	select {
	case f.events <- ev:
	case <-f.closed:
		t.Fatalf("the stream ended before event %+v", ev)
	case <-time.After(10 * time.Second):
		t.Fatalf("the server did not take event %+v", ev)
	}
}

// waitClosed waits for the server to close the source.
func (f *fakeSource) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-f.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not close the event source")
	}
}

func (f *fakeSource) Dropped() int64 { return f.dropped.Load() }
func (f *fakeSource) Close()         { f.once.Do(func() { close(f.closed) }) }

// subscriptions is an Options.Subscribe that hands each new source to the
// test.
type subscriptions chan *fakeSource

func (s subscriptions) subscribe(context.Context) (EventSource, error) {
	src := newFakeSource()
	s <- src
	return src, nil
}

// openEvents opens an event stream of a running server and returns the
// answer and the source serving it.
func openEvents(t *testing.T, base string, owner hub.SharedAccessPolicy, subs subscriptions, query string) (*http.Response, *fakeSource) {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), "GET", base+"/$local/events?api-version="+APIVersion+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", token(t, testHost, owner, time.Now().Add(time.Hour)))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, body %s", resp.StatusCode, b)
	}
	return resp, <-subs
}

// readLine reads one line of a stream, without its newline.
func readLine(t *testing.T, rd *bufio.Reader) string {
	t.Helper()
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("read a line: %v (so far %q)", err, line)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestEventStream(t *testing.T) {
	subs := make(subscriptions, 1)
	h := openHub(t)
	s := New(h, Options{HostName: testHost, Subscribe: subs.subscribe, EventHeartbeat: time.Hour})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	owner := policy(t, h, "iothubowner")

	resp, src := openEvents(t, ts.URL, owner, subs, "")
	for k, want := range map[string]string{"Content-Type": "application/x-ndjson", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.FixedZone("CET", 3600))
	rd := bufio.NewReader(resp.Body)
	src.send(t, DeviceEvent{DeviceID: "d1", System: map[string]string{"ct": "application/json", "mid": "m1"},
		Properties: map[string]string{"a": "1"}, Body: []byte(`{"t":21.5,"s":"<&>"}`), EnqueuedTime: at})
	if got, want := readLine(t, rd), `{"deviceId":"d1","moduleId":"","enqueuedTimeUtc":"2026-03-04T04:06:07.89Z","systemProperties":{"ct":"application/json","mid":"m1"},"properties":{"a":"1"},"body":"{\"t\":21.5,\"s\":\"<&>\"}","bodyEncoding":"utf-8"}`; got != want {
		t.Errorf("line\n%s\nwant\n%s", got, want)
	}
	src.dropped.Store(7)
	src.send(t, DeviceEvent{DeviceID: "d2", ModuleID: "m", Body: []byte{0xff, 0xfe}, EnqueuedTime: at})
	if got, want := readLine(t, rd), `{"deviceId":"d2","moduleId":"m","enqueuedTimeUtc":"2026-03-04T04:06:07.89Z","systemProperties":{},"properties":{},"body":"//4=","bodyEncoding":"base64","missed":7}`; got != want {
		t.Errorf("line\n%s\nwant\n%s", got, want)
	}
	// The hub stops: the stream ends cleanly, and the source is closed.
	close(src.events)
	if rest, err := io.ReadAll(rd); err != nil || len(rest) != 0 {
		t.Errorf("after the hub stopped: read %q, %v; want the end of the stream", rest, err)
	}
	src.waitClosed(t)
}

func TestEventStreamFilterAndHeartbeat(t *testing.T) {
	subs := make(subscriptions, 1)
	h := openHub(t)
	s := New(h, Options{HostName: testHost, Subscribe: subs.subscribe, EventHeartbeat: 50 * time.Millisecond})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	resp, src := openEvents(t, ts.URL, policy(t, h, "service"), subs, "&deviceId=a%2Fb")
	rd := bufio.NewReader(resp.Body)

	// Silence: a heartbeat, an empty line.
	if line := readLine(t, rd); line != "" {
		t.Errorf("heartbeat %q, want an empty line", line)
	}
	// Another device's messages are not written, but keep no heartbeat
	// away: a heartbeat is due even while they flow.
	stop := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for {
			select {
			case src.events <- DeviceEvent{DeviceID: "other", Body: []byte("x")}:
			case <-stop:
				return
			}
		}
	}()
	if line := readLine(t, rd); line != "" {
		t.Errorf("during another device's messages: %q, want a heartbeat", line)
	}
	close(stop)
	<-flooded
	src.send(t, DeviceEvent{DeviceID: "a/b", Body: []byte("mine")})
	var got map[string]any
	for {
		line := readLine(t, rd)
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		break
	}
	if got["deviceId"] != "a/b" || got["body"] != "mine" {
		t.Errorf("event %v, want device a/b's", got)
	}

	// The client goes away: the server closes the source.
	resp.Body.Close()
	src.waitClosed(t)
}

// TestEventStreamShutdown stops a running server while a stream is open:
// the stream ends and Run returns nil.
func TestEventStreamShutdown(t *testing.T) {
	subs := make(subscriptions, 1)
	h := openHub(t)
	ln, _ := listen(t)
	run := runListener(t, New(h, Options{HostName: testHost, Subscribe: subs.subscribe}), ln)
	resp, src := openEvents(t, "http://"+run.addr, policy(t, h, "iothubowner"), subs, "")
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Errorf("after shutdown: read %q, %v; want the end of the stream", rest, err)
	}
	src.waitClosed(t)
}
