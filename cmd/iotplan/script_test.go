package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/localhub/server"
	"github.com/iotplan/iotplan/internal/state"
)

var update = flag.Bool("update", false, "rewrite the testscript files' golden sections")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"iotplan": func() { os.Exit(Main()) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       *update,
		Setup: func(env *testscript.Env) error {
			l := &heldLock{}
			env.Values[lockKey{}] = l
			env.Defer(func() {
				if l.unlock != nil {
					_ = l.unlock()
				}
			})
			return startRemoteHub(env)
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"hub":          cmdHub,
			"lock-state":   cmdLockState,
			"unlock-state": cmdUnlockState,
			"exits":        cmdExits,
			"gen-csv":      cmdGenCSV,
			"no-secrets":   cmdNoSecrets,
			"serve":        cmdServe,
			"eventually":   cmdEventually,
		},
	})
}

// cmdHub inspects and changes the embedded hub of the script's working
// folder from outside iotplan, as another writer would:
//
// With -remote first, it works on the hub the script's REST server serves.
//
//	hub count N                 the hub holds N devices
//	hub device-exists ID        the device exists (negate with !)
//	hub twin ID                 print {"tags":…,"desired":…} of the twin
//	hub patch-twin ID JSON      merge a TwinPatch body into the twin
//	hub report ID JSON [connected]  the device reports properties (and is connected)
//	hub create ID               register a device
//	hub delete ID               delete a device
//	hub key ID                  print the device's primary key
//	hub seed PREFIX N           register N devices with tags and desired
func cmdHub(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: hub [-remote] count|device-exists|twin|patch-twin|create|delete|seed ...")
	}
	var h *localhub.Hub
	if args[0] == "-remote" {
		// The hub the script's REST server serves (REMOTE_HUB_CS).
		h = ts.Value(remoteKey{}).(*localhub.Hub)
		args = args[1:]
	} else {
		var err error
		h, err = localhub.Open(ts.MkAbs(hubFile), localhub.Options{})
		ts.Check(err)
		defer h.Close()
	}
	ctx := context.Background()
	need := func(n int) {
		if len(args) != n+1 {
			ts.Fatalf("hub %s takes %d arguments", args[0], n)
		}
	}
	switch args[0] {
	case "count":
		need(1)
		st, err := h.Statistics(ctx)
		ts.Check(err)
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		if (st.TotalDeviceCount == int64(want)) == neg {
			ts.Fatalf("hub holds %d devices, want %s%d", st.TotalDeviceCount, map[bool]string{true: "not "}[neg], want)
		}
	case "device-exists":
		need(1)
		_, err := h.Device(ctx, args[1])
		exists := err == nil
		if err != nil && !isNotFound(err) {
			ts.Fatalf("read device: %v", err)
		}
		if exists == neg {
			ts.Fatalf("device %s exists: %v", args[1], exists)
		}
	case "twin":
		need(1)
		tw, err := h.Twin(ctx, args[1])
		ts.Check(err)
		out, err := json.Marshal(map[string]any{"tags": tw.Tags, "desired": tw.Properties.Desired.Properties(), "status": tw.Status})
		ts.Check(err)
		ts.Stdout().Write(append(out, '\n'))
	case "patch-twin":
		need(2)
		var body hub.TwinPatchBody
		ts.Check(json.Unmarshal([]byte(args[2]), &body))
		p := hub.TwinPatch{Tags: body.Tags}
		if body.Properties != nil {
			p.Desired = body.Properties.Desired
		}
		_, err := h.PatchTwin(ctx, args[1], p, "*")
		ts.Check(err)
	case "report":
		// hub report ID JSON [connected]: the device reports properties,
		// as it would over MQTT, and is marked connected when asked.
		if len(args) != 3 && (len(args) != 4 || args[3] != "connected") {
			ts.Fatalf("usage: hub report ID JSON [connected]")
		}
		var patch map[string]any
		ts.Check(json.Unmarshal([]byte(args[2]), &patch))
		_, err := h.UpdateReported(ctx, args[1], "", patch)
		ts.Check(err)
		if len(args) == 4 {
			ts.Check(h.SetConnectionState(ctx, args[1], "", true))
		}
	case "create":
		need(1)
		_, err := h.CreateDevice(ctx, &hub.Device{DeviceID: args[1]})
		ts.Check(err)
	case "delete":
		need(1)
		ts.Check(h.DeleteDevice(ctx, args[1], "*"))
	case "key":
		// hub key ID: the device's primary key, to compare across runs.
		need(1)
		d, err := h.Device(ctx, args[1])
		ts.Check(err)
		if d.Authentication == nil || d.Authentication.SymmetricKey == nil {
			ts.Fatalf("device %s has no SAS keys", args[1])
		}
		fmt.Fprint(ts.Stdout(), d.Authentication.SymmetricKey.PrimaryKey)
	case "seed":
		// hub seed PREFIX N: N devices PREFIX-000... with tags and desired
		// properties of one shape, as another tool would have made them.
		need(2)
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		for i := range n {
			id := fmt.Sprintf("%s-%03d", args[1], i)
			_, err := h.CreateDevice(ctx, &hub.Device{DeviceID: id})
			ts.Check(err)
			_, err = h.PatchTwin(ctx, id, hub.TwinPatch{
				Tags:    map[string]any{"site": []string{"berlin", "paris"}[i%2], "floor": float64(i % 3), "model": "TH-200"},
				Desired: map[string]any{"telemetryInterval": 10.0, "limits": map[string]any{"max": 40.0, "min": float64(i % 4)}},
			}, "")
			ts.Check(err)
		}
	default:
		ts.Fatalf("unknown hub command %q", args[0])
	}
}

func isNotFound(err error) bool { return errors.Is(err, hub.ErrNotFound) }

// heldLock is the state lock a script holds, kept in the script's values.
type heldLock struct{ unlock func() error }

type lockKey struct{}

// cmdLockState takes the state lock as "iotplan apply" would and holds it
// until unlock-state.
func cmdLockState(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: lock-state")
	}
	unlock, err := state.NewFile(ts.MkAbs(defaultState)).Lock(state.NewLockInfo("apply"))
	ts.Check(err)
	ts.Value(lockKey{}).(*heldLock).unlock = unlock
}

func cmdUnlockState(ts *testscript.TestScript, neg bool, args []string) {
	h := ts.Value(lockKey{}).(*heldLock)
	if h.unlock == nil {
		ts.Fatalf("unlock-state without lock-state")
	}
	ts.Check(h.unlock())
	h.unlock = nil
}

// cmdExits runs a command and checks its exit status, so that scripts can
// tell "changes present" (2) from an error (1):
//
//	exits 2 iotplan plan -detailed-exitcode
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdGenCSV writes a CSV fleet of N thermostats: gen-csv FILE N.
func cmdGenCSV(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gen-csv FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	var b strings.Builder
	b.WriteString("id,site,floor\n")
	sites := []string{"berlin", "paris", "oslo", "rome"}
	for i := range n {
		fmt.Fprintf(&b, "t%04d,%s,%d\n", i, sites[i%len(sites)], i%7)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o644))
}

// cmdNoSecrets fails when any of the files holds a key of the state: the
// SAS keys of every resource, and the extra secrets given as arguments
// after "--".
//
//	no-secrets FILE... [-- SECRET...]
func cmdNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("no-secrets cannot be negated")
	}
	var files, secrets []string
	for i, a := range args {
		if a == "--" {
			secrets = append(secrets, args[i+1:]...)
			break
		}
		files = append(files, a)
	}
	st, err := state.NewFile(ts.MkAbs(defaultState)).Load()
	ts.Check(err)
	for _, r := range st.Resources {
		for _, k := range []string{r.PrimaryKey, r.SecondaryKey} {
			if k != "" {
				secrets = append(secrets, k)
			}
		}
	}
	if len(secrets) == 0 {
		ts.Fatalf("no secrets to look for: the state holds no keys")
	}
	for _, f := range files {
		data := ts.ReadFile(f)
		for _, sec := range secrets {
			if strings.Contains(data, sec) {
				ts.Fatalf("%s shows a secret (%d characters long)", f, len(sec))
			}
		}
	}
}

type remoteKey struct{}

// startRemoteHub serves a local hub of its own over the service REST API on
// a loopback port for the script, as "iotplan hub serve --insecure" does,
// and gives scripts its owner connection string in REMOTE_HUB_CS.
func startRemoteHub(env *testscript.Env) error {
	h, err := localhub.Open(filepath.Join(env.WorkDir, "..", filepath.Base(env.WorkDir)+"-served.db"), localhub.Options{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Close()
		return err
	}
	host := ln.Addr().String()
	srv := &http.Server{Handler: server.New(h, server.Options{HostName: host})}
	go srv.Serve(ln)
	env.Defer(func() {
		srv.Close()
		h.Close()
	})
	policies, err := h.Policies(context.Background())
	if err != nil {
		return err
	}
	owner := hub.FindPolicy(policies, "iothubowner")
	env.Setenv("REMOTE_HUB_CS", "HostName="+host+";SharedAccessKeyName=iothubowner;SharedAccessKey="+owner.PrimaryKey)
	env.Setenv("REMOTE_HUB_HOST", host)
	env.Setenv("REMOTE_HUB_KEY", owner.PrimaryKey) // for checking that it is never printed
	env.Values[remoteKey{}] = h
	return nil
}

// cmdServe runs `iotplan hub serve` inside the test process, on loopback
// ports of its own, until the script ends:
//
//	serve [FLAGS...]
//
// It sets IOTHUB_CONNECTION_STRING (the owner's), HUB_MQTT (host:port of
// the device endpoint) and HUB_CA (the CA file, when serving TLS).
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("serve cannot be negated")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan servedHub, 1)
	var out bytes.Buffer
	s := &streams{In: strings.NewReader(""), Out: &out, Err: &out}
	cmd := hubServeCmd(s, func(h servedHub) { ready <- h })
	cmd.SetArgs(append([]string{"--data", ts.MkAbs(dataDir), "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	ts.Defer(func() {
		cancel()
		<-done
	})
	select {
	case h := <-ready:
		ts.Setenv("IOTHUB_CONNECTION_STRING", h.connectionString)
		ts.Setenv("HUB_MQTT", h.mqttAddr)
		ts.Setenv("HUB_CA", h.caFile)
	case err := <-done:
		ts.Fatalf("hub serve ended: %v\n%s", err, out.String())
	}
}

// cmdEventually runs a command until it succeeds and its standard output
// matches a pattern, for what a device does in its own time:
//
//	eventually SECONDS PATTERN COMMAND [ARGS...]
func cmdEventually(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: eventually SECONDS PATTERN COMMAND [ARGS...]")
	}
	secs, err := strconv.Atoi(args[0])
	ts.Check(err)
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for {
		err := ts.Exec(args[2], args[3:]...)
		if err == nil && re.MatchString(ts.ReadFile("stdout")) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not succeed with output matching %q within %ds (last error: %v)", args[2], args[1], secs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
