package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotplan/iotplan/internal/device"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

// testPKI is a CA made for one test, the gateway's server certificate and
// whatever client certificates the test needs.
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "iotplan test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = p.issue(t, "localhost", false)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n + 1)
}

// issue signs a server certificate for localhost or a client certificate
// with common name cn.
func (p *testPKI) issue(t testing.TB, cn string, client bool) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames, tmpl.IPAddresses = nil, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// selfSignedCert makes a self-signed client certificate, as devices with
// thumbprint authentication use.
func selfSignedCert(t testing.TB, cn string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// env is a local hub with its gateway running on loopback.
type env struct {
	h    *localhub.Hub
	g    *Gateway
	addr string
	pki  *testPKI // nil: plain MQTT
	// stop stops the gateway and waits for Run to return; the test's
	// cleanup calls it too.
	stop func()
}

type envOption func(*Options)

func withTimeoutUnit(d time.Duration) envOption { return func(o *Options) { o.TimeoutUnit = d } }
func withClock(now func() time.Time) envOption  { return func(o *Options) { o.Now = now } }
func plain() envOption                          { return func(o *Options) { o.TLS = nil } }

// start opens a hub in a temporary folder and runs a gateway for it until
// the test ends. By default the gateway speaks TLS with a test CA and a
// method's timeouts count in seconds.
func start(t testing.TB, opts ...envOption) *env {
	t.Helper()
	h, err := localhub.Open(filepath.Join(t.TempDir(), "hub.db"), localhub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pki := newPKI(t)
	o := Options{
		HostName:  "localhost",
		TLS:       &tls.Config{Certificates: []tls.Certificate{pki.server}},
		ClientCAs: pki.pool,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.TLS == nil {
		pki = nil
	}
	g, err := New(h, o)
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
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		h.Close()
	})
	return &env{h: h, g: g, addr: ln.Addr().String(), pki: pki, stop: stop}
}

// testWriter sends the gateway's log to the test's log, shown when it fails.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// createDevice registers a device with generated SAS keys, or with the
// authentication given.
func (e *env) createDevice(t testing.TB, id string, auth *hub.AuthenticationMechanism) *hub.Device {
	t.Helper()
	d, err := e.h.CreateDevice(context.Background(), &hub.Device{DeviceID: id, Authentication: auth})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) createModule(t testing.TB, deviceID, moduleID string) *hub.Module {
	t.Helper()
	m, err := e.h.CreateModule(context.Background(), &hub.Module{DeviceID: deviceID, ModuleID: moduleID})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// deviceConfig is how a test device reaches the gateway: by address, with
// the hub named localhost, trusting the test CA.
func (e *env) deviceConfig(deviceID, key string) device.Config {
	cfg := device.Config{Host: e.addr, HostName: "localhost", DeviceID: deviceID, Key: key, Insecure: e.pki == nil}
	if e.pki != nil {
		cfg.TLS = &tls.Config{RootCAs: e.pki.pool, ServerName: "localhost"}
	}
	return cfg
}

func (e *env) connect(t testing.TB, cfg device.Config) (*device.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := device.Connect(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func (e *env) mustConnect(t testing.TB, cfg device.Config) *device.Client {
	t.Helper()
	c, err := e.connect(t, cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", cfg.DeviceID, err)
	}
	return c
}

// connectDevice registers a device and connects it with its primary key.
func (e *env) connectDevice(t testing.TB, id string) *device.Client {
	t.Helper()
	d := e.createDevice(t, id, nil)
	return e.mustConnect(t, e.deviceConfig(id, d.Authentication.SymmetricKey.PrimaryKey))
}

// waitFor waits until cond holds, re-checking it whenever a session comes,
// goes or subscribes. The deadline only turns a hang into a failure.
func (e *env) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		e.g.mu.Lock()
		ch := e.g.changed
		e.g.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// live reports whether the identity has a live session.
func (e *env) live(clientID string) bool {
	e.g.mu.Lock()
	defer e.g.mu.Unlock()
	return e.g.current[clientID] != nil
}

// raw is a plain paho client for the protocol-level tests, with a channel
// told when the hub closes its connection.
type raw struct {
	pc   paho.Client
	lost chan error
}

// rawConnect connects with exactly the client ID, username and password
// given, and returns the CONNACK return code.
func (e *env) rawConnect(t testing.TB, clientID, username, password string, tweak func(*paho.ClientOptions)) (*raw, byte) {
	t.Helper()
	r := &raw{lost: make(chan error, 1)}
	o := paho.NewClientOptions()
	if e.pki != nil {
		o.AddBroker("tls://" + e.addr)
		o.SetTLSConfig(&tls.Config{RootCAs: e.pki.pool, ServerName: "localhost"})
	} else {
		o.AddBroker("tcp://" + e.addr)
	}
	o.SetClientID(clientID)
	o.SetUsername(username)
	o.SetPassword(password)
	o.SetProtocolVersion(4)
	o.SetCleanSession(false)
	o.SetAutoReconnect(false)
	o.SetConnectTimeout(10 * time.Second)
	o.SetConnectionLostHandler(func(_ paho.Client, err error) { r.lost <- err })
	if tweak != nil {
		tweak(o)
	}
	r.pc = paho.NewClient(o)
	tok := r.pc.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("CONNECT timed out")
	}
	ct := tok.(*paho.ConnectToken)
	if tok.Error() == nil {
		t.Cleanup(func() { r.pc.Disconnect(100) })
	}
	return r, ct.ReturnCode()
}

// waitLost waits for the hub to close the raw client's connection.
func (r *raw) waitLost(t testing.TB) {
	t.Helper()
	select {
	case <-r.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not close the connection")
	}
}

func username(deviceID string) string {
	return "localhost/" + deviceID + "/?api-version=2021-04-12"
}

func token(t testing.TB, resource, key, keyName string, expiry time.Time) string {
	t.Helper()
	tok, err := hub.NewSASToken(resource, key, keyName, expiry)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantCode checks that err is a *hub.Error with the given code.
func wantCode(t testing.TB, err error, code hub.ErrorCode) {
	t.Helper()
	var he *hub.Error
	if !errors.As(err, &he) || he.Code != code.Number {
		t.Fatalf("error = %v, want %d %s", err, code.Number, code.Name)
	}
}

// pemCert encodes a DER certificate as PEM.
func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// recv receives from ch. The deadline only turns a hang into a failure.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived")
	}
	panic("unreachable")
}
