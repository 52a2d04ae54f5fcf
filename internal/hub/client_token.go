package hub

import (
	"sync"
	"time"
)

// tokenSource hands out the SAS token of a client's requests: one signed
// with the policy key for the hub's host name, reused until a fifth of its
// lifetime is left, then signed again. A connection string's ready-made
// token is handed out as it is. It is safe for concurrent use.
type tokenSource struct {
	host, key, keyName string
	fixed              string // a ready-made token; secret
	lifetime           time.Duration
	now                func() time.Time

	mu     sync.Mutex
	cached string // secret
	expiry time.Time
}

func newTokenSource(cs *ConnectionString, lifetime time.Duration, now func() time.Time) *tokenSource {
	return &tokenSource{
		host: cs.HostName, key: cs.SharedAccessKey, keyName: cs.SharedAccessKeyName,
		fixed: cs.SharedAccessSignature, lifetime: lifetime, now: now,
	}
}

// token returns the token for the next request.
func (s *tokenSource) token() (string, error) {
	if s.key == "" {
		return s.fixed, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cached != "" && now.Before(s.expiry.Add(-s.lifetime/5)) {
		return s.cached, nil
	}
	expiry := now.Add(s.lifetime).Truncate(time.Second)
	tok, err := NewSASToken(s.host, s.key, s.keyName, expiry)
	if err != nil {
		return "", err
	}
	s.cached, s.expiry = tok, expiry
	return tok, nil
}
