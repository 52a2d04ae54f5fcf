package device

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The cases cite shared/reference/iothub-mqtt-device.md.
func TestParseTwinResponse(t *testing.T) {
	type result struct {
		Status  int
		RID     string
		Version int64
	}
	for topic, want := range map[string]result{
		"$iothub/twin/res/200/?$rid=1":            {200, "1", 0},
		"$iothub/twin/res/204/?$rid=2&$version=7": {204, "2", 7}, // §6 reported PATCH response
		"$iothub/twin/res/400?$rid=x":             {400, "x", 0},
	} {
		s, rid, v, err := parseTwinResponse(topic)
		if err != nil {
			t.Errorf("%s: %v", topic, err)
			continue
		}
		if d := cmp.Diff(want, result{s, rid, v}); d != "" {
			t.Errorf("%s (-want +got):\n%s", topic, d)
		}
	}
	if _, _, _, err := parseTwinResponse("$iothub/twin/res/?$rid=1"); err == nil {
		t.Error("a response without status parsed")
	}
}

func TestParseMethodRequest(t *testing.T) {
	for topic, want := range map[string][2]string{
		"$iothub/methods/POST/reboot/?$rid=9":         {"reboot", "9"},
		"$iothub/methods/POST/Sample Method?$rid=a-b": {"Sample Method", "a-b"}, // §6: '/' before '?' may be missing
	} {
		name, rid, err := parseMethodRequest(topic)
		if err != nil || [2]string{name, rid} != want {
			t.Errorf("%s: %q %q %v", topic, name, rid, err)
		}
	}
	if _, _, err := parseMethodRequest("$iothub/methods/POST/x/"); err == nil {
		t.Error("a request without $rid parsed")
	}
}

// Bags are encoded as the SDKs encode them (§7): system properties first,
// encodeURIComponent escaping.
func TestBags(t *testing.T) {
	got := encodeBag(map[string]string{"with space": "a&b=c", "$.mid": "conf-msg-1", "conformance": "conf", "$.ct": "application/json"})
	const want = "%24.ct=application%2Fjson&%24.mid=conf-msg-1&conformance=conf&with%20space=a%26b%3Dc"
	if got != want {
		t.Errorf("encodeBag = %q, want %q", got, want)
	}
	system, app, err := parseBag("%24.mid=1&%24.to=%2Fdevices%2Fd%2Fmessages%2Fdevicebound&iothub-ack=none&k=1+1/")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"mid": "1", "to": "/devices/d/messages/devicebound"}, system); d != "" {
		t.Errorf("system (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"iothub-ack": "none", "k": "1+1"}, app); d != "" {
		t.Errorf("application (-want +got):\n%s", d)
	}
	if _, _, err := parseBag("a=%zz"); err == nil {
		t.Error("a malformed bag parsed")
	}
}

func TestConnectError(t *testing.T) {
	err := error(&ConnectError{ReturnCode: 5})
	if !errors.Is(err, ErrNotAuthorized) || err.Error() != "the hub refused the connection: not authorized (CONNACK 5)" {
		t.Errorf("CONNACK 5: %v", err)
	}
	if errors.Is(&ConnectError{ReturnCode: 4}, ErrNotAuthorized) {
		t.Error("CONNACK 4 is not ErrNotAuthorized")
	}
}
