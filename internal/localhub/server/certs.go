package server

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The files of the hub's TLS identity in its data folder. The keys are
// written 0600; the certificates are public.
const (
	CAFile         = "ca.pem"
	CAKeyFile      = "ca-key.pem"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server-key.pem"
)

// DefaultNames are the names every generated server certificate holds.
var DefaultNames = []string{"localhost", "127.0.0.1", "::1"}

// Validity of what EnsureIdentity makes, and how early it renews.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 397 * 24 * time.Hour // the most browsers and macOS accept
	renewBefore    = 30 * 24 * time.Hour
)

// Identity is the TLS identity a served hub presents.
type Identity struct {
	// Certificate is the server certificate chain with its key.
	Certificate tls.Certificate
	// CAFile is the path of the CA certificate clients should trust, ""
	// when the certificate was given rather than generated.
	CAFile string
	// CreatedCA is set when EnsureIdentity made a new CA, which clients
	// must be told to trust; IssuedCert when it issued a new server
	// certificate.
	CreatedCA, IssuedCert bool
}

// TLSConfig returns a server configuration presenting the identity, TLS
// 1.2 or later.
func (id *Identity) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{id.Certificate}, MinVersion: tls.VersionTLS12}
}

// LoadIdentity loads a certificate chain and key given by the user (PEM
// files, as for any HTTPS server).
func LoadIdentity(certFile, keyFile string) (*Identity, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &Identity{Certificate: cert}, nil
}

// EnsureIdentity returns the hub's generated TLS identity kept in dir,
// making what is missing. On first start it creates a CA (ca.pem,
// ca-key.pem) and a server certificate signed by it for DefaultNames and
// names (server.pem, server-key.pem); later starts reuse them. The server
// certificate is issued again when it does not cover every name, was not
// signed by the CA, or expires within 30 days. The CA is created again
// only when it expires within 30 days or does not permit a name: it is
// name-constrained to the names it was made for, so that its key can sign
// for nothing else should it leak.
//
// names are host names or IP addresses, without ports.
func EnsureIdentity(dir string, names []string, now time.Time) (*Identity, error) {
	all, err := certNames(names)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	id := &Identity{CAFile: filepath.Join(dir, CAFile)}
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return nil, err
	}
	if ca == nil || !caUsable(ca, all, now) {
		ca, caKey, err = createCA(dir, all, now)
		if err != nil {
			return nil, err
		}
		id.CreatedCA = true
	}
	cert, ok := loadServerCert(dir, ca, all, now)
	if !ok {
		if cert, err = issueServerCert(dir, ca, caKey, all, now); err != nil {
			return nil, err
		}
		id.IssuedCert = true
	}
	id.Certificate = cert
	return id, nil
}

var dnsNameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// certNames returns DefaultNames and names, checked, without duplicates.
func certNames(names []string) ([]string, error) {
	all := slices.Clone(DefaultNames)
	for _, n := range names {
		n = strings.TrimSpace(n)
		if net.ParseIP(n) == nil && !dnsNameRE.MatchString(n) {
			return nil, fmt.Errorf("%q is neither a host name nor an IP address (give names without a port)", n)
		}
		n = strings.ToLower(n)
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	return all, nil
}

func splitNames(names []string) (dns []string, ips []net.IP) {
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

// loadCA reads the CA and its key; nil without error when there is none
// yet. A CA that is there but unreadable is an error: making a new one
// would silently break the trust clients placed in the old one.
func loadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the hub's CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("the hub's CA %s has no key %s beside it; delete %s to make a new CA (clients must then trust the new one)",
			filepath.Join(dir, CAFile), CAKeyFile, CAFile)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the hub's CA key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("the hub's CA in %s is unusable (%v); delete %s and %s to make a new one (clients must then trust the new one)",
			dir, err, CAFile, CAKeyFile)
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("parse the hub's CA: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !ca.IsCA {
		return nil, nil, fmt.Errorf("%s is not a CA certificate with a signing key; delete %s and %s to make a new one", filepath.Join(dir, CAFile), CAFile, CAKeyFile)
	}
	return ca, signer, nil
}

// caUsable reports whether the CA stays valid for a month and may sign
// every name.
func caUsable(ca *x509.Certificate, names []string, now time.Time) bool {
	if now.Before(ca.NotBefore) || now.Add(renewBefore).After(ca.NotAfter) {
		return false
	}
	dns, ips := splitNames(names)
	for _, n := range dns {
		if !slices.ContainsFunc(ca.PermittedDNSDomains, func(d string) bool { return strings.EqualFold(d, n) }) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(ca.PermittedIPRanges, func(r *net.IPNet) bool { return r.Contains(ip) }) {
			return false
		}
	}
	return true
}

func createCA(dir string, names []string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate the CA key: %w", err)
	}
	dns, ips := splitNames(names)
	var ranges []*net.IPNet
	for _, ip := range ips {
		bits := 128
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 32
		}
		ranges = append(ranges, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: "iotplan local hub CA " + now.UTC().Format("2006-01-02 15:04:05"), Organization: []string{"iotplan"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
		PermittedDNSDomains:   dns,
		PermittedIPRanges:     ranges,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create the CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(dir, CAFile, CAKeyFile, der, key); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// loadServerCert returns the stored server certificate when it is signed
// by ca, covers every name and stays valid for a month.
func loadServerCert(dir string, ca *x509.Certificate, names []string, now time.Time) (tls.Certificate, bool) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile))
	if err != nil {
		return tls.Certificate{}, false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || now.Add(renewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return tls.Certificate{}, false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, n := range names {
		opts := x509.VerifyOptions{Roots: roots, DNSName: n, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := leaf.Verify(opts); err != nil {
			return tls.Certificate{}, false
		}
	}
	pair.Leaf = leaf
	return pair, true
}

func issueServerCert(dir string, ca *x509.Certificate, caKey crypto.Signer, names []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate the server key: %w", err)
	}
	dns, ips := splitNames(names)
	tmpl := &x509.Certificate{
		SerialNumber:   serialNumber(),
		Subject:        pkix.Name{CommonName: names[0], Organization: []string{"iotplan"}},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.Add(serverValidity),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:       dns,
		IPAddresses:    ips,
		SubjectKeyId:   keyID(&key.PublicKey),
		AuthorityKeyId: ca.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue the server certificate: %w", err)
	}
	if err := writePair(dir, ServerCertFile, ServerKeyFile, der, key); err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// writePair writes a certificate (0644) and its key (0600), each through a
// temporary file renamed into place, key first: a crash leaves either the
// old pair or a key without its certificate, which the next start
// replaces.
func writePair(dir, certName, keyName string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode the key of %s: %w", certName, err)
	}
	if err := writeFileAtomic(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func serialNumber() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("server: crypto/rand failed: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}

// keyID is the SHA-1 of the public key, the usual subject key identifier.
func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic("server: marshal a public key: " + err.Error())
	}
	sum := sha1.Sum(der)
	return sum[:]
}

// CAPool returns a pool holding the CA certificate of an identity's CAFile,
// for clients of the hub.
func CAPool(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bytes.TrimSpace(b)) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return pool, nil
}
