package localhub

import (
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
)

// generatedKeyBytes is the size of the SAS keys the hub generates.
const generatedKeyBytes = 32

// authFrom checks the credential of a create or update and returns what is
// stored. A missing mechanism, or type sas with both keys empty, gets SAS
// keys: on update the identity's current SAS keys are kept (prev), on create
// or when the identity had another type they are generated. Material that
// does not belong to the type is dropped.
func authFrom(in *hub.AuthenticationMechanism, prev *auth, what string) (auth, error) {
	if in == nil {
		in = &hub.AuthenticationMechanism{}
	}
	typ, ok := authType(in.Type)
	if !ok {
		return auth{}, hub.Errorf(hub.CodeArgumentInvalid, "the %s's authentication type %q is not one of sas, selfSigned, certificateAuthority and none", what, in.Type)
	}
	a := auth{Type: string(typ)}
	switch typ {
	case hub.AuthSAS:
		var primary, secondary string
		if k := in.SymmetricKey; k != nil {
			primary, secondary = k.PrimaryKey, k.SecondaryKey
		}
		switch {
		case primary == "" && secondary == "":
			if prev != nil && prev.Type == string(hub.AuthSAS) && prev.PrimaryKey != "" {
				a.PrimaryKey, a.SecondaryKey = prev.PrimaryKey, prev.SecondaryKey
				break
			}
			a.PrimaryKey, a.SecondaryKey = generateKey(), generateKey()
		case primary == "" || secondary == "":
			return auth{}, hub.Errorf(hub.CodeArgumentInvalid, "the %s's SAS keys must be given both or neither", what)
		default:
			if err := hub.ValidateSymmetricKey(primary); err != nil {
				return auth{}, hub.Errorf(hub.CodeArgumentInvalid, "the %s's primary key is not valid: %v", what, err)
			}
			if err := hub.ValidateSymmetricKey(secondary); err != nil {
				return auth{}, hub.Errorf(hub.CodeArgumentInvalid, "the %s's secondary key is not valid: %v", what, err)
			}
			a.PrimaryKey, a.SecondaryKey = primary, secondary
		}
	case hub.AuthSelfSigned:
		var primary, secondary string
		if tp := in.X509Thumbprint; tp != nil {
			if tp.PrimaryThumbprint != nil {
				primary = *tp.PrimaryThumbprint
			}
			if tp.SecondaryThumbprint != nil {
				secondary = *tp.SecondaryThumbprint
			}
		}
		if primary == "" {
			return auth{}, hub.Errorf(hub.CodeArgumentInvalid, "the %s's authentication type is selfSigned but it has no primary thumbprint", what)
		}
		for _, tp := range []struct{ name, value string }{{"primary", primary}, {"secondary", secondary}} {
			if tp.value != "" && !isThumbprint(tp.value) {
				return auth{}, hub.Errorf(hub.CodeArgumentInvalid, "the %s's %s thumbprint %q is not a SHA-1 (40) or SHA-256 (64) hex digest", what, tp.name, tp.value)
			}
		}
		a.PrimaryThumbprint, a.SecondaryThumbprint = primary, secondary
	}
	return a, nil
}

// authType returns the canonical spelling of an authentication type; ""
// means sas.
func authType(t hub.AuthType) (hub.AuthType, bool) {
	if t == "" {
		return hub.AuthSAS, true
	}
	for _, known := range []hub.AuthType{hub.AuthSAS, hub.AuthSelfSigned, hub.AuthCertificateAuthority, hub.AuthNone} {
		if strings.EqualFold(string(t), string(known)) {
			return known, true
		}
	}
	return "", false
}

func isThumbprint(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// generateKey returns a new random SAS key. crypto/rand.Read never fails.
func generateKey() string {
	b := make([]byte, generatedKeyBytes)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
