package radius

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// RadSec (RADIUS over TLS, RFC 6614; SPEC §9.1) is for access points that
// reach portald across the internet. A connection carries Access- and
// Accounting-Requests, each framed by its own length field, under the
// shared secret "radsec" (RFC 6614 §2.3): TLS authenticates both ends. The
// access point is known by its client certificate, pinned in the NAS table
// by its SHA-256 (portalctl nas register-cert / issue-cert): no CA to run,
// and removing the pin (or the access point) refuses it on its next
// request. Requests then take the same path as UDP's: the budgets, the
// workers, the decisions.

// RadSec configures the TLS listener. Zero values take the defaults.
type RadSec struct {
	Listener net.Listener
	// Certificate is the server's own.
	Certificate tls.Certificate
	// HandshakeTimeout bounds the TLS handshake (default 5 s): a client
	// that connects and says nothing holds no connection longer.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection that sends nothing for so long
	// (default 2 min; access points send Status-Server or requests).
	IdleTimeout time.Duration
	// MaxConns and MaxConnsPerIP bound the open connections (default
	// 1,024 and 8): past them a new connection is closed at once.
	MaxConns, MaxConnsPerIP int
}

// radsecSecret is the shared secret of every RadSec packet (RFC 6614 §2.3).
const radsecSecret = "radsec"

var errUnknownCertificate = errors.New("the client certificate is no access point's")

func (r *RadSec) defaults() {
	if r.HandshakeTimeout <= 0 {
		r.HandshakeTimeout = 5 * time.Second
	}
	if r.IdleTimeout <= 0 {
		r.IdleTimeout = 2 * time.Minute
	}
	if r.MaxConns <= 0 {
		r.MaxConns = 1024
	}
	if r.MaxConnsPerIP <= 0 {
		r.MaxConnsPerIP = 8
	}
}

// tlsConfig is the listener's TLS: 1.2 or later, a client certificate
// required and accepted only when an access point has it pinned (and
// within its validity).
func (s *Server) tlsConfig(r *RadSec) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{r.Certificate},
		ClientAuth:   tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || s.table.Load().certs[sha256.Sum256(raw[0])] == nil {
				return errUnknownCertificate
			}
			c, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			if now := time.Now(); now.Before(c.NotBefore) || now.After(c.NotAfter) {
				return errors.New("the client certificate is not valid now")
			}
			return nil
		},
	}
}

// serveRadSec accepts RadSec connections until ctx ends, then closes them
// all and returns once none is left.
func (s *Server) serveRadSec(ctx context.Context, jobs chan<- job) {
	r := *s.opts.RadSec
	r.defaults()
	cfg := s.tlsConfig(&r)
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	perIP := map[netip.Addr]int{}
	var conns sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		_ = r.Listener.Close()
		mu.Lock()
		for c := range open {
			_ = c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		c, err := r.Listener.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			s.opts.Log.WarnContext(ctx, "radsec: accept failed", "error", err.Error())
			time.Sleep(10 * time.Millisecond)
			continue
		}
		ip := addrPort(c.RemoteAddr()).Addr()
		mu.Lock()
		if len(open) >= r.MaxConns || perIP[ip] >= r.MaxConnsPerIP || ctx.Err() != nil {
			mu.Unlock()
			s.m.drop("radsec_connections")
			_ = c.Close()
			continue
		}
		open[c] = struct{}{}
		perIP[ip]++
		s.m.radsecConns.Inc()
		mu.Unlock()
		conns.Add(1)
		go func() {
			defer func() {
				_ = c.Close()
				mu.Lock()
				delete(open, c)
				if perIP[ip]--; perIP[ip] <= 0 {
					delete(perIP, ip)
				}
				s.m.radsecConns.Dec()
				mu.Unlock()
				conns.Done()
			}()
			s.serveRadSecConn(ctx, c, cfg, &r, jobs)
		}()
	}
	conns.Wait()
}

// serveRadSecConn reads one connection's packets until it ends, is idle
// for IdleTimeout, sends something that is not a packet, or its access
// point is no longer known.
func (s *Server) serveRadSecConn(ctx context.Context, c net.Conn, cfg *tls.Config, r *RadSec, jobs chan<- job) {
	tc := tls.Server(c, cfg)
	_ = c.SetDeadline(time.Now().Add(r.HandshakeTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		s.m.drop("radsec_handshake")
		return
	}
	_ = c.SetDeadline(time.Time{})
	pin := sha256.Sum256(tc.ConnectionState().PeerCertificates[0].Raw)
	from := addrPort(c.RemoteAddr())
	w := &streamReplier{conn: tc}
	var base, mine *nas // the table's entry, and this connection's copy of it
	buf := make([]byte, maxPacket)
	for {
		_ = c.SetReadDeadline(time.Now().Add(r.IdleTimeout))
		if _, err := io.ReadFull(tc, buf[:4]); err != nil {
			return
		}
		n := int(buf[2])<<8 | int(buf[3])
		if n < 20 || n > maxPacket {
			s.m.drop("malformed") // the stream cannot be read past it
			return
		}
		if _, err := io.ReadFull(tc, buf[4:n]); err != nil {
			return
		}
		t := s.table.Load().certs[pin]
		if t == nil { // unpinned, or removed, since the handshake
			s.m.drop("unknown_certificate")
			return
		}
		if t != base { // the table was read again: the same budgets, the RadSec secret
			base = t
			cp := *t
			cp.secret, cp.macs, cp.radsec = []byte(radsecSecret), newMACs([]byte(radsecSecret)), true
			mine = &cp
		}
		s.admit(w, jobs, buf[:n], from, 0, mine)
	}
}

// streamReplier writes a connection's answers, one at a time, each within
// a deadline; a connection that cannot take one is closed.
type streamReplier struct {
	mu   sync.Mutex
	conn *tls.Conn
}

func (w *streamReplier) WriteTo(b []byte, _ net.Addr) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	n, err := w.conn.Write(b)
	if err != nil {
		_ = w.conn.Close()
	}
	return n, err
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
