package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/gorilla/websocket"
)

// WebSocketPath is where IoT Hub serves MQTT over WebSocket, on port 443 of
// its host name (reference/iothub-mqtt-device.md §1).
const WebSocketPath = "/$iothub/websocket"

// WebSocketHandler returns the handler of MQTT over WebSocket, for the
// hub's HTTPS server to serve at WebSocketPath. A request is upgraded to a
// WebSocket with the sub-protocol "mqtt" and served as one device
// connection, exactly as one from Run's listener; the handler returns when
// the connection ends, which Run's shutdown and the end of the request's
// context (the HTTP server shutting down) both bring about. While Run is
// not running it answers 503. TLS is the HTTPS server's; X.509 devices present
// their certificate to it.
func (g *Gateway) WebSocketHandler() http.Handler {
	up := websocket.Upgrader{
		Subprotocols: []string{"mqtt"},
		// Devices are not browsers: there is no origin to check.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		l := g.listener
		g.mu.Unlock()
		if l == nil || !l.accepting() {
			http.Error(w, "the device endpoint is not running", http.StatusServiceUnavailable)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader has answered
		}
		c := &wsConn{Conn: ws.NetConn(), ws: ws}
		if r.TLS != nil {
			c.certs = r.TLS.PeerCertificates
		}
		stop := context.AfterFunc(r.Context(), func() { c.Close() })
		defer stop()
		if !l.adopt(c) {
			c.Close()
		}
	})
}

// errNotBinary ends a WebSocket connection that sends a text frame: MQTT
// travels in binary frames.
var errNotBinary = errors.New("the WebSocket sent a message that is not binary")

// wsConn is a WebSocket as the byte stream MQTT runs on: reads run through
// the binary messages one after another, each write is one message. The
// broker writes to a client from one goroutine at a time, as gorilla's
// connections require.
type wsConn struct {
	net.Conn // the connection under the WebSocket: addresses, deadlines, Close
	ws       *websocket.Conn
	r        io.Reader // the message being read; nil between messages
	certs    []*x509.Certificate
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errNotBinary
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// PeerCertificates returns the client certificates presented to the HTTPS
// server, for X.509 authentication.
func (c *wsConn) PeerCertificates() []*x509.Certificate { return c.certs }
