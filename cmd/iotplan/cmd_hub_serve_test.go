package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/localhub/server"
)

// serving is a `hub serve` started by a test.
type serving struct {
	info     servedHub
	out, err *bytes.Buffer
	done     chan error
}

// startServe runs `iotplan hub serve ARGS` until ctx is done or the
// process is interrupted, and waits until it serves.
func startServe(t *testing.T, ctx context.Context, args ...string) *serving {
	t.Helper()
	sv := &serving{out: &bytes.Buffer{}, err: &bytes.Buffer{}, done: make(chan error, 1)}
	s := &streams{In: strings.NewReader(""), Out: sv.out, Err: sv.err}
	ready := make(chan servedHub, 1)
	cmd := hubServeCmd(s, func(h servedHub) { ready <- h })
	cmd.SetArgs(args)
	cmd.SetOut(sv.out)
	cmd.SetErr(sv.err)
	go func() { sv.done <- cmd.ExecuteContext(ctx) }()
	select {
	case sv.info = <-ready:
	case err := <-sv.done:
		t.Fatalf("hub serve ended before serving: %v\n%s%s", err, sv.out, sv.err)
	}
	return sv
}

func wantLines(t *testing.T, output string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(output, l) {
			t.Errorf("output lacks %q:\n%s", l, output)
		}
	}
}

// TestHubServeInsecure serves plain HTTP on a free port, uses it through
// the printed connection string, and stops on SIGINT as Ctrl-C does.
func TestHubServeInsecure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	readyFile := filepath.Join(t.TempDir(), "ready")
	sv := startServe(t, context.Background(), "--data", dir, "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--insecure", "--ready-file", readyFile)
	_, port, _ := net.SplitHostPort(sv.info.restAddr)

	b, err := os.ReadFile(readyFile)
	if err != nil || string(b) != sv.info.restAddr+"\n"+sv.info.mqttAddr+"\n" {
		t.Errorf("ready file %q, %v; want %q", b, err, sv.info.restAddr)
	}
	output := sv.out.String()
	wantLines(t, output,
		"iotplan local hub — data in "+dir+" (0 devices)\n",
		"  REST (service API)   http://localhost:"+port,
		"(api-version 2021-04-12)",
		"Plain HTTP: only iotplan's own client can use it",
		"  Owner connection string:\n    HostName=localhost:"+port+";SharedAccessKeyName=iothubowner;SharedAccessKey=",
		"Ready. Ctrl-C to stop.\n",
	)
	if strings.Contains(output, "CA certificate") {
		t.Errorf("plain HTTP output names a CA:\n%s", output)
	}

	cs, err := hub.ParseConnectionString(sv.info.connectionString)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(output, cs.Secret()) {
		t.Errorf("the printed connection string is not the one served")
	}
	c, err := hub.NewClient(cs, hub.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDevice(t.Context(), &hub.Device{DeviceID: "served-1"}); err != nil {
		t.Fatalf("CreateDevice through hub serve: %v", err)
	}

	p, _ := os.FindProcess(os.Getpid())
	if err := p.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := <-sv.done; err != nil {
		t.Fatalf("hub serve after Ctrl-C: %v\n%s", err, sv.err)
	}
	wantLines(t, sv.out.String(), "Stopped.\n")

	h, err := localhub.Open(filepath.Join(dir, "hub.db"), localhub.Options{})
	if err != nil {
		t.Fatalf("the hub database after hub serve: %v", err)
	}
	defer h.Close()
	if _, err := h.Device(t.Context(), "served-1"); err != nil {
		t.Errorf("the device created through hub serve: %v", err)
	}
}

// TestHubServeTLS serves HTTPS with a generated CA, used through the
// printed connection string; a second start keeps the CA.
func TestHubServeTLS(t *testing.T) {
	dir := t.TempDir()
	var caPEM []byte
	for i := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		sv := startServe(t, ctx, "--data", dir, "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
		_, port, _ := net.SplitHostPort(sv.info.restAddr)
		caFile := filepath.Join(dir, server.CAFile)
		abs, _ := filepath.Abs(caFile)
		fresh := "new; "
		if i == 1 {
			fresh = ""
		}
		wantLines(t, sv.out.String(),
			"  REST (service API)   https://localhost:"+port,
			"  CA certificate       "+caFile+"   ("+fresh+"trust it: NODE_EXTRA_CA_CERTS="+abs+")",
			"The Azure IoT SDKs reach the service API only on port 443; on port "+port+" only iotplan's own client can.",
			"HostName=localhost:"+port+";SharedAccessKeyName=iothubowner;",
		)
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && !bytes.Equal(pem, caPEM) {
			t.Errorf("a second start replaced the CA")
		}
		caPEM = pem
		pool, err := server.CAPool(caFile)
		if err != nil {
			t.Fatal(err)
		}
		cs, _ := hub.ParseConnectionString(sv.info.connectionString)
		c, err := hub.NewClient(cs, hub.ClientOptions{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Statistics(t.Context())
		if err != nil {
			t.Fatalf("Statistics over HTTPS: %v", err)
		}
		if _, err := c.CreateDevice(t.Context(), &hub.Device{DeviceID: "d" + string(rune('0'+i))}); err != nil {
			t.Fatal(err)
		}
		if st.TotalDeviceCount != int64(i) {
			t.Errorf("start %d: %d devices", i+1, st.TotalDeviceCount)
		}
		cancel()
		if err := <-sv.done; err != nil {
			t.Fatalf("hub serve: %v", err)
		}
	}
}

func TestHubServeErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := map[string]struct {
		args []string
		want string
	}{
		"port in use":           {[]string{"--http", busy.Addr().String()}, "another program already uses it; stop it, or serve on another port: iotplan hub serve --http 127.0.0.1:8443"},
		"cert without key":      {[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		"insecure with cert":    {[]string{"--insecure", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, "--insecure serves plain HTTP"},
		"host name with port":   {[]string{"--host-name", "localhost:8443"}, `--host-name "localhost:8443" is not a host name`},
		"missing certificate":   {[]string{"--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--tls-cert", "missing.pem", "--tls-key", "missing-key.pem"}, "load TLS certificate missing.pem"},
		"bad address":           {[]string{"--http", "nowhere"}, "cannot listen on nowhere"},
		"arguments":             {[]string{"extra"}, `unknown command "extra"`},
		"data folder is a file": {[]string{"--data", "/dev/null"}, "hub database"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			s := &streams{In: strings.NewReader(""), Out: &out, Err: &errb}
			args := append([]string{"--data", t.TempDir()}, tt.args...)
			cmd := hubServeCmd(s, func(servedHub) { t.Errorf("served") })
			cmd.SetArgs(args)
			cmd.SetOut(&out)
			cmd.SetErr(&errb)
			err := cmd.ExecuteContext(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestListenError(t *testing.T) {
	denied := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)}
	err := listenError("127.0.0.1:443", denied)
	for _, want := range []string{"cannot listen on 127.0.0.1:443: permission denied", "CAP_NET_BIND_SERVICE", "--http 127.0.0.1:8443", "the Azure IoT SDKs reach the service API only on port 443"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	other := errors.New("boom")
	if err := listenError("x", other); !errors.Is(err, other) {
		t.Errorf("%v does not wrap the cause", err)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 2003: "2,003", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
