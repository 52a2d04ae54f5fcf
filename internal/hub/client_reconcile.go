package hub

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// The checks below decide whether a write whose outcome was unknown took
// effect, by comparing what was sent with what the hub holds now. They
// compare only what the write set: fields the hub fills in (generated
// keys, etags, times) match anything.

// deviceMatches reports whether got is what creating or updating sent
// would have made.
func deviceMatches(sent, got *Device) bool {
	status := sent.Status
	if status == "" {
		status = StatusEnabled
	}
	edge := sent.Capabilities != nil && sent.Capabilities.IoTEdge
	gotEdge := got.Capabilities != nil && got.Capabilities.IoTEdge
	switch {
	case !strings.EqualFold(string(status), string(got.Status)),
		sent.StatusReason != got.StatusReason,
		edge != gotEdge,
		!edge && sent.DeviceScope != got.DeviceScope,
		!slices.Equal(sent.ParentScopes, got.ParentScopes):
		return false
	}
	return authMatches(sent.Authentication, got.Authentication)
}

// moduleMatches is deviceMatches for modules.
func moduleMatches(sent, got *Module) bool {
	return sent.ManagedBy == got.ManagedBy && authMatches(sent.Authentication, got.Authentication)
}

// authMatches compares credentials: the type (sas when none was sent),
// SAS keys when both were given, thumbprints of a selfSigned identity.
func authMatches(sent, got *AuthenticationMechanism) bool {
	if sent == nil {
		sent = &AuthenticationMechanism{}
	}
	if got == nil {
		got = &AuthenticationMechanism{}
	}
	typ := sent.Type
	if typ == "" {
		typ = AuthSAS
	}
	if !strings.EqualFold(string(typ), string(got.Type)) {
		return false
	}
	switch canonicalAuthType(typ) {
	case AuthSAS:
		k := sent.SymmetricKey
		if k == nil || k.PrimaryKey == "" && k.SecondaryKey == "" {
			return true
		}
		return got.SymmetricKey != nil && *k == *got.SymmetricKey
	case AuthSelfSigned:
		var s, g X509Thumbprint
		if sent.X509Thumbprint != nil {
			s = *sent.X509Thumbprint
		}
		if got.X509Thumbprint != nil {
			g = *got.X509Thumbprint
		}
		return strings.EqualFold(deref(s.PrimaryThumbprint), deref(g.PrimaryThumbprint)) &&
			strings.EqualFold(deref(s.SecondaryThumbprint), deref(g.SecondaryThumbprint))
	}
	return true
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// patchReflected reports whether a twin holds what a patch wrote: every
// value the patch set is there, and every key it removed is gone.
func patchReflected(tw *Twin, p TwinPatch) bool {
	return holds(tw.Tags, plain(p.Tags)) && holds(tw.Properties.Desired.Properties(), plain(p.Desired))
}

// replaced reports whether a twin's tags and desired properties are
// exactly a replacement's.
func replaced(tw *Twin, r TwinPatch) bool {
	return sameSection(tw.Tags, plain(r.Tags)) && sameSection(tw.Properties.Desired.Properties(), plain(r.Desired))
}

func holds(have, patch map[string]any) bool {
	for k, pv := range patch {
		hv, ok := have[k]
		switch pv := pv.(type) {
		case nil:
			if ok {
				return false
			}
		case map[string]any:
			hm, isMap := hv.(map[string]any)
			if !isMap || !holds(hm, pv) {
				return false
			}
		default:
			if !ok || !reflect.DeepEqual(hv, pv) {
				return false
			}
		}
	}
	return true
}

func sameSection(have, want map[string]any) bool {
	if len(have) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(have, want)
}

// plain makes a section plain JSON values, as a twin read back holds them
// (numbers float64, maps map[string]any).
func plain(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return m
	}
	return out
}
