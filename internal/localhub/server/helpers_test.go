package server

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

// openHub opens a fresh local hub in a temporary folder.
func openHub(t testing.TB) *localhub.Hub {
	t.Helper()
	h, err := localhub.Open(filepath.Join(t.TempDir(), "hub.db"), localhub.Options{})
	if err != nil {
		t.Fatalf("open hub: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// policy returns one of the hub's shared access policies.
func policy(t testing.TB, h *localhub.Hub, name string) hub.SharedAccessPolicy {
	t.Helper()
	ps, err := h.Policies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := hub.FindPolicy(ps, name)
	if p == nil {
		t.Fatalf("no policy %q", name)
	}
	return *p
}

// token signs a service token for host with a policy's primary key.
func token(t testing.TB, host string, p hub.SharedAccessPolicy, expiry time.Time) string {
	t.Helper()
	tok, err := hub.NewSASToken(host, p.PrimaryKey, p.KeyName, expiry)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// running is a server running on a loopback listener.
type running struct {
	addr string
	stop func() error
}

// listen opens a loopback listener on a free port.
func listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln, port
}

// runListener starts s.Run on ln; the test's cleanup stops it and checks
// that Run returned nil.
func runListener(t testing.TB, s *Server, ln net.Listener) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	stopped := false
	var result error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &running{addr: ln.Addr().String(), stop: stop}
}

// errCode returns the IoT Hub code of err, or 0.
func errCode(err error) int {
	var he *hub.Error
	if errors.As(err, &he) {
		return he.Code
	}
	return 0
}
