package gateway

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotplan/iotplan/internal/hub"
)

// identity is who a connection is: a device, or a module of a device.
type identity struct {
	deviceID string
	moduleID string // "" for a device
}

// clientID returns the MQTT client ID of the identity, which is also the
// key of its session.
func (id identity) clientID() string {
	if id.moduleID == "" {
		return id.deviceID
	}
	return id.deviceID + "/" + id.moduleID
}

func (id identity) String() string {
	if id.moduleID == "" {
		return "device " + id.deviceID
	}
	return "module " + id.moduleID + " of device " + id.deviceID
}

// parseClientID splits an MQTT client ID into device and module IDs
// (reference/iothub-mqtt-device.md §2).
func parseClientID(s string) (identity, error) {
	d, m, hasModule := strings.Cut(s, "/")
	if err := hub.ValidateID(d); err != nil {
		return identity{}, fmt.Errorf("client ID: device ID: %w", err)
	}
	if hasModule {
		if err := hub.ValidateID(m); err != nil {
			return identity{}, fmt.Errorf("client ID: module ID: %w", err)
		}
	}
	return identity{deviceID: d, moduleID: m}, nil
}

// parseUsername reads {host}/{deviceId}[/{moduleId}] from a CONNECT
// username, leniently (reference §2): the query after "/?" (or an old-style
// "/api-version=…" segment) and its parameters are ignored.
func parseUsername(s string) (host string, id identity, err error) {
	if i := strings.Index(s, "/?"); i >= 0 {
		s = s[:i]
	} else if i := strings.Index(s, "/api-version="); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(strings.TrimSuffix(s, "/"), "/")
	switch len(parts) {
	case 2:
		id = identity{deviceID: parts[1]}
	case 3:
		id = identity{deviceID: parts[1], moduleID: parts[2]}
	default:
		return "", identity{}, errors.New("the username is not {host}/{deviceId}[/{moduleId}]/?api-version=…")
	}
	if parts[0] == "" || id.deviceID == "" || len(parts) == 3 && id.moduleID == "" {
		return "", identity{}, errors.New("the username has an empty host, device or module")
	}
	return parts[0], id, nil
}

// sameHost compares host names as IoT Hub does: without regard to case, and
// here also without regard to a port, since the local hub's connection
// strings may carry one.
func sameHost(a, b string) bool {
	return strings.EqualFold(stripPort(a), stripPort(b))
}

func stripPort(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// The CONNACK codes of a refused connection, as a 3.1.1 client sees them
// (reference §4). mochi maps these MQTT 5 codes to the 3.1.1 return codes.
var (
	refuseProtocol    = packets.ErrUnsupportedProtocolVersion // 1
	refuseClientID    = packets.ErrClientIdentifierNotValid   // 2
	refuseUnavailable = packets.ErrServerUnavailable          // 3
	refuseMalformed   = packets.ErrMalformedPassword          // 4
	refuseNotAuth     = packets.ErrBadUsernameOrPassword      // 5: every authentication failure
)

// refusal is why a CONNECT was refused: the code for the client, the
// reason for the log.
type refusal struct {
	code   packets.Code
	reason string
}

func refuse(code packets.Code, format string, args ...any) *refusal {
	return &refusal{code: code, reason: fmt.Sprintf(format, args...)}
}

// credential is what an accepted CONNECT proved.
type credential struct {
	id identity
	// expiry is when the credential stops being valid (token expiry plus
	// the allowed clock skew, or the certificate's NotAfter); the
	// connection is closed at its first packet after that.
	expiry time.Time
	method string // "sas", "policy NAME" or "x509", for the log
}

// authenticate checks a CONNECT: protocol level, client ID, username, the
// identity in the registry and its credential (reference §2–§4).
func (g *Gateway) authenticate(pk packets.Packet, conn net.Conn) (*credential, *refusal) {
	if pk.ProtocolVersion != 4 {
		return nil, refuse(refuseProtocol, "MQTT protocol level %d; IoT Hub speaks 3.1.1 (level 4) only", pk.ProtocolVersion)
	}
	id, err := parseClientID(pk.Connect.ClientIdentifier)
	if err != nil {
		return nil, refuse(refuseClientID, "%v", err)
	}
	if !pk.Connect.UsernameFlag {
		return nil, refuse(refuseMalformed, "%s sent no username", id)
	}
	host, userID, err := parseUsername(string(pk.Connect.Username))
	if err != nil {
		return nil, refuse(refuseMalformed, "%s: %v", id, err)
	}
	if userID != id {
		return nil, refuse(refuseNotAuth, "the username names %s but the client ID is %q", userID, id.clientID())
	}
	if !sameHost(host, g.opts.HostName) {
		return nil, refuse(refuseNotAuth, "%s: the username names host %q; this hub is %q", id, host, g.opts.HostName)
	}

	ctx := g.baseCtx
	var auth *hub.AuthenticationMechanism
	d, err := g.h.Device(ctx, id.deviceID)
	switch {
	case errors.Is(err, hub.ErrNotFound):
		return nil, refuse(refuseNotAuth, "%s is not registered", id)
	case err != nil:
		return nil, refuse(refuseUnavailable, "look up %s: %v", id, err)
	case d.Status == hub.StatusDisabled:
		return nil, refuse(refuseNotAuth, "device %s is disabled", id.deviceID)
	}
	auth = d.Authentication
	if id.moduleID != "" {
		m, err := g.h.Module(ctx, id.deviceID, id.moduleID)
		switch {
		case errors.Is(err, hub.ErrNotFound):
			return nil, refuse(refuseNotAuth, "%s is not registered", id)
		case err != nil:
			return nil, refuse(refuseUnavailable, "look up %s: %v", id, err)
		}
		auth = m.Authentication
	}
	if auth == nil {
		auth = &hub.AuthenticationMechanism{Type: hub.AuthNone}
	}
	if pk.Connect.PasswordFlag {
		return g.checkToken(id, auth, string(pk.Connect.Password))
	}
	return g.checkCertificate(id, auth, conn)
}

// checkToken verifies a SAS token password: its HMAC over sr exactly as
// sent, its expiry, and that its audience covers the identity
// (reference §3).
func (g *Gateway) checkToken(id identity, auth *hub.AuthenticationMechanism, password string) (*credential, *refusal) {
	tok, err := hub.ParseSASToken(password)
	if err != nil {
		return nil, refuse(refuseMalformed, "%s: the password is not a SAS token: %v", id, err)
	}
	audHost, _, _ := strings.Cut(tok.ResourceURI(), "/")
	if !sameHost(audHost, g.opts.HostName) {
		return nil, refuse(refuseNotAuth, "%s: the token is for host %q; this hub is %q", id, audHost, g.opts.HostName)
	}
	target := audHost + "/devices/" + id.deviceID
	if id.moduleID != "" {
		target += "/modules/" + id.moduleID
	}
	if !tok.Authorizes(target) {
		return nil, refuse(refuseNotAuth, "%s: the token's audience %q does not cover it", id, tok.ResourceURI())
	}
	now := g.now()
	var keys []string
	method := "sas"
	if tok.KeyName == "" {
		if auth.Type != hub.AuthSAS || auth.SymmetricKey == nil {
			return nil, refuse(refuseNotAuth, "%s authenticates with %s, not SAS keys", id, auth.Type)
		}
		keys = []string{auth.SymmetricKey.PrimaryKey, auth.SymmetricKey.SecondaryKey}
	} else {
		policies, err := g.h.Policies(g.baseCtx)
		if err != nil {
			return nil, refuse(refuseUnavailable, "read shared access policies: %v", err)
		}
		p := hub.FindPolicy(policies, tok.KeyName)
		if p == nil || !p.Has(hub.DeviceConnect) {
			return nil, refuse(refuseNotAuth, "%s: policy %q does not exist or lacks DeviceConnect", id, tok.KeyName)
		}
		keys = []string{p.PrimaryKey, p.SecondaryKey}
		method = "policy " + p.KeyName
	}
	var verr error
	for _, k := range keys {
		if k == "" {
			continue
		}
		if verr = tok.Verify(k, now); verr == nil {
			return &credential{id: id, expiry: tok.Expiry.Add(hub.SASClockSkew), method: method}, nil
		}
	}
	if verr == nil {
		verr = errors.New("no key to check it with")
	}
	return nil, refuse(refuseNotAuth, "%s: %v", id, verr)
}

// checkCertificate authenticates a connection without a password by its
// TLS client certificate (reference §3, X.509): a selfSigned identity by
// the certificate's SHA-1 or SHA-256 thumbprint, a certificateAuthority one
// by a chain to Options.ClientCAs and a common name equal to its client ID.
func (g *Gateway) checkCertificate(id identity, auth *hub.AuthenticationMechanism, conn net.Conn) (*credential, *refusal) {
	var certs []*x509.Certificate
	switch c := conn.(type) {
	case *tls.Conn:
		certs = c.ConnectionState().PeerCertificates
	case interface{ PeerCertificates() []*x509.Certificate }: // MQTT over WebSocket
		certs = c.PeerCertificates()
	}
	if len(certs) == 0 {
		return nil, refuse(refuseNotAuth, "%s sent neither a password nor a client certificate", id)
	}
	leaf, now := certs[0], g.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, refuse(refuseNotAuth, "%s: the client certificate is not valid at %s", id, now.UTC().Format(time.RFC3339))
	}
	switch auth.Type {
	case hub.AuthSelfSigned:
		tp := auth.X509Thumbprint
		if tp == nil {
			return nil, refuse(refuseNotAuth, "%s has no thumbprint", id)
		}
		s1 := sha1.Sum(leaf.Raw)
		s256 := sha256.Sum256(leaf.Raw)
		for _, want := range []*string{tp.PrimaryThumbprint, tp.SecondaryThumbprint} {
			if want == nil || *want == "" {
				continue
			}
			if strings.EqualFold(*want, hex.EncodeToString(s1[:])) || strings.EqualFold(*want, hex.EncodeToString(s256[:])) {
				return &credential{id: id, expiry: leaf.NotAfter, method: "x509 thumbprint"}, nil
			}
		}
		return nil, refuse(refuseNotAuth, "%s: the client certificate's thumbprint matches neither registered thumbprint", id)
	case hub.AuthCertificateAuthority:
		if g.opts.ClientCAs == nil {
			return nil, refuse(refuseNotAuth, "%s authenticates by CA, and this hub has no CA certificates configured", id)
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: g.opts.ClientCAs, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			return nil, refuse(refuseNotAuth, "%s: the client certificate does not chain to a configured CA: %v", id, err)
		}
		if leaf.Subject.CommonName != id.clientID() {
			return nil, refuse(refuseNotAuth, "%s: the client certificate's common name is %q", id, leaf.Subject.CommonName)
		}
		return &credential{id: id, expiry: leaf.NotAfter, method: "x509 CA"}, nil
	}
	return nil, refuse(refuseNotAuth, "%s authenticates with %s, not an X.509 certificate", id, auth.Type)
}
