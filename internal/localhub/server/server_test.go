package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

const testHost = "hub.example.net"

// fixture is a server over a fresh hub, called through its handler.
type fixture struct {
	t     *testing.T
	h     *localhub.Hub
	s     *Server
	owner hub.SharedAccessPolicy
	log   *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	h := openHub(t)
	var log bytes.Buffer
	s := New(h, Options{HostName: testHost, Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return &fixture{t: t, h: h, s: s, owner: policy(t, h, "iothubowner"), log: &log}
}

// req is one request of a test.
type req struct {
	method, path string
	body         string
	header       map[string]string
	// auth is the Authorization header; "" signs with iothubowner, "-"
	// sends none.
	auth string
	// apiVersion is the api-version; "" means APIVersion, "-" none.
	apiVersion string
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	f.t.Helper()
	target := r.path
	switch r.apiVersion {
	case "":
		target += sep(target) + "api-version=" + APIVersion
	case "-":
	default:
		target += sep(target) + "api-version=" + url.QueryEscape(r.apiVersion)
	}
	hr := httptest.NewRequest(r.method, target, strings.NewReader(r.body))
	switch r.auth {
	case "":
		hr.Header.Set("Authorization", token(f.t, testHost, f.owner, time.Now().Add(time.Hour)))
	case "-":
	default:
		hr.Header.Set("Authorization", r.auth)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.s.ServeHTTP(rec, hr)
	return rec
}

func sep(target string) string {
	if strings.Contains(target, "?") {
		return "&"
	}
	return "?"
}

// ok checks a 2xx answer with the JSON content type and decodes its body
// into v (unless v is nil).
func ok(t *testing.T, rec *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if v == nil {
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q, want %q", ct, contentTypeJSON)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
}

var exceptionRE = regexp.MustCompile(`^Tracking ID:[0-9a-f]{32}-G:0-TimeStamp:\d\d/\d\d/\d{4} \d\d:\d\d:\d\d$`)

// wantError checks an error answer: status, IoT Hub's classic body with
// the code's name, the iothub-errorcode header and the JSON content type.
// It returns the human text after the name.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code hub.ErrorCode) string {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if got := rec.Header().Get("iothub-errorcode"); got != code.Name {
		t.Errorf("iothub-errorcode %q, want %q", got, code.Name)
	}
	if ct := rec.Header().Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q, want %q", ct, contentTypeJSON)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %s: %v", rec.Body, err)
	}
	if d := cmp.Diff([]string{"ExceptionMessage", "Message"}, sortedKeys(body)); d != "" {
		t.Errorf("error body members mismatch (-want +got):\n%s", d)
	}
	text, found := strings.CutPrefix(body["Message"], "ErrorCode:"+code.Name+";")
	if !found || text == "" {
		t.Errorf("Message %q, want ErrorCode:%s;<text>", body["Message"], code.Name)
	}
	if !exceptionRE.MatchString(body["ExceptionMessage"]) {
		t.Errorf("ExceptionMessage %q, want Tracking ID:<32 hex>-G:0-TimeStamp:<MM/dd/yyyy HH:mm:ss>", body["ExceptionMessage"])
	}
	return text
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	if len(out) == 2 && out[0] > out[1] {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

func TestAPIVersion(t *testing.T) {
	f := newFixture(t)
	for _, v := range append([]string{APIVersion}, olderAPIVersions...) {
		ok(t, f.do(req{method: "GET", path: "/statistics/devices", apiVersion: v}), http.StatusOK, &hub.RegistryStatistics{})
	}
	tests := map[string]struct {
		version, want string
	}{
		"missing": {"-", "api-version query parameter is missing"},
		"empty":   {" ", "not supported"},
		"unknown": {"2099-01-01", `api-version "2099-01-01" is not supported; this hub serves 2021-04-12`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec := f.do(req{method: "GET", path: "/statistics/devices", apiVersion: tt.version})
			if text := wantError(t, rec, 400, hub.CodeInvalidProtocolVersion); !strings.Contains(text, tt.want) {
				t.Errorf("message %q, want it to say %q", text, tt.want)
			}
		})
	}
}

// TestAuthentication checks each way a token can be wrong, and that no
// answer or log line repeats a token.
func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	if _, err := f.h.CreateDevice(t.Context(), &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	owner := f.owner
	service := policy(t, f.h, "service")
	registryRead := policy(t, f.h, "registryRead")
	registryRW := policy(t, f.h, "registryReadWrite")
	deviceKey := policy(t, f.h, "device")
	wrongKey := owner
	wrongKey.PrimaryKey = service.PrimaryKey
	secondary := owner
	secondary.PrimaryKey = owner.SecondaryKey
	unknown := owner
	unknown.KeyName = "nobody"
	deviceToken, err := hub.NewSASToken(testHost+"/devices/d", owner.PrimaryKey, "", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	putBody := `{"deviceId":"new"}`
	tests := map[string]struct {
		method, path, body string
		auth               string
		want               string // "" for success, else a piece of the 401 text
	}{
		"owner":                                  {"GET", "/devices/d", "", token(t, testHost, owner, now.Add(time.Hour)), ""},
		"secondary key":                          {"GET", "/devices/d", "", token(t, testHost, secondary, now.Add(time.Hour)), ""},
		"audience in other case":                 {"GET", "/devices/d", "", token(t, strings.ToUpper(testHost), owner, now.Add(time.Hour)), ""},
		"audience with path":                     {"GET", "/devices/d", "", token(t, testHost+"/devices", owner, now.Add(time.Hour)), ""},
		"expired within the skew":                {"GET", "/devices/d", "", token(t, testHost, owner, now.Add(-hub.SASClockSkew/2)), ""},
		"no header":                              {"GET", "/devices/d", "", "-", "no Authorization header"},
		"not a SAS":                              {"GET", "/devices/d", "", "Bearer abc", `does not start with "SharedAccessSignature "`},
		"wrong key":                              {"GET", "/devices/d", "", token(t, testHost, wrongKey, now.Add(time.Hour)), "signature does not match"},
		"expired":                                {"GET", "/devices/d", "", token(t, testHost, owner, now.Add(-hub.SASClockSkew-time.Minute)), "expired"},
		"wrong audience":                         {"GET", "/devices/d", "", token(t, "other.example.net", owner, now.Add(time.Hour)), `is for "other.example.net", not for this hub`},
		"audience of another path":               {"GET", "/devices/d", "", token(t, testHost+"/twins", owner, now.Add(time.Hour)), "not for this hub"},
		"unknown policy":                         {"GET", "/devices/d", "", token(t, testHost, unknown, now.Add(time.Hour)), `policy "nobody", which this hub does not have`},
		"device token":                           {"GET", "/devices/d", "", deviceToken, "names no policy"},
		"registryRead reads":                     {"GET", "/devices/d", "", token(t, testHost, registryRead, now.Add(time.Hour)), ""},
		"registryRead cannot PUT":                {"PUT", "/devices/new", putBody, token(t, testHost, registryRead, now.Add(time.Hour)), `policy "registryRead" lacks the RegistryWrite right that PUT /devices/new needs`},
		"registryRead cannot DELETE":             {"DELETE", "/devices/d", "", token(t, testHost, registryRead, now.Add(time.Hour)), "lacks the RegistryWrite right"},
		"registryRead cannot read twins":         {"GET", "/twins/d", "", token(t, testHost, registryRead, now.Add(time.Hour)), "lacks the ServiceConnect right"},
		"registryRead queries":                   {"POST", "/devices/query", `{"query":"SELECT * FROM devices"}`, token(t, testHost, registryRead, now.Add(time.Hour)), ""},
		"registryReadWrite PUTs":                 {"PUT", "/devices/new", putBody, token(t, testHost, registryRW, now.Add(time.Hour)), ""},
		"service reads twins":                    {"GET", "/twins/d", "", token(t, testHost, service, now.Add(time.Hour)), ""},
		"service queries":                        {"POST", "/devices/query", `{"query":"SELECT * FROM devices"}`, token(t, testHost, service, now.Add(time.Hour)), ""},
		"service cannot read the registry":       {"GET", "/devices/d", "", token(t, testHost, service, now.Add(time.Hour)), "lacks the RegistryRead right"},
		"service statistics need ServiceConnect": {"GET", "/statistics/service", "", token(t, testHost, registryRW, now.Add(time.Hour)), "lacks the ServiceConnect right"},
		"device policy":                          {"GET", "/statistics/devices", "", token(t, testHost, deviceKey, now.Add(time.Hour)), "lacks the RegistryRead right"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f.log.Reset()
			rec := f.do(req{method: tt.method, path: tt.path, body: tt.body, auth: tt.auth})
			if tt.want == "" {
				if rec.Code >= 300 {
					t.Fatalf("status %d, want success; body %s", rec.Code, rec.Body)
				}
				if rec.Code == 200 && tt.method == "PUT" {
					_ = f.h.DeleteDevice(t.Context(), "new", "*")
				}
			} else if text := wantError(t, rec, 401, hub.CodeUnauthorized); !strings.Contains(text, tt.want) {
				t.Errorf("message %q, want it to say %q", text, tt.want)
			}
			if tok, err := hub.ParseSASToken(tt.auth); err == nil {
				sig := tt.auth[strings.Index(tt.auth, "sig=")+4:]
				sig = sig[:strings.Index(sig, "&")]
				for what, text := range map[string]string{"answer": rec.Body.String(), "log": f.log.String()} {
					if strings.Contains(text, sig) || strings.Contains(text, tt.auth) {
						t.Errorf("the %s repeats the token %v", what, tok.KeyName)
					}
				}
			}
		})
	}
}

func TestErrorShape(t *testing.T) {
	f := newFixture(t)
	rec := f.do(req{method: "GET", path: "/devices/missing"})
	text := wantError(t, rec, 404, hub.CodeDeviceNotFound)
	if !strings.Contains(text, `"missing"`) {
		t.Errorf("message %q does not name the device", text)
	}
	// The Node SDK turns a 404 into DeviceNotFoundError only for this exact
	// legacy form.
	if !strings.HasPrefix(rec.Body.String(), `{"Message":"ErrorCode:DeviceNotFound;`) {
		t.Errorf("body %s does not start as the Node SDK expects", rec.Body)
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t)
	// IDs with every character the registry allows that means something
	// in a URL, percent-encoded one segment at a time.
	odd := "a:b.c+d%e_f#g*h?i!j(k)l,m=n@o;p$q'r"
	if err := hub.ValidateID(odd); err != nil {
		t.Fatal(err)
	}
	rec := f.do(req{method: "PUT", path: "/devices/" + url.PathEscape(odd), body: `{}`})
	var d hub.Device
	ok(t, rec, 200, &d)
	if d.DeviceID != odd {
		t.Fatalf("created %q, want %q", d.DeviceID, odd)
	}
	for _, p := range []string{
		"/devices/" + url.PathEscape(odd),
		"/devices/" + strings.NewReplacer("%", "%25", "#", "%23", "?", "%3F").Replace(odd), // '+' sent raw stays '+'
		"/devices/" + escapeAll(odd),
	} {
		rec := f.do(req{method: "GET", path: p})
		var got hub.Device
		ok(t, rec, 200, &got)
		if got.DeviceID != odd {
			t.Errorf("GET %s: device %q, want %q", p, got.DeviceID, odd)
		}
	}

	// A device called "query" is read with GET; POST /devices/query is a
	// query.
	ok(t, f.do(req{method: "PUT", path: "/devices/query", body: `{"deviceId":"query"}`}), 200, nil)
	var q hub.Device
	ok(t, f.do(req{method: "GET", path: "/devices/query"}), 200, &q)
	if q.DeviceID != "query" {
		t.Errorf("GET /devices/query read %q", q.DeviceID)
	}
	var rows []map[string]any
	ok(t, f.do(req{method: "POST", path: "/devices/query", body: `{"query":"SELECT * FROM devices"}`}), 200, &rows)
	if len(rows) != 2 {
		t.Errorf("query returned %d twins, want 2", len(rows))
	}

	// The Node SDK lists with a trailing slash.
	var list []hub.Device
	ok(t, f.do(req{method: "GET", path: "/devices/"}), 200, &list)
	if len(list) != 2 {
		t.Errorf("GET /devices/ listed %d devices, want 2", len(list))
	}

	rec = f.do(req{method: "PATCH", path: "/devices/query"})
	wantError(t, rec, 405, hub.CodeGenericMethodNotAllowed)
	if got := rec.Header().Get("Allow"); got != "DELETE, GET, POST, PUT" {
		t.Errorf("Allow %q", got)
	}
	for _, p := range []string{"/", "/digitaltwins/d1", "/configurations/a/b", "/devices/a/b/c", "/devices//modules", "/twins/"} {
		wantError(t, f.do(req{method: "GET", path: p}), 404, hub.CodeGenericNotFound)
	}
}

// escapeAll percent-encodes every byte, as a cautious client may.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func TestDeviceEndpoints(t *testing.T) {
	f := newFixture(t)
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	rec := f.do(req{method: "PUT", path: "/devices/d1", body: `{"deviceId":"d1","status":"disabled","statusReason":"spare",
		"authentication":{"type":"sas","symmetricKey":{"primaryKey":"` + key + `","secondaryKey":"` + key + `"}}}`})
	var created hub.Device
	ok(t, rec, 200, &created)
	if got := rec.Header().Get("ETag"); got != `"MA=="` {
		t.Errorf("ETag header %q, want \"MA==\"", got)
	}
	if created.Status != hub.StatusDisabled || created.Authentication.SymmetricKey.PrimaryKey != key {
		t.Errorf("created %+v", created)
	}

	wantError(t, f.do(req{method: "PUT", path: "/devices/d1", body: `{"deviceId":"d1"}`}), 409, hub.CodeDeviceAlreadyExists)
	wantError(t, f.do(req{method: "PUT", path: "/devices/nobody", body: `{}`, header: map[string]string{"If-Match": `"*"`}}), 404, hub.CodeDeviceNotFound)
	wantError(t, f.do(req{method: "PUT", path: "/devices/d1", body: `{}`, header: map[string]string{"If-Match": `"MQ=="`}}), 412, hub.CodePreconditionFailed)
	text := wantError(t, f.do(req{method: "PUT", path: "/devices/d1", body: `{"deviceId":"d2"}`, header: map[string]string{"If-Match": "*"}}), 400, hub.CodeArgumentInvalid)
	if !strings.Contains(text, `deviceId "d2" differs from the path's "d1"`) {
		t.Errorf("message %q", text)
	}

	// An update sends back what a GET gave, read-only members included,
	// as the SDKs do; the etag may be quoted or not.
	var got hub.Device
	ok(t, f.do(req{method: "GET", path: "/devices/d1"}), 200, &got)
	got.Status, got.StatusReason = hub.StatusEnabled, ""
	body, _ := json.Marshal(got)
	rec = f.do(req{method: "PUT", path: "/devices/d1", body: string(body), header: map[string]string{"If-Match": `"` + got.ETag + `"`}})
	var updated hub.Device
	ok(t, rec, 200, &updated)
	if updated.Status != hub.StatusEnabled || updated.ETag == got.ETag || rec.Header().Get("ETag") != `"`+updated.ETag+`"` {
		t.Errorf("updated %+v, ETag header %q", updated, rec.Header().Get("ETag"))
	}
	ok(t, f.do(req{method: "PUT", path: "/devices/d1", body: `{"deviceId":"d1"}`, header: map[string]string{"If-Match": updated.ETag}}), 200, nil)

	wantError(t, f.do(req{method: "DELETE", path: "/devices/d1", header: map[string]string{"If-Match": `"MA=="`}}), 412, hub.CodePreconditionFailed)
	rec = f.do(req{method: "DELETE", path: "/devices/d1"})
	if rec.Code != 204 || rec.Body.Len() != 0 {
		t.Errorf("DELETE without If-Match: %d %s, want 204 and no body", rec.Code, rec.Body)
	}
	wantError(t, f.do(req{method: "DELETE", path: "/devices/d1", header: map[string]string{"If-Match": `"*"`}}), 404, hub.CodeDeviceNotFound)
}

func TestListDevices(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"c", "a", "b"} {
		ok(t, f.do(req{method: "PUT", path: "/devices/" + id, body: `{}`}), 200, nil)
	}
	for q, want := range map[string][]string{"": {"a", "b", "c"}, "?top=2": {"a", "b"}, "?top=0": {"a", "b", "c"}, "?top=5000": {"a", "b", "c"}} {
		var list []hub.Device
		ok(t, f.do(req{method: "GET", path: "/devices" + q}), 200, &list)
		var got []string
		for _, d := range list {
			got = append(got, d.DeviceID)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("GET /devices%s mismatch (-want +got):\n%s", q, d)
		}
	}
	wantError(t, f.do(req{method: "GET", path: "/devices?top=many"}), 400, hub.CodeArgumentInvalid)
}

func TestModuleEndpoints(t *testing.T) {
	f := newFixture(t)
	ok(t, f.do(req{method: "PUT", path: "/devices/d", body: `{}`}), 200, nil)
	var m hub.Module
	rec := f.do(req{method: "PUT", path: "/devices/d/modules/m", body: `{"deviceId":"d","moduleId":"m","managedBy":"ops"}`})
	ok(t, rec, 200, &m)
	if m.ManagedBy != "ops" || rec.Header().Get("ETag") != `"MA=="` {
		t.Errorf("created %+v, ETag %q", m, rec.Header().Get("ETag"))
	}
	wantError(t, f.do(req{method: "PUT", path: "/devices/d/modules/m", body: `{}`}), 409, hub.CodeModuleAlreadyExists)
	wantError(t, f.do(req{method: "PUT", path: "/devices/nobody/modules/m", body: `{}`}), 404, hub.CodeDeviceNotFound)
	wantError(t, f.do(req{method: "PUT", path: "/devices/d/modules/m", body: `{"moduleId":"x"}`, header: map[string]string{"If-Match": "*"}}), 400, hub.CodeArgumentInvalid)
	ok(t, f.do(req{method: "PUT", path: "/devices/d/modules/m", body: `{"managedBy":"edge"}`, header: map[string]string{"If-Match": `"MA=="`}}), 200, &m)
	if m.ManagedBy != "edge" {
		t.Errorf("updated managedBy %q", m.ManagedBy)
	}
	var list []hub.Module
	ok(t, f.do(req{method: "GET", path: "/devices/d/modules/"}), 200, &list)
	if len(list) != 1 || list[0].ModuleID != "m" {
		t.Errorf("modules %+v", list)
	}
	wantError(t, f.do(req{method: "GET", path: "/devices/d/modules/nobody"}), 404, hub.CodeModuleNotFound)
	if rec := f.do(req{method: "DELETE", path: "/devices/d/modules/m", header: map[string]string{"If-Match": `"*"`}}); rec.Code != 204 {
		t.Errorf("DELETE module: %d %s", rec.Code, rec.Body)
	}
	wantError(t, f.do(req{method: "DELETE", path: "/devices/d/modules/m"}), 404, hub.CodeModuleNotFound)
}

func TestBulkEndpoint(t *testing.T) {
	f := newFixture(t)
	var res hub.BulkRegistryOperationResult
	rec := f.do(req{method: "POST", path: "/devices", body: `[{"id":"a","importMode":"create","tags":{"site":"berlin"}},{"id":"b","importMode":"create"}]`})
	ok(t, rec, 200, &res)
	// The Node SDK's e2e test reads errors.length.
	if !strings.Contains(rec.Body.String(), `"errors":[]`) || !res.IsSuccessful {
		t.Errorf("successful call answered %s", rec.Body)
	}

	// Node's updateDevices sends device objects as read, deviceId renamed
	// id, with "etag" and the read-only members.
	var a hub.Device
	ok(t, f.do(req{method: "GET", path: "/devices/a"}), 200, &a)
	entry := map[string]any{}
	b, _ := json.Marshal(a)
	_ = json.Unmarshal(b, &entry)
	delete(entry, "deviceId")
	entry["id"], entry["importMode"], entry["status"] = "a", "UpdateIfMatchETag", "disabled"
	stale := map[string]any{"id": "b", "importMode": "UpdateIfMatchETag", "etag": "MTA="}
	body, _ := json.Marshal([]any{entry, stale})
	rec = f.do(req{method: "POST", path: "/devices", body: string(body)})
	ok(t, rec, 400, &res)
	if rec.Header().Get("iothub-errorcode") != "BulkRegistryOperationFailure" {
		t.Errorf("iothub-errorcode %q", rec.Header().Get("iothub-errorcode"))
	}
	want := hub.BulkRegistryOperationResult{Errors: []hub.DeviceRegistryOperationError{{DeviceID: "b", ErrorCode: "PreconditionFailed", Operation: "updateIfMatchETag"}}, Warnings: []hub.DeviceRegistryOperationWarning{}}
	if d := cmp.Diff(want, res, cmpIgnoreStatus); d != "" {
		t.Errorf("result mismatch (-want +got):\n%s", d)
	}
	ok(t, f.do(req{method: "GET", path: "/devices/a"}), 200, &a)
	if a.Status != hub.StatusDisabled {
		t.Errorf("a not updated: %+v", a)
	}

	many := make([]string, hub.MaxBulkDevices+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"id":"m%d","importMode":"create"}`, i)
	}
	wantError(t, f.do(req{method: "POST", path: "/devices", body: "[" + strings.Join(many, ",") + "]"}), 413, hub.CodeTooManyDevices)
	wantError(t, f.do(req{method: "POST", path: "/devices", body: `[{"id":"x","importMode":"create"},{"id":"x","importMode":"delete"}]`}), 400, hub.CodeDeviceDefinedMultipleTimes)
	wantError(t, f.do(req{method: "POST", path: "/devices", body: `null`}), 400, hub.CodeArgumentNull)
	wantError(t, f.do(req{method: "POST", path: "/devices", body: `[{"id":"x","importMode":"create","colour":"red"}]`}), 400, hub.CodeArgumentInvalid)
}

var cmpIgnoreStatus = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ErrorStatus" }, cmp.Ignore())

func TestStatistics(t *testing.T) {
	f := newFixture(t)
	for _, d := range []string{`{"deviceId":"a"}`, `{"deviceId":"b","status":"disabled"}`, `{"deviceId":"c"}`} {
		var dev hub.Device
		_ = json.Unmarshal([]byte(d), &dev)
		ok(t, f.do(req{method: "PUT", path: "/devices/" + dev.DeviceID, body: d}), 200, nil)
	}
	if err := f.h.SetConnectionState(t.Context(), "a", "", true); err != nil {
		t.Fatal(err)
	}
	var st hub.RegistryStatistics
	ok(t, f.do(req{method: "GET", path: "/statistics/devices"}), 200, &st)
	if d := cmp.Diff(hub.RegistryStatistics{TotalDeviceCount: 3, EnabledDeviceCount: 2, DisabledDeviceCount: 1}, st); d != "" {
		t.Errorf("registry statistics mismatch (-want +got):\n%s", d)
	}
	var svc map[string]int64
	ok(t, f.do(req{method: "GET", path: "/statistics/service"}), 200, &svc)
	if d := cmp.Diff(map[string]int64{"connectedDeviceCount": 1}, svc); d != "" {
		t.Errorf("service statistics mismatch (-want +got):\n%s", d)
	}
}

// TestLogs checks what a request leaves in the log: its method, path and
// status at debug level, and never the token.
func TestLogs(t *testing.T) {
	f := newFixture(t)
	tok := token(t, testHost, f.owner, time.Now().Add(time.Hour))
	f.do(req{method: "GET", path: "/devices/nobody", auth: tok, header: map[string]string{"Request-Id": "r-1"}})
	log := f.log.String()
	for _, want := range []string{"method=GET", "path=/devices/nobody", "status=404", "requestId=r-1"} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q lacks %q", log, want)
		}
	}
	if strings.Contains(log, "sig=") || strings.Contains(log, f.owner.PrimaryKey) {
		t.Errorf("log holds a secret: %s", log)
	}
}

// TestWebSocketPath checks that MQTT over WebSocket goes to its handler
// untouched (devices authenticate in MQTT, not with a service token), and
// is 404 without one.
func TestWebSocketPath(t *testing.T) {
	f := newFixture(t)
	wantError(t, f.do(req{method: "GET", path: WebSocketPath, auth: "-", apiVersion: "-"}), 404, hub.CodeGenericNotFound)

	var seen *http.Request
	f.s = New(f.h, Options{HostName: testHost, WebSocket: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		w.WriteHeader(http.StatusSwitchingProtocols)
	})})
	rec := f.do(req{method: "GET", path: WebSocketPath + "?iothub-no-client-cert=true", auth: "-", apiVersion: "-"})
	if rec.Code != http.StatusSwitchingProtocols || seen == nil {
		t.Errorf("WebSocket request answered %d by the REST server", rec.Code)
	}
}
