package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

func TestTwinEndpoints(t *testing.T) {
	f := newFixture(t)
	ok(t, f.do(req{method: "PUT", path: "/devices/d", body: `{}`}), 200, nil)
	ok(t, f.do(req{method: "PUT", path: "/devices/d/modules/m", body: `{}`}), 200, nil)
	if _, err := f.h.UpdateReported(t.Context(), "d", "", map[string]any{"temp": 20}); err != nil {
		t.Fatal(err)
	}

	var tw hub.Twin
	rec := f.do(req{method: "GET", path: "/twins/d"})
	ok(t, rec, 200, &tw)
	if rec.Header().Get("ETag") != `"`+tw.ETag+`"` {
		t.Errorf("ETag header %q, twin etag %q", rec.Header().Get("ETag"), tw.ETag)
	}

	// A client sending back the whole twin it read, as the C# SDK does:
	// only tags and desired properties are written; $version, $metadata,
	// reported properties and the identity members are ignored.
	tw.Tags = map[string]any{"site": "berlin"}
	tw.Properties.Desired["interval"] = 10.0
	tw.Properties.Reported["temp"] = 99.0
	tw.Status = hub.StatusDisabled
	body, _ := json.Marshal(tw)
	var patched hub.Twin
	ok(t, f.do(req{method: "PATCH", path: "/twins/d", body: string(body), header: map[string]string{"If-Match": `"` + tw.ETag + `"`}}), 200, &patched)
	if d := cmp.Diff(map[string]any{"site": "berlin"}, patched.Tags); d != "" {
		t.Errorf("tags mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"interval": 10.0}, patched.Properties.Desired.Properties()); d != "" {
		t.Errorf("desired mismatch (-want +got):\n%s", d)
	}
	if patched.Properties.Reported["temp"] != 20.0 || patched.Status != hub.StatusEnabled {
		t.Errorf("a twin PATCH wrote reported %v or status %q", patched.Properties.Reported["temp"], patched.Status)
	}
	wantError(t, f.do(req{method: "PATCH", path: "/twins/d", body: `{"tags":{"a":1}}`, header: map[string]string{"If-Match": `"` + tw.ETag + `"`}}), 412, hub.CodePreconditionFailed)
	wantError(t, f.do(req{method: "PATCH", path: "/twins/d", body: `{"deviceId":"e","tags":{"a":1}}`}), 400, hub.CodeArgumentInvalid)
	wantError(t, f.do(req{method: "PATCH", path: "/twins/d", body: `{"tags":{"a.b":1}}`}), 400, hub.CodeArgumentInvalid)
	wantError(t, f.do(req{method: "PATCH", path: "/twins/nobody", body: `{"tags":{"a":1}}`}), 404, hub.CodeDeviceNotFound)

	// PUT replaces; a section left out of the body is emptied.
	var put hub.Twin
	ok(t, f.do(req{method: "PUT", path: "/twins/d", body: `{"properties":{"desired":{"mode":"eco"}}}`}), 200, &put)
	if len(put.Tags) != 0 || !cmp.Equal(map[string]any{"mode": "eco"}, put.Properties.Desired.Properties()) {
		t.Errorf("after PUT: tags %v, desired %v", put.Tags, put.Properties.Desired.Properties())
	}
	wantError(t, f.do(req{method: "PUT", path: "/twins/d", body: `{"tags":{"a":null}}`}), 400, hub.CodeArgumentInvalid)

	var mt hub.Twin
	ok(t, f.do(req{method: "PATCH", path: "/twins/d/modules/m", body: `{"moduleId":"m","tags":{"role":"sensor"}}`}), 200, &mt)
	if mt.ModuleID != "m" || mt.Tags["role"] != "sensor" {
		t.Errorf("module twin %+v", mt)
	}
	var replacedTwin hub.Twin
	ok(t, f.do(req{method: "PUT", path: "/twins/d/modules/m", body: `{"tags":{}}`}), 200, &replacedTwin)
	if len(replacedTwin.Tags) != 0 {
		t.Errorf("module twin tags after PUT: %v", replacedTwin.Tags)
	}
	wantError(t, f.do(req{method: "PATCH", path: "/twins/d/modules/m", body: `{"moduleId":"n"}`}), 400, hub.CodeArgumentInvalid)
	wantError(t, f.do(req{method: "GET", path: "/twins/d/modules/nobody"}), 404, hub.CodeModuleNotFound)
}

// TestQueryPaging reads a query page by page: the continuation header is
// there while more pages follow and absent on the last page.
func TestQueryPaging(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		ok(t, f.do(req{method: "PUT", path: fmt.Sprintf("/devices/d%d", i), body: `{}`}), 200, nil)
	}
	var ids []string
	continuation := ""
	for page := 1; ; page++ {
		h := map[string]string{"x-ms-max-item-count": "2"}
		if continuation != "" {
			h["x-ms-continuation"] = continuation
		}
		rec := f.do(req{method: "POST", path: "/devices/query", body: `{"query":"SELECT * FROM devices"}`, header: h})
		var twins []hub.Twin
		ok(t, rec, 200, &twins)
		if got := rec.Header().Get("x-ms-item-type"); got != "twin" {
			t.Errorf("page %d: x-ms-item-type %q, want twin", page, got)
		}
		if len(twins) > 2 {
			t.Errorf("page %d holds %d twins, more than asked", page, len(twins))
		}
		for _, tw := range twins {
			ids = append(ids, tw.DeviceID)
		}
		values, present := rec.Header()[http.CanonicalHeaderKey("x-ms-continuation")]
		if !present {
			break
		}
		if len(values) != 1 || values[0] == "" {
			t.Fatalf("page %d: x-ms-continuation %q; an empty one makes the Node SDK loop", page, values)
		}
		continuation = values[0]
		if page > 5 {
			t.Fatal("the pages never end")
		}
	}
	if d := cmp.Diff([]string{"d0", "d1", "d2", "d3", "d4"}, ids); d != "" {
		t.Errorf("paged IDs mismatch (-want +got):\n%s", d)
	}

	rec := f.do(req{method: "POST", path: "/devices/query", body: `{"query":"SELECT COUNT() AS n FROM devices"}`})
	var rows []map[string]any
	ok(t, rec, 200, &rows)
	if rec.Header().Get("x-ms-item-type") != "raw" || !cmp.Equal([]map[string]any{{"n": 5.0}}, rows) {
		t.Errorf("aggregate: item type %q, rows %v", rec.Header().Get("x-ms-item-type"), rows)
	}

	for name, tt := range map[string]struct {
		body   string
		header map[string]string
		code   hub.ErrorCode
	}{
		"empty query":      {`{"query":""}`, nil, hub.CodeArgumentNull},
		"no query member":  {`{}`, nil, hub.CodeArgumentNull},
		"bad page size":    {`{"query":"SELECT * FROM devices"}`, map[string]string{"x-ms-max-item-count": "lots"}, hub.CodeArgumentInvalid},
		"negative size":    {`{"query":"SELECT * FROM devices"}`, map[string]string{"x-ms-max-item-count": "-1"}, hub.CodeArgumentInvalid},
		"foreign token":    {`{"query":"SELECT * FROM devices"}`, map[string]string{"x-ms-continuation": "bm9wZQ"}, hub.CodeArgumentInvalid},
		"invalid query":    {`{"query":"SELEKT * FROM devices"}`, nil, hub.CodeArgumentInvalid},
		"query not string": {`{"query":5}`, nil, hub.CodeArgumentInvalid},
		"unknown member":   {`{"query":"SELECT * FROM devices","top":5}`, nil, hub.CodeArgumentInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			rec := f.do(req{method: "POST", path: "/devices/query", body: tt.body, header: tt.header})
			wantError(t, rec, 400, tt.code)
		})
	}
}

// routerFunc adapts a function to localhub.MethodRouter.
type routerFunc func(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error)

func (f routerFunc) InvokeMethod(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error) {
	return f(ctx, deviceID, moduleID, req)
}

func TestMethods(t *testing.T) {
	f := newFixture(t)
	ok(t, f.do(req{method: "PUT", path: "/devices/d", body: `{}`}), 200, nil)
	ok(t, f.do(req{method: "PUT", path: "/devices/d/modules/m", body: `{}`}), 200, nil)
	ok(t, f.do(req{method: "PUT", path: "/devices/off", body: `{"status":"disabled"}`}), 200, nil)

	// Without a router (no device gateway) every device is offline.
	text := wantError(t, f.do(req{method: "POST", path: "/twins/d/methods", body: `{"methodName":"reboot"}`}), 404, hub.CodeDeviceNotOnline)
	if !strings.Contains(text, "isn't online") {
		t.Errorf("message %q", text)
	}

	type call struct {
		deviceID, moduleID string
		req                hub.MethodRequest
	}
	var calls []call
	f.h.SetMethodRouter(routerFunc(func(ctx context.Context, deviceID, moduleID string, r hub.MethodRequest) (*hub.MethodResult, error) {
		calls = append(calls, call{deviceID, moduleID, r})
		switch r.MethodName {
		case "slow":
			return nil, hub.Errorf(hub.CodeGatewayTimeout, "the device did not answer in time")
		case "garbled":
			return &hub.MethodResult{Status: 200, Payload: json.RawMessage(`{not json`)}, nil
		case "silent":
			return &hub.MethodResult{Status: 204}, nil
		}
		return &hub.MethodResult{Status: 201, Payload: json.RawMessage(`{"result":"done"}`)}, nil
	}))

	var res map[string]any
	ok(t, f.do(req{method: "POST", path: "/twins/d/methods", body: `{"methodName":"reboot","payload":{"delay":5},"responseTimeoutInSeconds":10,"connectTimeoutInSeconds":0}`}), 200, &res)
	if d := cmp.Diff(map[string]any{"status": 201.0, "payload": map[string]any{"result": "done"}}, res); d != "" {
		t.Errorf("result mismatch (-want +got):\n%s", d)
	}
	ok(t, f.do(req{method: "POST", path: "/twins/d/modules/m/methods", body: `{"methodName":"reboot","payload":"text"}`}), 200, &res)
	ok(t, f.do(req{method: "POST", path: "/twins/d/methods", body: `{"methodName":"silent"}`}), 200, &res)
	if d := cmp.Diff(map[string]any{"status": 204.0, "payload": nil}, res); d != "" {
		t.Errorf("result without payload mismatch (-want +got):\n%s", d)
	}
	want := []call{
		{"d", "", hub.MethodRequest{MethodName: "reboot", Payload: json.RawMessage(`{"delay":5}`), ResponseTimeoutInSeconds: 10}},
		{"d", "m", hub.MethodRequest{MethodName: "reboot", Payload: json.RawMessage(`"text"`), ResponseTimeoutInSeconds: hub.DefaultMethodResponseTimeout}},
		{"d", "", hub.MethodRequest{MethodName: "silent", ResponseTimeoutInSeconds: hub.DefaultMethodResponseTimeout}},
	}
	if d := cmp.Diff(want, calls, cmp.AllowUnexported(call{})); d != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", d)
	}

	wantError(t, f.do(req{method: "POST", path: "/twins/d/methods", body: `{"methodName":"slow"}`}), 504, hub.CodeGatewayTimeout)
	wantError(t, f.do(req{method: "POST", path: "/twins/d/methods", body: `{"methodName":"garbled"}`}), 502, hub.CodeGenericBadGateway)
	wantError(t, f.do(req{method: "POST", path: "/twins/off/methods", body: `{"methodName":"reboot"}`}), 404, hub.CodeDeviceNotFound)
	wantError(t, f.do(req{method: "POST", path: "/twins/d/modules/nobody/methods", body: `{"methodName":"reboot"}`}), 404, hub.CodeModuleNotFound)
	wantError(t, f.do(req{method: "POST", path: "/twins/d/methods", body: `{"methodName":""}`}), 400, hub.CodeArgumentInvalid)
	wantError(t, f.do(req{method: "POST", path: "/twins/d/methods", body: `{"methodName":"m","responseTimeoutInSeconds":1}`}), 400, hub.CodeArgumentInvalid)
	big := `{"methodName":"m","payload":"` + strings.Repeat("x", hub.MaxMethodPayloadBytes) + `"}`
	wantError(t, f.do(req{method: "POST", path: "/twins/d/methods", body: big}), 413, hub.CodeMessageTooLarge)
}
