package interop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// restAddr is where the suite serves the hub: the Azure IoT service SDK
// reaches the service API only on port 443 of the connection string's
// HostName (localhost).
const restAddr = "127.0.0.1:443"

// npmCI installs the pinned SDKs, from the repository's root.
const npmCI = "npm ci --prefix test/interop"

// buildFlags are given to go build for the iotplan under test; race_test.go
// adds -race when the suite itself runs with it, so that the hub serves the
// SDKs with the race detector on.
var buildFlags []string

// TestOfficialNodeSDKs runs the official Azure IoT SDKs for Node.js
// (the *.test.js files of this folder, on Node's built-in test runner)
// against `iotplan hub serve` on 127.0.0.1:443, with the CA the hub
// generates trusted through NODE_EXTRA_CA_CERTS and the device MQTT
// endpoint on a port of its own, given to device clients as
// GatewayHostName. Node's output goes to the test log; the test fails when
// a Node test fails, and when the hub does not stop cleanly on SIGINT.
func TestOfficialNodeSDKs(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		// End in time to stop the hub before go test's own timeout.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
		defer cancel()
	}
	lockPort443(t, ctx)
	requirePort443(t)
	node := requireNode(t)
	requireSDKs(t)
	trackInputs(t, root)

	bin := buildIotplan(t, ctx, root)
	h := serve(t, ctx, bin)
	runNode(t, ctx, node, h)
	h.stop(t)
}

// requirePort443 skips the test when port 443 cannot be bound for want of
// the right to, except under CI, where the suite must run; and fails it
// when another program holds the port.
func requirePort443(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", restAddr)
	if err == nil {
		ln.Close()
		return
	}
	if errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission) {
		msg := "the interop suite serves the hub on " + restAddr + ", the only port the Azure IoT service SDK reaches, and binding it needs root " +
			"(or net.ipv4.ip_unprivileged_port_start <= 443): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI=true the suite fails instead of skipping")
		}
		t.Skip(msg)
	}
	t.Fatalf("cannot listen on %s, where the suite serves the hub: %v (is another program, or an `iotplan hub serve`, using it?)", restAddr, err)
}

// requireNode finds node, 20.11 or later (the test runner's
// --test-concurrency and --test-timeout).
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("the interop suite needs Node.js 20.11 or later on PATH: %v", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	version := strings.TrimSpace(string(out))
	m := regexp.MustCompile(`^v(\d+)\.(\d+)\.`).FindStringSubmatch(version)
	if m == nil {
		t.Fatalf("node --version printed %q", version)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 20 || major == 20 && minor < 11 {
		t.Fatalf("the interop suite needs Node.js 20.11 or later; %s is %s", node, version)
	}
	return node
}

// requireSDKs fails the test unless node_modules holds every package
// package.json pins, at its pinned version.
func requireSDKs(t *testing.T) {
	t.Helper()
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, "package.json", &pkg)
	if len(pkg.Dependencies) == 0 {
		t.Fatal("package.json pins no dependencies")
	}
	for name, want := range pkg.Dependencies {
		var installed struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join("node_modules", name, "package.json"))
		if errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the Azure IoT SDKs for Node.js are not installed in test/interop/node_modules (%s is missing): run `%s` from the repository's root", name, npmCI)
		}
		if err == nil {
			err = json.Unmarshal(b, &installed)
		}
		if err != nil {
			t.Fatalf("read the installed %s: %v; run `%s` from the repository's root", name, err, npmCI)
		}
		if installed.Version != want {
			t.Fatalf("test/interop/node_modules holds %s %s, package.json pins %s: run `%s` from the repository's root", name, installed.Version, want, npmCI)
		}
	}
}

// trackInputs reads what the suite's result depends on besides its own
// code: iotplan's sources (built by buildIotplan, not imported), the Node
// tests and the installed packages. go test caches a result only while
// the files a test read are unchanged, so a change to any of them runs the
// suite again.
func trackInputs(t *testing.T, root string) {
	t.Helper()
	read := func(path string) {
		if _, err := os.ReadFile(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				read(path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	read(filepath.Join(root, "go.mod"))
	read(filepath.Join(root, "go.sum"))
	files, _ := filepath.Glob("*.js")
	for _, f := range append(files, "package.json", "package-lock.json", filepath.Join("node_modules", ".package-lock.json")) {
		read(f)
	}
}

// buildIotplan builds ./cmd/iotplan into a temporary folder.
func buildIotplan(t *testing.T, ctx context.Context, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "iotplan")
	args := append(append([]string{"build"}, buildFlags...), "-o", bin, "./cmd/iotplan")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("go %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return bin
}

// hubProcess is a running `iotplan hub serve`.
type hubProcess struct {
	cmd     *exec.Cmd
	dataDir string
	ready   chan struct{} // closed when serve prints "Ready."
	done    chan struct{} // closed when serve has exited; err is then set
	err     error
	once    sync.Once

	// Read from serve's output: set before ready is closed (owner),
	// before done is closed (stopped).
	owner   string
	stopped bool

	restAddr, mqttAddr string // from the ready file
}

// serve starts `iotplan hub serve` on restAddr, with the device MQTT
// endpoint on a free port, in a fresh data folder, and waits until it
// serves. The hub is stopped when the test ends, if the test has not
// stopped it.
func serve(t *testing.T, ctx context.Context, bin string) *hubProcess {
	t.Helper()
	dir := t.TempDir()
	h := &hubProcess{
		dataDir: filepath.Join(dir, "hub"),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	readyFile := filepath.Join(dir, "ready")
	h.cmd = exec.Command(bin, "hub", "serve", "--data", h.dataDir, "--http", restAddr, "--mqtt", "127.0.0.1:0", "--ready-file", readyFile)
	h.cmd.Dir = dir
	var readyOnce sync.Once
	h.cmd.Stdout = &lineWriter{each: func(line string) {
		t.Log("hub:", redact(line))
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "HostName="):
			h.owner = trimmed
		case strings.HasPrefix(trimmed, "Ready."):
			readyOnce.Do(func() { close(h.ready) })
		case trimmed == "Stopped.":
			h.stopped = true
		}
	}}
	h.cmd.Stderr = &lineWriter{each: func(line string) { t.Log("hub:", redact(line)) }}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() { h.stop(t) })

	select {
	case <-h.ready:
	case <-h.done:
		t.Fatalf("iotplan hub serve ended before it served: %v", h.err)
	case <-ctx.Done():
		t.Fatalf("iotplan hub serve did not serve in time: %v", ctx.Err())
	}
	if h.owner == "" {
		t.Fatal("iotplan hub serve printed no owner connection string")
	}
	b, err := os.ReadFile(readyFile)
	if err != nil {
		t.Fatalf("the ready file: %v", err)
	}
	addrs := strings.Fields(string(b))
	if len(addrs) != 2 {
		t.Fatalf("the ready file holds %q, want the REST and the MQTT address", b)
	}
	h.restAddr, h.mqttAddr = addrs[0], addrs[1]
	if h.restAddr != restAddr {
		t.Fatalf("hub serve serves REST on %s, want %s", h.restAddr, restAddr)
	}
	return h
}

// stop stops serve with SIGINT, as Ctrl-C does, and checks that it exits
// cleanly; only the first call does anything.
func (h *hubProcess) stop(t *testing.T) {
	h.once.Do(func() {
		if err := h.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("interrupt iotplan hub serve: %v", err)
		}
		select {
		case <-h.done:
		case <-time.After(30 * time.Second):
			t.Errorf("iotplan hub serve did not stop within 30s of SIGINT; killed")
			h.cmd.Process.Kill()
			<-h.done
			return
		}
		if h.err != nil {
			t.Errorf("iotplan hub serve did not exit cleanly on SIGINT: %v", h.err)
		} else if !h.stopped {
			t.Errorf("iotplan hub serve exited without saying Stopped.")
		}
	})
}

// runNode runs the Node tests of this folder, one file at a time, against
// the hub, with Node's output in the test log.
func runNode(t *testing.T, ctx context.Context, node string, h *hubProcess) {
	t.Helper()
	files, err := filepath.Glob("*.test.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.test.js in test/interop: %v", err)
	}
	_, mqttPort, err := net.SplitHostPort(h.mqttAddr)
	if err != nil {
		t.Fatalf("MQTT address %q: %v", h.mqttAddr, err)
	}
	certFile, keyFile := deviceCertificate(t)
	args := append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec", "--test-timeout=60000"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(nodeEnviron(),
		"IOTHUB_CONNECTION_STRING="+h.owner,
		// The certificate names localhost; the hub's HostName is localhost.
		"HUB_MQTT_HOST="+net.JoinHostPort("localhost", mqttPort),
		"NODE_EXTRA_CA_CERTS="+filepath.Join(h.dataDir, "ca.pem"),
		"DEVICE_CERT_FILE="+certFile,
		"DEVICE_KEY_FILE="+keyFile,
		"NO_COLOR=1",
	)
	inProcessGroup(cmd)
	cmd.WaitDelay = 10 * time.Second
	var mu sync.Mutex
	tests := -1
	summary := regexp.MustCompile(`^ℹ tests (\d+)$`)
	out := &lineWriter{each: func(line string) {
		t.Log("node:", line)
		if m := summary.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			mu.Lock()
			tests, _ = strconv.Atoi(m[1])
			mu.Unlock()
		}
	}}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	t.Logf("node --test %s: %s", strings.Join(files, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		if ctx.Err() != nil {
			t.Errorf("the Node SDK tests were stopped, out of time (go test -timeout): %v", ctx.Err())
			return
		}
		t.Errorf("the Node SDK tests failed (node --test: %v); their output is above", err)
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if tests <= 0 {
		t.Errorf("node --test passed without running a test")
	}
}

// deviceCertificate writes a self-signed client certificate and its key,
// for the X.509 devices of the Node tests, and returns their files.
func deviceCertificate(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "interop-x509-device"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "device.pem"), filepath.Join(dir, "device-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// nodeEnviron is the environment of this process without what would change
// how the suite trusts the hub or prints.
func nodeEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_EXTRA_CA_CERTS", "FORCE_COLOR",
			"IOTHUB_CONNECTION_STRING", "HUB_MQTT_HOST", "DEVICE_CERT_FILE", "DEVICE_KEY_FILE":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// redact hides the key of a connection string.
func redact(line string) string {
	return keyRE.ReplaceAllString(line, "${1}…")
}

var keyRE = regexp.MustCompile(`(SharedAccessKey=)[^;\s]+`)

// lineWriter calls each for every line written to it.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	each func(line string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.each(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
