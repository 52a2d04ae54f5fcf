package server

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// TestNodeServiceSDK runs the official Node.js service SDK (azure-iothub
// 1.16.6), unmodified, against the server (testdata/nodesdk/service.js):
// registry create, get, list, update and delete, the typed errors it
// derives from our error bodies, twins with etags, bulk calls, paged and
// aggregate queries, statistics, modules and module twins, and direct
// methods over HTTP (reference/official-sdk-behaviour.md §1).
//
// The SDK reaches a hub only over HTTPS on port 443 of HostName, so the
// test serves on 127.0.0.1:443 as HostName=localhost and hands node the
// generated CA in NODE_EXTRA_CA_CERTS. It needs node, a folder with
// azure-iothub@1.16.6 and azure-iot-common installed (npm install in it)
// named by IOTPLAN_NODE_SDK, and the right to bind port 443; it is skipped
// otherwise.
func TestNodeServiceSDK(t *testing.T) {
	dir := os.Getenv("IOTPLAN_NODE_SDK")
	if dir == "" {
		t.Skip("IOTPLAN_NODE_SDK does not name a folder with the Node SDK installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "azure-iothub")); err != nil {
		t.Skip("azure-iothub is not installed in IOTPLAN_NODE_SDK")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:443")
	if err != nil {
		t.Skipf("cannot serve on port 443, where the SDK looks: %v", err)
	}
	h := openHub(t)
	id, err := EnsureIdentity(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	runListener(t, New(h, Options{HostName: "localhost", TLS: id.TLSConfig()}), ln)
	h.SetMethodRouter(routerFunc(func(_ context.Context, deviceID, _ string, req hub.MethodRequest) (*hub.MethodResult, error) {
		if deviceID != "node-a" {
			return nil, hub.Errorf(hub.CodeDeviceNotOnline, "The operation failed because the requested device isn't online or hasn't registered the direct method callback.")
		}
		return &hub.MethodResult{Status: 201, Payload: req.Payload}, nil
	}))
	owner := policy(t, h, "iothubowner")
	cs := "HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=" + owner.PrimaryKey

	script, _ := filepath.Abs("testdata/nodesdk/service.js")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"), "NODE_EXTRA_CA_CERTS="+id.CAFile, "HUB_CS="+cs)
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		t.Log("node:", line)
		switch {
		case strings.HasPrefix(line, "error"):
			t.Errorf("node: %s", line)
		case line == "done":
			done = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("node: %v", err)
	}
	if !done {
		t.Errorf("node did not finish its steps")
	}
}

// testWriter logs what node writes to stderr.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log("node stderr:", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
