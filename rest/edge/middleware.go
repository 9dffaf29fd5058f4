package edge

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"
	"github.com/residentportal/bff/graph/model"
)

// RequestID returns the request id of ctx ("" outside a request).
func RequestID(ctx context.Context) string {
	if info := model.RequestInfoFrom(ctx); info != nil {
		return info.ID
	}
	return ""
}

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// newRequestID returns a random version-4 UUID. The id only correlates a
// response with its log lines and needs no secrecy, so its 122 random bits
// come from math/rand/v2's per-thread ChaCha8 stream (no system call, no
// lock) instead of crypto/rand, which costs several times as much per
// request.
func newRequestID() string {
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10 (RFC 9562)
	const hex = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		w := hi
		if i >= 8 {
			w = lo
		}
		v := byte(w >> (56 - 8*(i%8)))
		b[j], b[j+1] = hex[v>>4], hex[v&0xf]
		j += 2
	}
	return string(b[:])
}

// Start begins every request: its id (the caller's X-Request-Id when it is a
// short token, a new UUID otherwise; echoed in the response), its
// model.RequestInfo (see WithClientIP) and, when timeout is positive, its
// deadline: work past it fails fast (the service layer answers
// UNAVAILABLE). Streams get no deadline: their liveness and their
// credential bound them. One middleware, so that the request is copied
// once for all three.
func Start(timeout time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			if !safeRequestID.MatchString(id) {
				id = newRequestID()
			}
			w.Header()["X-Request-Id"] = []string{id}
			stream := Streaming(r)
			ctx := model.WithRequestInfo(r.Context(), &model.RequestInfo{ID: id, Stream: stream})
			if timeout > 0 && !stream {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// WithClientIP records the request's client address (ClientIP, with
// TRUSTED_PROXIES) for the rate limiter and the failed-login budget, in its
// model.RequestInfo: in place when Start put one there.
func WithClientIP(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if info := model.RequestInfoFrom(r.Context()); info != nil {
				info.ClientIP = ClientIP(r, trusted)
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r.WithContext(model.WithRequestInfo(r.Context(), &model.RequestInfo{ClientIP: ClientIP(r, trusted)})))
		})
	}
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush lets streaming handlers flush through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// RoutePattern is the chi route pattern of a served request ("unmatched"
// when no route matched), which keeps metric labels bounded.
func RoutePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// Observe logs every request (JSON, with its request id; never the
// Authorization header or a body) and records its metrics.
func Observe(log *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			elapsed := time.Since(start)
			route := RoutePattern(r)
			if Streaming(r) {
				// A subscription stream lasts minutes: its own series, so
				// that it does not stretch the route's request latencies.
				route += " (stream)"
			}
			if m != nil {
				m.observe(r.Method, route, rec.status, elapsed)
			}
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			if !log.Enabled(r.Context(), level) {
				return
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", RequestID(r.Context())),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path), // paths carry ids, never secrets
				slog.Int("status", rec.status),
				slog.Int("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			)
		})
	}
}

// Recover turns a panic into a logged 500 with the vendor error body and no
// stack trace in the response.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic", "request_id", RequestID(r.Context()),
						"panic", v, "stack", string(debug.Stack()))
					WriteError(w, http.StatusInternalServerError, "internal error", "", nil)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Streaming reports whether r opens a stream (a WebSocket upgrade or an
// SSE subscription), which lives past the request deadline: its liveness
// and its credential bound it instead.
func Streaming(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// APIContentSecurityPolicy is the CSP of every API response: nothing may be
// loaded or framed. The playground sets its own, narrower policy.
const APIContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

var (
	nosniff    = []string{"nosniff"}
	deny       = []string{"DENY"}
	noReferrer = []string{"no-referrer"}
	apiCSP     = []string{APIContentSecurityPolicy}
	noStore    = []string{"no-store"}
	hsts       = []string{"max-age=31536000"}
)

// SecurityHeaders sets the headers every response carries; HSTS only when
// the public base URL is https. A document's own two (X-Frame-Options,
// Referrer-Policy) are DocumentHeaders': on a JSON response they guard
// nothing (CSP's frame-ancestors already forbids framing, and a JSON body
// starts no navigation), and eight response headers fit Go's small map
// where nine cost a table and its clone on every request.
func SecurityHeaders(https bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Canonical keys, set straight into the map (Header.Set would
			// canonicalise each on every request), to values shared by
			// every response: a header is replaced or appended to, never
			// written in place, so none of them is ever modified.
			h := w.Header()
			h["X-Content-Type-Options"] = nosniff
			h["Content-Security-Policy"] = apiCSP
			h["Cache-Control"] = noStore
			if https {
				h["Strict-Transport-Security"] = hsts
			}
			next.ServeHTTP(w, r)
		})
	}
}

// DocumentHeaders adds, for the HTML documents of next (the playground,
// the residents' page), the headers only a document needs: no framing for
// browsers that predate CSP's frame-ancestors, and no Referer on the
// page's navigations and requests.
func DocumentHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Frame-Options"] = deny
		h["Referrer-Policy"] = noReferrer
		next.ServeHTTP(w, r)
	})
}

// CORS allows exactly the configured origins (none: no CORS headers at all).
func CORS(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return cors.Handler(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", "X-Request-Id"},
		ExposedHeaders: []string{"X-Request-Id", "RateLimit", "RateLimit-Policy", "Retry-After"},
		MaxAge:         600,
	})
}

// MaxBodyBytes is the largest request body accepted (64 KiB).
const MaxBodyBytes = 64 << 10

// LimitBody refuses bodies over limit with 413: at once when Content-Length
// says so, otherwise when a handler reads past it (see IsTooLarge).
func LimitBody(limit int64, tooLarge http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				tooLarge.ServeHTTP(w, r)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}

// IsTooLarge reports whether err comes from reading past the body limit.
func IsTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// ClientIP is the request's client address: the peer, or — when the peer is
// a trusted proxy — the right-most address of X-Forwarded-For that is not a
// trusted proxy (TRUSTED_PROXIES). Nobody else's X-Forwarded-For is believed.
// An IPv6 client is its /64 (see ClientPrefix).
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !isTrusted(trusted, peer) {
		return clientString(peer)
	}
	xff := r.Header.Get("X-Forwarded-For")
	if xff == "" {
		return clientString(peer) // the proxy's own request
	}
	hops := strings.Split(xff, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		raw := strings.TrimSpace(hops[i])
		hop, err := netip.ParseAddr(raw)
		if err != nil {
			// A hop that is not an address is what the trusted proxy saw
			// as its client: it is the client (bounded, so it cannot grow
			// a bucket key), never the proxy itself, which would make one
			// sender's budget everyone's behind it.
			if raw == "" {
				return "unknown-behind:" + peer.String()
			}
			return "unparsable:" + raw[:min(len(raw), 64)]
		}
		peer = hop.Unmap()
		if !isTrusted(trusted, peer) {
			break
		}
	}
	return clientString(peer)
}

// isTrusted reports whether a is one of the trusted proxies.
func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientPrefix is the block of addresses one client holds: an IPv4
// address, or the /64 an IPv6 address is in. SECURITY: a single IPv6
// subscriber is given a /64 (or more) and may send from any address in it,
// so a budget or a bound per IPv6 address would be one per attempt.
func ClientPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// clientString names a client for its budgets: its IPv4 address, or its
// IPv6 /64 ("2001:db8:1:2::/64").
func clientString(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	return ClientPrefix(a).String()
}
