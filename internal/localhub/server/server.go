package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

// APIVersion is the service API version the server implements.
const APIVersion = "2021-04-12"

// olderAPIVersions are the earlier versions the official SDKs and the
// reference's examples send; the server answers them as APIVersion, since
// the registry, twin, query and method shapes it serves did not change.
var olderAPIVersions = []string{"2020-09-30", "2020-05-31-preview", "2020-03-13", "2019-06-30", "2018-06-30", "2016-02-03"}

// WebSocketPath is where MQTT over WebSocket is served, beside the REST API
// on the same port, as IoT Hub does.
const WebSocketPath = "/$iothub/websocket"

// Body limits. A bulk call carries up to 100 identities with their twin
// content, so it gets more room than the other bodies.
const (
	MaxBodyBytes     = 1 << 20
	MaxBulkBodyBytes = 8 << 20
)

// ShutdownTimeout bounds how long Run waits for requests in flight once its
// context is done.
const ShutdownTimeout = 10 * time.Second

// Options configures a Server.
type Options struct {
	// HostName is the hub's name as clients know it: the HostName of its
	// connection strings, "localhost" on port 443 or "localhost:8443" on
	// another. Tokens must be signed for it. Empty means "localhost".
	HostName string
	// TLS makes Run serve HTTPS with this configuration; nil serves plain
	// HTTP.
	TLS *tls.Config
	// WebSocket serves WebSocketPath (the device gateway's MQTT over
	// WebSocket). It authenticates its clients itself; nil answers 404
	// there.
	WebSocket http.Handler
	// Logger receives one debug line per request and the failures; nil
	// discards. Tokens and keys are never logged.
	Logger *slog.Logger
	// Now is the clock tokens are checked against; nil means time.Now.
	Now func() time.Time

	// SendC2D queues a cloud-to-device message for a device, for the
	// local extension's POST /$local/devices/{id}/messages/devicebound
	// (local.go). The server has checked the message and that the device
	// exists and is enabled; a *hub.Error it returns (413001, 403004) is
	// answered as it is. Nil answers 404: no cloud-to-device messages.
	SendC2D func(ctx context.Context, deviceID string, m C2DMessage) error
	// Subscribe opens a subscription to every device's device-to-cloud
	// messages, for one stream of the local extension's GET
	// /$local/events. Nil answers 404: no device-to-cloud messages.
	Subscribe func(ctx context.Context) (EventSource, error)
	// EventHeartbeat is how long an event stream stays silent before the
	// server writes an empty line; zero means DefaultEventHeartbeat.
	EventHeartbeat time.Duration
}

// Server is an http.Handler serving a local hub's service REST API. It is
// safe for concurrent use.
type Server struct {
	hub      *localhub.Hub
	hostName string
	opts     Options
	log      *slog.Logger
	routes   []route
	// shutdown is set while Run shuts the server down, so that requests
	// it cancels are told why.
	shutdown atomic.Bool
}

// New returns a server of h.
func New(h *localhub.Hub, opts Options) *Server {
	s := &Server{hub: h, opts: opts, hostName: opts.HostName, log: opts.Logger}
	if s.hostName == "" {
		s.hostName = "localhost"
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	s.routes = append(routes(), localRoutes()...)
	return s
}

func (s *Server) now() time.Time { return s.opts.Now() }

func (s *Server) stopping() bool { return s.shutdown.Load() }

// ServeHTTP answers one request: WebSocketPath goes to the WebSocket
// handler; everything else has its api-version, token and rights checked
// before the endpoint runs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == WebSocketPath && s.opts.WebSocket != nil {
		s.opts.WebSocket.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeHubError(rec, hub.Errorf(hub.CodeGenericServerError, "the hub failed to carry out the request; its log says why"), s.now())
			}
		}
		s.logAnswer(r, rec.status, time.Since(start))
	}()
	if err := s.serve(rec, r); err != nil {
		s.writeError(rec, r, err)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path == WebSocketPath {
		return hub.Errorf(hub.CodeGenericNotFound, "this hub serves no MQTT over WebSocket: it runs without a device gateway")
	}
	if err := checkAPIVersion(r); err != nil {
		return err
	}
	policy, err := s.authenticate(r)
	if err != nil {
		return err
	}
	rt, params, err := s.match(w, r)
	if err != nil {
		return err
	}
	if err := authorize(policy, rt, r); err != nil {
		return err
	}
	return rt.handle(s, w, r, params)
}

// checkAPIVersion accepts APIVersion and the older versions SDKs send.
func checkAPIVersion(r *http.Request) error {
	v := r.URL.Query().Get("api-version")
	if v == APIVersion {
		return nil
	}
	for _, old := range olderAPIVersions {
		if v == old {
			return nil
		}
	}
	if v == "" {
		return hub.Errorf(hub.CodeInvalidProtocolVersion, "the api-version query parameter is missing; this hub serves api-version=%s", APIVersion)
	}
	return hub.Errorf(hub.CodeInvalidProtocolVersion, "api-version %q is not supported; this hub serves %s (and accepts %s)",
		safeText(v, 32), APIVersion, strings.Join(olderAPIVersions, ", "))
}

// safeText cuts a client's text short for an error message.
func safeText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Run serves the API on ln until ctx is done, over TLS when Options.TLS is
// set. Then it stops accepting connections, cancels the requests in flight
// (a direct method waiting for a device stops waiting), waits up to
// ShutdownTimeout for them to finish and returns nil. It returns an error
// when serving fails. Run closes ln.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var active sync.WaitGroup
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			active.Add(1)
			defer active.Done()
			s.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.opts.TLS != nil {
		srv.TLSConfig = s.opts.TLS.Clone()
	}
	served := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		return fmt.Errorf("serve the REST API on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.shutdown.Store(true)
	defer s.shutdown.Store(false)
	cancel()
	stopCtx, stop := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer stop()
	err := srv.Shutdown(stopCtx)
	if err != nil {
		s.log.Warn("requests still running at shutdown were cut off", "err", err)
		_ = srv.Close()
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve the REST API on %s: %w", ln.Addr(), serr)
	}
	// Hijacked connections (WebSocket) are not Shutdown's; their handlers
	// saw the base context end.
	active.Wait()
	return nil
}
