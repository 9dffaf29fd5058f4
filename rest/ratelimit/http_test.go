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

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
	"github.com/residentportal/bff/rest/ratelimit"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// server is the public surface with one guard over a frozen-clock limiter.
type server struct {
	store    *db.DB
	svc      *service.Service
	srv      *httptest.Server
	registry *prometheus.Registry
	property model.Property
	unit     db.CreatedUnit
	limiter  *ratelimit.Memory
	clock    *clock
}

// generous is a client bucket that tests not about it never exhaust.
var generous = ratelimit.Config{Burst: 1_000_000, PerSecond: 1_000_000}

func newServer(t *testing.T) *server { return newServerWith(t, generous) }

// newServerWith is newServer with client address buckets of shape clients.
func newServerWith(t *testing.T, clients ratelimit.Config) *server {
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
	guard := ratelimit.NewGuard(limiter, ratelimit.NewMemory(clients, c.now, 0), registry)
	svc := service.New(store, dbtest.Keys(t), service.Options{LoginFailures: guard})
	// Text bounds raised: operations of 150 aliased root fields are the
	// limiter's to refuse here.
	gql := resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 1_000_000, MaxBodyBytes: edge.MaxBodyBytes,
		Bounds:      resolvers.Bounds{Tokens: 100_000, Depth: 15, Fields: 10_000, Aliases: 1000, RootFields: 1000},
		RateLimiter: guard})
	h := rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(), RequestTimeout: 10 * time.Second,
		PublicBaseURL: "http://localhost", GraphQL: gql, Guard: guard})
	s := &server{store: store, svc: svc, srv: httptest.NewServer(h), registry: registry, property: p, unit: u, limiter: limiter, clock: c}
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
	return s.sendAs(t, "", method, path, body)
}

// sendAs is send with an Authorization header (none when credential is "").
func (s *server) sendAs(t *testing.T, credential, method, path, body string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if credential != "" {
		req.Header.Set("Authorization", credential)
	}
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
		// 50 operations, and one new document admitted for parsing.
		"portal_ratelimit_decisions_total allowed rest": 50, "portal_ratelimit_decisions_total allowed graphql": 51,
		"portal_ratelimit_decisions_total limited rest": 25, "portal_ratelimit_decisions_total limited graphql": 25,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Fatalf("%s = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
}

// A property's manager keys have a bucket of their own, as large as the
// residents': a consumer catching up on a backlog of changes (its claim
// checks) or a manager's script spends it, never the residents', and the
// other way round.
func TestManagerKeysHaveTheirOwnBucket(t *testing.T) {
	s := newServer(t)
	// As in portald: the notice listener is up, so a verified manager key
	// is remembered, and recognised when it is charged.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.store.ListenAuthChanges(ctx, s.svc.Authenticator(), slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); !s.svc.Authenticator().Caching(); {
		if time.Now().After(deadline) {
			t.Fatal("the notice listener did not come up")
		}
		<-time.After(10 * time.Millisecond)
	}
	key := dbtest.Must[db.CreatedManagerKey](t)(s.store.CreateManagerKey(context.Background(), s.property.ID)).Key
	r := s.send(t, "POST", fmt.Sprintf("/residents/properties/%s/units/logins", s.property.ID), `{"hashedSecret":"`+s.unit.PortalSecret+`"}`)
	var login struct{ Token string }
	if err := json.Unmarshal([]byte(r.body), &login); err != nil || login.Token == "" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	manager := func() reply {
		return s.sendAs(t, key, "POST", "/graphql", fmt.Sprintf(`{"query":"{ unit(propertyId: \"%s\", unitId: \"%s\") { id } }"}`, s.property.ID, s.unit.Unit.ID))
	}
	resident := func() reply {
		return s.sendAs(t, "Bearer "+login.Token, "GET", fmt.Sprintf("/residents/properties/%s/units", s.property.ID), "")
	}
	spend := func(call func() reply) (ok int) {
		for range 150 {
			switch r := call(); r.status {
			case 200:
				ok++
			case 429:
			default:
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		}
		return ok
	}
	manager() // the first call verifies the key (charged as an unknown credential's, to the client and the public bucket)
	if ok := spend(manager); ok != 100 {
		t.Fatalf("the managers' bucket admitted %d, want 100", ok)
	}
	if ok := spend(resident); ok != 100 {
		t.Fatalf("with the managers' bucket empty, the residents' admitted %d, want its 100", ok)
	}
	if r := manager(); r.status != 429 {
		t.Fatalf("the managers' bucket refilled from nowhere: %d", r.status)
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
	// The refusal advertises the budget it is: 10 a minute.
	if r := s.send(t, "POST", login, `{"hashedSecret":"guess"}`); r.header.Get("RateLimit-Policy") != `"failed-logins";q=10;w=60` {
		t.Fatalf("RateLimit-Policy = %q", r.header.Get("RateLimit-Policy"))
	}
	// The property's public bucket lost only the attempts that reached
	// it; the residents' bucket lost nothing.
	d := s.limiter.Peek("public:" + s.property.ID.String())
	if d.Remaining != 100-ratelimit.FailedLogins.Burst {
		t.Fatalf("public bucket holds %d, want %d", d.Remaining, 100-ratelimit.FailedLogins.Burst)
	}
	if d := s.limiter.Peek("property:" + s.property.ID.String()); d.Remaining != 100 {
		t.Fatalf("residents' bucket holds %d, want 100", d.Remaining)
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
	if r.status != 200 || r.header.Get("RateLimit-Policy") != `"client";q=1000000;w=1` {
		t.Fatalf("%d %q", r.status, r.header.Get("RateLimit-Policy"))
	}
	r = s.send(t, "GET", "/residents/properties/not-a-uuid/access", "")
	if r.status != 400 || r.header.Get("RateLimit-Policy") != `"client";q=1000000;w=1` {
		t.Fatalf("%d %q", r.status, r.header.Get("RateLimit-Policy"))
	}
	if p := s.limiter.Peek("property:" + uuid.Nil.String()); p.Remaining != 100 {
		t.Fatal("a bogus id was charged as a property")
	}
}

// Calls without a recognised credential are charged to their client
// address first and to the property's public bucket, never to the
// residents': a client flooding public routes, bogus credentials or
// invented property ids is stopped at its own budget, and residents keep
// theirs. (Before: 4 threads on GET …/access drained the property's bucket
// and a resident got 429 on 32 of 45 calls; 1,055 invented ids in 5 s were
// never limited.)
func TestAnonymousCallsCannotStarveResidents(t *testing.T) {
	clients := ratelimit.Config{Burst: 30, PerSecond: 10}
	s := newServerWith(t, clients)
	base := "/residents/properties/" + s.property.ID.String()
	r := s.send(t, "POST", base+"/units/logins", `{"hashedSecret":"`+s.unit.PortalSecret+`"}`)
	var login struct{ Token string }
	if r.status != 200 || json.Unmarshal([]byte(r.body), &login) != nil {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	floods := map[string]func(i int) reply{
		"public route": func(int) reply { return s.send(t, "GET", base+"/access", "") },
		"public GraphQL": func(int) reply {
			return s.send(t, "POST", "/graphql", `{"query":"{ portalAccess(propertyId: \"`+s.property.ID.String()+`\") { portalAllowed } }"}`)
		},
		"bogus token":  func(int) reply { return s.sendAs(t, "not-a-token", "GET", base+"/units", "") },
		"forged token": func(int) reply { return s.sendAs(t, login.Token[:len(login.Token)-4]+"AAAA", "GET", base+"/units", "") },
		"bogus manager key": func(int) reply {
			return s.sendAs(t, "rpmk_"+strings.Repeat("x", 40), "POST", "/graphql", `{"query":"{ unit(propertyId: \"`+s.property.ID.String()+`\") { id } }"}`)
		},
		"invented ids": func(int) reply { return s.send(t, "GET", "/residents/properties/"+uuid.NewString()+"/access", "") },
	}
	for name, flood := range floods {
		t.Run(name, func(t *testing.T) {
			s.clock.advance(time.Hour) // every bucket full again
			statuses := map[int]int{}
			for i := range 200 {
				statuses[flood(i).status]++
			}
			refused := 200 - clients.Burst
			if strings.Contains(name, "GraphQL") || strings.Contains(name, "manager") {
				refused++ // its document, new the first time, was charged too
			}
			if statuses[429] != refused {
				t.Fatalf("flood statuses %v: want %d refused", statuses, refused)
			}
			// The residents' bucket is whole: 100 calls pass, then 429.
			resident := map[int]int{}
			for range 101 {
				resident[s.sendAs(t, login.Token, "GET", base+"/units", "").status]++
			}
			if resident[200] != 100 || resident[429] != 1 {
				t.Fatalf("resident after the flood: %v", resident)
			}
		})
	}
}

// Each login field is charged to the failed-login budget before it is
// evaluated: 99 aliased logins in one mutation evaluate at most the budget
// (before: 98 guesses per request).
func TestLoginAliasesHeldToTheBudget(t *testing.T) {
	s := newServer(t)
	var q strings.Builder
	q.WriteString("mutation {")
	for i := range 99 {
		fmt.Fprintf(&q, ` l%d: login(propertyId: \"%s\", hashedSecret: \"guess%d\") { token }`, i, s.property.ID, i)
	}
	q.WriteString("}")
	r := s.send(t, "POST", "/graphql", `{"query":"`+q.String()+`"}`)
	unauthenticated, limited := strings.Count(r.body, `"UNAUTHENTICATED"`), strings.Count(r.body, `"RATE_LIMITED"`)
	if unauthenticated != ratelimit.FailedLogins.Burst || limited != 99-ratelimit.FailedLogins.Burst || r.status != 429 {
		t.Fatalf("%d: %d guesses evaluated, %d refused; want %d and %d", r.status, unauthenticated, limited,
			ratelimit.FailedLogins.Burst, 99-ratelimit.FailedLogins.Burst)
	}
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// A successful login does not spend the budget.
	s = newServer(t)
	for range 2 * ratelimit.FailedLogins.Burst {
		r := s.send(t, "POST", "/residents/properties/"+s.property.ID.String()+"/units/logins", `{"hashedSecret":"`+s.unit.PortalSecret+`"}`)
		if r.status != 200 {
			t.Fatalf("good login: %d %s", r.status, r.body)
		}
	}
}

// A document the server has not parsed before is charged to its client's
// bucket before it is parsed and validated (that work comes before any
// property is known); a cached one is not.
func TestNewDocumentsChargeTheClient(t *testing.T) {
	clients := ratelimit.Config{Burst: 30, PerSecond: 10}
	s := newServerWith(t, clients)
	r := s.send(t, "POST", "/residents/properties/"+s.property.ID.String()+"/units/logins", `{"hashedSecret":"`+s.unit.PortalSecret+`"}`)
	var login struct{ Token string }
	if r.status != 200 || json.Unmarshal([]byte(r.body), &login) != nil {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	query := func(i int) reply {
		return s.sendAs(t, login.Token, "POST", "/graphql",
			fmt.Sprintf(`{"query":"{ unit(propertyId: \"%s\") { id } } # %d"}`, s.property.ID, i))
	}
	statuses := map[int]int{}
	for i := range 40 {
		r := query(i)
		statuses[r.status]++
		if r.status == 429 && (!strings.Contains(r.body, `"RATE_LIMITED"`) || r.header.Get("Retry-After") == "") {
			t.Fatalf("refusal: %q %s", r.header.Get("Retry-After"), r.body)
		}
	}
	if statuses[200] != clients.Burst-1 || statuses[429] != 40-(clients.Burst-1) { // the login took one
		t.Fatalf("40 new documents: %v", statuses)
	}
	if r := query(0); r.status != 200 {
		t.Fatalf("a cached document: %d %s", r.status, r.body)
	}
}

// Subscribing costs one call per root field, like a query; its events
// cost nothing (they are not requests).
func TestSubscribingIsCharged(t *testing.T) {
	s := newServer(t)
	r := s.send(t, "POST", "/graphql", `{"query":"mutation { login(propertyId: \"`+s.property.ID.String()+`\", hashedSecret: \"`+s.unit.PortalSecret+`\") { token } }"}`)
	var login struct {
		Data struct{ Login struct{ Token string } }
	}
	if json.Unmarshal([]byte(r.body), &login) != nil || login.Data.Login.Token == "" {
		t.Fatalf("login: %s", r.body)
	}
	req, _ := http.NewRequest("POST", s.srv.URL+"/graphql", strings.NewReader(fmt.Sprintf(
		`{"query":"subscription { unitUpdated(propertyId: \"%s\") { id } }"}`, s.property.ID)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", login.Data.Login.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// 100 − 1 (a subscription has one root field); the login went to the
	// public bucket. (An SSE stream's headers are sent before the operation
	// is charged, so the charge shows in the bucket, not in RateLimit.)
	if d := s.limiter.Peek("property:" + s.property.ID.String()); d.Remaining != 99 {
		t.Fatalf("the residents' bucket holds %d after subscribing, want 99", d.Remaining)
	}
}

// An operation naming many properties charges each its own root fields,
// however many buckets it reaches (past a few, they are found by key).
func TestChargesAcrossManyProperties(t *testing.T) {
	s := newServer(t)
	ids := []uuid.UUID{s.property.ID}
	for range 11 {
		ids = append(ids, uuid.New())
	}
	var q strings.Builder
	q.WriteString("{")
	for i, id := range ids {
		for j := range i%3 + 1 {
			fmt.Fprintf(&q, ` a%d_%d: portalAccess(propertyId: \"%s\") { portalAllowed }`, i, j, id)
		}
	}
	q.WriteString("}")
	if r := s.send(t, "POST", "/graphql", `{"query":"`+q.String()+`"}`); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for i, id := range ids {
		if got, want := s.limiter.Peek("public:"+id.String()).Remaining, 100-(i%3+1); got != want {
			t.Errorf("property %d: %d left, want %d", i, got, want)
		}
	}
}
