package ratelimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
	"github.com/residentportal/bff/rest/ratelimit"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// server is the public surface with one guard over a frozen-clock limiter.
type server struct {
	srv      *httptest.Server
	registry *prometheus.Registry
	property model.Property
	unit     db.CreatedUnit
	limiter  *ratelimit.Memory
}

func newServer(t *testing.T) *server {
	t.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, dbtest.NewURL(t), dbtest.Keys(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	name := "Rate Court"
	p, err := store.CreateProperty(ctx, db.PropertyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	limiter := ratelimit.NewMemory(ratelimit.Config{Burst: 100, PerSecond: 80}, c.now, 0)
	registry := prometheus.NewRegistry()
	guard := ratelimit.NewGuard(limiter, registry)
	svc := resolvers.NewService(store, dbtest.Keys(t), resolvers.Options{LoginFailures: guard})
	gql := resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 1_000_000, MaxBodyBytes: edge.MaxBodyBytes,
		Interceptors: []graphql.HandlerExtension{guard.GraphQL()}})
	h := rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(), RequestTimeout: 10 * time.Second,
		PublicBaseURL: "http://localhost", GraphQL: gql, Guard: guard})
	s := &server{srv: httptest.NewServer(h), registry: registry, property: p, unit: u, limiter: limiter}
	t.Cleanup(s.srv.Close)
	return s
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (s *server) send(t *testing.T, method, path, body string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (s *server) rest(t *testing.T) reply {
	return s.send(t, "GET", fmt.Sprintf("/residents/properties/%s/access", s.property.ID), "")
}

func (s *server) graphql(t *testing.T, fields int) reply {
	var q strings.Builder
	q.WriteString("{")
	for i := range fields {
		fmt.Fprintf(&q, ` a%d: portalAccess(propertyId: \"%s\") { portalAllowed }`, i, s.property.ID)
	}
	q.WriteString("}")
	return s.send(t, "POST", "/graphql", `{"query":"`+q.String()+`"}`)
}

func TestOneBudgetForBothTransports(t *testing.T) {
	s := newServer(t)
	ok, limited := 0, 0
	for i := range 150 {
		var r reply
		if i%2 == 0 {
			r = s.rest(t)
		} else {
			r = s.graphql(t, 1)
		}
		if r.header.Get("RateLimit-Policy") != `"property";q=100;w=1` || !strings.HasPrefix(r.header.Get("RateLimit"), `"property";r=`) {
			t.Fatalf("headers: %q %q", r.header.Get("RateLimit-Policy"), r.header.Get("RateLimit"))
		}
		switch r.status {
		case 200:
			ok++
		case 429:
			limited++
			if r.header.Get("Retry-After") != "1" {
				t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
			}
			if i%2 == 0 {
				var e edge.ErrorBody
				if json.Unmarshal([]byte(r.body), &e) != nil || e.Status != "429 TOO_MANY_REQUESTS" {
					t.Fatalf("REST 429 body: %s", r.body)
				}
			} else if !strings.Contains(r.body, `"code":"RATE_LIMITED"`) {
				t.Fatalf("GraphQL 429 body: %s", r.body)
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if ok != 100 || limited != 50 {
		t.Fatalf("admitted %d, limited %d; want 100 and 50", ok, limited)
	}
	// The decisions are counted by transport and outcome.
	families, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			counts[f.GetName()+" "+strings.Join(labels, " ")] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"portal_ratelimit_decisions_total allowed rest": 50, "portal_ratelimit_decisions_total allowed graphql": 50,
		"portal_ratelimit_decisions_total limited rest": 25, "portal_ratelimit_decisions_total limited graphql": 25,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Fatalf("%s = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
}

func TestAliasesCountAndOversizedOperationsConsumeNothing(t *testing.T) {
	s := newServer(t)
	r := s.graphql(t, 150)
	if r.status != 429 || !strings.Contains(r.body, "RATE_LIMITED") {
		t.Fatalf("150 aliases: %d %s", r.status, r.body)
	}
	r = s.graphql(t, 60) // 60 of the untouched 100
	if r.status != 200 || !strings.Contains(r.header.Get("RateLimit"), "r=40;") {
		t.Fatalf("60 aliases: %d %q", r.status, r.header.Get("RateLimit"))
	}
	// A fragment spread twice under two aliases is two root fields.
	frag := fmt.Sprintf(`{"query":"query { ...F x: portalAccess(propertyId: \"%s\") { loginText } } fragment F on Query { y: portalAccess(propertyId: \"%s\") { portalAllowed } }"}`, s.property.ID, s.property.ID)
	r = s.send(t, "POST", "/graphql", frag)
	if r.status != 200 || !strings.Contains(r.header.Get("RateLimit"), "r=38;") {
		t.Fatalf("fragment: %d %q %s", r.status, r.header.Get("RateLimit"), r.body)
	}
}

func TestFailedLoginsStoppedPerClient(t *testing.T) {
	s := newServer(t)
	login := fmt.Sprintf("/residents/properties/%s/units/logins", s.property.ID)
	statuses := map[int]int{}
	for range 30 {
		statuses[s.send(t, "POST", login, `{"hashedSecret":"guess"}`).status]++
	}
	if statuses[401] != ratelimit.FailedLogins.Burst || statuses[429] != 30-ratelimit.FailedLogins.Burst {
		t.Fatalf("statuses = %v", statuses)
	}
	// The property lost only the attempts that reached it.
	d := s.limiter.Peek("property:" + s.property.ID.String())
	if d.Remaining != 100-ratelimit.FailedLogins.Burst {
		t.Fatalf("property bucket holds %d, want %d", d.Remaining, 100-ratelimit.FailedLogins.Burst)
	}
	// GraphQL logins share the client's budget.
	r := s.send(t, "POST", "/graphql", fmt.Sprintf(`{"query":"mutation { login(propertyId: \"%s\", hashedSecret: \"guess\") { token } }"}`, s.property.ID))
	if r.status != 429 || !strings.Contains(r.body, "RATE_LIMITED") {
		t.Fatalf("GraphQL login after the budget: %d %s", r.status, r.body)
	}
}

func TestNoPropertyChargesTheClient(t *testing.T) {
	s := newServer(t)
	r := s.send(t, "POST", "/graphql", `{"query":"{ __typename }"}`)
	if r.status != 200 || r.header.Get("RateLimit-Policy") != `"client";q=100;w=1` {
		t.Fatalf("%d %q", r.status, r.header.Get("RateLimit-Policy"))
	}
	r = s.send(t, "GET", "/residents/properties/not-a-uuid/access", "")
	if r.status != 400 || r.header.Get("RateLimit-Policy") != `"client";q=100;w=1` {
		t.Fatalf("%d %q", r.status, r.header.Get("RateLimit-Policy"))
	}
	if p := s.limiter.Peek("property:" + uuid.Nil.String()); p.Remaining != 100 {
		t.Fatal("a bogus id was charged as a property")
	}
}
