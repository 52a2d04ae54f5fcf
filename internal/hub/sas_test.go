package hub

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const testKey = "c2VjcmV0LWtleS1vZi0zMi1ieXRlcy1sb25nISEhISE=" // 32 bytes

func TestSASRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tok, err := NewSASToken("myhub.azure-devices.net", testKey, "iothubowner", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseSASToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.KeyName != "iothubowner" || p.ResourceURI() != "myhub.azure-devices.net" || !p.Expiry.Equal(now.Add(time.Hour)) {
		t.Errorf("parsed %+v", p)
	}
	if err := p.Verify(testKey, now); err != nil {
		t.Errorf("Verify() = %v", err)
	}
	if err := p.Verify(testKey, now.Add(time.Hour+4*time.Minute)); err != nil {
		t.Errorf("Verify() within clock skew = %v", err)
	}
	for name, tt := range map[string]struct {
		key string
		now time.Time
	}{
		"expired":   {testKey, now.Add(time.Hour + 6*time.Minute)},
		"wrong key": {"b3RoZXIta2V5LW9mLTMyLWJ5dGVzLWxvbmchISEhISE=", now},
	} {
		if err := p.Verify(tt.key, tt.now); !errors.Is(err, ErrInvalidSAS) {
			t.Errorf("%s: Verify() = %v, want ErrInvalidSAS", name, err)
		}
	}
	for target, want := range map[string]bool{
		"myhub.azure-devices.net/devices/x": true,
		"MYHUB.azure-devices.net":           true,
		"myhub.azure-devices.netx/devices":  false,
		"other.azure-devices.net":           false,
	} {
		if got := p.Authorizes(target); got != want {
			t.Errorf("Authorizes(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestSASDeviceToken(t *testing.T) {
	now := time.Now()
	tok, err := NewSASToken("hub.local/devices/dev-1", testKey, "", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok, "skn=") {
		t.Errorf("device token has skn: %s", tok)
	}
	p, err := ParseSASToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Authorizes("hub.local/devices/dev-1/messages/events") || p.Authorizes("hub.local/devices/dev-2") {
		t.Error("device token audience is wrong")
	}
}

func TestParseSASTokenRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"no keyword":   "sr=a&sig=b&se=1",
		"missing sig":  "SharedAccessSignature sr=a&se=1",
		"bad se":       "SharedAccessSignature sr=a&sig=YQ%3D%3D&se=tomorrow",
		"bad base64":   "SharedAccessSignature sr=a&sig=***&se=1",
		"unknown":      "SharedAccessSignature sr=a&sig=YQ%3D%3D&se=1&foo=bar",
		"twice":        "SharedAccessSignature sr=a&sr=b&sig=YQ%3D%3D&se=1",
		"field no eq":  "SharedAccessSignature sr",
		"bad escaping": "SharedAccessSignature sr=%zz&sig=YQ%3D%3D&se=1",
	} {
		if _, err := ParseSASToken(in); !errors.Is(err, ErrInvalidSAS) {
			t.Errorf("%s: ParseSASToken() = %v, want ErrInvalidSAS", name, err)
		}
	}
}

func TestParseConnectionString(t *testing.T) {
	cs, err := ParseConnectionString("HostName=localhost:8443;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey)
	if err != nil {
		t.Fatal(err)
	}
	if cs.HostName != "localhost:8443" || cs.SharedAccessKeyName != "iothubowner" || cs.SharedAccessKey != testKey {
		t.Errorf("parsed %+v", cs)
	}
	if strings.Contains(cs.String(), testKey) || !strings.Contains(cs.Secret(), testKey) {
		t.Errorf("String() must redact and Secret() must not: %s / %s", cs.String(), cs.Secret())
	}
	dev, err := ParseConnectionString("HostName=h.example;DeviceId=dev-1;ModuleId=m;SharedAccessKey=" + testKey)
	if err != nil || dev.DeviceID != "dev-1" || dev.ModuleID != "m" {
		t.Errorf("device connection string: %+v, %v", dev, err)
	}
	for name, in := range map[string]string{
		"empty":       "",
		"no host":     "SharedAccessKeyName=a;SharedAccessKey=" + testKey,
		"no key":      "HostName=h",
		"no equals":   "HostName=h;garbage",
		"unknown":     "HostName=h;Color=blue;SharedAccessKey=" + testKey,
		"bad key":     "HostName=h;SharedAccessKey=not-base64!",
		"bad device":  "HostName=h;DeviceId=a b;SharedAccessKey=" + testKey,
		"module only": "HostName=h;ModuleId=m;SharedAccessKey=" + testKey,
		"twice":       "HostName=h;HostName=g;SharedAccessKey=" + testKey,
	} {
		_, err := ParseConnectionString(in)
		if err == nil {
			t.Errorf("%s: ParseConnectionString() succeeded", name)
		} else if strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error shows the key: %v", name, err)
		}
	}
}

func FuzzParseSASToken(f *testing.F) {
	tok, _ := NewSASToken("hub/devices/d", testKey, "p", time.Unix(1800000000, 0))
	f.Add(tok)
	f.Add("SharedAccessSignature sr=a&sig=b&se=1")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSASToken(s)
		if err != nil {
			return
		}
		_ = p.Verify(testKey, time.Unix(0, 0))
		_ = p.Authorizes("hub/devices/d")
	})
}

func FuzzParseConnectionString(f *testing.F) {
	f.Add("HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey)
	f.Add("HostName=h;DeviceId=d;x509=true")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConnectionString(s)
		if err != nil {
			if cs != nil {
				t.Fatal("error with a result")
			}
			return
		}
		again, err := ParseConnectionString(cs.Secret())
		if err != nil {
			t.Fatalf("Secret() does not parse again: %v", err)
		}
		if *again != *cs {
			t.Fatalf("round trip: %+v != %+v", again, cs)
		}
	})
}
