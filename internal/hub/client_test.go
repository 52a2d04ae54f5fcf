package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/localhub/server"
)

// The client's tests run it against the real local hub behind its REST
// server, through a handler that injects faults: throttling, server
// errors, answers lost after the hub acted, and connections cut.

const hostName = "hub.test"

// fault is what the fault handler does with one request.
type fault int

const (
	pass      fault = iota // hand the request to the server
	throttle               // 429 with Retry-After: 7, the hub not acting
	fail500                // 500, the hub not acting
	unavail                // 503, the hub not acting
	lost503                // the hub acts, the answer is replaced by a 503
	lostReset              // the hub acts, the connection is cut before the answer
	reset                  // the connection is cut, the hub not acting
	lostHang               // the hub acts, the answer never comes: the client times out
)

// rig is a hub, its server, the fault handler in front and a client.
type rig struct {
	t      *testing.T
	h      *localhub.Hub
	client *hub.Client
	log    *bytes.Buffer
	owner  hub.SharedAccessPolicy
	url    string

	mu     sync.Mutex
	script map[string][]fault        // "METHOD /path" → faults of its next requests
	hooks  map[string]map[int]func() // "METHOD /path" → request number → run before it
	seen   []string                  // "METHOD /path" of every request
	sleeps []time.Duration
	header []http.Header
}

func newRig(t *testing.T, opts hub.ClientOptions) *rig {
	t.Helper()
	h, err := localhub.Open(filepath.Join(t.TempDir(), "hub.db"), localhub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv := server.New(h, server.Options{HostName: hostName})
	r := &rig{t: t, h: h, script: map[string][]fault{}, hooks: map[string]map[int]func(){}, log: &bytes.Buffer{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.serve(srv, w, req) }))
	t.Cleanup(ts.Close)

	ps, err := h.Policies(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r.owner = *hub.FindPolicy(ps, "iothubowner")
	opts.BaseURL = ts.URL
	r.url = ts.URL
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 4
	}
	opts.Logger = slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := hub.NewClient(&hub.ConnectionString{HostName: hostName, SharedAccessKeyName: r.owner.KeyName, SharedAccessKey: r.owner.PrimaryKey}, opts)
	if err != nil {
		t.Fatal(err)
	}
	hub.SetSleep(c, func(ctx context.Context, d time.Duration) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.sleeps = append(r.sleeps, d)
		return ctx.Err()
	})
	r.client = c
	return r
}

// on scripts the faults of the next requests to "METHOD /path".
func (r *rig) on(key string, faults ...fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script[key] = append(r.script[key], faults...)
}

// beforeRequest runs fn before the n-th request to key (counting from 1)
// reaches the server.
func (r *rig) beforeRequest(key string, n int, fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hooks[key] == nil {
		r.hooks[key] = map[int]func(){}
	}
	r.hooks[key][n] = fn
}

func (r *rig) serve(srv http.Handler, w http.ResponseWriter, req *http.Request) {
	key := req.Method + " " + req.URL.Path
	r.mu.Lock()
	r.seen = append(r.seen, key)
	r.header = append(r.header, req.Header.Clone())
	f := pass
	if q := r.script[key]; len(q) > 0 {
		f, r.script[key] = q[0], q[1:]
	}
	n := 0
	for _, k := range r.seen {
		if k == key {
			n++
		}
	}
	fn := r.hooks[key][n]
	r.mu.Unlock()
	if fn != nil {
		fn()
	}
	refuse := func(status int, code hub.ErrorCode) {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.Header().Set("iothub-errorcode", code.Name)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, `{"Message":"ErrorCode:`+code.Name+`;injected","ExceptionMessage":"Tracking ID:0123-G:0-TimeStamp:01/01/2026 00:00:00"}`)
	}
	cut := func() {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			r.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}
	switch f {
	case pass:
		srv.ServeHTTP(w, req)
	case throttle:
		refuse(http.StatusTooManyRequests, hub.CodeThrottled)
	case fail500:
		refuse(http.StatusInternalServerError, hub.CodeServerError)
	case unavail:
		refuse(http.StatusServiceUnavailable, hub.CodeServiceUnavailable)
	case lost503:
		srv.ServeHTTP(httptest.NewRecorder(), req)
		refuse(http.StatusServiceUnavailable, hub.CodeServiceUnavailable)
	case lostReset:
		srv.ServeHTTP(httptest.NewRecorder(), req)
		cut()
	case reset:
		cut()
	case lostHang:
		srv.ServeHTTP(httptest.NewRecorder(), req)
		<-req.Context().Done()
	}
}

// count returns how many requests to key the hub's side saw.
func (r *rig) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range r.seen {
		if k == key {
			n++
		}
	}
	return n
}

func (r *rig) waits() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.sleeps...)
}

func code(err error) int {
	var he *hub.Error
	if errors.As(err, &he) {
		return he.Code
	}
	return 0
}

func TestClientRetriesThrottling(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	if _, err := r.h.CreateDevice(t.Context(), &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	r.on("GET /devices/d", throttle, throttle)
	d, err := r.client.Device(t.Context(), "d")
	if err != nil || d.DeviceID != "d" {
		t.Fatalf("Device: %+v, %v", d, err)
	}
	if d := cmp.Diff([]time.Duration{7 * time.Second, 7 * time.Second}, r.waits()); d != "" {
		t.Errorf("waits mismatch (-want +got), Retry-After not honoured:\n%s", d)
	}
	if n := r.count("GET /devices/d"); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestClientBackoff(t *testing.T) {
	r := newRig(t, hub.ClientOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: 150 * time.Millisecond, MaxAttempts: 4})
	r.on("GET /statistics/devices", unavail, fail500, unavail)
	if _, err := r.client.Statistics(t.Context()); err != nil {
		t.Fatalf("Statistics: %v", err)
	}
	waits := r.waits()
	bounds := [][2]time.Duration{{50 * time.Millisecond, 100 * time.Millisecond}, {75 * time.Millisecond, 150 * time.Millisecond}, {75 * time.Millisecond, 150 * time.Millisecond}}
	if len(waits) != len(bounds) {
		t.Fatalf("waits %v, want %d", waits, len(bounds))
	}
	for i, w := range waits {
		if w < bounds[i][0] || w > bounds[i][1] {
			t.Errorf("wait %d = %v, want between %v and %v", i+1, w, bounds[i][0], bounds[i][1])
		}
	}
}

func TestClientGivesUp(t *testing.T) {
	r := newRig(t, hub.ClientOptions{MaxAttempts: 3})
	r.on("GET /statistics/devices", fail500, fail500, fail500, fail500)
	_, err := r.client.Statistics(t.Context())
	if code(err) != hub.CodeServerError.Number {
		t.Fatalf("err = %v, want the last 500", err)
	}
	if n := r.count("GET /statistics/devices"); n != 3 {
		t.Errorf("%d requests, want MaxAttempts = 3", n)
	}

	// A 4xx is the hub's answer: no retry.
	_, err = r.client.Device(t.Context(), "nobody")
	if !errors.Is(err, hub.ErrNotFound) || r.count("GET /devices/nobody") != 1 {
		t.Errorf("err = %v after %d requests, want one 404", err, r.count("GET /devices/nobody"))
	}
}

func TestClientRetriesBoundedByContext(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	r.on("GET /statistics/devices", throttle)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := r.client.Statistics(ctx)
	if !errors.Is(err, hub.ErrThrottled) {
		t.Errorf("err = %v, want the 429: waiting 7 s would outlive the context", err)
	}
	if w := r.waits(); len(w) != 0 {
		t.Errorf("waited %v", w)
	}
}

func TestClientConnectionReset(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	r.on("GET /statistics/devices", reset, reset)
	if _, err := r.client.Statistics(t.Context()); err != nil {
		t.Fatalf("Statistics after two cut connections: %v", err)
	}
	if n := r.count("GET /statistics/devices"); n < 3 {
		t.Errorf("%d requests, want at least 3", n)
	}
}

// TestClientCreateReconciled follows a create whose outcome is unknown:
// the client reads the device rather than sending the create blindly.
func TestClientCreateReconciled(t *testing.T) {
	const key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	tests := map[string]struct {
		faults    []fault
		existing  *hub.Device // registered by someone else before the call
		sneakIn   bool        // someone registers the same device just before the second create
		device    hub.Device
		wantCode  int // 0: success
		wantPuts  int
		wantGets  int
		wantKeyed bool // the device has the keys sent
		timeout   time.Duration
	}{
		"applied, answer lost":        {faults: []fault{lost503}, device: hub.Device{Status: hub.StatusDisabled}, wantPuts: 1, wantGets: 1},
		"applied, connection cut":     {faults: []fault{lostReset}, device: hub.Device{}, wantPuts: 1, wantGets: 1},
		"applied, timed out":          {faults: []fault{lostHang}, device: hub.Device{}, wantPuts: 1, wantGets: 1, timeout: 200 * time.Millisecond},
		"not applied":                 {faults: []fault{fail500}, device: hub.Device{}, wantPuts: 2, wantGets: 1},
		"not applied, connection cut": {faults: []fault{reset}, device: hub.Device{}, wantPuts: 2, wantGets: 1},
		"throttled":                   {faults: []fault{throttle}, device: hub.Device{}, wantPuts: 2, wantGets: 0},
		"with keys":                   {faults: []fault{lost503}, device: hub.Device{Authentication: &hub.AuthenticationMechanism{Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{PrimaryKey: key, SecondaryKey: key}}}, wantPuts: 1, wantGets: 1, wantKeyed: true},
		"someone else's device": {faults: []fault{unavail}, existing: &hub.Device{Status: hub.StatusDisabled}, device: hub.Device{},
			wantCode: hub.CodeDeviceAlreadyExists.Number, wantPuts: 1, wantGets: 1},
		"409 after a retried create": {faults: []fault{unavail}, sneakIn: true, device: hub.Device{}, wantPuts: 2, wantGets: 2},
		"a plain conflict":           {existing: &hub.Device{}, device: hub.Device{}, wantCode: hub.CodeDeviceAlreadyExists.Number, wantPuts: 1, wantGets: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, hub.ClientOptions{RequestTimeout: tt.timeout})
			ctx := t.Context()
			in := tt.device
			in.DeviceID = "d"
			if tt.existing != nil {
				ex := *tt.existing
				ex.DeviceID = "d"
				if _, err := r.h.CreateDevice(ctx, &ex); err != nil {
					t.Fatal(err)
				}
			}
			r.on("PUT /devices/d", tt.faults...)
			if tt.sneakIn {
				// The second PUT finds the device registered meanwhile,
				// just as the client would have registered it.
				r.beforeRequest("PUT /devices/d", 2, func() {
					same := in
					if _, err := r.h.CreateDevice(context.Background(), &same); err != nil {
						t.Errorf("sneak in: %v", err)
					}
				})
			}
			got, err := r.client.CreateDevice(ctx, &in)
			if tt.wantCode != 0 {
				if code(err) != tt.wantCode {
					t.Fatalf("err = %v, want code %d", err, tt.wantCode)
				}
			} else if err != nil {
				t.Fatalf("CreateDevice: %v", err)
			}
			if n := r.count("PUT /devices/d"); n != tt.wantPuts {
				t.Errorf("%d PUTs, want %d", n, tt.wantPuts)
			}
			if n := r.count("GET /devices/d"); n != tt.wantGets {
				t.Errorf("%d GETs, want %d", n, tt.wantGets)
			}
			if tt.wantCode != 0 {
				return
			}
			stored, err := r.h.Device(ctx, "d")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(stored, got); d != "" {
				t.Errorf("the result differs from the stored device (-stored +got):\n%s", d)
			}
			if tt.wantKeyed && got.Authentication.SymmetricKey.PrimaryKey != key {
				t.Errorf("keys not the ones sent")
			}
			if !strings.Contains(r.log.String(), "retrying") && tt.wantPuts > 1 {
				t.Errorf("no retry logged")
			}
		})
	}
}

func TestClientDeleteReconciled(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if _, err := r.h.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil {
			t.Fatal(err)
		}
	}
	// The first DELETE removes the device but its answer is lost: the 404
	// of the repeat means the device is gone, as asked.
	r.on("DELETE /devices/a", lost503)
	if err := r.client.DeleteDevice(ctx, "a", "*"); err != nil {
		t.Errorf("DeleteDevice after a lost answer: %v", err)
	}
	if n := r.count("DELETE /devices/a"); n != 2 {
		t.Errorf("%d DELETEs, want 2", n)
	}
	r.on("DELETE /devices/b/modules/m", lostReset)
	if _, err := r.h.CreateModule(ctx, &hub.Module{DeviceID: "b", ModuleID: "m"}); err != nil {
		t.Fatal(err)
	}
	if err := r.client.DeleteModule(ctx, "b", "m", ""); err != nil {
		t.Errorf("DeleteModule after a cut connection: %v", err)
	}
	// Without an unknown outcome before it, a 404 is an error.
	if err := r.client.DeleteDevice(ctx, "a", "*"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("DeleteDevice of a missing device: %v, want not found", err)
	}
}

func TestClientUpdateReconciled(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	ctx := t.Context()
	d, err := r.h.CreateDevice(ctx, &hub.Device{DeviceID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	in := *d
	in.Status, in.StatusReason = hub.StatusDisabled, "maintenance"
	r.on("PUT /devices/d", lost503)
	got, err := r.client.UpdateDevice(ctx, &in, d.ETag)
	if err != nil {
		t.Fatalf("UpdateDevice after a lost answer: %v", err)
	}
	if got.Status != hub.StatusDisabled || got.ETag == d.ETag {
		t.Errorf("update result %+v", got)
	}
	if n, g := r.count("PUT /devices/d"), r.count("GET /devices/d"); n != 2 || g != 1 {
		t.Errorf("%d PUTs and %d GETs, want 2 and 1", n, g)
	}

	// Someone else's update in between: the 412 stands.
	in.StatusReason = "mine"
	r.on("PUT /devices/d", unavail)
	r.beforeRequest("PUT /devices/d", 4, func() {
		other := in
		other.StatusReason = "theirs"
		if _, err := r.h.UpdateDevice(context.Background(), &other, "*"); err != nil {
			t.Errorf("other update: %v", err)
		}
	})
	if _, err := r.client.UpdateDevice(ctx, &in, got.ETag); !errors.Is(err, hub.ErrPreconditionFailed) {
		t.Errorf("UpdateDevice racing another writer: %v, want 412", err)
	}

	m, err := r.h.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	mi := *m
	mi.ManagedBy = "ops"
	r.on("PUT /devices/d/modules/m", lostReset)
	if got, err := r.client.UpdateModule(ctx, &mi, m.ETag); err != nil || got.ManagedBy != "ops" {
		t.Errorf("UpdateModule after a cut connection: %+v, %v", got, err)
	}
	r.on("PUT /devices/d/modules/n", lost503)
	if got, err := r.client.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "n", ManagedBy: "edge"}); err != nil || got.ManagedBy != "edge" {
		t.Errorf("CreateModule after a lost answer: %+v, %v", got, err)
	}
}

func TestClientTwinWritesReconciled(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	ctx := t.Context()
	if _, err := r.h.CreateDevice(ctx, &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	tw, err := r.h.PatchTwin(ctx, "d", hub.TwinPatch{Tags: map[string]any{"old": 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	r.on("PATCH /twins/d", lost503)
	got, err := r.client.PatchTwin(ctx, "d", hub.TwinPatch{Tags: map[string]any{"old": nil, "site": "berlin"}, Desired: map[string]any{"n": 3}}, tw.ETag)
	if err != nil {
		t.Fatalf("PatchTwin after a lost answer: %v", err)
	}
	if !cmp.Equal(map[string]any{"site": "berlin"}, got.Tags) || got.Properties.Desired["n"] != 3.0 {
		t.Errorf("patched twin %+v", got)
	}
	if n := r.count("PATCH /twins/d"); n != 2 {
		t.Errorf("%d PATCHes, want 2", n)
	}

	r.on("PUT /twins/d", lostReset)
	got, err = r.client.ReplaceTwin(ctx, "d", hub.TwinPatch{Desired: map[string]any{"mode": "eco"}}, got.ETag)
	if err != nil {
		t.Fatalf("ReplaceTwin after a cut connection: %v", err)
	}
	if len(got.Tags) != 0 || !cmp.Equal(map[string]any{"mode": "eco"}, got.Properties.Desired.Properties()) {
		t.Errorf("replaced twin %+v", got)
	}

	// Without an etag a repeated patch is simply applied again.
	r.on("PATCH /twins/d", lost503)
	if _, err := r.client.PatchTwin(ctx, "d", hub.TwinPatch{Tags: map[string]any{"a": 1}}, ""); err != nil {
		t.Errorf("PatchTwin without etag after a lost answer: %v", err)
	}
}

func TestClientMethods(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	ctx := t.Context()
	if _, err := r.h.CreateDevice(ctx, &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	r.h.SetMethodRouter(routerFunc(func(_ context.Context, _, _ string, req hub.MethodRequest) (*hub.MethodResult, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return &hub.MethodResult{Status: 200, Payload: req.Payload}, nil
	}))
	req := hub.MethodRequest{MethodName: "echo", Payload: json.RawMessage(`{"a":1}`)}

	// A 429 means the hub did not deliver the call: it is sent again.
	r.on("POST /twins/d/methods", throttle)
	res, err := r.client.InvokeDeviceMethod(ctx, "d", req)
	if err != nil || res.Status != 200 || string(res.Payload) != `{"a":1}` {
		t.Fatalf("InvokeDeviceMethod: %+v, %v", res, err)
	}

	// After a 500 or a cut connection the device may have run it: not
	// again.
	for _, f := range []fault{fail500, lostReset, lost503} {
		before := r.count("POST /twins/d/methods")
		r.on("POST /twins/d/methods", f)
		_, err := r.client.InvokeDeviceMethod(ctx, "d", req)
		var ue *hub.UncertainError
		if !errors.As(err, &ue) {
			t.Errorf("fault %d: err = %v, want an UncertainError", f, err)
		}
		if n := r.count("POST /twins/d/methods") - before; n != 1 {
			t.Errorf("fault %d: sent %d times", f, n)
		}
	}
	mu.Lock()
	if calls != 3 {
		t.Errorf("the device ran the method %d times, want 3 (the call, and the two the hub delivered)", calls)
	}
	mu.Unlock()

	// The hub's own answers come back as they are.
	r.h.SetMethodRouter(nil)
	_, err = r.client.InvokeDeviceMethod(ctx, "d", req)
	if code(err) != hub.CodeDeviceNotOnline.Number {
		t.Errorf("offline device: %v, want 404103", err)
	}
	if _, err := r.client.InvokeModuleMethod(ctx, "d", "nobody", req); code(err) != hub.CodeModuleNotFound.Number {
		t.Errorf("missing module: %v", err)
	}
	if _, err := r.client.InvokeDeviceMethod(ctx, "d", hub.MethodRequest{MethodName: "x", Payload: json.RawMessage(`{`)}); !errors.Is(err, hub.ErrBadRequest) {
		t.Errorf("invalid payload: %v", err)
	}
}

// routerFunc adapts a function to localhub.MethodRouter.
type routerFunc func(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error)

func (f routerFunc) InvokeMethod(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error) {
	return f(ctx, deviceID, moduleID, req)
}

func TestClientBulk(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	ctx := t.Context()
	if _, err := r.h.CreateDevice(ctx, &hub.Device{DeviceID: "taken"}); err != nil {
		t.Fatal(err)
	}
	res, err := r.client.BulkRegistry(ctx, []hub.ExportImportDevice{
		{ID: "taken", ImportMode: hub.ImportCreate},
		{ID: "new", ImportMode: hub.ImportCreate},
	})
	if err != nil {
		t.Fatalf("BulkRegistry: %v", err)
	}
	want := &hub.BulkRegistryOperationResult{Errors: []hub.DeviceRegistryOperationError{{DeviceID: "taken", ErrorCode: "DeviceAlreadyExists", Operation: "create"}}, Warnings: []hub.DeviceRegistryOperationWarning{}}
	if d := cmp.Diff(want, res, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ErrorStatus" }, cmp.Ignore())); d != "" {
		t.Errorf("result mismatch (-want +got):\n%s", d)
	}

	r.on("POST /devices", lost503)
	_, err = r.client.BulkRegistry(ctx, []hub.ExportImportDevice{{ID: "other", ImportMode: hub.ImportCreate}})
	var ue *hub.UncertainError
	if !errors.As(err, &ue) || r.count("POST /devices") != 2 {
		t.Errorf("bulk call with a lost answer: %v after %d calls; want an UncertainError and no repeat", err, r.count("POST /devices"))
	}
	r.on("POST /devices", throttle)
	if res, err := r.client.BulkRegistry(ctx, []hub.ExportImportDevice{{ID: "third", ImportMode: hub.ImportCreate}}); err != nil || !res.IsSuccessful {
		t.Errorf("bulk call after a 429: %+v, %v", res, err)
	}
	_, err = r.client.BulkRegistry(ctx, []hub.ExportImportDevice{{ID: "x", ImportMode: hub.ImportCreate}, {ID: "x", ImportMode: hub.ImportDelete}})
	if code(err) != hub.CodeDeviceDefinedMultipleTimes.Number {
		t.Errorf("bulk call naming a device twice: %v", err)
	}
}

func TestClientQuery(t *testing.T) {
	r := newRig(t, hub.ClientOptions{})
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		if _, err := r.h.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := r.client.QueryTwins(ctx, "SELECT * FROM devices", hub.QueryOptions{PageSize: 5000})
	if err != nil || len(page.Twins) != 3 || page.Continuation != "" {
		t.Fatalf("QueryTwins: %+v, %v", page, err)
	}
	r.mu.Lock()
	last := r.header[len(r.header)-1]
	r.mu.Unlock()
	if got := last.Get("x-ms-max-item-count"); got != "100" {
		t.Errorf("x-ms-max-item-count %q, want the client's cap 100", got)
	}
	rows, err := r.client.Query(ctx, "SELECT deviceId FROM devices WHERE deviceId != 'b'", hub.QueryOptions{PageSize: 1})
	if err != nil || rows.ItemType != "raw" || len(rows.Items) != 1 || rows.Continuation == "" {
		t.Fatalf("Query: %+v, %v", rows, err)
	}
	if _, err := r.client.QueryTwins(ctx, "SELECT deviceId FROM devices", hub.QueryOptions{}); err == nil || !strings.Contains(err.Error(), "returned raw items, not twins") {
		t.Errorf("QueryTwins of a projection: %v", err)
	}
	r.on("POST /devices/query", lostReset, fail500)
	if page, err := r.client.QueryTwins(ctx, "SELECT * FROM devices", hub.QueryOptions{}); err != nil || len(page.Twins) != 3 {
		t.Errorf("QueryTwins after faults: %+v, %v", page, err)
	}
}

var requestIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestClientWire checks what goes on the wire: api-version, the token,
// Request-Id, User-Agent, JSON content type, quoted If-Match, and escaped
// IDs; and what comes back from the server's errors.
func TestClientWire(t *testing.T) {
	r := newRig(t, hub.ClientOptions{UserAgent: "iotplan-test"})
	ctx := t.Context()
	odd := "a:b.c+d%e_f#g*h?i!j(k)l,m=n@o;p$q'r"
	for _, id := range []string{odd, ".", ".."} {
		d, err := r.client.CreateDevice(ctx, &hub.Device{DeviceID: id})
		if err != nil || d.DeviceID != id {
			t.Fatalf("CreateDevice(%q): %+v, %v", id, d, err)
		}
		if _, err := r.client.UpdateDevice(ctx, d, d.ETag); err != nil {
			t.Errorf("UpdateDevice(%q): %v", id, err)
		}
		if _, err := r.client.PatchTwin(ctx, id, hub.TwinPatch{Tags: map[string]any{"a": 1}}, ""); err != nil {
			t.Errorf("PatchTwin(%q): %v", id, err)
		}
		if err := r.client.DeleteDevice(ctx, id, ""); err != nil {
			t.Errorf("DeleteDevice(%q): %v", id, err)
		}
	}
	r.mu.Lock()
	headers := append([]http.Header(nil), r.header...)
	r.mu.Unlock()
	for i, h := range headers {
		if !requestIDRE.MatchString(h.Get("Request-Id")) || h.Get("User-Agent") != "iotplan-test" || !strings.HasPrefix(h.Get("Authorization"), "SharedAccessSignature sr=hub.test&sig=") {
			t.Errorf("request %d headers %v", i, h)
		}
	}
	if got := headers[1].Get("If-Match"); !strings.HasPrefix(got, `"`) || !strings.HasSuffix(got, `"`) {
		t.Errorf("If-Match %q, want it quoted", got)
	}
	if got := headers[3].Get("If-Match"); got != `"*"` {
		t.Errorf("If-Match of a delete without etag %q, want \"*\"", got)
	}
	if got := headers[0].Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}

	_, err := r.client.Device(ctx, "nobody")
	var he *hub.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v", err)
	}
	if he.StatusCode != 404 || he.Code != 404001 || he.Name != "DeviceNotFound" || !strings.Contains(he.Message, `"nobody"`) || !regexp.MustCompile(`^[0-9a-f]{32}-G:0-TimeStamp:`).MatchString(he.TrackingID) {
		t.Errorf("parsed error %+v", he)
	}
	for _, bad := range []func() error{
		func() error { _, err := r.client.Device(ctx, ""); return err },
		func() error { _, err := r.client.CreateDevice(ctx, &hub.Device{DeviceID: "a b"}); return err },
		func() error { _, err := r.client.Module(ctx, "d", ""); return err },
		func() error { return r.client.DeleteModule(ctx, "", "m", "*") },
	} {
		if err := bad(); code(err) != hub.CodeArgumentInvalid.Number {
			t.Errorf("invalid ID: %v, want ArgumentInvalid", err)
		}
	}
}

// TestClientSecrets checks that no error or log line holds the key or a
// signature, whatever fails.
func TestClientSecrets(t *testing.T) {
	r := newRig(t, hub.ClientOptions{MaxAttempts: 2})
	r.on("GET /statistics/devices", fail500, fail500)
	_, err1 := r.client.Statistics(t.Context())
	r.on("GET /devices/x", lostReset, lostReset)
	_, err2 := r.client.Device(t.Context(), "x")
	wrong, err := hub.NewClient(&hub.ConnectionString{HostName: hostName, SharedAccessKeyName: "iothubowner", SharedAccessKey: "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="},
		hub.ClientOptions{BaseURL: r.url, Logger: slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	_, err3 := wrong.Statistics(t.Context())
	if !errors.Is(err3, hub.ErrUnauthorized) || !strings.Contains(err3.Error(), "signature does not match") {
		t.Errorf("wrong key: %v", err3)
	}
	for _, text := range []string{r.log.String(), errText(err1), errText(err2), errText(err3)} {
		for _, secret := range []string{r.owner.PrimaryKey, r.owner.SecondaryKey, "d3Jvbmcta2V5", "sig="} {
			if strings.Contains(text, secret) {
				t.Errorf("%q holds a secret", text)
			}
		}
	}
	if err1 == nil || err2 == nil {
		t.Errorf("errors %v, %v; want both", err1, err2)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
