package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// TestNodeSDK runs a device on the official Node.js device SDK
// (testdata/nodesdk/device.js) against the gateway, unmodified, over MQTT
// and over MQTT on WebSocket: connect (through GatewayHostName, or the
// SDK's webSocketAgent) with the test CA, twin GET, reported PATCH, desired
// notifications, a direct method, cloud-to-device and device-to-cloud
// messages (reference/official-sdk-behaviour.md §2). Cloud-to-device and
// device-to-cloud messages are checked here, in process, because the
// service side of both is AMQP in the SDKs; test/interop runs the SDKs
// against `iotplan hub serve` for the rest.
//
// It uses the SDKs the interop suite pins, installed by
// `npm ci --prefix test/interop`, and is skipped without them or node
// (the interop suite fails without them).
func TestNodeSDK(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "test", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "azure-iot-device-mqtt")); err != nil {
		t.Skip("the Node.js device SDK is not installed: npm ci --prefix test/interop")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	for _, transport := range []string{"mqtt", "websocket"} {
		t.Run(transport, func(t *testing.T) { testNodeSDK(t, node, dir, transport == "websocket") })
	}
}

func testNodeSDK(t *testing.T, node, dir string, ws bool) {
	e := start(t)
	ctx := context.Background()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pemCert(e.pki.ca.Raw), 0o600); err != nil {
		t.Fatal(err)
	}
	d := e.createDevice(t, "node-dev", nil)
	if _, err := e.h.PatchTwin(ctx, "node-dev", hub.TwinPatch{Desired: map[string]any{"interval": 10.0}}, ""); err != nil {
		t.Fatal(err)
	}
	events := e.g.Events(0)
	defer events.Close()

	script, _ := filepath.Abs("testdata/nodesdk/device.js")
	cmd := exec.Command(node, script)
	cs := "HostName=localhost;DeviceId=node-dev;SharedAccessKey=" + d.Authentication.SymmetricKey.PrimaryKey
	if !ws {
		cs += ";GatewayHostName=" + e.addr
	}
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"), "CA_FILE="+caFile, "DEVICE_CS="+cs)
	if ws {
		mux := http.NewServeMux()
		mux.Handle(WebSocketPath, e.g.WebSocketHandler())
		srv := httptest.NewUnstartedServer(mux)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{e.pki.server}}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		cmd.Env = append(cmd.Env, "WS_PORT="+srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	defer func() {
		stdin.Close()
		for range lines {
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("node: %v", err)
		}
	}()
	expect := func(prefix string) string {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("node ended before printing %q", prefix)
				}
				t.Log("node:", l)
				if strings.HasPrefix(l, "error") {
					t.Fatalf("node: %s", l)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-timeout:
				t.Fatalf("node never printed %q", prefix)
			}
		}
	}

	if l := expect("twin "); !strings.Contains(l, `"interval":10`) || !strings.Contains(l, `"$version":2`) {
		t.Errorf("twin GET as Node saw it: %s", l)
	}
	expect("reported")
	expect("ready")
	ev := recv(t, events.C())
	if ev.DeviceID != "node-dev" || ev.System[PropContentType] != "application/json" || ev.Properties["alert level"] != "a&b=c" {
		t.Errorf("Node's event: %+v", ev)
	}
	if tw, _ := e.h.Twin(ctx, "node-dev"); tw.Properties.Reported["sdk"] != "node" {
		t.Errorf("reported: %+v", tw.Properties.Reported)
	}

	// Node subscribes to methods without telling when it is done: wait for it.
	res, err := e.h.InvokeDeviceMethod(ctx, "node-dev", hub.MethodRequest{MethodName: "hello",
		Payload: json.RawMessage(`{"from":"go"}`), ConnectTimeoutInSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || string(res.Payload) != `{"hi":{"from":"go"}}` {
		t.Errorf("method result %d %s", res.Status, res.Payload)
	}
	expect(`method hello {"from":"go"}`)

	if _, err := e.h.PatchTwin(ctx, "node-dev", hub.TwinPatch{Desired: map[string]any{"interval": 30.0}}, ""); err != nil {
		t.Fatal(err)
	}
	for {
		if l := expect("desired "); strings.Contains(l, `"interval":30`) {
			if !strings.Contains(l, `"$version":3`) {
				t.Errorf("desired notification as Node saw it: %s", l)
			}
			break
		}
	}

	if err := e.g.SendC2D(ctx, "node-dev", Message{MessageID: "c2d-1", Body: []byte("hello node")}); err != nil {
		t.Fatal(err)
	}
	expect("c2d c2d-1 hello node")
}
