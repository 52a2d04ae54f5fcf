package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// get sends an owner-signed GET to a running server.
func get(t *testing.T, c *http.Client, base, host string, owner hub.SharedAccessPolicy, p string) (*http.Response, error) {
	t.Helper()
	r, err := http.NewRequest("GET", base+p+"?api-version="+APIVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", token(t, host, owner, time.Now().Add(time.Hour)))
	return c.Do(r)
}

func TestRunTLS(t *testing.T) {
	h := openHub(t)
	id, err := EnsureIdentity(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, port := listen(t)
	host := "localhost:" + port
	runListener(t, New(h, Options{HostName: host, TLS: id.TLSConfig()}), ln)
	owner := policy(t, h, "iothubowner")
	pool, err := CAPool(id.CAFile)
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"localhost", "127.0.0.1"} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := get(t, c, "https://"+net.JoinHostPort(name, port), host, owner, "/statistics/devices")
		if err != nil {
			t.Fatalf("HTTPS to %s trusting the CA: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("HTTPS to %s: status %d", name, resp.StatusCode)
		}
		c.CloseIdleConnections()
	}

	c := &http.Client{Transport: &http.Transport{}}
	_, err = get(t, c, "https://localhost:"+port, host, owner, "/statistics/devices")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("HTTPS without trusting the CA: err = %v, want an unknown authority", err)
	}
	resp, err := get(t, c, "http://localhost:"+port, host, owner, "/statistics/devices")
	if err != nil {
		t.Fatalf("plain HTTP to the TLS port: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS port: status %d, want 400", resp.StatusCode)
	}
	c.CloseIdleConnections()
}

// TestRunShutdown stops a server while a direct method waits for a device:
// the call is answered 503 at once and Run returns nil.
func TestRunShutdown(t *testing.T) {
	h := openHub(t)
	if _, err := h.CreateDevice(t.Context(), &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	h.SetMethodRouter(routerFunc(func(ctx context.Context, _, _ string, _ hub.MethodRequest) (*hub.MethodResult, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	ln, port := listen(t)
	host := "localhost:" + port
	r := runListener(t, New(h, Options{HostName: host}), ln)
	owner := policy(t, h, "iothubowner")

	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	type answer struct {
		status int
		code   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+r.addr+"/twins/d/methods?api-version="+APIVersion, strings.NewReader(`{"methodName":"wait","responseTimeoutInSeconds":300}`))
		req.Header.Set("Authorization", token(t, host, owner, time.Now().Add(time.Hour)))
		resp, err := c.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answered <- answer{status: resp.StatusCode, code: resp.Header.Get("iothub-errorcode")}
	}()
	<-entered
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	a := <-answered
	if a.err != nil || a.status != http.StatusServiceUnavailable || a.code != hub.CodeServiceUnavailable.Name {
		t.Errorf("the waiting call got %+v, want 503 ServiceUnavailable", a)
	}
	if _, err := net.Dial("tcp", r.addr); err == nil {
		t.Errorf("the server still accepts connections after Run returned")
	}
}

func TestRunServeFails(t *testing.T) {
	h := openHub(t)
	ln, _ := listen(t)
	ln.Close()
	err := New(h, Options{}).Run(t.Context(), ln)
	if err == nil || !strings.Contains(err.Error(), "serve the REST API") {
		t.Errorf("Run on a closed listener: %v", err)
	}
}
