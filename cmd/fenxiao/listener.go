package main

import (
	"net"
	"sync"
	"sync/atomic"
)

// spareListener remembers the connections it accepted until they send their first byte.
// Browsers open connections ahead of need (Chrome's preconnect) and may never send a
// request on them; fasthttp counts such a connection as busy reading its first request
// until ReadTimeout (30 s), so it held every shutdown for the whole grace period.
// closeSpare closes those connections: no request is in progress on them.
type spareListener struct {
	net.Listener
	mu    sync.Mutex
	spare map[*spareConn]struct{}
}

func newSpareListener(ln net.Listener) *spareListener {
	return &spareListener{Listener: ln, spare: map[*spareConn]struct{}{}}
}

func (l *spareListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &spareConn{Conn: c, l: l}
	l.mu.Lock()
	l.spare[sc] = struct{}{}
	l.mu.Unlock()
	return sc, nil
}

// closeSpare closes every accepted connection that has not sent a byte yet.
func (l *spareListener) closeSpare() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.spare {
		c.Conn.Close() //nolint:errcheck // the server sees a closed connection and lets go
		delete(l.spare, c)
	}
}

func (l *spareListener) forget(c *spareConn) {
	l.mu.Lock()
	delete(l.spare, c)
	l.mu.Unlock()
}

type spareConn struct {
	net.Conn
	l    *spareListener
	used atomic.Bool
}

func (c *spareConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.used.Load() {
		c.used.Store(true)
		c.l.forget(c)
	}
	return n, err
}

func (c *spareConn) Close() error {
	c.l.forget(c)
	return c.Conn.Close()
}
