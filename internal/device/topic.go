package device

import (
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The topics of the device protocol (reference/iothub-mqtt-device.md §6).
const (
	twinResponses   = "$iothub/twin/res/#"
	desiredPatches  = "$iothub/twin/PATCH/properties/desired/#"
	methodRequests  = "$iothub/methods/POST/#"
	twinResPrefix   = "$iothub/twin/res/"
	desiredPrefix   = "$iothub/twin/PATCH/properties/desired/"
	methodPrefix    = "$iothub/methods/POST/"
	systemPropStart = "$."
)

// query returns the parameters after the first '?' of a $iothub topic,
// raw: $rid is opaque and echoed back as received.
func query(topic string) map[string]string {
	_, q, _ := strings.Cut(topic, "?")
	out := map[string]string{}
	for p := range strings.SplitSeq(q, "&") {
		k, v, _ := strings.Cut(p, "=")
		out[k] = v
	}
	return out
}

// parseTwinResponse reads $iothub/twin/res/{status}/?$rid={rid}[&$version={v}].
func parseTwinResponse(topic string) (status int, rid string, version int64, err error) {
	rest := strings.TrimPrefix(topic, twinResPrefix)
	seg, _, _ := strings.Cut(rest, "/")
	seg, _, _ = strings.Cut(seg, "?")
	if status, err = strconv.Atoi(seg); err != nil {
		return 0, "", 0, errors.New("twin response without a status")
	}
	q := query(topic)
	if v, ok := q["$version"]; ok {
		version, _ = strconv.ParseInt(v, 10, 64)
	}
	return status, q["$rid"], version, nil
}

// parseMethodRequest reads $iothub/methods/POST/{method}/?$rid={rid}; the
// method is the 4th path segment and a missing '/' before '?' is tolerated,
// as in the Node SDK.
func parseMethodRequest(topic string) (name, rid string, err error) {
	rest := strings.TrimPrefix(topic, methodPrefix)
	if i := strings.Index(rest, "/?"); i >= 0 {
		name = rest[:i]
	} else {
		name, _, _ = strings.Cut(rest, "?")
	}
	rid = query(topic)["$rid"]
	if name == "" || rid == "" {
		return "", "", errors.New("method request without a name or $rid")
	}
	return name, rid, nil
}

// encodeBag builds a telemetry property bag. Keys starting "$." are system
// properties. Keys and values are encoded as encodeURIComponent does, as
// the SDKs send them (reference §7); system properties come first, each
// group in key order.
func encodeBag(props map[string]string) string {
	keys := slices.Sorted(maps.Keys(props))
	slices.SortStableFunc(keys, func(a, b string) int {
		as, bs := strings.HasPrefix(a, systemPropStart), strings.HasPrefix(b, systemPropStart)
		switch {
		case as && !bs:
			return -1
		case bs && !as:
			return 1
		}
		return 0
	})
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escape(k))
		b.WriteByte('=')
		b.WriteString(escape(props[k]))
	}
	return b.String()
}

func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// parseBag decodes a cloud-to-device property bag into system properties
// (without "$.") and application properties.
func parseBag(bag string) (system, app map[string]string, err error) {
	system, app = map[string]string{}, map[string]string{}
	for pair := range strings.SplitSeq(strings.TrimSuffix(bag, "/"), "&") {
		if pair == "" {
			continue
		}
		rk, rv, _ := strings.Cut(pair, "=")
		k, err := url.PathUnescape(rk)
		if err != nil {
			return nil, nil, errors.New("malformed property bag")
		}
		v, err := url.PathUnescape(rv)
		if err != nil {
			return nil, nil, errors.New("malformed property bag")
		}
		if name, ok := strings.CutPrefix(k, systemPropStart); ok {
			system[name] = v
		} else {
			app[k] = v
		}
	}
	return system, app, nil
}
