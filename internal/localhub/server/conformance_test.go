package server

import (
	"testing"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/hubtest"
)

// TestConformance runs the hub.Hub contract against the REST client
// talking HTTPS to this server on a loopback port, the client trusting
// the CA the server generated and naming the hub localhost:PORT, as `hub
// serve` tells users to.
func TestConformance(t *testing.T) {
	h := openHub(t)
	id, err := EnsureIdentity(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, port := listen(t)
	hostName := "localhost:" + port
	runListener(t, New(h, Options{HostName: hostName, TLS: id.TLSConfig()}), ln)

	pool, err := CAPool(id.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	owner := policy(t, h, "iothubowner")
	c, err := hub.NewClient(&hub.ConnectionString{HostName: hostName, SharedAccessKeyName: owner.KeyName, SharedAccessKey: owner.PrimaryKey},
		hub.ClientOptions{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	hubtest.Conformance(t, func(t *testing.T) hub.Hub { return c })
}
