// Package radius answers access points over RADIUS (SPEC §9): Access-Requests
// on one UDP socket, decided by the service layer like any other transport's
// requests. The codec is layeh.com/radius; this package holds what a server
// adds around it: who may ask (the NAS table), the Blast-RADIUS rule,
// retransmissions, bounds on work per NAS and in all, and each profile's
// reply attributes.
package radius

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
	"layeh.com/radius"
)

// Options configure a Server. Zero values take the defaults below.
type Options struct {
	Log      *slog.Logger
	Registry prometheus.Registerer
	// Refresh is how often the NAS table is read again (access points
	// added, removed or given a new secret, on any replica).
	Refresh time.Duration
	// Workers decide requests at once; Queue more wait for one. A packet
	// that finds the queue full is dropped (the access point retries).
	Workers, Queue int
	// PerNAS and PerNASBurst bound one access point's requests a second;
	// Global and GlobalBurst all of them: work past either is dropped,
	// never queued, so one access point cannot starve another.
	PerNAS, Global           float64
	PerNASBurst, GlobalBurst int
	// SearchPerNAS and Search bound the dynamic-PSK handshakes a second
	// that must search the property's identities (about 20 ms of CPU each
	// among 10,000), per access point and in all (bursts of twice as many):
	// past either the request is dropped, so a flood of unknown devices
	// costs at most Search × 20 ms of CPU a second.
	SearchPerNAS, Search float64
	// Deadline bounds a request's work (the service's reads): an access
	// point retries after a few seconds, and a late answer is no answer.
	Deadline time.Duration
	// Replay is how long a reply is kept for a retransmission (RFC 5080).
	Replay time.Duration
	// RadSec, when set, serves RADIUS over TLS (RFC 6614) beside UDP, with
	// the same workers, budgets and decisions.
	RadSec *RadSec
	// Tracing, when set, gives every decided request a span ("radius
	// Access-Request", "radius Accounting-Request") with its access
	// point, result and reason; the service's statements are its children.
	Tracing trace.TracerProvider
}

const (
	DefaultRefresh  = 5 * time.Second
	DefaultQueue    = 1024
	DefaultDeadline = 2 * time.Second
	DefaultReplay   = 30 * time.Second
	// maxPacket is RFC 2865's largest packet; anything longer is malformed.
	maxPacket = 4096
	// maxReplies and replyBytes bound the retransmission cache: about a
	// second of replies at 25,000 requests a second, 30 s at 1,000 (6 MiB).
	maxReplies = 1 << 15
	replyBytes = 4 << 20
)

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Workers <= 0 {
		o.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if o.Queue <= 0 {
		// Access points send in bursts (a controller for hundreds): about
		// 20 ms of work at full speed, and at most 4 MiB of packets.
		o.Queue = DefaultQueue
	}
	if o.PerNAS <= 0 {
		o.PerNAS, o.PerNASBurst = 200, 400
	}
	if o.Global <= 0 {
		o.Global, o.GlobalBurst = 2000, 4000
	}
	if o.PerNASBurst <= 0 {
		o.PerNASBurst = int(o.PerNAS)
	}
	if o.GlobalBurst <= 0 {
		o.GlobalBurst = int(o.Global)
	}
	if o.SearchPerNAS <= 0 {
		o.SearchPerNAS = 5
	}
	if o.Search <= 0 {
		o.Search = 20
	}
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.Replay <= 0 {
		o.Replay = DefaultReplay
	}
}

// Server is the RADIUS server of one portald.
type Server struct {
	svc     *service.Service
	opts    Options
	table   atomic.Pointer[table]
	global  *rate.Limiter
	search  *rate.Limiter // all handshakes that search (see nas.search)
	replies *replyCache
	m       *metrics
	tracer  trace.Tracer // nil without Options.Tracing
}

// New returns a server deciding with svc. Its NAS table is empty until Run
// has read it.
func New(svc *service.Service, opts Options) *Server {
	opts.defaults()
	s := &Server{svc: svc, opts: opts, global: rate.NewLimiter(rate.Limit(opts.Global), opts.GlobalBurst),
		search:  rate.NewLimiter(rate.Limit(opts.Search), 2*int(math.Ceil(opts.Search))),
		replies: newReplyCache(opts.Replay, maxReplies, replyBytes), m: newMetrics(opts.Registry)}
	if opts.Tracing != nil {
		s.tracer = opts.Tracing.Tracer("github.com/residentportal/bff/resolvers/radius")
	}
	s.table.Store(&table{})
	return s
}

// nas is an access point in the table, with its budget.
type nas struct {
	model.NASClient
	secret []byte
	macs   *macs
	budget *rate.Limiter
	// search bounds its handshakes that must search the property's
	// identities (dynamic PSK's expensive path).
	search *rate.Limiter
	// radsec: a RadSec connection's copy (its secret "radsec").
	radsec bool
}

// table finds the access point a packet comes from: single addresses by
// map, networks by a scan (few; they cannot overlap, see the migration).
type table struct {
	hosts    map[netip.Addr]*nas
	networks []*nas
	// certs finds a RadSec connection's access point by its pinned
	// certificate.
	certs map[[32]byte]*nas
}

func (t *table) lookup(a netip.Addr) *nas {
	a = a.Unmap()
	if n := t.hosts[a]; n != nil {
		return n
	}
	for _, n := range t.networks {
		if n.Address.Contains(a) {
			return n
		}
	}
	return nil
}

// Refresh reads the NAS table again; budgets of access points that stay
// are kept. UNAVAILABLE when the store is (the old table stays).
func (s *Server) Refresh(ctx context.Context) error {
	all, err := s.svc.NASClients(ctx)
	if err != nil {
		return err
	}
	old := s.table.Load()
	t := &table{hosts: make(map[netip.Addr]*nas, len(all)), certs: map[[32]byte]*nas{}}
	for _, c := range all {
		n := &nas{NASClient: c, secret: []byte(c.Secret), macs: newMACs([]byte(c.Secret))}
		if prev := old.byID(c.ID); prev != nil {
			n.budget, n.search = prev.budget, prev.search
		} else {
			n.budget = rate.NewLimiter(rate.Limit(s.opts.PerNAS), s.opts.PerNASBurst)
			n.search = rate.NewLimiter(rate.Limit(s.opts.SearchPerNAS), 2*int(math.Ceil(s.opts.SearchPerNAS)))
		}
		if len(c.CertSHA256) == 32 {
			t.certs[[32]byte(c.CertSHA256)] = n
		}
		if c.Address.IsSingleIP() {
			t.hosts[c.Address.Addr()] = n
		} else {
			t.networks = append(t.networks, n)
		}
	}
	s.table.Store(t)
	s.m.nas.Set(float64(len(all)))
	return nil
}

func (t *table) byID(id [16]byte) *nas {
	for _, n := range t.hosts {
		if n.ID == id {
			return n
		}
	}
	for _, n := range t.networks {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// job is one packet handed to a worker, with where to answer it.
type job struct {
	b    []byte
	from netip.AddrPort
	nas  *nas
	key  replyKey
	conn replier
}

// replier is where a request's answer goes: the UDP socket it came on
// (net.PacketConn), or its RadSec connection.
type replier interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
}

// Serve answers Access-Requests on auth and Accounting-Requests on acct
// (nil: none) until ctx ends (then it closes both), keeping the NAS table
// fresh. It returns nil when ctx ended.
func (s *Server) Serve(ctx context.Context, auth, acct net.PacketConn) error {
	if err := s.Refresh(ctx); err != nil {
		s.opts.Log.WarnContext(ctx, "radius: the access points could not be read; retrying", "error", err.Error())
	}
	jobs := make(chan job, s.opts.Queue)
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.handle(ctx, j)
			}
		}()
	}
	refresh := time.NewTicker(s.opts.Refresh)
	// A change to the access points is read at once on its notice (and
	// after the notice connection was away); the ticker is the safety net.
	kick := make(chan struct{}, 1)
	if ev := s.svc.Events(); ev != nil {
		poke := func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		ev.WatchAccessPoints(func(uuid.UUID) { poke() }, func(up bool) {
			if up {
				poke()
			}
		})
	}
	stop := context.AfterFunc(ctx, func() {
		_ = auth.Close()
		if acct != nil {
			_ = acct.Close()
		}
	})
	go func() {
		for {
			select {
			case <-ctx.Done():
				refresh.Stop()
				return
			case <-refresh.C:
				if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
					s.opts.Log.WarnContext(ctx, "radius: the access points could not be read again", "error", err.Error())
				}
				s.replies.sweep(time.Now())
			case <-kick:
				if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
					s.opts.Log.WarnContext(ctx, "radius: the access points could not be read again", "error", err.Error())
				}
			}
		}
	}()
	// A reader per CPU on each socket (concurrent reads of one UDP socket
	// are safe): one alone falls behind a burst while the workers hold the
	// CPUs, and the packets wait in the kernel's buffer.
	var readers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		if acct != nil {
			readers.Add(1)
			go func() {
				defer readers.Done()
				s.read(ctx, acct, jobs, radius.CodeAccountingRequest)
			}()
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			s.read(ctx, auth, jobs, radius.CodeAccessRequest)
		}()
	}
	if s.opts.RadSec != nil {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s.serveRadSec(ctx, jobs)
		}()
	}
	readers.Wait()
	stop()
	close(jobs)
	wg.Wait()
	return nil
}

// read takes the packets of one socket (of code want) until it is closed.
func (s *Server) read(ctx context.Context, conn net.PacketConn, jobs chan<- job, want radius.Code) {
	udp, _ := conn.(*net.UDPConn)
	buf := make([]byte, maxPacket+1)
	for {
		var n int
		var from netip.AddrPort
		var err error
		if udp != nil {
			n, from, err = udp.ReadFromUDPAddrPort(buf)
		} else {
			var a net.Addr
			n, a, err = conn.ReadFrom(buf)
			if ua, ok := a.(*net.UDPAddr); ok {
				from = ua.AddrPort()
			}
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.opts.Log.WarnContext(ctx, "radius: read failed", "error", err.Error())
			continue
		}
		s.admit(conn, jobs, buf[:n], from, want, nil)
	}
}

// admit does the cheap checks on the reader, in order of cost — size,
// source, code, budgets, retransmission — and queues what passes. n is the
// access point when the transport knows it (RadSec: by its certificate),
// nil to find it by the packet's source; want 0 takes either request code.
func (s *Server) admit(conn replier, jobs chan<- job, b []byte, from netip.AddrPort, want radius.Code, n *nas) {
	if len(b) < 20 || len(b) > maxPacket || int(b[2])<<8|int(b[3]) < 20 || int(b[2])<<8|int(b[3]) > len(b) {
		s.m.drop("malformed")
		return
	}
	b = b[:int(b[2])<<8|int(b[3])] // bytes past the length are padding (RFC 2865 §3)
	if n == nil {
		n = s.table.Load().lookup(from.Addr())
	}
	code := radius.Code(b[0])
	switch {
	case n == nil:
		s.m.drop("unknown_source")
		return
	case want != 0 && code != want, want == 0 && code != radius.CodeAccessRequest && code != radius.CodeAccountingRequest:
		s.m.drop("unexpected_code")
		return
	}
	key := keyOf(from, b[1], [16]byte(b[4:20]))
	if reply, seen := s.replies.get(key, time.Now()); seen {
		if reply != nil { // answered: the same answer (RFC 5080 §2.2.2)
			s.m.retransmitted.Inc()
			_, _ = conn.WriteTo(reply, net.UDPAddrFromAddrPort(from))
		} else { // still being decided: the answer will come
			s.m.drop("in_progress")
		}
		return
	}
	if !n.budget.Allow() {
		s.m.drop("nas_budget")
		return
	}
	if !s.global.Allow() {
		s.m.drop("global_budget")
		return
	}
	if !s.replies.start(key, time.Now()) {
		s.m.drop("in_progress") // the same packet, read at once by another reader
		return
	}
	select {
	case jobs <- job{b: append([]byte(nil), b...), from: from, nas: n, key: key, conn: conn}:
	default:
		s.replies.forget(key)
		s.m.drop("busy")
	}
}

// handle decides one request and answers it.
func (s *Server) handle(ctx context.Context, j job) {
	start := time.Now()
	var reply []byte
	var result, reason string
	name := "radius Access-Request"
	if radius.Code(j.b[0]) == radius.CodeAccountingRequest {
		name = "radius Accounting-Request"
	}
	var span trace.Span
	if s.tracer != nil {
		ctx, span = s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("radius.nas", j.nas.Name), attribute.String("radius.nas.profile", string(j.nas.Profile))))
		defer func() {
			span.SetAttributes(attribute.String("radius.result", result), attribute.String("radius.reason", reason))
			if reply == nil {
				span.SetAttributes(attribute.Bool("radius.dropped", true))
			}
			span.End()
		}()
	}
	if radius.Code(j.b[0]) == radius.CodeAccountingRequest {
		reply, result = s.account(ctx, j), "accounted"
	} else {
		reply, result, reason = s.decide(ctx, j)
	}
	if reply == nil {
		s.replies.forget(j.key)
		return
	}
	s.replies.finish(j.key, reply, time.Now())
	// Counted before it is sent: whoever reads the metrics after the
	// answer finds it counted.
	s.m.requests.WithLabelValues(result, reason).Inc()
	if _, err := j.conn.WriteTo(reply, net.UDPAddrFromAddrPort(j.from)); err != nil && ctx.Err() == nil {
		s.opts.Log.WarnContext(ctx, "radius: a reply could not be sent", "nas", j.nas.Name, "error", err.Error())
	}
	s.m.seconds.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

// decide parses and checks the request and asks the service; a nil reply
// means the packet is dropped (counted).
func (s *Server) decide(ctx context.Context, j job) (reply []byte, result, reason string) {
	p, err := radius.Parse(j.b, j.nas.secret)
	if err != nil {
		s.m.drop("malformed")
		return nil, "", ""
	}
	// SECURITY (Blast-RADIUS, CVE-2024-3596): an Access-Request counts only
	// with a valid Message-Authenticator.
	switch verifyRequest(j.b, j.nas.macs) {
	case errNoAuthenticator:
		if j.nas.radsec { // TLS authenticates the packet (RFC 6614); one that has it must be right
			break
		}
		s.m.drop("no_message_authenticator")
		return nil, "", ""
	case errBadAuthenticator:
		s.m.drop("bad_message_authenticator")
		return nil, "", ""
	}
	mac := attrString(p, attrCallingStationID)
	if mac == "" {
		mac = attrString(p, attrUserName)
	}
	called := attrString(p, attrCalledStationID)
	ssid := ssidOf(called)
	ctx, cancel := context.WithTimeout(ctx, s.opts.Deadline)
	defer cancel()
	var access service.Access

	// Dynamic PSK: the handshake as hostapd sends it (wpa_psk_radius=3), or
	// as Ruckus's external DPSK does (Ruckus-DPSK-Params, with the SSID and
	// BSSID in Ruckus-SSID and Ruckus-BSSID where it sends them).
	anonce, frame, aa := evs(p, vendorFreeRADIUS, 1), evs(p, vendorFreeRADIUS, 2), bssidOf(called)
	if params := vendorAttr(p, vendorRuckus, ruckusDPSKParams); params != nil && anonce == nil && frame == nil {
		anonce, frame = subTLV(params, ruckusDPSKAnonce), subTLV(params, ruckusDPSKKeyMsg)
		if anonce == nil {
			anonce = []byte{} // a handshake all the same: refused as unreadable
		}
		if v := vendorAttr(p, vendorRuckus, ruckusSSID); len(v) > 0 {
			ssid = string(v)
		}
		if v := vendorAttr(p, vendorRuckus, ruckusBSSID); len(v) == 6 {
			aa = net.HardwareAddr(v).String()
		}
	}
	if anonce != nil || frame != nil {
		access, err = s.svc.AuthorizeHandshake(ctx, j.nas.NASClient, service.Handshake{SPA: mac, AA: aa,
			SSID: ssid, ANonce: anonce, Frame: frame, MaySearch: func() bool { return j.nas.search.Allow() && s.search.Allow() }})
		if errors.Is(err, service.ErrSearchBudget) {
			s.m.drop("search_budget") // not a reject: the device's passphrase may be right
			return nil, "", ""
		}
		s.m.tried.Observe(float64(access.Tried))
	} else {
		access, err = s.svc.AuthorizeMAC(ctx, j.nas.NASClient, mac, ssid)
	}
	if err != nil {
		// No answer: the access point retries, or asks another server.
		s.m.drop("unavailable")
		s.opts.Log.WarnContext(ctx, "radius: a request could not be decided", "nas", j.nas.Name, "error", err.Error())
		return nil, "", ""
	}
	if !access.Granted {
		out, err := encodeReply(p, radius.CodeAccessReject, j.nas.macs, func(r *radius.Packet) error {
			return addString(r, attrReplyMessage, access.Reason)
		})
		if err != nil {
			s.m.drop("encode")
			return nil, "", ""
		}
		return out, "reject", reasonLabel(access.Reason)
	}
	out, err := encodeReply(p, radius.CodeAccessAccept, j.nas.macs, func(r *radius.Packet) error {
		return grant(r, j.nas.Profile, access)
	})
	if err != nil {
		s.m.drop("encode")
		s.opts.Log.ErrorContext(ctx, "radius: an Access-Accept could not be encoded", "nas", j.nas.Name, "error", err.Error())
		return nil, "", ""
	}
	return out, "accept", ""
}

// account records an Accounting-Request and returns its Accounting-Response
// (nil: dropped, counted). The response goes out only once the report is
// stored (RFC 2866 §2): a database that does not answer gets no response,
// and the access point sends it again.
func (s *Server) account(ctx context.Context, j job) []byte {
	if !radius.IsAuthenticRequest(j.b, j.nas.secret) {
		s.m.drop("bad_authenticator")
		return nil
	}
	p, err := radius.Parse(j.b, j.nas.secret)
	if err != nil {
		s.m.drop("malformed")
		return nil
	}
	if _, has := findAttribute(j.b, attrMessageAuthenticator); has && verifyRequest(j.b, j.nas.macs) != nil {
		s.m.drop("bad_message_authenticator")
		return nil
	}
	var status model.AcctStatus
	if a, ok := p.Lookup(attrAcctStatusType); ok && len(a) == 4 {
		status = model.AcctStatus(uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]))
	}
	mac := attrString(p, attrCallingStationID)
	if mac == "" {
		mac = attrString(p, attrUserName)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Deadline)
	defer cancel()
	if err := s.svc.Account(ctx, j.nas.NASClient, status, mac, attrString(p, attrAcctSessionID), j.from.Addr().Unmap()); err != nil {
		s.m.drop("unavailable")
		s.opts.Log.WarnContext(ctx, "radius: an accounting request could not be stored", "nas", j.nas.Name, "error", err.Error())
		return nil
	}
	out, err := encodeReply(p, radius.CodeAccountingResponse, j.nas.macs, func(*radius.Packet) error { return nil })
	if err != nil {
		s.m.drop("encode")
		return nil
	}
	return out
}

// bssidOf is the BSSID of a Called-Station-Id, "<BSSID>:<SSID>" (the
// whole value without an SSID).
func bssidOf(called string) string {
	if ssid := ssidOf(called); ssid != "" {
		return called[:len(called)-len(ssid)-1]
	}
	return called
}

// ssidOf is the SSID of a Called-Station-Id, "<BSSID>:<SSID>" (the BSSID
// in any MAC notation); "" without one.
func ssidOf(called string) string {
	for _, n := range []int{17, 14, 12} { // aa:bb:cc:dd:ee:ff, aabb.ccdd.eeff, aabbccddeeff
		if len(called) > n && called[n] == ':' {
			if _, err := model.ParseMAC(called[:n]); err == nil {
				return called[n+1:]
			}
		}
	}
	return ""
}

func reasonLabel(reason string) string {
	switch reason {
	case service.RefusedUnknownDevice:
		return "unknown_device"
	case service.RefusedAmbiguous:
		return "ambiguous_device"
	case service.RefusedBlocked:
		return "identity_blocked"
	case service.RefusedUnitDisabled:
		return "unit_disabled"
	case service.RefusedSSID:
		return "ssid"
	case service.RefusedHandshake:
		return "bad_handshake"
	case service.RefusedNoMatch:
		return "no_match"
	case service.RefusedDeviceLimit:
		return "device_limit"
	case service.RefusedDeviceRemoved:
		return "device_removed"
	}
	return "other"
}
