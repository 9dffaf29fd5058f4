package resolvers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

// Requests whose client goes away, or whose deadline passes, part-way on
// every transport: no panic, no ERROR line, and never a 5xx whose body is
// null — a request past its deadline gets 503 with UNAVAILABLE.
func TestRequestsEndingMidway(t *testing.T) {
	url := dbtest.NewURL(t)
	ctx := context.Background()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, url, dbtest.Keys(t), db.Options{}))
	t.Cleanup(store.Close)
	events := service.NewEvents()
	events.ListenerUp(true)
	svc := service.New(store, dbtest.Keys(t), service.Options{TokenTTL: time.Hour, Events: events})
	serve := func(timeout time.Duration, logs *dbtest.Buffer) *httptest.Server {
		log := slog.New(slog.NewTextHandler(logs, nil))
		gql := resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, MaxBodyBytes: edge.MaxBodyBytes, Log: log, Streams: ctx})
		srv := httptest.NewServer(rest.NewHandler(rest.Deps{Service: svc, Log: log, Metrics: edge.NewMetrics(),
			RequestTimeout: timeout, PublicBaseURL: "http://localhost", GraphQL: gql}))
		t.Cleanup(srv.Close)
		return srv
	}
	f := newFixture(t, store, db.PropertyInput{})
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, f.property.ID)).Key
	query := `query($p: ID!) { property(propertyId: $p) { units(first: 100) { edges { node { number secret users { edges { node { userName devices { macAddress } } } } } } } } }`
	vars, _ := json.Marshal(map[string]any{"p": f.property.ID})
	body := `{"query":` + string(mustMarshal(query)) + `,"variables":` + string(vars) + `}`
	requests := map[string]func(base string) *http.Request{
		"POST": func(base string) *http.Request {
			r, _ := http.NewRequest("POST", base+"/graphql", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
		"POST graphql-response+json": func(base string) *http.Request {
			r, _ := http.NewRequest("POST", base+"/graphql", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/graphql-response+json")
			return r
		},
		"GET": func(base string) *http.Request {
			r, _ := http.NewRequest("GET", base+"/graphql?query="+queryEscape(query)+"&variables="+queryEscape(string(vars)), nil)
			return r
		},
		"SSE": func(base string) *http.Request {
			r, _ := http.NewRequest("POST", base+"/graphql", strings.NewReader(`{"query":"subscription($p: ID!, $u: ID) { unitUpdated(propertyId: $p, unitId: $u) { id } }","variables":{"p":"`+
				f.property.ID.String()+`","u":"`+f.unit.Unit.ID.String()+`"}}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "text/event-stream")
			return r
		},
	}
	t.Run("the client goes away", func(t *testing.T) {
		var logs dbtest.Buffer
		srv := serve(10*time.Second, &logs)
		for name, req := range requests { // each answers when left to finish
			r := req(srv.URL)
			r.Header.Set("Authorization", key)
			if name == "SSE" {
				continue
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"number":"101"`) {
				t.Fatalf("%s: %d %s", name, resp.StatusCode, b)
			}
		}
		for name, req := range requests {
			for range 150 {
				r := req(srv.URL)
				r.Header.Set("Authorization", key)
				rctx, cancel := context.WithTimeout(ctx, time.Duration(rand.IntN(3000))*time.Microsecond)
				resp, err := http.DefaultClient.Do(r.WithContext(rctx))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				cancel()
			}
			_ = name
		}
		// And WebSocket connections closed right behind an operation.
		l := &live{store: store, svc: svc, srv: srv}
		for range 50 {
			c := l.dial(t, key)
			next(t, c, "connection_ack")
			subscribe(t, c, "q", query, map[string]any{"p": f.property.ID})
			c.CloseNow()
		}
		if out := logs.String(); strings.Contains(out, "level=ERROR") || strings.Contains(out, "panic") {
			t.Fatalf("the server logged:\n%s", out)
		}
	})
	t.Run("the deadline passes", func(t *testing.T) {
		var logs dbtest.Buffer
		srv := serve(time.Millisecond, &logs)
		for name, req := range requests {
			if name == "SSE" {
				continue // a stream is exempt from the request deadline
			}
			for range 100 {
				r := req(srv.URL)
				r.Header.Set("Authorization", key)
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 && (strings.TrimSpace(string(b)) == "null" || !strings.Contains(string(b), "UNAVAILABLE")) {
					t.Fatalf("%s: %d %s", name, resp.StatusCode, b)
				}
			}
		}
		// 503s are logged as such (the access log's ERROR); nothing else is.
		if out := logs.String(); strings.Contains(out, "panic") || strings.Contains(out, "internal error") {
			t.Fatalf("the server logged:\n%s", out)
		}
	})
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func queryEscape(s string) string { return url.QueryEscape(s) }
