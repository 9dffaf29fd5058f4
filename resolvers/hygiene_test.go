package resolvers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

// endpoint builds the public handler around a GraphQL endpoint with opts.
func endpoint(tb testing.TB, svc *service.Service, opts resolvers.GraphQLOptions) http.Handler {
	tb.Helper()
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = edge.MaxBodyBytes
	}
	opts.RequestID = edge.RequestID
	return rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(),
		RequestTimeout: 10 * time.Second, PublicBaseURL: "http://localhost", GraphQL: resolvers.NewGraphQLHandler(svc, opts)})
}

// send serves one request with optional header name/value pairs.
func send(h http.Handler, method, target, body string, header ...string) (int, string) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func TestPersistedQueries(t *testing.T) {
	a := newAPI(t)
	f := newFixture(t, a.store, db.PropertyInput{})
	query := fmt.Sprintf(`{ portalAccess(propertyId: "%s") { portalAllowed } }`, f.property.ID)
	sum := sha256.Sum256([]byte(query))
	ext := fmt.Sprintf(`"extensions":{"persistedQuery":{"version":1,"sha256Hash":"%s"}}`, hex.EncodeToString(sum[:]))

	status, body := a.post(t, `{`+ext+`}`)
	if status != 200 || !strings.Contains(body, "PERSISTED_QUERY_NOT_FOUND") {
		t.Fatalf("unknown hash: %d %s", status, body)
	}
	q, _ := json.Marshal(query)
	status, body = a.post(t, `{"query":`+string(q)+`,`+ext+`}`)
	if status != 200 || !strings.Contains(body, `"portalAllowed":true`) {
		t.Fatalf("register: %d %s", status, body)
	}
	status, body = a.post(t, `{`+ext+`}`)
	if status != 200 || !strings.Contains(body, `"portalAllowed":true`) {
		t.Fatalf("by hash: %d %s", status, body)
	}
	// GET works too, for queries.
	status, body = send(a.handler, "GET", "/graphql?query="+url.QueryEscape(query), "")
	if status != 200 || !strings.Contains(body, `"portalAllowed":true`) {
		t.Fatalf("GET: %d %s", status, body)
	}
	status, body = send(a.handler, "GET", "/graphql?query="+url.QueryEscape(`mutation { resetPortalAccess(propertyId: "`+f.property.ID.String()+`") }`), "")
	if status != 405 || !strings.Contains(body, `"code":"BAD_REQUEST"`) || strings.Count(body, `"errors"`) != 1 {
		t.Fatalf("a mutation over GET: %d %s", status, body)
	}
}

func TestComplexity(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	h := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, Introspection: true})
	pid := uuid.New()
	// The manager query of the contract is admitted (it fails later, for want of a key).
	status, body := send(h, "POST", "/graphql", mustJSON(map[string]any{"query": managerQuery, "variables": map[string]any{"p": pid}}))
	if status != 200 || strings.Contains(body, "COMPLEXITY") {
		t.Fatalf("manager query: %d %s", status, body)
	}
	// With every Device field (scalars weigh nothing: the weight counts objects).
	allFields := strings.Replace(managerQuery, "devices { macAddress osType }",
		"devices { id macAddress displayName description osType lastSeen type }", 1)
	status, body = send(h, "POST", "/graphql", mustJSON(map[string]any{"query": allFields, "variables": map[string]any{"p": pid}}))
	if status != 200 || strings.Contains(body, "COMPLEXITY") {
		t.Fatalf("manager query with every device field: %d %s", status, body)
	}
	larger := strings.Replace(strings.Replace(managerQuery, "first: 50", "first: 100", 1), "first: 20", "first: 100", 1)
	status, body = send(h, "POST", "/graphql", mustJSON(map[string]any{"query": larger, "variables": map[string]any{"p": pid}}))
	if status != 422 || !strings.Contains(body, "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Fatalf("a query 10 times larger: %d %s", status, body)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestIntrospectionSwitch(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	q := mustJSON(map[string]any{"query": `{ __schema { queryType { name } } }`})
	status, body := send(endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1000, Introspection: true}), "POST", "/graphql", q)
	if status != 200 || !strings.Contains(body, `"Query"`) {
		t.Fatalf("introspection on: %d %s", status, body)
	}
	status, body = send(endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1000}), "POST", "/graphql", q)
	if status != 422 || strings.Contains(body, `"Query"`) {
		t.Fatalf("introspection off: %d %s", status, body)
	}
}

func TestBodyLimit(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	h := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1000})
	big := mustJSON(map[string]any{"query": "{ __typename }", "variables": map[string]any{"pad": strings.Repeat("x", 70<<10)}})
	status, body := send(h, "POST", "/graphql", big)
	if status != 413 || !strings.Contains(body, `"code":"PAYLOAD_TOO_LARGE"`) {
		t.Fatalf("70 KiB: %d %s", status, body)
	}
	// Without a Content-Length the limit holds while reading.
	req := httptest.NewRequest("POST", "/graphql", strings.NewReader(big))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 413 || !strings.Contains(w.Body.String(), "PAYLOAD_TOO_LARGE") {
		t.Fatalf("chunked 70 KiB: %d %s", w.Code, w.Body.String())
	}
}

// panicky is a store whose reads panic.
type panicky struct{ service.Store }

func (panicky) PropertyByID(context.Context, uuid.UUID) (model.Property, error) {
	panic("boom: secret internal state")
}

func TestPanicRecovered(t *testing.T) {
	var logs strings.Builder
	svc := service.New(panicky{}, dbtest.Keys(t), service.Options{})
	gql := resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 1000, RequestID: edge.RequestID,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	h := rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(),
		RequestTimeout: 10 * time.Second, PublicBaseURL: "http://localhost", GraphQL: gql})
	status, body := send(h, "POST", "/graphql", mustJSON(map[string]any{"query": `{ portalAccess(propertyId: "` + uuid.NewString() + `") { portalAllowed } }`}))
	if status != 200 || !strings.Contains(body, `"code":"INTERNAL"`) || strings.Contains(body, "boom") || strings.Contains(body, "goroutine") {
		t.Fatalf("panic: %d %s", status, body)
	}
	if !strings.Contains(logs.String(), "boom: secret internal state") || !strings.Contains(logs.String(), `"request_id"`) {
		t.Fatalf("panic not logged with its request id: %s", logs.String())
	}
	// The server goes on answering.
	status, _ = send(h, "POST", "/graphql", mustJSON(map[string]any{"query": `{ __typename }`}))
	if status != 200 {
		t.Fatal("the server did not survive the panic")
	}
}

// A POST that is not JSON gets GraphQL's error shape with a code.
func TestGraphQLPostNeedsJSON(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	h := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1000})
	req := httptest.NewRequest("POST", "/graphql", strings.NewReader("query={__typename}"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusUnsupportedMediaType || !strings.Contains(w.Body.String(), `"code":"BAD_REQUEST"`) {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
}
