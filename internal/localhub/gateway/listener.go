package gateway

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// listener feeds the connections of a net.Listener to the broker. Unlike
// mochi's own listeners it owns every goroutine it starts and waits for
// them, closes connections that have not finished their CONNECT when it is
// closed, and gives each new connection a deadline for its TLS handshake
// and CONNECT packet (the broker replaces it with the keep-alive deadline).
type listener struct {
	id             string
	ln             net.Listener
	connectTimeout time.Duration
	ended          func(net.Conn) // told after a connection has ended

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	closed    bool
	establish listeners.EstablishFn // set by Serve
	stop      chan struct{}         // closed by Close
	wg        sync.WaitGroup
	served    chan struct{} // closed when Serve returns
}

var _ listeners.Listener = (*listener)(nil)

func newListener(id string, ln net.Listener, connectTimeout time.Duration, ended func(net.Conn)) *listener {
	return &listener{id: id, ln: ln, connectTimeout: connectTimeout, ended: ended,
		conns: map[net.Conn]struct{}{}, stop: make(chan struct{}), served: make(chan struct{})}
}

func (l *listener) Init(*slog.Logger) error { return nil }
func (l *listener) ID() string              { return l.id }
func (l *listener) Address() string         { return l.ln.Addr().String() }
func (l *listener) Protocol() string        { return l.ln.Addr().Network() }

// Serve accepts connections until the listener is closed. Errors other
// than closing (out of file descriptors, say) are retried with a backoff.
func (l *listener) Serve(establish listeners.EstablishFn) {
	defer close(l.served)
	l.mu.Lock()
	l.establish = establish
	l.mu.Unlock()
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-l.stop:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		_ = c.SetDeadline(time.Now().Add(l.connectTimeout))
		go l.handle(establish, c)
	}
}

func (l *listener) handle(establish listeners.EstablishFn, c net.Conn) {
	defer l.wg.Done()
	_ = establish(l.id, c) // the broker has told the hooks why it ended
	c.Close()
	l.ended(c)
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// accepting reports whether the listener serves connections.
func (l *listener) accepting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.establish != nil && !l.closed
}

// adopt serves a connection accepted elsewhere (a WebSocket upgraded by an
// HTTP server) on the caller's goroutine, as one of its own: it returns
// when the connection has ended, and Close ends it. It reports false,
// without serving, when the listener is not serving.
func (l *listener) adopt(c net.Conn) bool {
	l.mu.Lock()
	if l.establish == nil || l.closed {
		l.mu.Unlock()
		return false
	}
	establish := l.establish
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	_ = c.SetDeadline(time.Now().Add(l.connectTimeout))
	l.handle(establish, c)
	return true
}

// Close stops accepting, has the broker disconnect its clients and closes
// every connection still open, including those still in their handshake.
func (l *listener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.stop)
	l.mu.Unlock()
	closeClients(l.id)
	l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
}

// wait returns when Serve has returned and every connection has ended.
func (l *listener) wait() {
	<-l.served
	l.wg.Wait()
}
