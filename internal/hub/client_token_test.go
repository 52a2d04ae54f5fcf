package hub

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

const policyKey = "c2VjcmV0LWtleS1vZi10aGUtcG9saWN5LTMyLWJ5dGVz"

// TestTokenSource checks that a token is signed for the host, reused while
// more than a fifth of its lifetime is left, and signed again after.
func TestTokenSource(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cs := &ConnectionString{HostName: "localhost:8443", SharedAccessKeyName: "iothubowner", SharedAccessKey: policyKey}
	s := newTokenSource(cs, time.Hour, clock)

	first, err := s.token()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseSASToken(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(policyKey, now); err != nil {
		t.Errorf("token does not verify: %v", err)
	}
	if tok.ResourceURI() != "localhost:8443" || tok.KeyName != "iothubowner" || !tok.Expiry.Equal(now.Add(time.Hour)) {
		t.Errorf("token for %q by %q until %v", tok.ResourceURI(), tok.KeyName, tok.Expiry)
	}

	now = now.Add(47 * time.Minute)
	if again, _ := s.token(); again != first {
		t.Errorf("token re-signed with 13 minutes left of 60")
	}
	now = now.Add(2 * time.Minute)
	renewed, _ := s.token()
	if renewed == first {
		t.Errorf("token not renewed with 11 minutes left of 60")
	}
	if tok, _ := ParseSASToken(renewed); !tok.Expiry.Equal(now.Add(time.Hour)) {
		t.Errorf("renewed token expires %v", tok.Expiry)
	}

	fixed := "SharedAccessSignature sr=h&sig=c2ln&se=1&skn=p"
	s = newTokenSource(&ConnectionString{HostName: "h", SharedAccessKeyName: "p", SharedAccessSignature: fixed}, time.Hour, clock)
	if got, _ := s.token(); got != fixed {
		t.Errorf("ready-made token %q handed out as %q", fixed, got)
	}
}

func TestNewClient(t *testing.T) {
	owner := &ConnectionString{HostName: "myhub.azure-devices.net", SharedAccessKeyName: "iothubowner", SharedAccessKey: policyKey}
	tests := map[string]struct {
		cs      *ConnectionString
		opts    ClientOptions
		wantURL string
		wantErr string
	}{
		"azure":           {cs: owner, wantURL: "https://myhub.azure-devices.net"},
		"port":            {cs: &ConnectionString{HostName: "localhost:8443", SharedAccessKeyName: "p", SharedAccessKey: policyKey}, wantURL: "https://localhost:8443"},
		"insecure":        {cs: &ConnectionString{HostName: "localhost:8080", SharedAccessKeyName: "p", SharedAccessKey: policyKey}, opts: ClientOptions{Insecure: true}, wantURL: "http://localhost:8080"},
		"base URL":        {cs: owner, opts: ClientOptions{BaseURL: "http://127.0.0.1:9/"}, wantURL: "http://127.0.0.1:9"},
		"ready-made SAS":  {cs: &ConnectionString{HostName: "h", SharedAccessSignature: "SharedAccessSignature sr=h&sig=x&se=1&skn=p"}, wantURL: "https://h"},
		"device":          {cs: &ConnectionString{HostName: "h", DeviceID: "d", SharedAccessKey: policyKey}, wantErr: "device or module connection string"},
		"no policy name":  {cs: &ConnectionString{HostName: "h", SharedAccessKey: policyKey}, wantErr: "no SharedAccessKeyName"},
		"no key":          {cs: &ConnectionString{HostName: "h", SharedAccessKeyName: "p"}, wantErr: "neither SharedAccessKey nor SharedAccessSignature"},
		"no host":         {cs: &ConnectionString{SharedAccessKeyName: "p", SharedAccessKey: policyKey}, wantErr: "no HostName"},
		"bad base URL":    {cs: owner, opts: ClientOptions{BaseURL: "ftp://x"}, wantErr: "not an http or https base URL"},
		"base with query": {cs: owner, opts: ClientOptions{BaseURL: "https://x/?a=b"}, wantErr: "not an http or https base URL"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(tt.cs, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), policyKey) {
					t.Errorf("the error holds the key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.base.String(); got != tt.wantURL {
				t.Errorf("base URL %q, want %q", got, tt.wantURL)
			}
		})
	}
}

func TestEscapeSegment(t *testing.T) {
	for in, want := range map[string]string{
		"plain-id_1~": "plain-id_1~",
		"a.b":         "a.b",
		".":           "%2E",
		"..":          "%2E%2E",
		"a/b?c#d":     "a%2Fb%3Fc%23d",
		"a+b c%d":     "a%2Bb%20c%25d",
		"$edgeAgent":  "%24edgeAgent",
		"x;y=z'(!)*,": "x%3By%3Dz%27%28%21%29%2A%2C",
	} {
		got := escapeSegment(in)
		if got != want {
			t.Errorf("escapeSegment(%q) = %q, want %q", in, got, want)
		}
		if back, err := url.PathUnescape(got); err != nil || back != in {
			t.Errorf("PathUnescape(%q) = %q, %v", got, back, err)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"99999":                         time.Hour,
		"Sun, 01 Mar 2026 12:00:30 GMT": 30 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0,
		"soon":                          0,
	} {
		h := map[string][]string{}
		if v != "" {
			h["Retry-After"] = []string{v}
		}
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{opts: ClientOptions{MinBackoff: time.Second, MaxBackoff: 10 * time.Second}}
	for n, limit := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 30: 10 * time.Second} {
		for range 20 {
			if d := c.backoff(n); d < limit/2 || d > limit {
				t.Errorf("backoff(%d) = %v, want between %v and %v", n, d, limit/2, limit)
			}
		}
	}
}
