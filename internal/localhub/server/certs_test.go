package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifies checks that the identity's certificate chains to its CA file
// for each name.
func verifies(t *testing.T, id *Identity, at time.Time, names ...string) {
	t.Helper()
	pool, err := CAPool(id.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(id.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: n, CurrentTime: at}); err != nil {
			t.Errorf("certificate does not verify for %s: %v", n, err)
		}
	}
}

func TestEnsureIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".iotplan")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	first, err := EnsureIdentity(dir, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if !first.CreatedCA || !first.IssuedCert || first.CAFile != filepath.Join(dir, CAFile) {
		t.Errorf("first start: %+v", first)
	}
	for name, perm := range map[string]os.FileMode{CAFile: 0o644, CAKeyFile: 0o600, ServerCertFile: 0o644, ServerKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != perm {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), perm)
		}
	}
	verifies(t, first, now, DefaultNames...)
	ca, err := x509.ParseCertificate(first.Certificate.Certificate[1])
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"localhost"}, ca.PermittedDNSDomains); d != "" {
		t.Errorf("CA permitted DNS names mismatch (-want +got):\n%s", d)
	}
	if len(ca.PermittedIPRanges) != 2 || !ca.MaxPathLenZero {
		t.Errorf("CA IP constraints %v, MaxPathLenZero %v", ca.PermittedIPRanges, ca.MaxPathLenZero)
	}
	caPEM, certPEM := readFile(t, filepath.Join(dir, CAFile)), readFile(t, filepath.Join(dir, ServerCertFile))

	again, err := EnsureIdentity(dir, nil, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.CreatedCA || again.IssuedCert {
		t.Errorf("second start made new files: %+v", again)
	}
	if !bytes.Equal(caPEM, readFile(t, filepath.Join(dir, CAFile))) || !bytes.Equal(certPEM, readFile(t, filepath.Join(dir, ServerCertFile))) {
		t.Errorf("second start rewrote the certificates")
	}

	// Near the server certificate's expiry, a new one, same CA.
	late := now.Add(serverValidity - renewBefore/2)
	renewed, err := EnsureIdentity(dir, nil, late)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.CreatedCA || !renewed.IssuedCert || !bytes.Equal(caPEM, readFile(t, filepath.Join(dir, CAFile))) {
		t.Errorf("renewal: %+v", renewed)
	}

	// A name the CA was not made for needs a new CA, as the old one may
	// sign for its own names only.
	more, err := EnsureIdentity(dir, []string{"Hub.LAN", "10.0.0.7"}, late)
	if err != nil {
		t.Fatal(err)
	}
	if !more.CreatedCA || !more.IssuedCert {
		t.Errorf("new names: %+v", more)
	}
	verifies(t, more, late, "hub.lan", "10.0.0.7", "localhost")
	same, err := EnsureIdentity(dir, []string{"hub.lan"}, late)
	if err != nil {
		t.Fatal(err)
	}
	if same.CreatedCA || same.IssuedCert {
		t.Errorf("a subset of the names made new files: %+v", same)
	}

	// A CA about to expire is replaced.
	old, err := EnsureIdentity(dir, []string{"hub.lan"}, late.Add(caValidity-renewBefore/2))
	if err != nil {
		t.Fatal(err)
	}
	if !old.CreatedCA {
		t.Errorf("an expiring CA was kept")
	}
}

// TestCAConstraints checks that the CA's key signs for nothing but its
// names: a certificate for another host, signed with it, does not verify.
func TestCAConstraints(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if _, err := EnsureIdentity(dir, nil, now); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(pair.Certificate[0])
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bank.example.com"}, DNSNames: []string{"bank.example.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool, _ := CAPool(filepath.Join(dir, CAFile))
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "bank.example.com"}); err == nil {
		t.Errorf("a certificate for another host signed by the hub's CA verifies")
	}
}

func TestEnsureIdentityErrors(t *testing.T) {
	now := time.Now()
	t.Run("invalid name", func(t *testing.T) {
		_, err := EnsureIdentity(t.TempDir(), []string{"localhost:443"}, now)
		if err == nil || !strings.Contains(err.Error(), "without a port") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unreadable CA", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := EnsureIdentity(dir, nil, now); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, CAFile), []byte("garbage"), 0o644)
		_, err := EnsureIdentity(dir, nil, now)
		if err == nil || !strings.Contains(err.Error(), "delete ca.pem and ca-key.pem") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("CA without key", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := EnsureIdentity(dir, nil, now); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, CAKeyFile))
		_, err := EnsureIdentity(dir, nil, now)
		if err == nil || !strings.Contains(err.Error(), "has no key") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("server certificate of another CA", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		if _, err := EnsureIdentity(dir, nil, now); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureIdentity(other, nil, now); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{ServerCertFile, ServerKeyFile} {
			os.WriteFile(filepath.Join(dir, f), readFile(t, filepath.Join(other, f)), 0o600)
		}
		id, err := EnsureIdentity(dir, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if !id.IssuedCert || id.CreatedCA {
			t.Errorf("%+v, want a new server certificate from the same CA", id)
		}
		verifies(t, id, now, "localhost")
	})
}

func TestLoadIdentity(t *testing.T) {
	dir := t.TempDir()
	if _, err := EnsureIdentity(dir, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	id, err := LoadIdentity(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if id.CAFile != "" || len(id.Certificate.Certificate) == 0 {
		t.Errorf("loaded %+v", id)
	}
	if _, err := LoadIdentity(filepath.Join(dir, ServerCertFile), filepath.Join(dir, "missing.pem")); err == nil {
		t.Errorf("LoadIdentity with a missing key succeeded")
	}
}
