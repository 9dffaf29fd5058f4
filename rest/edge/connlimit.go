package edge

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnLimits bounds the connections a listener keeps open: in all, and
// from one client (an IPv4 address or an IPv6 /64, see ClientPrefix).
// Connections from a trusted proxy count in the total only (the proxy
// carries many clients, and bounds its own).
type ConnLimits struct {
	Total, PerClient int
	Trusted          []netip.Prefix
}

// LimitConnections wraps ln so that a connection over a bound is closed as
// soon as it is accepted, before anything is read from it or allocated
// for it: every open connection holds a goroutine and buffers, so their
// number is what bounds that memory (SECURITY: the request and rate
// limits act only once a connection exists). Refusals are counted in
// portal_http_connections_refused_total{bound}; open connections are
// portal_http_connections_open.
func LimitConnections(ln net.Listener, lim ConnLimits, reg prometheus.Registerer) net.Listener {
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_http_connections_refused_total",
		Help: "Connections closed on arrival because a bound was reached: total or client (per client address)."}, []string{"bound"})
	l := &limitedListener{Listener: ln, lim: lim, byClient: map[netip.Prefix]int{},
		refusedTotal: refused.WithLabelValues("total"), refusedClient: refused.WithLabelValues("client")}
	reg.MustRegister(refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portal_http_connections_open",
		Help: "Connections open on the public listener."}, func() float64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return float64(l.open)
	}))
	return l
}

type limitedListener struct {
	net.Listener
	lim                         ConnLimits
	refusedTotal, refusedClient prometheus.Counter

	mu       sync.Mutex
	open     int
	byClient map[netip.Prefix]int // only clients with a connection open
}

// Accept returns the next connection within the bounds, closing the ones
// over them.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.admit(c); lc != nil {
			return lc, nil
		}
		_ = c.Close()
	}
}

// admit counts c in and returns it wrapped, or returns nil when a bound is
// reached.
func (l *limitedListener) admit(c net.Conn) net.Conn {
	client, counted := l.clientOf(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.lim.Total {
		l.refusedTotal.Inc()
		return nil
	}
	if counted {
		if l.byClient[client] >= l.lim.PerClient {
			l.refusedClient.Inc()
			return nil
		}
		l.byClient[client]++
	}
	l.open++
	return &countedConn{Conn: c, l: l, client: client, counted: counted}
}

// clientOf is c's client (its peer's ClientPrefix), and whether it counts
// as one (a trusted proxy does not).
func (l *limitedListener) clientOf(c net.Conn) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Prefix{}, false // not TCP/IP (a test's pipe): the total still counts it
	}
	a := ap.Addr().Unmap()
	if isTrusted(l.lim.Trusted, a) {
		return netip.Prefix{}, false
	}
	return ClientPrefix(a), true
}

func (l *limitedListener) release(c *countedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if c.counted {
		if n := l.byClient[c.client] - 1; n > 0 {
			l.byClient[c.client] = n
		} else {
			delete(l.byClient, c.client)
		}
	}
}

// countedConn gives its slot back when it is closed, whoever closes it
// (the server, or a WebSocket library that hijacked it).
type countedConn struct {
	net.Conn
	l       *limitedListener
	client  netip.Prefix
	counted bool
	once    sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

// SyscallConn reaches the socket: the WebSocket transport waits on it for
// something to read without holding a buffer.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// CloseWrite keeps net/http's half-close (it sends an error response, then
// waits for the client to finish, rather than resetting the connection).
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
