package hub_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/localhub/server"
)

// The local extension's client against the real REST server, its
// cloud-to-device queue and device-to-cloud messages played by the test.

// localRig is a hub served on a loopback port with the local extension,
// and a client of it.
type localRig struct {
	t      *testing.T
	h      *localhub.Hub
	client *hub.Client
	log    *bytes.Buffer
	owner  hub.SharedAccessPolicy
	subs   chan *eventFeed
	url    string

	mu   sync.Mutex
	sent []sentC2D
	err  error // SendC2D's answer
}

type sentC2D struct {
	DeviceID string
	Msg      server.C2DMessage
}

// rigOptions tune a localRig.
type rigOptions struct {
	heartbeat time.Duration
	// front, when set, handles the requests instead of the server: it
	// calls next to pass one on.
	front func(w http.ResponseWriter, r *http.Request, next http.Handler)
	// notServed leaves SendC2D and Subscribe out.
	notServed bool
	policy    string // the client's policy; "" is iothubowner
	// tls serves HTTPS with a generated CA, as hub serve does.
	tls bool
}

func newLocalRig(t *testing.T, o rigOptions) *localRig {
	t.Helper()
	h, err := localhub.Open(filepath.Join(t.TempDir(), "hub.db"), localhub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r := &localRig{t: t, h: h, log: &bytes.Buffer{}, subs: make(chan *eventFeed, 4)}
	for _, d := range []*hub.Device{{DeviceID: "d"}, {DeviceID: "off", Status: hub.StatusDisabled}} {
		if _, err := h.CreateDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := server.Options{HostName: hostName, EventHeartbeat: o.heartbeat}
	r.url = "http://" + ln.Addr().String()
	var roots *x509.CertPool
	if o.tls {
		id, err := server.EnsureIdentity(t.TempDir(), nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		opts.TLS = id.TLSConfig()
		if roots, err = server.CAPool(id.CAFile); err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		r.url = "https://localhost:" + port
	}
	if !o.notServed {
		opts.SendC2D = r.sendC2D
		opts.Subscribe = r.subscribe
	}
	srv := server.New(h, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if o.front == nil {
		go func() { done <- srv.Run(ctx, ln) }()
	} else {
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { o.front(w, req, srv) })}
		go func() { _ = hs.Serve(ln); done <- nil }()
		context.AfterFunc(ctx, func() { hs.Close() })
	}
	t.Cleanup(func() {
		cancel()
		if err := within(t, done, "MonitorEvents"); err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	ps, err := h.Policies(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r.owner = *hub.FindPolicy(ps, "iothubowner")
	p := r.owner
	if o.policy != "" {
		p = *hub.FindPolicy(ps, o.policy)
	}
	c, err := hub.NewClient(&hub.ConnectionString{HostName: hostName, SharedAccessKeyName: p.KeyName, SharedAccessKey: p.PrimaryKey},
		hub.ClientOptions{BaseURL: r.url, RootCAs: roots, MaxAttempts: 3, RequestTimeout: 10 * time.Second,
			Logger: slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	hub.SetSleep(c, func(ctx context.Context, _ time.Duration) error { return ctx.Err() })
	r.client = c
	return r
}

func (r *localRig) sendC2D(_ context.Context, deviceID string, m server.C2DMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.sent = append(r.sent, sentC2D{deviceID, m})
	return nil
}

func (r *localRig) sentMessages() []sentC2D {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentC2D(nil), r.sent...)
}

func (r *localRig) subscribe(context.Context) (server.EventSource, error) {
	f := &eventFeed{events: make(chan server.DeviceEvent), closed: make(chan struct{})}
	r.subs <- f
	return f, nil
}

// nextFeed returns the source of the next stream the server opens;
// done is the channel the test's MonitorEvents answers on.
func (r *localRig) nextFeed(done <-chan error) *eventFeed {
	r.t.Helper()
	select {
	case f := <-r.subs:
		return f
	case err := <-done:
		r.t.Fatalf("MonitorEvents ended before its stream opened: %v", err)
	case <-time.After(10 * time.Second):
		r.t.Fatal("no stream opened")
	}
	return nil
}

// within receives from ch, failing the test after 10 s.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10 s for %s", what)
	}
	var zero T
	return zero
}

// noSecrets checks that the client logged neither key nor signature.
func (r *localRig) noSecrets() {
	r.t.Helper()
	log := r.log.String()
	if strings.Contains(log, r.owner.PrimaryKey) || strings.Contains(log, "sig=") || strings.Contains(log, "SharedAccessSignature") {
		r.t.Errorf("the client's log shows a secret:\n%s", log)
	}
}

// eventFeed is a server.EventSource the test feeds.
type eventFeed struct {
	events  chan server.DeviceEvent
	dropped atomic.Int64
	closed  chan struct{}
	once    sync.Once
}

func (f *eventFeed) Next(ctx context.Context) (server.DeviceEvent, error) {
	select {
	case <-ctx.Done():
		return server.DeviceEvent{}, ctx.Err()
	case ev, ok := <-f.events:
		if !ok {
			return server.DeviceEvent{}, io.EOF
		}
		return ev, nil
	}
}

// send hands the server one event; it fails the test if the stream has
// ended instead.
func (f *eventFeed) send(t *testing.T, ev server.DeviceEvent) {
	t.Helper()
	select {
	case f.events <- ev:
	case <-f.closed:
		t.Fatalf("the stream ended before event %+v", ev)
	case <-time.After(10 * time.Second):
		t.Fatalf("the server did not take event %+v", ev)
	}
}

func (f *eventFeed) Dropped() int64 { return f.dropped.Load() }
func (f *eventFeed) Close()         { f.once.Do(func() { close(f.closed) }) }

func TestClientSendC2D(t *testing.T) {
	r := newLocalRig(t, rigOptions{})
	ctx := t.Context()
	expiry := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	msg := hub.C2DMessage{
		Body: []byte{0x00, 0xff, 'b', 'i', 'n'}, Properties: map[string]string{"a": "1", "with space": "x&y=z"},
		MessageID: "m-1", CorrelationID: "c-1", UserID: "u", ContentType: "application/octet-stream",
		ContentEncoding: "binary", Ack: "positive", ExpiryTime: expiry,
	}
	if err := r.client.SendC2D(ctx, "d", msg); err != nil {
		t.Fatal(err)
	}
	if err := r.client.SendC2D(ctx, "d", hub.C2DMessage{Body: []byte("text ✓")}); err != nil {
		t.Fatal(err)
	}
	want := []sentC2D{
		{"d", server.C2DMessage{MessageID: "m-1", CorrelationID: "c-1", UserID: "u", ContentType: "application/octet-stream",
			ContentEncoding: "binary", Ack: "positive", ExpiryTime: expiry.UTC(), Properties: msg.Properties, Body: msg.Body}},
		{"d", server.C2DMessage{Body: []byte("text ✓")}},
	}
	if d := cmp.Diff(want, r.sentMessages()); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}

	for _, tt := range []struct {
		device string
		setErr error
		code   int
		is     error
	}{
		{"nobody", nil, 404001, hub.ErrNotFound},
		{"off", nil, 404001, hub.ErrNotFound},
		{"d", hub.Errorf(hub.ErrorCode{Number: 403004, Name: "DeviceMaximumQueueDepthExceeded"}, "full"), 403004, hub.ErrForbidden},
	} {
		r.mu.Lock()
		r.err = tt.setErr
		r.mu.Unlock()
		err := r.client.SendC2D(ctx, tt.device, hub.C2DMessage{Body: []byte("x")})
		if code(err) != tt.code || !errors.Is(err, tt.is) {
			t.Errorf("send to %s: %v, want code %d", tt.device, err, tt.code)
		}
		if err != nil && strings.Contains(err.Error(), "local message endpoints") {
			t.Errorf("send to %s: %v; a device's 404 is not the extension's", tt.device, err)
		}
	}
	if err := r.client.SendC2D(ctx, "", hub.C2DMessage{}); code(err) != hub.CodeArgumentInvalid.Number {
		t.Errorf("empty device ID: %v, want ArgumentInvalid", err)
	}
	r.noSecrets()
}

// TestClientSendC2DRetries checks that a message is sent again only when
// the hub certainly did not take it.
func TestClientSendC2DRetries(t *testing.T) {
	var mu sync.Mutex
	var plan []string // what the front does with the next POSTs
	var seen int
	front := func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		mu.Lock()
		var what string
		if req.Method == http.MethodPost && len(plan) > 0 {
			what, plan = plan[0], plan[1:]
		}
		seen++
		mu.Unlock()
		switch what {
		case "throttle": // the hub did not act
			w.Header().Set("Retry-After", "1")
			w.Header().Set("iothub-errorcode", "ThrottlingException")
			w.WriteHeader(http.StatusTooManyRequests)
		case "lost503": // the hub acted; its answer is lost
			next.ServeHTTP(httptest.NewRecorder(), req)
			w.WriteHeader(http.StatusServiceUnavailable)
		case "lostReset": // the hub acted; the connection is cut
			next.ServeHTTP(httptest.NewRecorder(), req)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			next.ServeHTTP(w, req)
		}
	}
	r := newLocalRig(t, rigOptions{front: front})
	setPlan := func(p ...string) {
		mu.Lock()
		defer mu.Unlock()
		plan, seen = p, 0
	}
	requests := func() int {
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
	body := hub.C2DMessage{Body: []byte("once")}

	setPlan("throttle")
	if err := r.client.SendC2D(t.Context(), "d", body); err != nil {
		t.Fatalf("after a 429: %v", err)
	}
	if n, m := len(r.sentMessages()), requests(); n != 1 || m != 2 {
		t.Errorf("after a 429: %d sent in %d requests, want 1 in 2", n, m)
	}
	for _, fault := range []string{"lost503", "lostReset"} {
		setPlan(fault)
		before := len(r.sentMessages())
		err := r.client.SendC2D(t.Context(), "d", body)
		var ue *hub.UncertainError
		if !errors.As(err, &ue) {
			t.Errorf("%s: %v, want an UncertainError", fault, err)
		}
		if n, m := len(r.sentMessages())-before, requests(); n != 1 || m != 1 {
			t.Errorf("%s: %d sent in %d requests, want 1 in 1: not sent again", fault, n, m)
		}
	}
}

func TestClientMonitorEvents(t *testing.T) {
	r := newLocalRig(t, rigOptions{heartbeat: time.Hour})
	ctx := t.Context()
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	sent := []server.DeviceEvent{
		{DeviceID: "d", System: map[string]string{"ct": "application/json", "ce": "utf-8", "mid": "1"}, Properties: map[string]string{"k": "v"}, Body: []byte(`{"n":1}`), EnqueuedTime: at},
		{DeviceID: "d", ModuleID: "m", Body: []byte{0xde, 0xad, 0xbe, 0xef}, EnqueuedTime: at.Add(time.Second)},
		{DeviceID: "d", Body: []byte("third"), EnqueuedTime: at.Add(2 * time.Second)},
	}
	want := []hub.DeviceEvent{
		{DeviceID: "d", System: sent[0].System, Properties: sent[0].Properties, Body: sent[0].Body, EnqueuedTime: at, Missed: 3},
		{DeviceID: "d", ModuleID: "m", System: map[string]string{}, Properties: map[string]string{}, Body: sent[1].Body, EnqueuedTime: at.Add(time.Second)},
		{DeviceID: "d", System: map[string]string{}, Properties: map[string]string{}, Body: []byte("third"), EnqueuedTime: at.Add(2 * time.Second)},
	}
	errEnough := errors.New("enough")
	var got []hub.DeviceEvent
	done := make(chan error, 1)
	go func() {
		done <- r.client.MonitorEvents(ctx, "d", func(ev hub.DeviceEvent) error {
			got = append(got, ev)
			if len(got) == len(want) {
				return errEnough
			}
			return nil
		})
	}()
	feed := r.nextFeed(done)
	feed.send(t, server.DeviceEvent{DeviceID: "other", Body: []byte("not mine")})
	feed.dropped.Store(3) // lost before the first: the server reads it after taking that one
	for _, ev := range sent {
		feed.send(t, ev)
	}
	if err := within(t, done, "MonitorEvents"); err != errEnough {
		t.Fatalf("MonitorEvents: %v, want each's error as it is", err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	within(t, feed.closed, "the source to close") // the client went away, and the server noticed
	r.noSecrets()
}

func TestClientMonitorEventsEnds(t *testing.T) {
	r := newLocalRig(t, rigOptions{heartbeat: 20 * time.Millisecond})
	each := func(hub.DeviceEvent) error { return nil }

	// The hub stops.
	done := make(chan error, 1)
	go func() { done <- r.client.MonitorEvents(t.Context(), "", each) }()
	feed := r.nextFeed(done)
	close(feed.events)
	if err := within(t, done, "MonitorEvents"); !errors.Is(err, hub.ErrEventStreamEnded) {
		t.Errorf("after the hub stopped: %v, want ErrEventStreamEnded", err)
	}

	// The caller's context ends.
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- r.client.MonitorEvents(ctx, "d", each) }()
	feed = r.nextFeed(done)
	cancel()
	if err := within(t, done, "MonitorEvents"); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", err)
	}
	within(t, feed.closed, "the source to close")

	// Heartbeats keep a quiet stream alive past the idle limit.
	defer hub.SetEventIdleLimit(400 * time.Millisecond)()
	got := make(chan hub.DeviceEvent, 1)
	go func() {
		done <- r.client.MonitorEvents(t.Context(), "d", func(ev hub.DeviceEvent) error {
			got <- ev
			return errors.New("stop")
		})
	}()
	feed = r.nextFeed(done)
	time.Sleep(1500 * time.Millisecond) // quiet for over three idle limits
	feed.send(t, server.DeviceEvent{DeviceID: "d", Body: []byte("still here")})
	if ev := within(t, got, "the event"); string(ev.Body) != "still here" {
		t.Errorf("after a quiet while: %q", ev.Body)
	}
	if err := within(t, done, "MonitorEvents"); err == nil || err.Error() != "stop" {
		t.Errorf("MonitorEvents: %v, want each's error", err)
	}
}

func TestClientMonitorEventsSilent(t *testing.T) {
	// A hub that sends no heartbeat: the client takes the silence for a
	// broken connection.
	r := newLocalRig(t, rigOptions{heartbeat: time.Hour})
	defer hub.SetEventIdleLimit(100 * time.Millisecond)()
	done := make(chan error, 1)
	go func() { done <- r.client.MonitorEvents(t.Context(), "", func(hub.DeviceEvent) error { return nil }) }()
	feed := r.nextFeed(done)
	err := within(t, done, "MonitorEvents")
	if err == nil || !strings.Contains(err.Error(), "not even its heartbeat") {
		t.Errorf("MonitorEvents: %v, want a silent connection's error", err)
	}
	within(t, feed.closed, "the source to close")
}

func TestClientMonitorEventsOpen(t *testing.T) {
	// A 503 and a cut connection before the stream opens are retried.
	var mu sync.Mutex
	faults := []string{"503", "reset"}
	front := func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		mu.Lock()
		var f string
		if len(faults) > 0 {
			f, faults = faults[0], faults[1:]
		}
		mu.Unlock()
		switch f {
		case "503":
			w.Header().Set("iothub-errorcode", "ServiceUnavailable")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "reset":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			next.ServeHTTP(w, req)
		}
	}
	r := newLocalRig(t, rigOptions{front: front})
	done := make(chan error, 1)
	go func() {
		done <- r.client.MonitorEvents(t.Context(), "", func(hub.DeviceEvent) error { return errors.New("got one") })
	}()
	feed := r.nextFeed(done)
	feed.send(t, server.DeviceEvent{DeviceID: "d"})
	if err := within(t, done, "MonitorEvents"); err == nil || err.Error() != "got one" {
		t.Errorf("MonitorEvents after a 503 and a reset: %v", err)
	}

	// Refusals are not retried.
	weak := newLocalRig(t, rigOptions{policy: "registryRead"})
	err := weak.client.MonitorEvents(t.Context(), "", func(hub.DeviceEvent) error { return nil })
	if !errors.Is(err, hub.ErrUnauthorized) || !strings.Contains(err.Error(), "ServiceConnect") {
		t.Errorf("with registryRead: %v, want 401 naming ServiceConnect", err)
	}
	if err := weak.client.SendC2D(t.Context(), "d", hub.C2DMessage{}); !errors.Is(err, hub.ErrUnauthorized) {
		t.Errorf("SendC2D with registryRead: %v, want 401", err)
	}
	weak.noSecrets()
}

func TestClientLocalNotServed(t *testing.T) {
	r := newLocalRig(t, rigOptions{notServed: true})
	for name, err := range map[string]error{
		"SendC2D":       r.client.SendC2D(t.Context(), "d", hub.C2DMessage{Body: []byte("x")}),
		"MonitorEvents": r.client.MonitorEvents(t.Context(), "", func(hub.DeviceEvent) error { return nil }),
	} {
		if !errors.Is(err, hub.ErrNotFound) || !strings.Contains(err.Error(), "does not serve iotplan's local message endpoints") {
			t.Errorf("%s: %v, want a 404 that explains the extension", name, err)
		}
	}
}

func TestC2DMessageJSON(t *testing.T) {
	for _, m := range []hub.C2DMessage{
		{Body: []byte("plain"), Properties: map[string]string{"a": "b"}, Ack: "full", ExpiryTime: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{Body: []byte{0xff}, MessageID: "m"},
	} {
		b, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back hub.C2DMessage
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(m, back); d != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", b, d)
		}
	}
	b, _ := hub.C2DMessage{Body: []byte{0xff}}.MarshalJSON()
	if got, want := string(b), `{"body":"/w==","bodyEncoding":"base64"}`; got != want {
		t.Errorf("binary body: %s, want %s", got, want)
	}
	ev := hub.DeviceEvent{DeviceID: "d", EnqueuedTime: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), System: map[string]string{}, Properties: map[string]string{}, Body: []byte("x")}
	b, _ = ev.MarshalJSON()
	var back hub.DeviceEvent
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ev, back); d != "" {
		t.Errorf("%s: round trip (-want +got):\n%s", b, d)
	}
	if err := back.UnmarshalJSON([]byte(`{"body":"x","bodyEncoding":"rot13"}`)); err == nil {
		t.Error("an unknown bodyEncoding was accepted")
	}
}

// TestClientLocalTLS sends and streams over HTTPS, as against hub serve
// without --insecure (HTTP/2 where both sides offer it).
func TestClientLocalTLS(t *testing.T) {
	r := newLocalRig(t, rigOptions{tls: true, heartbeat: 20 * time.Millisecond})
	if err := r.client.SendC2D(t.Context(), "d", hub.C2DMessage{Body: []byte("over TLS")}); err != nil {
		t.Fatal(err)
	}
	if got := r.sentMessages(); len(got) != 1 || string(got[0].Msg.Body) != "over TLS" {
		t.Errorf("sent %+v", got)
	}
	done := make(chan error, 1)
	got := make(chan hub.DeviceEvent, 1)
	go func() {
		done <- r.client.MonitorEvents(t.Context(), "d", func(ev hub.DeviceEvent) error {
			got <- ev
			return errors.New("stop")
		})
	}()
	feed := r.nextFeed(done)
	feed.send(t, server.DeviceEvent{DeviceID: "d", Body: []byte("streamed")})
	if ev := within(t, got, "the event"); string(ev.Body) != "streamed" {
		t.Errorf("event body %q", ev.Body)
	}
	if err := within(t, done, "MonitorEvents"); err == nil || err.Error() != "stop" {
		t.Errorf("MonitorEvents: %v", err)
	}
	within(t, feed.closed, "the source to close")
}
