package gateway

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseTopic: topic names come from devices. Parsing never panics, a
// failure is an ErrTopic, and what parses is written back as a topic that
// parses to the same thing.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"devices/d/messages/events/",
		"devices/d/modules/m/messages/events/%24.on=o/",
		"devices/d/messages/devicebound/%24.mid=1&iothub-ack=none",
		"$iothub/twin/GET/?$rid=1",
		"$iothub/twin/res/204/?$rid=1&$version=3",
		"$iothub/twin/PATCH/properties/reported/?$rid=2",
		"$iothub/twin/PATCH/properties/desired/?$version=4",
		"$iothub/methods/POST/reboot/?$rid=5",
		"$iothub/methods/res/200/?$rid=5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := ParseTopic(name)
		if err != nil {
			if !errors.Is(err, ErrTopic) {
				t.Fatalf("ParseTopic(%q) error %v is not an ErrTopic", name, err)
			}
			return
		}
		again, err := ParseTopic(got.String())
		if err != nil {
			t.Fatalf("ParseTopic(%q) = %+v, whose String() %q does not parse: %v", name, got, got.String(), err)
		}
		if d := cmp.Diff(got, again); d != "" {
			t.Fatalf("round trip of %q mismatch (-first +second):\n%s", name, d)
		}
	})
}

// FuzzParsePropertyBag: property bags come from devices. Parsing never
// panics, a failure is an ErrPropertyBag, and what parses encodes to a bag
// that parses to the same properties.
func FuzzParsePropertyBag(f *testing.F) {
	for _, s := range []string{
		"",
		"%24.mid=conf-msg-1&%24.cid=c-1&%24.ct=application%2Fjson&%24.ce=utf-8&conformance=conf&with%20space=a%26b%3Dc",
		"a&b=&c=%2B",
		"%24.on=out/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, bag string) {
		p, err := ParsePropertyBag(bag)
		if err != nil {
			if !errors.Is(err, ErrPropertyBag) {
				t.Fatalf("ParsePropertyBag(%q) error %v is not an ErrPropertyBag", bag, err)
			}
			return
		}
		again, err := ParsePropertyBag(p.Encode())
		if err != nil {
			t.Fatalf("Encode() of %q = %q does not parse: %v", bag, p.Encode(), err)
		}
		if d := cmp.Diff(p, again, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip of %q mismatch (-first +second):\n%s", bag, d)
		}
	})
}
