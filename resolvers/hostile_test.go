package resolvers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/resolvers"
)

// Operations an attacker can send, each with what stops it. Cost is
// asserted in bytes allocated by the request, which unlike time does not
// depend on how busy the machine is; each attack cost hundreds of
// megabytes (and seconds to minutes) before its bound existed.

// fragmentBomb is {...F0} with F(i) spreading F(i+1) twice: 2^levels
// fields once expanded, in about 35 bytes per level.
func fragmentBomb(levels int) string {
	var b strings.Builder
	b.WriteString("{...F0}")
	for i := range levels {
		fmt.Fprintf(&b, " fragment F%d on Query{...F%d ...F%d}", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Query{__typename}", levels)
	return b.String()
}

// nestedUsers is unit → users → unit → users … levels deep, each page of
// 100, padded with scalar fields: the weight 1 + 100·child wrapped past
// 2^63 before weights saturated.
func nestedUsers(levels int) string {
	q := "id secret"
	for range levels {
		q = "id number users(first: 100) { edges { node { id unit { " + q + " } } } }"
	}
	return `query($p: ID!) { unit(propertyId: $p) { ` + q + ` } }`
}

func TestHostileOperations(t *testing.T) {
	a := newAPI(t)
	f := newFixture(t, a.store, db.PropertyInput{})
	token := a.login(t, f.property.ID, f.unit.PortalSecret)
	pid := f.property.ID.String()
	repeat := func(field string, n int) string { return strings.TrimSpace(strings.Repeat(field+" ", n)) }

	cases := []struct {
		name, query, code string
		maxAlloc          uint64
	}{
		// 2^30 fields once expanded; gqlparser spent 366 s of CPU on it.
		{"FragmentBomb", fragmentBomb(30), "COMPLEXITY_LIMIT_EXCEEDED", 2 << 20},
		// Validation is quadratic in repeated fields: 1.8 s, 8.6 s.
		{"RepeatedTypename", "{ " + repeat("__typename", 5954) + " }", "GRAPHQL_PARSE_FAILED", 16 << 20},
		{"RepeatedTypenameUnderTheTokenLimit", "{ " + repeat("__typename", 4900) + " }", "COMPLEXITY_LIMIT_EXCEEDED", 16 << 20},
		{"RepeatedSecret", `{ unit(propertyId: "` + pid + `") { ` + repeat("secret", 9300) + ` } }`, "GRAPHQL_PARSE_FAILED", 16 << 20},
		{"Deep", nestedUsers(5), "COMPLEXITY_LIMIT_EXCEEDED", 2 << 20},
		{"Aliases", "{ " + func() string {
			var b strings.Builder
			for i := range 31 {
				fmt.Fprintf(&b, "a%d: __typename ", i)
			}
			return b.String()
		}() + "}", "COMPLEXITY_LIMIT_EXCEEDED", 2 << 20},
		{"RootFields", "{ " + repeat(`portalAccess(propertyId: "`+pid+`") { portalAllowed }`, 21) + " }", "COMPLEXITY_LIMIT_EXCEEDED", 2 << 20},
		{"FragmentCycle", "{...A} fragment A on Query{...B} fragment B on Query{...A __typename}", "GRAPHQL_VALIDATION_FAILED", 2 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var status int
			var body string
			n := dbtest.Allocated(func() {
				status, body = a.post(t, mustJSON(map[string]any{"query": c.query}), "Authorization", token)
			})
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, `"code":"`+c.code+`"`) {
				t.Fatalf("%d %.300s", status, body)
			}
			if n > c.maxAlloc {
				t.Fatalf("refusing it allocated %d bytes, want ≤ %d", n, c.maxAlloc)
			}
		})
	}
}

// The weight of nested pages saturates: with the text bounds raised out of
// the way, the query that used to wrap to a small weight is refused by the
// complexity limit, and the direct executor never starts on it.
func TestComplexitySaturates(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	f := newFixture(t, r.store, db.PropertyInput{})
	token := r.login(t, f.property.ID, f.unit.PortalSecret)
	h := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 50000,
		Bounds: resolvers.Bounds{Tokens: 100000, Depth: 1000, Fields: 100000, Aliases: 100, RootFields: 100}})
	for _, levels := range []int{10, 11, 12, 20, 40} {
		status, body := send(h, "POST", "/graphql", mustJSON(map[string]any{"query": nestedUsers(levels),
			"variables": map[string]any{"p": f.property.ID}}), "Authorization", token)
		if status != 422 || !strings.Contains(body, "COMPLEXITY_LIMIT_EXCEEDED") {
			t.Fatalf("%d levels: %d %.300s", levels, status, body)
		}
	}
}

// The direct executor stops on the request's context and on its bound on
// objects, and answers that, rather than handing the work to gqlgen.
func TestDirectExecutorBounds(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	f := newFixture(t, r.store, db.PropertyInput{})
	token := r.login(t, f.property.ID, f.unit.PortalSecret)
	q := mustJSON(map[string]any{"query": nestedUsers(2), "variables": map[string]any{"p": f.property.ID}})

	h := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1 << 30, MaxObjects: 3})
	status, body := send(h, "POST", "/graphql", q, "Authorization", token)
	if status != 200 || !strings.Contains(body, "more than 3 objects") || strings.Contains(body, `"data":{`) {
		t.Fatalf("object bound: %d %s", status, body)
	}
	h = endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1 << 30})
	status, body = send(h, "POST", "/graphql", q, "Authorization", token)
	if status != 200 || !strings.Contains(body, `"secret":"`+f.unit.Unit.Secret+`"`) {
		t.Fatalf("within bounds: %d %s", status, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/graphql", strings.NewReader(q))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 499 || strings.Contains(w.Body.String(), `"data":{`) || !strings.Contains(w.Body.String(), "UNAVAILABLE") {
		t.Fatalf("cancelled request: %d %s", w.Code, w.Body.String())
	}
}

func TestQueryCachesBoundedByBytes(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	h := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1000, QueryCacheBytes: 4 << 20})
	// 300 distinct 60 KiB documents (a comment makes each one distinct),
	// half of them registered as persisted queries: ≈ 300 MiB held before.
	pad := strings.Repeat("#", 60<<10)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 300 {
		q := fmt.Sprintf("{ __typename }\n#%d%s", i, pad[:60<<10-64])
		body := map[string]any{"query": q}
		if i%2 == 0 {
			body["extensions"] = map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha(q)}}
		}
		if status, resp := send(h, "POST", "/graphql", mustJSON(body)); status != 200 {
			t.Fatalf("query %d: %d %.200s", i, status, resp)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 32<<20 {
		t.Fatalf("heap grew by %d MiB", grown>>20)
	}
}

func TestGETHeldToTheBodyLimit(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	h := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1000})
	big := "{ __typename }" + strings.Repeat(" ", 65<<10)
	status, body := send(h, "GET", "/graphql?query="+url.QueryEscape(big), "")
	if status != 413 || !strings.Contains(body, "PAYLOAD_TOO_LARGE") {
		t.Fatalf("65 KiB GET: %d %.200s", status, body)
	}
	status, body = send(h, "GET", "/graphql?query="+url.QueryEscape("{ __typename }"+strings.Repeat(" ", 60<<10)), "")
	if status != 200 {
		t.Fatalf("60 KiB GET: %d %.200s", status, body)
	}
}

func TestMalformedPersistedQuery(t *testing.T) {
	a := newAPI(t)
	for _, ext := range []string{
		`{"persistedQuery":{"version":1,"sha256Hash":"abc"}}`,
		`{"persistedQuery":{"version":"x"}}`,
		`{"persistedQuery":{"version":2,"sha256Hash":"abc"}}`,
	} {
		status, body := a.post(t, `{"query":"{ __typename }","extensions":`+ext+`}`)
		if status != 422 || !strings.Contains(body, "GRAPHQL_VALIDATION_FAILED") {
			t.Fatalf("%s: %d %s", ext, status, body)
		}
	}
	if strings.Contains(a.logs.String(), `"level":"ERROR"`) {
		t.Fatalf("logged as an error: %s", a.logs.String())
	}
}

func TestNoSuggestionsWithIntrospectionOff(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	q := mustJSON(map[string]any{"query": `{ uni(propertyId: "` + uuid.NewString() + `") { id } }`})
	for _, on := range []bool{true, false} {
		status, body := send(endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 1000, Introspection: on}), "POST", "/graphql", q)
		if status != 422 || strings.Contains(body, "Did you mean") == !on {
			t.Fatalf("introspection %v: %d %s", on, status, body)
		}
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// introspectionQuery is graphql-js's getIntrospectionQuery with every
// option on, as GraphiQL sends it.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    description queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }`

func TestIntrospectionQueryWithinBounds(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	h := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, Introspection: true})
	status, body := send(h, "POST", "/graphql", mustJSON(map[string]any{"query": introspectionQuery}))
	if status != 200 || !strings.Contains(body, `"queryType":{"name":"Query"}`) {
		t.Fatalf("%d %.300s", status, body)
	}
}
