package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// wireTime is a timestamp as the service writes it: ISO-8601 with up to
// seven fractional digits, sometimes without a zone (meaning UTC), and
// "0001-01-01T00:00:00" for never. null and "" are the zero time.
type wireTime time.Time

var zonelessLayouts = []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"}

func (t *wireTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = wireTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a timestamp must be a string: %w", err)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		*t = wireTime{}
		return nil
	}
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		*t = wireTime(v)
		return nil
	}
	for _, layout := range zonelessLayouts {
		if v, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			*t = wireTime(v)
			return nil
		}
	}
	return fmt.Errorf("%q is not an ISO-8601 timestamp", s)
}

func (t wireTime) time() time.Time { return time.Time(t) }

// decodeDevice reads a device as the service sends it, leniently: times
// in any of the service's forms, enums in any case.
func decodeDevice(b []byte) (*Device, error) {
	var d Device
	w := struct {
		*Device
		ConnectionStateUpdatedTime wireTime `json:"connectionStateUpdatedTime"`
		StatusUpdatedTime          wireTime `json:"statusUpdatedTime"`
		LastActivityTime           wireTime `json:"lastActivityTime"`
	}{Device: &d}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode device: %w", err)
	}
	d.ConnectionStateUpdatedTime = w.ConnectionStateUpdatedTime.time()
	d.StatusUpdatedTime = w.StatusUpdatedTime.time()
	d.LastActivityTime = w.LastActivityTime.time()
	d.Status = canonicalStatus(d.Status)
	d.ConnectionState = canonicalConnectionState(d.ConnectionState)
	canonicalAuth(d.Authentication)
	return &d, nil
}

func decodeModule(b []byte) (*Module, error) {
	var m Module
	w := struct {
		*Module
		ConnectionStateUpdatedTime wireTime `json:"connectionStateUpdatedTime"`
		LastActivityTime           wireTime `json:"lastActivityTime"`
	}{Module: &m}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode module: %w", err)
	}
	m.ConnectionStateUpdatedTime = w.ConnectionStateUpdatedTime.time()
	m.LastActivityTime = w.LastActivityTime.time()
	m.ConnectionState = canonicalConnectionState(m.ConnectionState)
	canonicalAuth(m.Authentication)
	return &m, nil
}

func decodeTwin(b []byte) (*Twin, error) {
	var t Twin
	w := struct {
		*Twin
		StatusUpdateTime wireTime `json:"statusUpdateTime"`
		LastActivityTime wireTime `json:"lastActivityTime"`
	}{Twin: &t}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode twin: %w", err)
	}
	t.StatusUpdateTime = w.StatusUpdateTime.time()
	t.LastActivityTime = w.LastActivityTime.time()
	t.Status = canonicalStatus(t.Status)
	t.ConnectionState = canonicalConnectionState(t.ConnectionState)
	t.AuthenticationType = canonicalAuthType(t.AuthenticationType)
	return &t, nil
}

// decodeList reads a JSON array, each element with decode.
func decodeList[T any](b []byte, decode func([]byte) (*T, error)) ([]T, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	out := make([]T, 0, len(raw))
	for _, r := range raw {
		v, err := decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// decodeQueryPage reads a query answer: a bare array, as the service
// sends, or an object with items, as its swagger describes.
func decodeQueryPage(b []byte) ([]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var obj struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("decode query page: %w", err)
		}
		return obj.Items, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("decode query page: %w", err)
	}
	return items, nil
}

func canonicalStatus(s Status) Status {
	for _, k := range []Status{StatusEnabled, StatusDisabled} {
		if strings.EqualFold(string(s), string(k)) {
			return k
		}
	}
	return s
}

func canonicalConnectionState(s string) string {
	for _, k := range []string{"Connected", "Disconnected"} {
		if strings.EqualFold(s, k) {
			return k
		}
	}
	return s
}

func canonicalAuthType(t AuthType) AuthType {
	for _, k := range []AuthType{AuthSAS, AuthSelfSigned, AuthCertificateAuthority, AuthNone} {
		if strings.EqualFold(string(t), string(k)) {
			return k
		}
	}
	return t
}

func canonicalAuth(a *AuthenticationMechanism) {
	if a != nil {
		a.Type = canonicalAuthType(a.Type)
	}
}
