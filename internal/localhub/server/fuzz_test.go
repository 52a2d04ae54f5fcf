package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// FuzzBodies sends arbitrary bytes as the body of a device PUT, a twin
// PATCH and PUT, a query and a direct method. The server must never panic
// or fail (5xx), and every refusal must be a 4xx in the hub's error shape.
func FuzzBodies(f *testing.F) {
	for _, seed := range []string{
		`{"deviceId":"fuzz","status":"disabled","authentication":{"type":"sas","symmetricKey":{"primaryKey":"","secondaryKey":""}}}`,
		`{"tags":{"site":"berlin","floor":3},"properties":{"desired":{"interval":10,"$version":4}}}`,
		`{"query":"SELECT * FROM devices WHERE tags.site = 'berlin'"}`,
		`{"query":"SELECT COUNT() AS n FROM devices GROUP BY status"}`,
		`{"methodName":"reboot","payload":{"delay":5},"responseTimeoutInSeconds":30}`,
		`{"tags":{"a":{"b":{"c":null}}}}`,
		`{"deviceId":"x","deviceId":"y"}`,
		`[1,2,3]`,
		`null`,
		`"text"`,
		"{\"tags\":{\"\xff\":1}}",
		`{"tags":{"n":1e400}}`,
		``,
	} {
		f.Add([]byte(seed))
	}
	h := openHub(f)
	if _, err := h.CreateDevice(f.Context(), &hub.Device{DeviceID: "fuzz-twin"}); err != nil {
		f.Fatal(err)
	}
	s := New(h, Options{HostName: testHost})
	tok := token(f, testHost, policy(f, h, "iothubowner"), time.Now().Add(24*time.Hour))
	endpoints := []struct{ method, path string }{
		{"PUT", "/devices/fuzz"},
		{"PATCH", "/twins/fuzz-twin"},
		{"PUT", "/twins/fuzz-twin"},
		{"POST", "/devices/query"},
		{"POST", "/twins/fuzz-twin/methods"},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ep := range endpoints {
			r := httptest.NewRequest(ep.method, ep.path+"?api-version="+APIVersion, bytes.NewReader(body))
			r.Header.Set("Authorization", tok)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, r)
			if rec.Code >= 500 {
				t.Fatalf("%s %s answered %d: %s", ep.method, ep.path, rec.Code, rec.Body)
			}
			if rec.Code < 400 {
				continue
			}
			var eb errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
				t.Fatalf("%s %s: error body %q is not JSON: %v", ep.method, ep.path, rec.Body, err)
			}
			name := rec.Header().Get("iothub-errorcode")
			if name == "" || !strings.HasPrefix(eb.Message, "ErrorCode:"+name+";") || !strings.HasPrefix(eb.ExceptionMessage, "Tracking ID:") {
				t.Fatalf("%s %s: error %d has the wrong shape: header %q, body %s", ep.method, ep.path, rec.Code, name, rec.Body)
			}
		}
	})
}
