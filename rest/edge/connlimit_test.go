package edge_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/rest/edge"
)

// serveLimited serves "ok" on a listener with lim, and returns its address
// and registry.
func serveLimited(t *testing.T, lim edge.ConnLimits) (string, *prometheus.Registry) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }),
		ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(edge.LimitConnections(ln, lim, reg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), reg
}

// dialFrom opens a connection to addr from the loopback address from
// (127.0.0.x: Linux answers on all of 127/8).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// served reports whether a request on c is answered (false: the server
// closed c).
func served(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("no answer and no close within 5 s")
		}
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == 200
}

// metric is the value of a counter or gauge of reg (with the given label
// value, if any).
func metric(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mf, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mf {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label == "" || m.GetLabel()[0].GetValue() == label {
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return 0
}

// One client address holds at most PerClient connections and all clients
// at most Total; a connection over either is closed at once; a slot comes
// back when its connection closes.
func TestLimitConnections(t *testing.T) {
	addr, reg := serveLimited(t, edge.ConnLimits{Total: 3, PerClient: 2})
	a1, a2 := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)
	if !served(t, a1) || !served(t, a2) {
		t.Fatal("the client's first two connections are not served")
	}
	if served(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("a client's third connection is served (per-client bound 2)")
	}
	if !served(t, dialFrom(t, "127.0.0.2", addr)) {
		t.Fatal("another client's connection is refused")
	}
	if served(t, dialFrom(t, "127.0.0.3", addr)) {
		t.Fatal("a fourth connection is served (total bound 3)")
	}
	if c, tot, open := metric(t, reg, "portal_http_connections_refused_total", "client"), metric(t, reg, "portal_http_connections_refused_total", "total"),
		metric(t, reg, "portal_http_connections_open", ""); c != 1 || tot != 1 || open != 3 {
		t.Fatalf("refused: client %v, total %v; open %v; want 1, 1, 3", c, tot, open)
	}
	a1.Close() // its slot comes back once the server has seen the close
	deadline := time.Now().Add(10 * time.Second)
	for !served(t, dialFrom(t, "127.0.0.1", addr)) {
		if time.Now().After(deadline) {
			t.Fatal("a closed connection's slot did not come back within 10 s")
		}
		<-time.After(10 * time.Millisecond)
	}
}

// A trusted proxy's connections count in the total only: it carries many
// clients.
func TestLimitConnectionsTrustedProxy(t *testing.T) {
	addr, _ := serveLimited(t, edge.ConnLimits{Total: 3, PerClient: 1, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}})
	for i := range 3 {
		if !served(t, dialFrom(t, "127.0.0.9", addr)) {
			t.Fatalf("the proxy's connection %d is refused", i+1)
		}
	}
	if served(t, dialFrom(t, "127.0.0.9", addr)) {
		t.Fatal("the proxy's fourth connection is served (total bound 3)")
	}
}

// fakeListener hands out the connections of its channel; each claims to
// come from its own address.
type fakeListener struct{ conns chan net.Conn }

func (f fakeListener) Accept() (net.Conn, error) {
	c, ok := <-f.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (f fakeListener) Close() error   { return nil }
func (f fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

type fromConn struct {
	net.Conn
	from   net.Addr
	closed chan struct{}
}

func (c *fromConn) RemoteAddr() net.Addr { return c.from }
func (c *fromConn) Close() error         { close(c.closed); return c.Conn.Close() }

// An IPv6 client is its /64: connections from other addresses of the same
// /64 share its bound; another /64 is another client.
func TestLimitConnectionsGroupsIPv6By64(t *testing.T) {
	f := fakeListener{conns: make(chan net.Conn, 1)}
	ln := edge.LimitConnections(f, edge.ConnLimits{Total: 100, PerClient: 2}, prometheus.NewRegistry())
	accepted := make(chan net.Conn)
	go func() {
		for {
			lc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- lc
		}
	}()
	defer close(f.conns)
	offer := func(addr string) (admitted bool) {
		a, b := net.Pipe()
		defer b.Close()
		c := &fromConn{Conn: a, from: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr)), closed: make(chan struct{})}
		f.conns <- c
		select {
		case <-c.closed: // refused
			return false
		case <-accepted:
			return true
		case <-time.After(5 * time.Second):
			t.Fatal("neither admitted nor closed")
		}
		return false
	}
	for i, c := range []struct {
		from string
		want bool
	}{
		{"[2001:db8:0:1::1]:1000", true},
		{"[2001:db8:0:1:ffff:ffff:ffff:ffff]:1000", true},
		{"[2001:db8:0:1::2]:1000", false}, // a third from the same /64
		{"[2001:db8:0:2::1]:1000", true},  // another /64
	} {
		if got := offer(c.from); got != c.want {
			t.Fatalf("connection %d from %s admitted %v, want %v", i+1, c.from, got, c.want)
		}
	}
}
