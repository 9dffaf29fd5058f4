package rest_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/rest/edge"
)

// Fuzz targets for every input of the public surface. The invariant: never a
// 5xx, never a panic (the edge would turn it into a 500), and every REST
// error in the documented shape; every GraphQL error with a known code.

// checkREST fails unless r is a non-5xx response whose errors have the
// vendor error shape.
func checkREST(t *testing.T, r response) {
	t.Helper()
	if r.status >= 500 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.status >= 400 {
		var e edge.ErrorBody
		if r.header.Get("Content-Type") != "application/json" || json.Unmarshal(r.body, &e) != nil ||
			e.Status != edge.StatusText(r.status) || e.ValidationErrors == nil {
			t.Fatalf("status %d without the error body: %s", r.status, r.body)
		}
	}
}

func FuzzRESTBodies(f *testing.F) {
	w := newWorld(f)
	ops := []struct{ method, path string }{
		{"POST", w.path("%s/units/logins", w.p.ID)},
		{"PUT", w.path("%s/units", w.p.ID)},
		{"POST", w.path("%s/units/users/query", w.p.ID)},
		{"PUT", w.path("%s/units/users/%s", w.p.ID, w.linked.ID)},
	}
	for i := range ops {
		for _, seed := range []string{`{}`, `null`, `[]`, `{"hashedSecret":"x"}`, `{"page":-1,"pageSize":"7"}`,
			`{"sortFields":["userName","type"],"sortDirection":"desc"}`, `{"contact":{"email":"a@b.c"},"secret":""}`,
			`{"status":"TOKEN_RESET"}`, `{"userId":"` + w.linked.ID.String() + `","type":"LINKED","passphrase":"abcdefgh"}`,
			`{"guid":12,"number":{}}`, `{"a":` + strings.Repeat("[", 100) + `}`} {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		o := ops[int(op)%len(ops)]
		checkREST(t, w.do(t, o.method, o.path, body, "Authorization", w.token))
	})
}

func FuzzRESTPathParams(f *testing.F) {
	w := newWorld(f)
	f.Add(w.p.ID.String(), w.linked.ID.String(), "02:00:00:00:00:03", "logo")
	f.Add("not-a-uuid", "", "aabb.ccdd.eeff", "favIcon")
	f.Add(w.p.ID.String(), "00000000-0000-0000-0000-000000000000", "AA-BB-CC-DD-EE-FF", "banner")
	f.Add("%", "../../etc/passwd", "%41A:BB", "")
	f.Fuzz(func(t *testing.T, propertyID, userID, deviceID, fileType string) {
		esc := url.PathEscape
		for _, p := range []string{
			fmt.Sprintf("/residents/properties/%s/access", esc(propertyID)),
			fmt.Sprintf("/residents/properties/%s/files/%s", esc(propertyID), esc(fileType)),
			fmt.Sprintf("/residents/properties/%s/units/users/%s", esc(propertyID), esc(userID)),
			fmt.Sprintf("/residents/properties/%s/units/devices/%s", esc(propertyID), esc(deviceID)),
			fmt.Sprintf("/residents/properties/%s/units/users/%s/devices/%s", esc(propertyID), esc(userID), esc(deviceID)),
			fmt.Sprintf("/residents/properties/%s/units/devices?type=%s", esc(propertyID), url.QueryEscape(fileType)),
		} {
			method := "GET"
			if strings.Contains(p, "/devices/") {
				method = "DELETE"
			}
			checkREST(t, w.do(t, method, p, nil, "Authorization", w.token))
		}
	})
}

var graphQLCodes = map[string]bool{"UNAUTHENTICATED": true, "FORBIDDEN": true, "NOT_FOUND": true, "BAD_USER_INPUT": true,
	"CONFLICT": true, "RATE_LIMITED": true, "UNAVAILABLE": true, "INTERNAL": false, "GRAPHQL_PARSE_FAILED": true,
	"GRAPHQL_VALIDATION_FAILED": true, "COMPLEXITY_LIMIT_EXCEEDED": true, "PERSISTED_QUERY_NOT_FOUND": true,
	"BAD_REQUEST": true, "PAYLOAD_TOO_LARGE": true}

func FuzzGraphQL(f *testing.F) {
	w := newWorld(f)
	pid := w.p.ID.String()
	for _, q := range []string{
		`query($p: ID!) { unit(propertyId: $p) { id secret users { edges { node { passphrase devices { id } } } } } }`,
		`mutation($p: ID!) { updateUnit(propertyId: $p, input: {secret: ""}) { secret } }`,
		`query($p: ID!, $u: ID!) { unitUser(propertyId: $p, userId: $u) { id } }`,
		`{ __schema { types { name } } }`, `query { unitUsers(propertyId: "x", first: -1) { totalCount } }`,
		`fragment F on Query { a: portalAccess(propertyId: "` + pid + `") { loginText } } { ...F ...F }`,
		`{`, `query($p: ID!) { unitDevices(propertyId: $p, type: GUEST) { user { unit { property { id } } } } }`,
	} {
		f.Add(q, `{"p":"`+pid+`","u":"`+w.linked.ID.String()+`"}`)
		f.Add(q, `{"p":12,"u":null}`)
	}
	f.Fuzz(func(t *testing.T, query, variables string) {
		var vars any
		if json.Unmarshal([]byte(variables), &vars) != nil {
			vars = variables // sent as a string: must be refused cleanly
		}
		r := w.do(t, "POST", "/graphql", map[string]any{"query": query, "variables": vars}, "Authorization", w.token)
		if r.status >= 500 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var resp struct {
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(r.body, &resp); err != nil {
			t.Fatalf("status %d, body not JSON: %s", r.status, r.body)
		}
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if !graphQLCodes[code] {
				t.Fatalf("error with code %q: %s", code, r.body)
			}
		}
	})
}

// hostileOperation builds an operation along the dimensions an attacker
// can stretch: fragments that each spread the next several times, a field
// repeated many times, nesting, and aliases.
func hostileOperation(levels, spreads, repeats, depth, aliases uint8) string {
	var b strings.Builder
	b.WriteString("{ ...F0 __type(name: \"Unit\") {")
	for range int(depth) % 64 {
		b.WriteString(" ofType {")
	}
	b.WriteString(" name")
	b.WriteString(strings.Repeat(" }", int(depth)%64+1))
	for i := range int(aliases) {
		fmt.Fprintf(&b, " a%d: __typename", i)
	}
	b.WriteString(" }")
	n := int(levels) % 48
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Query {%s }", i, strings.Repeat(fmt.Sprintf(" ...F%d", i+1), int(spreads)%4+1))
	}
	fmt.Fprintf(&b, " fragment F%d on Query {%s }", n, strings.Repeat(" __typename", int(repeats)*24+1))
	return b.String()
}

// FuzzGraphQLCost asserts bounds, not just "no 500": whatever the shape of
// an operation, answering it allocates at most 16 MiB and takes at most a
// second (each attack of the hardening issue took seconds to minutes and
// hundreds of megabytes before the text bounds).
func FuzzGraphQLCost(f *testing.F) {
	w := newWorld(f)
	f.Add(uint8(30), uint8(1), uint8(0), uint8(0), uint8(0), "")     // 2^30 fields once expanded
	f.Add(uint8(0), uint8(0), uint8(250), uint8(0), uint8(0), "")    // 6,000 repeated fields
	f.Add(uint8(0), uint8(0), uint8(0), uint8(63), uint8(200), "")   // deep, many aliases
	f.Add(uint8(20), uint8(3), uint8(10), uint8(10), uint8(10), "{") // a bit of everything, then junk
	f.Add(uint8(1), uint8(0), uint8(0), uint8(0), uint8(0), strings.Repeat("{a", 3000))
	f.Fuzz(func(t *testing.T, levels, spreads, repeats, depth, aliases uint8, tail string) {
		query := hostileOperation(levels, spreads, repeats, depth, aliases) + tail
		if len(query) > edge.MaxBodyBytes-64 {
			query = query[:edge.MaxBodyBytes-64]
		}
		var r response
		start := time.Now()
		// A request that never ends fails the input too (with every
		// goroutine's stack), rather than stalling the fuzzer.
		watchdog := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic(fmt.Sprintf("no answer after 10s to %q\n%s", query, buf[:n]))
		})
		n := dbtest.Allocated(func() { r = w.do(t, "POST", "/graphql", map[string]any{"query": query}, "Authorization", w.token) })
		watchdog.Stop()
		took := time.Since(start)
		if r.status >= 500 {
			t.Fatalf("status %d: %.300s", r.status, r.body)
		}
		if n > 16<<20 || took > time.Second {
			t.Fatalf("answering a %d-byte operation allocated %d KiB in %v (status %d: %.200s)", len(query), n>>10, took, r.status, r.body)
		}
	})
}
