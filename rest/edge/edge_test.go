package edge

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"OK direct", "203.0.113.7:5000", "", "203.0.113.7"},
		{"OK untrusted peer's header ignored", "203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},
		{"OK trusted proxy", "10.1.2.3:5000", "198.51.100.1", "198.51.100.1"},
		{"OK chain of proxies", "10.1.2.3:5000", "192.0.2.9, 198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"OK spoofed left-most ignored", "10.1.2.3:5000", "1.1.1.1, 198.51.100.1", "198.51.100.1"},
		// An IPv6 client is its /64: one subscriber may send from any address in it.
		{"OK IPv6", "[2001:db8::1]:5000", "", "2001:db8::/64"},
		{"OK IPv6 elsewhere in the /64", "[2001:db8::ffff:1:2:3]:5000", "", "2001:db8::/64"},
		{"OK IPv6 another /64", "[2001:db8:0:1::1]:5000", "", "2001:db8:0:1::/64"},
		{"OK IPv6 behind a proxy", "10.1.2.3:5000", "2001:db8:aa:bb:cc::7", "2001:db8:aa:bb::/64"},
		{"OK IPv4-mapped IPv6", "[::ffff:203.0.113.7]:5000", "", "203.0.113.7"},
		// An unparsable hop is the client, not the proxy (which would put
		// everyone behind it in one sender's bucket).
		{"OK malformed hop is the client", "10.1.2.3:5000", "garbage", "unparsable:garbage"},
		{"OK malformed hop behind proxies", "10.1.2.3:5000", "1.1.1.1, unknown, 10.9.9.9", "unparsable:unknown"},
		{"OK malformed hop bounded", "10.1.2.3:5000", strings.Repeat("x", 500), "unparsable:" + strings.Repeat("x", 64)},
		{"OK empty hop", "10.1.2.3:5000", "198.51.100.1, ", "unknown-behind:10.1.2.3"},
		{"OK proxy without a header", "10.1.2.3:5000", "", "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := ClientIP(r, trusted); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLimitBody(t *testing.T) {
	tooLarge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { WriteError(w, 413, "too large", "", nil) })
	h := LimitBody(10, tooLarge)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); IsTooLarge(err) {
			tooLarge(w, r)
			return
		}
		w.WriteHeader(204)
	}))
	for _, tt := range []struct {
		name    string
		body    string
		chunked bool
		want    int
	}{
		{"OK small", "0123456789", false, 204},
		{"ErrDeclaredLarge", "0123456789A", false, 413},
		{"ErrChunkedLarge", strings.Repeat("x", 100), true, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.chunked {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status = %d, want %d", w.Code, tt.want)
			}
		})
	}
}

func TestRecoverHidesThePanic(t *testing.T) {
	var logs strings.Builder
	h := Start(0)(Recover(slog.New(slog.NewJSONHandler(&logs, nil)))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internal detail")
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	var body ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != 500 || body.Status != "500 INTERNAL_SERVER_ERROR" || strings.Contains(w.Body.String(), "secret") ||
		strings.Contains(w.Body.String(), "goroutine") {
		t.Fatalf("response = %d %s", w.Code, w.Body.String())
	}
	if !strings.Contains(logs.String(), "secret internal detail") || !strings.Contains(logs.String(), w.Header().Get("X-Request-Id")) {
		t.Fatal("panic not logged with its request id")
	}
}

// Request metrics keep a bounded label set: any method outside HTTP's usual
// ones counts as OTHER.
func TestMetricsMethodLabel(t *testing.T) {
	m := NewMetrics()
	h := Observe(slog.New(slog.DiscardHandler), m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, method := range []string{"GET", "GET", "BREW", "X-" + strings.Repeat("A", 100)} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/x", nil))
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`portal_http_requests_total{method="GET",route="unmatched",status="200"} 2`,
		`portal_http_requests_total{method="OTHER",route="unmatched",status="200"} 2`} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "BREW") {
		t.Fatal("an unknown method became a label value")
	}
}

// The request id and the client address reach the handler in one
// RequestInfo, with or without Start before WithClientIP.
func TestRequestInfo(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	type idAndClient struct{ ID, ClientIP string }
	var got idAndClient
	seen := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		info := model.RequestInfoFrom(r.Context())
		got = idAndClient{info.ID, info.ClientIP}
		if RequestID(r.Context()) != got.ID || model.ClientIPFrom(r.Context()) != got.ClientIP {
			t.Error("accessors disagree with the RequestInfo")
		}
	})
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.1.2.3:4000"
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	req.Header.Set("X-Request-Id", "abc-1")
	rec := httptest.NewRecorder()
	Start(0)(WithClientIP(trusted)(seen)).ServeHTTP(rec, req)
	if got != (idAndClient{ID: "abc-1", ClientIP: "198.51.100.9"}) || rec.Header().Get("X-Request-Id") != "abc-1" {
		t.Fatalf("%+v, header %q", got, rec.Header().Get("X-Request-Id"))
	}
	WithClientIP(trusted)(seen).ServeHTTP(httptest.NewRecorder(), req)
	if got != (idAndClient{ClientIP: "198.51.100.9"}) {
		t.Fatalf("without a request id: %+v", got)
	}
}

// Start gives a request its deadline, and a stream none.
func TestStartDeadline(t *testing.T) {
	deadline := func(timeout time.Duration, header ...string) (time.Duration, bool) {
		var left time.Duration
		var ok bool
		h := Start(timeout)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			var d time.Time
			if d, ok = r.Context().Deadline(); ok {
				left = time.Until(d)
			}
		}))
		req := httptest.NewRequest("GET", "/", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		return left, ok
	}
	if left, ok := deadline(time.Minute); !ok || left <= 50*time.Second || left > time.Minute {
		t.Fatalf("request: deadline in %v (%v), want about a minute", left, ok)
	}
	if _, ok := deadline(0); ok {
		t.Fatal("timeout 0: the request got a deadline")
	}
	if _, ok := deadline(time.Minute, "Upgrade", "websocket", "Connection", "Upgrade"); ok {
		t.Fatal("a WebSocket upgrade got a deadline")
	}
	if _, ok := deadline(time.Minute, "Accept", "text/event-stream"); ok {
		t.Fatal("an SSE subscription got a deadline")
	}
}

// A request without an id of its own gets a fresh version-4 UUID, echoed
// in the response.
func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := newRequestID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("%q: %v, version %v, variant %v", id, err, u.Version(), u.Variant())
		}
		if seen[id] {
			t.Fatalf("%q twice", id)
		}
		seen[id] = true
	}
	for _, sent := range []string{"", "not a token!", strings.Repeat("a", 65)} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Request-Id", sent)
		rec := httptest.NewRecorder()
		var inside string
		Start(0)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { inside = RequestID(r.Context()) })).ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-Id")
		if _, err := uuid.Parse(got); err != nil || got != inside {
			t.Fatalf("sent %q: got %q, handler saw %q", sent, got, inside)
		}
	}
}

func BenchmarkNewRequestID(b *testing.B) {
	b.Run("math/rand/v2", func(b *testing.B) {
		for b.Loop() {
			_ = newRequestID()
		}
	})
	b.Run("uuid.NewString", func(b *testing.B) {
		for b.Loop() {
			_ = uuid.NewString()
		}
	})
}
