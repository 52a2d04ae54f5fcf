package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// errorBody is IoT Hub's classic error body (variant B of the reference):
// "ErrorCode:<name>;<text>" in Message and the tracking ID in
// ExceptionMessage. It is the one shape every official SDK reads: the Node
// SDK needs the "ErrorCode:" prefix (a 404 without it is not a
// DeviceNotFoundError), C# the header and the "Tracking ID:" prefix.
type errorBody struct {
	Message          string `json:"Message"`
	ExceptionMessage string `json:"ExceptionMessage"`
}

// writeError answers with err: a *hub.Error as it is; a request canceled
// by the server's shutdown (or by its client) as 503; one that outlived
// the server's own deadline (a direct method's timeouts and grace) as 504
// GatewayTimeout; anything else as a 500 whose cause goes to the log only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *hub.Error
	switch {
	case errors.As(err, &he):
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if r.Context().Err() != nil && s.stopping() {
			he = hub.Errorf(hub.CodeServiceUnavailable, "the hub is shutting down; try again when it is back")
			break
		}
		if r.Context().Err() != nil {
			// The client has gone; nobody reads the answer.
			s.log.Debug("request abandoned by the client", "method", r.Method, "path", r.URL.Path)
			he = hub.Errorf(hub.CodeServiceUnavailable, "the request was canceled")
			break
		}
		he = hub.Errorf(hub.CodeGatewayTimeout, "the operation did not finish in time")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		he = hub.Errorf(hub.CodeGenericServerError, "the hub failed to carry out the request; its log says why")
	}
	writeHubError(w, he, s.now())
}

// writeHubError writes e in the hub's error shape.
func writeHubError(w http.ResponseWriter, e *hub.Error, now time.Time) {
	status := e.StatusCode
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	body := errorBody{
		Message:          "ErrorCode:" + e.Name + ";" + e.Message,
		ExceptionMessage: "Tracking ID:" + trackingID() + "-G:0-TimeStamp:" + now.UTC().Format("01/02/2006 15:04:05"),
	}
	h := w.Header()
	h.Set("iothub-errorcode", e.Name)
	writeJSON(w, status, body)
}

// writeJSON writes v as the response body with the service's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value written here is made of the hub's own types and
		// plain JSON decoded from a request: failing to encode one is a
		// bug of this package.
		panic("server: encode response: " + err.Error())
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// contentTypeJSON is the content type of every JSON answer. The Node SDK
// parses an answer as JSON only when its content type says so.
const contentTypeJSON = "application/json; charset=utf-8"

// trackingID returns 32 random hex digits, as IoT Hub's tracking IDs start.
func trackingID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logAnswer logs one answered request, at debug level unless the hub
// failed it (5xx).
func (s *Server) logAnswer(r *http.Request, status int, d time.Duration) {
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", status,
		"duration", d, "requestId", r.Header.Get("Request-Id"))
}
