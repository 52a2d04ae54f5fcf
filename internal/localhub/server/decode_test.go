package server

import (
	"strings"
	"testing"

	"github.com/iotplan/iotplan/internal/hub"
)

// TestStrictBodies sends malformed bodies to each kind of endpoint and
// checks the 4xx answer and that it says what is wrong.
func TestStrictBodies(t *testing.T) {
	f := newFixture(t)
	ok(t, f.do(req{method: "PUT", path: "/devices/d", body: `{}`}), 200, nil)
	deep := strings.Repeat(`{"a":`, maxNesting) + "1" + strings.Repeat("}", maxNesting)
	tests := map[string]struct {
		method, path, body string
		status             int
		code               hub.ErrorCode
		want               string
	}{
		"empty device":        {"PUT", "/devices/x", "", 400, hub.CodeArgumentNull, "needs a device as JSON"},
		"blank twin":          {"PATCH", "/twins/d", "  \n", 400, hub.CodeArgumentNull, "needs a twin as JSON"},
		"syntax":              {"PUT", "/devices/x", `{"deviceId":}`, 400, hub.CodeIotHubFormatError, "invalid character '}'"},
		"truncated":           {"PUT", "/devices/x", `{"deviceId":"x"`, 400, hub.CodeIotHubFormatError, "not valid JSON"},
		"trailing data":       {"PUT", "/devices/x", `{"deviceId":"x"} {}`, 400, hub.CodeIotHubFormatError, "something follows the JSON value"},
		"trailing garbage":    {"PUT", "/devices/x", `{"deviceId":"x"}x`, 400, hub.CodeIotHubFormatError, "invalid character 'x'"},
		"duplicate member":    {"PUT", "/devices/x", `{"deviceId":"x","deviceId":"y"}`, 400, hub.CodeIotHubFormatError, `member "deviceId" appears twice`},
		"nested duplicate":    {"PATCH", "/twins/d", `{"tags":{"a":{"b":1,"b":2}}}`, 400, hub.CodeIotHubFormatError, `member "b" appears twice`},
		"invalid UTF-8":       {"PATCH", "/twins/d", "{\"tags\":{\"a\":\"\xff\"}}", 400, hub.CodeIotHubFormatError, "not valid UTF-8"},
		"too deep":            {"PATCH", "/twins/d", `{"tags":` + deep + `}`, 400, hub.CodeIotHubFormatError, "more than 32 levels deep"},
		"wrong type":          {"PUT", "/devices/x", `{"status":5}`, 400, hub.CodeArgumentInvalid, "status must be a string, not a JSON number"},
		"nested wrong type":   {"PUT", "/devices/x", `{"authentication":{"symmetricKey":{"primaryKey":true}}}`, 400, hub.CodeArgumentInvalid, "authentication.symmetricKey.primaryKey must be a string"},
		"not an object":       {"PUT", "/devices/x", `[1]`, 400, hub.CodeArgumentInvalid, "must be a device, not a JSON array"},
		"tags not an object":  {"PATCH", "/twins/d", `{"tags":"a"}`, 400, hub.CodeArgumentInvalid, "tags must be an object"},
		"unknown member":      {"PUT", "/devices/x", `{"deviceID":"x","colour":"red"}`, 400, hub.CodeArgumentInvalid, `a device has no member "colour"`},
		"unknown twin member": {"PATCH", "/twins/d", `{"properties":{"wanted":{}}}`, 400, hub.CodeArgumentInvalid, `a twin has no member "wanted"`},
		"bulk not an array":   {"POST", "/devices", `{"id":"x"}`, 400, hub.CodeArgumentInvalid, "not a JSON object"},
		"number too large":    {"PATCH", "/twins/d", `{"tags":{"n":1e400}}`, 400, hub.CodeArgumentInvalid, "tags"},
		"body too large":      {"PATCH", "/twins/d", `{"tags":{"a":"` + strings.Repeat("x", MaxBodyBytes) + `"}}`, 413, hub.CodeGenericRequestEntityTooLarge, "larger than 1048576 bytes"},
		"method body null":    {"POST", "/twins/d/methods", `null`, 400, hub.CodeArgumentInvalid, "method name is empty"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec := f.do(req{method: tt.method, path: tt.path, body: tt.body})
			if text := wantError(t, rec, tt.status, tt.code); !strings.Contains(text, tt.want) {
				t.Errorf("message %q, want it to say %q", text, tt.want)
			}
		})
	}
}
