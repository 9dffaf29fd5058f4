package dbtest

import (
	"io"
	"net"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy in front of the test PostgreSQL that can fail the
// way networks do: Freeze stops forwarding on every open connection
// without closing it (a frozen middlebox, a dead NAT entry: the peer sees
// silence, not an error), Cut closes every open connection abruptly. New
// connections are forwarded as usual unless Hold is set, in which case
// they are accepted and then left unanswered (a black-holed server).
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  []*proxied
	hold   bool
	closed bool
	// slowUntil holds back what the open connections carry until then.
	slowUntil time.Time
}

type proxied struct {
	proxy          *Proxy
	client, server net.Conn
	frozen, done   chan struct{}
	freezeOnce     sync.Once
	doneOnce       sync.Once
}

// NewProxy starts a proxy to the server of databaseURL, closed when tb ends.
func NewProxy(tb testing.TB, databaseURL string) *Proxy {
	tb.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: u.Host}
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// URL is databaseURL with its host replaced by the proxy's.
func (p *Proxy) URL(databaseURL string) string {
	u, _ := url.Parse(databaseURL)
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		hold, closed := p.hold, p.closed
		p.mu.Unlock()
		if closed {
			c.Close()
			return
		}
		if hold {
			p.track(&proxied{client: c, frozen: make(chan struct{}), done: make(chan struct{})})
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxied{proxy: p, client: c, server: s, frozen: make(chan struct{}), done: make(chan struct{})}
		p.track(pc)
		go pc.pipe(c, s)
		go pc.pipe(s, c)
	}
}

func (p *Proxy) track(pc *proxied) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, pc)
}

// pipe copies from src to dst until either fails; once frozen it reads
// nothing more and writes nothing more, holding both sockets open.
func (pc *proxied) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-pc.frozen:
			<-pc.done // silent until the connection is cut
			return
		default:
		}
		if n > 0 {
			pc.proxy.mu.Lock()
			until := pc.proxy.slowUntil
			pc.proxy.mu.Unlock()
			if wait := time.Until(until); wait > 0 {
				time.Sleep(wait) // held back, never dropped
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if tc, ok := dst.(*net.TCPConn); ok && err == io.EOF {
				_ = tc.CloseWrite() // pass the goodbye on
			} else {
				_ = dst.Close()
			}
			return
		}
	}
}

// Freeze silences every open connection (new ones still pass).
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.conns {
		pc.freezeOnce.Do(func() { close(pc.frozen) })
	}
}

// Slow holds back everything the connections carry for d (a loaded
// machine, a congested link): late, but nothing is lost.
func (p *Proxy) Slow(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slowUntil = time.Now().Add(d)
}

// Cut closes every open connection abruptly.
func (p *Proxy) Cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, pc := range conns {
		pc.doneOnce.Do(func() { close(pc.done) })
		if tc, ok := pc.client.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a goodbye
		}
		pc.client.Close()
		if pc.server != nil {
			pc.server.Close()
		}
	}
}

// Hold makes new connections hang unanswered (true) or pass again (false).
func (p *Proxy) Hold(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold = on
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
}

// Allocated returns the bytes the process allocated while fn ran: the cost
// measure of tests that bound what an input may cost (unlike time, it does
// not depend on how busy the machine is).
func Allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
