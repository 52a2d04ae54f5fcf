package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/localhub/gateway"
	"github.com/iotplan/iotplan/internal/localhub/server"
)

// simEnv is a local hub with its device gateway on loopback (TLS with a CA
// made for the test), for `device simulate` to connect to.
type simEnv struct {
	h      *localhub.Hub
	g      *gateway.Gateway
	addr   string
	caFile string
	server tls.Certificate // for localhost and 127.0.0.1
}

func startSimEnv(t *testing.T) *simEnv {
	t.Helper()
	dir := t.TempDir()
	h, err := localhub.Open(filepath.Join(dir, "hub.db"), localhub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, server := testCertificates(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(h, gateway.Options{HostName: "localhost", TLS: &tls.Config{Certificates: []tls.Certificate{server}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: %v", err)
		}
		h.Close()
	})
	return &simEnv{h: h, g: g, addr: ln.Addr().String(), caFile: caFile, server: server}
}

// testCertificates makes a CA (returned as PEM) and a server certificate
// it signed for localhost and 127.0.0.1.
func testCertificates(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "simulate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (e *simEnv) createDevice(t *testing.T, id string) *hub.Device {
	t.Helper()
	d, err := e.h.CreateDevice(context.Background(), &hub.Device{DeviceID: id})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// options are the flags of a simulation against e, keys looked up in e's hub.
func (e *simEnv) options(deviceID string) simulateOptions {
	return simulateOptions{deviceID: deviceID, hubHost: e.addr, mqttPort: 8883, caFile: e.caFile,
		responseCode: 200, responsePayload: "{}", msgCount: 0, devices: 1, lookup: e.h}
}

// lines is an output stream that tests can wait on.
type lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits until the output holds want. The deadline only turns a
// hang into a failure.
func (l *lines) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		has, ch := strings.Contains(l.buf.String(), want), l.changed
		l.mu.Unlock()
		if has {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("output never had %q; it is:\n%s", want, l.String())
		}
	}
}

// nextEvent receives a device-to-cloud message. The deadline only turns a
// hang into a failure.
func nextEvent(t *testing.T, s *gateway.EventStream) gateway.Event {
	t.Helper()
	select {
	case ev := <-s.C():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no message arrived")
		return gateway.Event{}
	}
}

// simulateInBackground runs a simulation until the test stops it, as
// Ctrl-C does; stop returns runSimulate's error.
func simulateInBackground(t *testing.T, o simulateOptions) (out *lines, stop func() error) {
	t.Helper()
	out = newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runSimulate(ctx, &streams{Out: out, Err: out}, o) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return out, stop
}

func TestDeviceSimulateMessages(t *testing.T) {
	e := startSimEnv(t)
	e.createDevice(t, "SampleDevice")
	events := e.g.Events(0)
	defer events.Close()
	o := e.options("SampleDevice")
	o.msgCount, o.msgInterval = 3, 0
	out := newLines()
	if err := runSimulate(context.Background(), &streams{Out: out, Err: out}, o); err != nil {
		t.Fatal(err)
	}
	want := "Connected as SampleDevice to " + e.addr + ". Sending 3 messages, one every 0 s.\nSent 3 messages.\n"
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	for n := 1; n <= 3; n++ {
		ev := nextEvent(t, events)
		var body struct {
			DeviceID      string
			MessageNumber int
		}
		if err := json.Unmarshal(ev.Body, &body); err != nil || ev.DeviceID != "SampleDevice" || body.MessageNumber != n ||
			ev.System[gateway.PropContentType] != "application/json" {
			t.Errorf("message %d: %+v (%s)", n, ev, ev.Body)
		}
	}
}

// The seed walkthrough (UX.md): a method invoked on a simulated device is
// answered with the configured status and payload, and printed.
func TestDeviceSimulateMethodsAndDesired(t *testing.T) {
	e := startSimEnv(t)
	ctx := context.Background()
	e.createDevice(t, "SampleDevice")
	o := e.options("SampleDevice")
	o.responseCode, o.responsePayload = 201, `{"result":"Direct method successful"}`
	out, stop := simulateInBackground(t, o)

	// connectTimeoutInSeconds waits for the simulated device to subscribe.
	res, err := e.h.InvokeDeviceMethod(ctx, "SampleDevice", hub.MethodRequest{MethodName: "SampleMethod",
		Payload: json.RawMessage(`{ "SamplePayload": "PayloadValue" }`), ConnectTimeoutInSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || string(res.Payload) != `{"result":"Direct method successful"}` {
		t.Errorf("method result %d %s", res.Status, res.Payload)
	}
	out.waitFor(t, `Method invoked: SampleMethod  payload {"SamplePayload":"PayloadValue"} → 201`)

	if _, err := e.h.PatchTwin(ctx, "SampleDevice", hub.TwinPatch{Desired: map[string]any{"interval": 5.0}}, ""); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, `Desired properties changed (version 2): {"interval":5}`)

	if err := e.g.SendC2D(ctx, "SampleDevice", gateway.Message{MessageID: "m1", Body: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, `Cloud-to-device message m1: hello  properties {"iothub-ack":"none"}`)

	if err := stop(); err != nil {
		t.Fatalf("Ctrl-C: %v", err)
	}
	if !strings.HasPrefix(out.String(), "Connected as SampleDevice to "+e.addr+". Sending no messages; Ctrl-C to stop.\n") ||
		!strings.HasSuffix(out.String(), "Stopped.\n") {
		t.Errorf("output:\n%s", out)
	}
}

// --profile reboot behaves as the device management tutorial's device.
func TestDeviceSimulateRebootProfile(t *testing.T) {
	e := startSimEnv(t)
	ctx := context.Background()
	e.createDevice(t, "myDeviceId")
	o := e.options("myDeviceId")
	o.profile, o.initReported = "reboot", `{"firmware":"1.0"}`
	out, _ := simulateInBackground(t, o)

	res, err := e.h.InvokeDeviceMethod(ctx, "myDeviceId", hub.MethodRequest{MethodName: "reboot", ConnectTimeoutInSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 {
		t.Errorf("reboot answered %d %s", res.Status, res.Payload)
	}
	out.waitFor(t, "Rebooted.")
	tw, err := e.h.Twin(ctx, "myDeviceId")
	if err != nil {
		t.Fatal(err)
	}
	reported := tw.Properties.Reported
	last, _ := reported["iothubDM"].(map[string]any)["reboot"].(map[string]any)["lastReboot"].(string)
	if _, err := time.Parse(time.RFC3339, last); err != nil || reported["firmware"] != "1.0" {
		t.Errorf("reported after reboot: %+v", reported)
	}
	// The device is back: it answers methods again.
	if _, err := e.h.InvokeDeviceMethod(ctx, "myDeviceId", hub.MethodRequest{MethodName: "ping", ConnectTimeoutInSeconds: 60}); err != nil {
		t.Errorf("after the reboot: %v", err)
	}
}

func TestDeviceSimulateDevices(t *testing.T) {
	e := startSimEnv(t)
	for _, id := range []string{"fleet-1", "fleet-2", "fleet-3"} {
		e.createDevice(t, id)
	}
	events := e.g.Events(0)
	defer events.Close()
	o := e.options("fleet")
	o.devices, o.msgCount, o.msgInterval = 3, 2, 0
	out := newLines()
	if err := runSimulate(context.Background(), &streams{Out: out, Err: out}, o); err != nil {
		t.Fatal(err)
	}
	perDevice := map[string]int{}
	for range 6 {
		perDevice[nextEvent(t, events).DeviceID]++
	}
	for _, id := range []string{"fleet-1", "fleet-2", "fleet-3"} {
		if perDevice[id] != 2 {
			t.Errorf("%s sent %d messages, want 2", id, perDevice[id])
		}
		if !strings.Contains(out.String(), "["+id+"] Connected as "+id+" to ") || !strings.Contains(out.String(), "["+id+"] Sent 2 messages.") {
			t.Errorf("no lines for %s in:\n%s", id, out)
		}
	}

	o.devices = 4 // fleet-4 does not exist
	if err := runSimulate(context.Background(), &streams{Out: out, Err: out}, o); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("a missing device: err = %v, want not found", err)
	}
}

// With --login the key is looked up through the hub's REST API, here the
// local hub's REST server on another port.
func TestDeviceSimulateLogin(t *testing.T) {
	e := startSimEnv(t)
	ctx := context.Background()
	e.createDevice(t, "rest-dev")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	restHost := "localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	rest := server.New(e.h, server.Options{HostName: restHost, TLS: &tls.Config{Certificates: []tls.Certificate{e.server}}})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rest.Run(runCtx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("REST server: %v", err)
		}
	})
	policies, err := e.h.Policies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owner := hub.FindPolicy(policies, "iothubowner")
	o := e.options("rest-dev")
	o.lookup = nil
	o.login = "HostName=" + restHost + ";SharedAccessKeyName=iothubowner;SharedAccessKey=" + owner.PrimaryKey
	o.msgCount = 1
	out := newLines()
	if err := runSimulate(ctx, &streams{Out: out, Err: out}, o); err != nil {
		t.Fatal(err)
	}
	if want := "Connected as rest-dev to " + e.addr + ". Sending 1 message.\nSent 1 message.\n"; out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	o.deviceID = "nobody"
	if err := runSimulate(ctx, &streams{Out: out, Err: out}, o); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("unknown device over REST: err = %v, want not found", err)
	}
}

// The command line, end to end, with a device connection string.
func TestDeviceSimulateCommand(t *testing.T) {
	e := startSimEnv(t)
	d := e.createDevice(t, "cs-dev")
	cs := "HostName=localhost;DeviceId=cs-dev;SharedAccessKey=" + d.Authentication.SymmetricKey.PrimaryKey
	var stdout, stderr bytes.Buffer
	code := run([]string{"device", "simulate", "--device-connection-string", cs, "--hub-host", e.addr,
		"--ca-file", e.caFile, "--msg-count", "1", "--data", "hello"}, &streams{Out: &stdout, Err: &stderr})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if want := "Connected as cs-dev to " + e.addr + ". Sending 1 message.\nSent 1 message.\n"; stdout.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", stdout.String(), want)
	}

	// A wrong key is the hub's refusal.
	bad := "HostName=localhost;DeviceId=cs-dev;SharedAccessKey=" + e.createDevice(t, "other").Authentication.SymmetricKey.PrimaryKey
	stderr.Reset()
	code = run([]string{"device", "simulate", "--device-connection-string", bad, "--hub-host", e.addr, "--ca-file", e.caFile},
		&streams{Out: &stdout, Err: &stderr})
	if code != 1 || !strings.Contains(stderr.String(), "not authorized") {
		t.Errorf("wrong key: exit %d, %s", code, stderr.String())
	}
}

func TestDeviceSimulateFlags(t *testing.T) {
	base := simulateOptions{deviceID: "d", mqttPort: 8883, responseCode: 200, devices: 1, msgCount: 1}
	for name, tweak := range map[string]func(*simulateOptions){
		"no device":    func(o *simulateOptions) { o.deviceID = "" },
		"zero devices": func(o *simulateOptions) { o.devices = 0 },
		"devices and a cs": func(o *simulateOptions) {
			o.devices, o.deviceConnString = 2, "HostName=h;DeviceId=d;SharedAccessKey=a2V5"
		},
		"negative count":         func(o *simulateOptions) { o.msgCount = -1 },
		"negative interval":      func(o *simulateOptions) { o.msgInterval = -1 },
		"payload not JSON":       func(o *simulateOptions) { o.responsePayload = "{" },
		"reported not an object": func(o *simulateOptions) { o.initReported = "[1]" },
		"unknown profile":        func(o *simulateOptions) { o.profile = "firmware" },
		"bad port":               func(o *simulateOptions) { o.mqttPort = 0 },
	} {
		o := base
		tweak(&o)
		if err := o.check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := base.check(); err != nil {
		t.Errorf("valid flags refused: %v", err)
	}
	o := simulateOptions{mqttPort: 8883}
	for _, tt := range []struct{ hubHost, hostName, gateway, want string }{
		{"", "localhost", "", "localhost:8883"},
		{"", "localhost:8443", "", "localhost:8883"},
		{"", "myhub.azure-devices.net", "edge:18883", "edge:18883"},
		{"127.0.0.1:1", "localhost", "edge", "127.0.0.1:1"},
		{"gw", "localhost", "", "gw:8883"},
	} {
		o.hubHost = tt.hubHost
		if got := o.dialAddress(tt.hostName, tt.gateway); got != tt.want {
			t.Errorf("dialAddress(%q, %q) with --hub-host %q = %q, want %q", tt.hostName, tt.gateway, tt.hubHost, got, tt.want)
		}
	}
}
