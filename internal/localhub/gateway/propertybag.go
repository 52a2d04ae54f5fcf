package gateway

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Properties is a decoded property bag (reference/iothub-mqtt-device.md
// §7): the system properties, whose keys start "$." on the wire and are held
// here without that prefix ("mid", "cid", "ct", "ce", …), and the
// application properties. A property sent without '=' (a null value) is
// held as "".
type Properties struct {
	System map[string]string
	App    map[string]string
}

// The system properties IoT Hub knows, by their wire names without "$."
// (reference §7).
const (
	PropMessageID       = "mid"
	PropCorrelationID   = "cid"
	PropUserID          = "uid"
	PropTo              = "to"
	PropContentType     = "ct"
	PropContentEncoding = "ce"
	PropExpiry          = "exp"
	PropInterfaceID     = "ifid"
	PropComponent       = "sub"
	PropOutputName      = "on"
)

// systemPrefix marks a system property key on the wire.
const systemPrefix = "$."

// ErrPropertyBag is the error of every malformed property bag.
var ErrPropertyBag = errors.New("invalid property bag")

// ParsePropertyBag decodes a property bag: k=v pairs joined by '&', keys and
// values URL-encoded as in an HTTP query (RFC 2396). '+' is kept as '+',
// since the SDKs encode a space as %20. One trailing '/' is ignored (the
// Node SDK appends it after a module output's bag); empty pairs are
// skipped; of a key given twice the last value counts.
func ParsePropertyBag(bag string) (Properties, error) {
	var p Properties
	bag = strings.TrimSuffix(bag, "/")
	for pair := range strings.SplitSeq(bag, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.PathUnescape(rawKey)
		if err != nil {
			return Properties{}, fmt.Errorf("%w: key %q is not URL-encoded correctly", ErrPropertyBag, short(rawKey))
		}
		value, err := url.PathUnescape(rawValue)
		if err != nil {
			return Properties{}, fmt.Errorf("%w: the value of %q is not URL-encoded correctly", ErrPropertyBag, short(key))
		}
		if key == "" || key == systemPrefix {
			return Properties{}, fmt.Errorf("%w: a property has an empty name", ErrPropertyBag)
		}
		if name, ok := strings.CutPrefix(key, systemPrefix); ok {
			if p.System == nil {
				p.System = map[string]string{}
			}
			p.System[name] = value
			continue
		}
		if p.App == nil {
			p.App = map[string]string{}
		}
		p.App[key] = value
	}
	return p, nil
}

func short(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Encode returns the bag in wire form: system properties first, then
// application properties, each sorted by key, so that equal bags encode
// equally. A system property key that is empty, or an application one that
// starts with "$.", cannot be told apart on the wire and must not be used.
func (p Properties) Encode() string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escapeBag(k))
		b.WriteByte('=')
		b.WriteString(escapeBag(v))
	}
	for _, k := range slices.Sorted(maps.Keys(p.System)) {
		add(systemPrefix+k, p.System[k])
	}
	for _, k := range slices.Sorted(maps.Keys(p.App)) {
		add(k, p.App[k])
	}
	return b.String()
}

// escapeBag encodes a key or value as the SDKs do (encodeURIComponent): a
// space is %20, and '&', '=', '/', '+', '$' are escaped.
func escapeBag(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
