package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// server is portald running in-process.
type server struct {
	public, metrics string
	stop            context.CancelFunc
	done            chan struct{} // closed when run returns, with its error in err
	err             error
	logs            *dbtest.Buffer
}

// seeded is a fresh database with one property (in) and its unit "1"; the
// store is closed when the test ends.
func seeded(t *testing.T, in db.PropertyInput) (dbURL string, store *db.DB, p model.Property, u db.CreatedUnit) {
	t.Helper()
	dbURL = dbtest.NewURL(t)
	ctx := context.Background()
	store = dbtest.Must[*db.DB](t)(db.Open(ctx, dbURL, dbtest.Keys(t), db.Options{}))
	t.Cleanup(store.Close)
	p = dbtest.Must[model.Property](t)(store.CreateProperty(ctx, in))
	u = dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	return dbURL, store, p, u
}

func start(tb testing.TB, env map[string]string, extra func(chi.Router)) *server {
	tb.Helper()
	return startWith(tb, env, hooks{extra: extra})
}

// startWith is start with test hooks (ready is the test's own).
func startWith(tb testing.TB, env map[string]string, h hooks) *server {
	tb.Helper()
	base := map[string]string{
		"DATABASE_URL": dbtest.NewURL(tb), "SECRET_KEY": dbtest.TestSecretKey,
		"LISTEN_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0", "SHUTDOWN_GRACE": "5s", "SHUTDOWN_DRAIN": "100ms",
		// Tests not about the limiter: every request comes from 127.0.0.1.
		"CLIENT_RATE_LIMIT_BURST": "1000000", "CLIENT_RATE_LIMIT_PER_SECOND": "1000000",
	}
	for k, v := range env {
		base[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stop: cancel, done: make(chan struct{}), logs: &dbtest.Buffer{}}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		h.ready = func(p, m string) { s.public, s.metrics = "http://"+p, "http://"+m; close(ready) }
		s.err = run(ctx, func(k string) string { return base[k] }, s.logs, h)
	}()
	select {
	case <-ready:
	case <-s.done:
		tb.Fatalf("portald exited: %v\n%s", s.err, s.logs.String())
	case <-time.After(30 * time.Second):
		tb.Fatal("portald did not start")
	}
	tb.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
	})
	return s
}

func get(tb testing.TB, url string, header ...string) (*http.Response, string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestProbesMetricsAndHeaders(t *testing.T) {
	s := start(t, map[string]string{"CORS_ALLOWED_ORIGINS": "https://portal.example.com"}, nil)

	resp, body := get(t, s.public+"/healthz")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("/healthz = %d %s", resp.StatusCode, body)
	}
	// The root points at the page, the playground and the API's documents.
	if resp, body := get(t, s.public+"/"); resp.StatusCode != 200 || !strings.Contains(body, `"playground":"/graphiql"`) ||
		!strings.Contains(body, `"portal":"/portal/"`) || !strings.Contains(body, `"openapi":"/v3/api-docs"`) {
		t.Fatalf("/ = %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, s.public+"/readyz", "X-Request-Id", "probe-1")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ready"`) {
		t.Fatalf("/readyz = %d %s", resp.StatusCode, body)
	}
	for h, want := range map[string]string{"X-Request-Id": "probe-1", "X-Content-Type-Options": "nosniff",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); !strings.HasPrefix(got, want) {
			t.Fatalf("%s = %q, want %q", h, got, want)
		}
	}
	// A document's headers are on documents (the playground here), not on
	// JSON, whose headers stay within eight.
	if resp.Header.Get("X-Frame-Options") != "" || len(resp.Header) > 8+2 { // + Date, Content-Length
		t.Fatalf("/readyz headers: %v", resp.Header)
	}
	resp, _ = get(t, s.public+"/graphiql")
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("/graphiql headers: %v", resp.Header)
	}
	resp, _ = get(t, s.public+"/healthz", "Origin", "https://portal.example.com")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://portal.example.com" {
		t.Fatal("configured origin not allowed")
	}
	resp, _ = get(t, s.public+"/healthz", "Origin", "https://evil.example.com")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("unconfigured origin allowed")
	}

	// One GraphQL operation for each executor (GET: a query in the URL).
	for _, q := range []string{`{ __typename }`, `{ portalAccess(propertyId: "` + uuid.NewString() + `") { portalAllowed } }`} {
		if resp, body := get(t, s.public+"/graphql?query="+url.QueryEscape(q)); resp.StatusCode != 200 {
			t.Fatalf("GET /graphql %s = %d %s", q, resp.StatusCode, body)
		}
	}

	// /metrics is served on METRICS_ADDR only.
	resp, body = get(t, s.public+"/metrics")
	if resp.StatusCode != 404 || !strings.Contains(body, `"404 NOT_FOUND"`) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("public /metrics = %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, s.metrics+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`portal_http_requests_total{method="GET",route="/healthz",status="200"} 3`,
		`portal_http_request_duration_seconds_bucket{method="GET",route="/readyz"`,
		`portal_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		"portal_db_statements_total", "portal_db_pool_max_conns", "go_goroutines",
		`portal_graphql_operations_total{executor="direct"} 1`, `portal_graphql_operations_total{executor="gqlgen"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	// Logs are JSON lines carrying the request id.
	if !strings.Contains(s.logs.String(), `"request_id":"probe-1"`) {
		t.Fatalf("logs lack the request id:\n%s", s.logs.String())
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s := start(t, nil, func(r chi.Router) {
		r.Get("/slow", func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
			w.Write([]byte("finished"))
		})
	})
	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.public + "/slow")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inflight <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-entered
	s.stop() // what SIGTERM does
	// New connections are refused once shutdown has begun.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		_, err := c.Get(s.public + "/healthz")
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new requests still accepted during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	r := <-inflight
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Fatalf("in-flight request = %+v", r)
	}
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatalf("run returned %v", s.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("portald did not exit within the grace period")
	}
}

func TestBadConfiguration(t *testing.T) {
	err := run(context.Background(), func(k string) string {
		return map[string]string{"SECRET_KEY": "short", "TOKEN_TTL": "forever", "LISTEN_ADDR": "nope"}[k]
	}, io.Discard, hooks{})
	for _, want := range []string{"SECRET_KEY", "TOKEN_TTL", "LISTEN_ADDR"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v does not name %s", err, want)
		}
	}
}
