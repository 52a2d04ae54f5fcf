package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SASClockSkew is how long after its expiry a token is still accepted.
const SASClockSkew = 5 * time.Minute

// SASToken is a parsed shared access signature. Resource keeps the `sr`
// field exactly as sent (still URL-encoded), since that text is what was
// signed.
type SASToken struct {
	Resource  string // raw, as sent
	Signature []byte // decoded HMAC
	Expiry    time.Time
	KeyName   string // policy name; empty for device and module tokens
	expiryRaw string
}

// NewSASToken signs a token for resourceURI (a host name for service calls,
// host/devices/ID for a device) with a base64 key, valid until expiry.
// keyName is the policy's name, or "" for device and module keys.
func NewSASToken(resourceURI, key, keyName string, expiry time.Time) (string, error) {
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return "", fmt.Errorf("sign SAS token: the key is not valid base64")
	}
	sr := url.QueryEscape(resourceURI)
	se := strconv.FormatInt(expiry.Unix(), 10)
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(sr + "\n" + se))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	tok := "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(sig) + "&se=" + se
	if keyName != "" {
		tok += "&skn=" + url.QueryEscape(keyName)
	}
	return tok, nil
}

// ErrInvalidSAS is the error of every malformed token; the message says what
// is wrong without quoting the token.
var ErrInvalidSAS = errors.New("invalid shared access signature")

// ParseSASToken parses `SharedAccessSignature sr=…&sig=…&se=…[&skn=…]`.
func ParseSASToken(s string) (*SASToken, error) {
	rest, ok := strings.CutPrefix(s, "SharedAccessSignature ")
	if !ok {
		return nil, fmt.Errorf("%w: it does not start with \"SharedAccessSignature \"", ErrInvalidSAS)
	}
	t := &SASToken{}
	var sig string
	seen := map[string]bool{}
	for _, f := range strings.Split(rest, "&") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("%w: a field has no '='", ErrInvalidSAS)
		}
		k = strings.ToLower(k)
		if seen[k] {
			return nil, fmt.Errorf("%w: field %s appears twice", ErrInvalidSAS, k)
		}
		seen[k] = true
		switch k {
		case "sr":
			t.Resource = v
		case "sig":
			sig = v
		case "se":
			t.expiryRaw = v
		case "skn":
			name, err := url.PathUnescape(v)
			if err != nil {
				return nil, fmt.Errorf("%w: skn is not URL-encoded correctly", ErrInvalidSAS)
			}
			t.KeyName = name
		default:
			return nil, fmt.Errorf("%w: unknown field %q", ErrInvalidSAS, safeField(k))
		}
	}
	if t.Resource == "" || sig == "" || t.expiryRaw == "" {
		return nil, fmt.Errorf("%w: sr, sig and se are all required", ErrInvalidSAS)
	}
	rawSig, err := url.PathUnescape(sig)
	if err != nil {
		return nil, fmt.Errorf("%w: sig is not URL-encoded correctly", ErrInvalidSAS)
	}
	if t.Signature, err = base64.StdEncoding.DecodeString(rawSig); err != nil {
		return nil, fmt.Errorf("%w: sig is not base64", ErrInvalidSAS)
	}
	se, err := url.PathUnescape(t.expiryRaw)
	if err != nil {
		return nil, fmt.Errorf("%w: se is not URL-encoded correctly", ErrInvalidSAS)
	}
	secs, err := strconv.ParseInt(se, 10, 64)
	if err != nil || secs < 0 || secs > 1<<40 {
		return nil, fmt.Errorf("%w: se is not a time in seconds since 1970", ErrInvalidSAS)
	}
	t.Expiry = time.Unix(secs, 0).UTC()
	if _, err := url.QueryUnescape(t.Resource); err != nil {
		return nil, fmt.Errorf("%w: sr is not URL-encoded correctly", ErrInvalidSAS)
	}
	return t, nil
}

func safeField(k string) string {
	if len(k) > 16 {
		return k[:16] + "…"
	}
	return k
}

// ResourceURI is the decoded `sr` with any trailing '/' removed.
func (t *SASToken) ResourceURI() string {
	r, _ := url.QueryUnescape(t.Resource)
	return strings.TrimRight(r, "/")
}

// Verify checks the signature against a base64 key and the expiry against
// now, allowing SASClockSkew.
func (t *SASToken) Verify(key string, now time.Time) error {
	if now.After(t.Expiry.Add(SASClockSkew)) {
		return fmt.Errorf("%w: the token expired at %s", ErrInvalidSAS, t.Expiry.Format(time.RFC3339))
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return fmt.Errorf("%w: the key is not valid base64", ErrInvalidSAS)
	}
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(t.Resource + "\n" + t.expiryRaw))
	if subtle.ConstantTimeCompare(mac.Sum(nil), t.Signature) != 1 {
		return fmt.Errorf("%w: the signature does not match", ErrInvalidSAS)
	}
	return nil
}

// Authorizes reports whether the token's audience covers the URI host+path
// of a request (the audience must be a case-insensitive prefix of it).
func (t *SASToken) Authorizes(hostAndPath string) bool {
	aud := strings.ToLower(t.ResourceURI())
	target := strings.ToLower(strings.TrimRight(hostAndPath, "/"))
	return target == aud || strings.HasPrefix(target, aud+"/")
}
