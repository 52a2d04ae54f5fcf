package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotplan/iotplan/internal/hub"
)

// MQTT over WebSocket, as the Node SDK's MqttWs transport speaks it
// (reference §1): wss://{host}/$iothub/websocket, sub-protocol mqtt.
func TestWebSocket(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.Handle(WebSocketPath, e.g.WebSocketHandler())
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{e.pki.server}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	d := e.createDevice(t, "ws-dev", nil)
	wsURL := "wss://" + strings.TrimPrefix(srv.URL, "https://") + WebSocketPath
	r, rc := e.rawConnect(t, "ws-dev", username("ws-dev"),
		token(t, "localhost/devices/ws-dev", d.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour)),
		func(o *paho.ClientOptions) {
			o.Servers = nil
			o.AddBroker(wsURL)
		})
	if rc != 0 {
		t.Fatalf("CONNACK %d", rc)
	}
	e.waitFor(t, "the WebSocket session", func() bool { return e.live("ws-dev") })

	answer := func(c paho.Client, m paho.Message) {
		rid := m.Topic()[strings.Index(m.Topic(), "$rid=")+len("$rid="):]
		c.Publish("$iothub/methods/res/200/?$rid="+rid, 0, false, m.Payload())
	}
	if tok := r.pc.Subscribe("$iothub/methods/POST/#", 0, answer); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	res, err := e.h.InvokeDeviceMethod(ctx, "ws-dev", hub.MethodRequest{MethodName: "echo", Payload: json.RawMessage(`{"over":"websocket"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || string(res.Payload) != `{"over":"websocket"}` {
		t.Errorf("result %d %s", res.Status, res.Payload)
	}
}

// Before Run, the handler says the endpoint is not running.
func TestWebSocketBeforeRun(t *testing.T) {
	e := start(t)
	g, err := New(e.h, Options{HostName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	g.WebSocketHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, WebSocketPath, nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
}
