package gateway

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The cases cite reference/iothub-mqtt-device.md §7.
func TestParsePropertyBag(t *testing.T) {
	tests := map[string]struct {
		bag  string
		want Properties
	}{
		"empty": {bag: "", want: Properties{}},
		"the Node SDK's bag [wire]": {
			bag: "%24.mid=conf-msg-1&%24.cid=c-1&%24.ct=application%2Fjson&%24.ce=utf-8&conformance=conf&with%20space=a%26b%3Dc",
			want: Properties{
				System: map[string]string{"mid": "conf-msg-1", "cid": "c-1", "ct": "application/json", "ce": "utf-8"},
				App:    map[string]string{"conformance": "conf", "with space": "a&b=c"},
			},
		},
		"system keys sent unencoded": {
			bag:  "$.ct=text%2Fplain&$.ce=utf-8",
			want: Properties{System: map[string]string{"ct": "text/plain", "ce": "utf-8"}},
		},
		"Azure's C2D bag": {
			bag: "%24.mid=m1&%24.to=%2Fdevices%2Fd%2Fmessages%2Fdevicebound&%24.ce=utf-8&iothub-ack=none",
			want: Properties{
				System: map[string]string{"mid": "m1", "to": "/devices/d/messages/devicebound", "ce": "utf-8"},
				App:    map[string]string{"iothub-ack": "none"},
			},
		},
		"a null value is just the key, an empty one key=": {
			bag:  "a&b=",
			want: Properties{App: map[string]string{"a": "", "b": ""}},
		},
		"Node's trailing slash after a module output": {
			bag:  "%24.on=out1/",
			want: Properties{System: map[string]string{"on": "out1"}},
		},
		"'+' stays a plus": {
			bag:  "sum=1+1",
			want: Properties{App: map[string]string{"sum": "1+1"}},
		},
		"empty pairs skipped, last duplicate wins": {
			bag:  "a=1&&a=2",
			want: Properties{App: map[string]string{"a": "2"}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePropertyBag(tt.bag)
			if err != nil {
				t.Fatalf("ParsePropertyBag(%q): %v", tt.bag, err)
			}
			if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("ParsePropertyBag(%q) mismatch (-want +got):\n%s", tt.bag, d)
			}
		})
	}
}

func TestParsePropertyBagErrors(t *testing.T) {
	for name, bag := range map[string]string{
		"bad escape in key":   "a%zz=1",
		"bad escape in value": "a=%4",
		"empty key":           "=1",
		"empty system key":    "%24.=1",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParsePropertyBag(bag); !errors.Is(err, ErrPropertyBag) {
				t.Errorf("ParsePropertyBag(%q) error = %v, want ErrPropertyBag", bag, err)
			}
		})
	}
}

func TestEncodePropertyBag(t *testing.T) {
	p := Properties{
		System: map[string]string{"ct": "application/json", "mid": "m 1"},
		App:    map[string]string{"b": "a&b=c", "a": "1+1", "$x": "y/z"},
	}
	const want = "%24.ct=application%2Fjson&%24.mid=m%201&%24x=y%2Fz&a=1%2B1&b=a%26b%3Dc"
	if got := p.Encode(); got != want {
		t.Errorf("Encode() = %q, want %q", got, want)
	}
	back, err := ParsePropertyBag(want)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(p, back); d != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", d)
	}
}

func TestC2DBag(t *testing.T) {
	got := c2dBag("dev-1", Message{MessageID: "m1", ContentType: "application/json", Properties: map[string]string{"k": "v w"}})
	const want = "%24.mid=m1&%24.to=%2Fdevices%2Fdev-1%2Fmessages%2Fdevicebound&%24.ct=application%2Fjson&iothub-ack=none&k=v%20w"
	if got != want {
		t.Errorf("c2dBag() = %q, want %q", got, want)
	}
}
