package server

import (
	"net/http"
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
)

// authenticate checks the request's shared access signature as IoT Hub
// does (reference §2.4): the token must name one of the hub's policies
// (skn), be signed with that policy's primary or secondary key, not have
// expired more than hub.SASClockSkew ago, and be for this hub: its
// audience (sr) must be a prefix of the hub's host name and the request
// path. Every failure is a 401 IotHubUnauthorizedAccess whose text says
// what is wrong without quoting the token.
func (s *Server) authenticate(r *http.Request) (*hub.SharedAccessPolicy, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return nil, unauthorized("the request has no Authorization header; the service API needs a shared access signature of one of the hub's policies, as made from its connection string")
	}
	tok, err := hub.ParseSASToken(header)
	if err != nil {
		return nil, unauthorized("%v", err)
	}
	if tok.KeyName == "" {
		return nil, unauthorized("the shared access signature names no policy (skn): the service API takes a policy's token, not a device's or a module's")
	}
	policies, err := s.hub.Policies(r.Context())
	if err != nil {
		return nil, err
	}
	p := hub.FindPolicy(policies, tok.KeyName)
	if p == nil {
		return nil, unauthorized("the shared access signature is signed for policy %q, which this hub does not have", safeText(tok.KeyName, 64))
	}
	now := s.now()
	if err := tok.Verify(p.PrimaryKey, now); err != nil {
		if err2 := tok.Verify(p.SecondaryKey, now); err2 != nil {
			return nil, unauthorized("%v", err)
		}
	}
	if !tok.Authorizes(s.hostName + r.URL.Path) {
		return nil, unauthorized("the shared access signature is for %q, not for this hub (%s)", safeText(tok.ResourceURI(), 128), s.hostName)
	}
	return p, nil
}

// authorize checks that the policy holds one of the rights of the route.
func authorize(p *hub.SharedAccessPolicy, rt *route, r *http.Request) error {
	for _, right := range rt.rights {
		if p.Has(right) {
			return nil
		}
	}
	names := make([]string, len(rt.rights))
	for i, right := range rt.rights {
		names[i] = string(right)
	}
	return unauthorized("policy %q lacks the %s right that %s %s needs", p.KeyName, strings.Join(names, " or "), r.Method, safeText(r.URL.Path, 200))
}

func unauthorized(format string, args ...any) error {
	return hub.Errorf(hub.CodeUnauthorized, format, args...)
}
