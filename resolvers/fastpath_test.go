package resolvers_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

// executors serves one replica twice: through the direct executor (with
// gqlgen's behind it) and through gqlgen's alone.
type executors struct {
	*replica
	direct, gqlgen http.Handler

	mu   sync.Mutex
	ran  []string // which executor ran each operation on the direct side
	fell []string // the fields it handed to gqlgen's for
}

func newExecutors(tb testing.TB) *executors {
	e := &executors{replica: newReplica(tb, dbtest.NewURL(tb))}
	mk := func(gqlgenOnly bool) http.Handler {
		gql := resolvers.NewGraphQLHandler(e.svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, MaxBodyBytes: edge.MaxBodyBytes, Introspection: true,
			GqlgenOnly: gqlgenOnly, Executed: func(x string) {
				if !gqlgenOnly {
					e.mu.Lock()
					e.ran = append(e.ran, x)
					e.mu.Unlock()
				}
			}, FellBack: func(field string) {
				e.mu.Lock()
				e.fell = append(e.fell, field)
				e.mu.Unlock()
			}})
		return rest.NewHandler(rest.Deps{Service: e.svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(),
			RequestTimeout: 10 * time.Second, PublicBaseURL: "http://localhost:8080", GraphQL: gql})
	}
	e.direct, e.gqlgen = mk(false), mk(true)
	return e
}

type exchange struct {
	status      int
	contentType string
	body        string
}

func exchangeWith(h http.Handler, credential, body string) exchange {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if credential != "" {
		req.Header.Set("Authorization", credential)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return exchange{w.Code, w.Header().Get("Content-Type"), w.Body.String()}
}

// both runs one operation on both sides and says which executor ran it on
// the direct side ("" when none did).
func (e *executors) both(credential, query string, vars any) (direct, gqlgen exchange, ran string) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	e.mu.Lock()
	e.ran = e.ran[:0]
	e.mu.Unlock()
	direct = exchangeWith(e.direct, credential, string(body))
	e.mu.Lock()
	ran = strings.Join(e.ran, ",")
	e.mu.Unlock()
	return direct, exchangeWith(e.gqlgen, credential, string(body)), ran
}

// compare runs one operation on both sides and requires the same status,
// content type and body, byte for byte, and the executor it expects.
func (e *executors) compare(tb testing.TB, want, credential, query string, vars map[string]any) string {
	tb.Helper()
	d, g, ran := e.both(credential, query, vars)
	if d != g {
		tb.Fatalf("%s\ndirect: %d %s %s\ngqlgen: %d %s %s", query, d.status, d.contentType, d.body, g.status, g.contentType, g.body)
	}
	if ran != want {
		tb.Fatalf("%s\nran on %q, want %q (%s)", query, ran, want, d.body)
	}
	return d.body
}

// endCursor digs data.<path>.pageInfo.endCursor out of a response body.
func endCursor(tb testing.TB, body string, path ...string) string {
	tb.Helper()
	var v any
	_ = json.Unmarshal([]byte(body), &v)
	for _, k := range append(append([]string{"data"}, path...), "pageInfo", "endCursor") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	if s == "" {
		tb.Fatalf("no cursor at %v in %s", path, body)
	}
	return s
}

// Strings that JSON must escape, or that encoding/json escapes for HTML.
const awkward = "Tom & Jerry <b>\"quoted\"</b> back\\slash\ttab\nnew\rret\x01\x1f é 🙂 \u2028\u2029 end"

// newExecutorWorld is a property with two units, their users and devices,
// strings that need escaping everywhere, a resident token and a manager key.
func newExecutorWorld(tb testing.TB) (e *executors, f fixture, token, key string) {
	e = newExecutors(tb)
	ctx := context.Background()
	f = newFixture(tb, e.store, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)})
	populate(tb, e.store, f.property.ID, []uuid.UUID{f.unit.Unit.ID, f.neighbour.Unit.ID}, 4)
	for _, q := range []string{ // what validation keeps out of writes may still be read
		`UPDATE properties SET description = $1, ssids = ARRAY['Harbour', $1]`,
		`UPDATE units SET description = $1, contact_name = $1`,
		`UPDATE unit_users SET user_name = $1 || id::text WHERE type = 'LINKED'`,
		`UPDATE devices SET display_name = $1, os_type = 'iOS', last_seen = '2026-11-27 05:46:04.123+01'
		   WHERE mac_address IN (SELECT min(mac_address) FROM devices GROUP BY user_id)`,
	} {
		if _, err := e.store.Pool().Exec(ctx, q, awkward); err != nil {
			tb.Fatal(err)
		}
	}
	token = e.login(tb, f.property.ID, f.unit.PortalSecret)
	key = dbtest.Must[db.CreatedManagerKey](tb)(e.store.CreateManagerKey(ctx, f.property.ID)).Key
	return e, f, token, key
}

func TestDirectExecutorMatchesGqlgen(t *testing.T) {
	e, f, token, key := newExecutorWorld(t)
	ctx := context.Background()
	pid := f.property.ID.String()
	vars := map[string]any{"p": pid}

	e.compare(t, "direct", token, residentQuery, vars)
	e.compare(t, "direct", key, managerQuery, vars)

	const everything = `query($p: ID!, $yes: Boolean!, $no: Boolean!) {
	  __typename
	  me: unit(propertyId: $p) { __typename ...U id @include(if: $yes) secret @skip(if: $yes) guestSecret vlanId description status
	    contact { __typename contactName email phoneNumber }
	    users(first: 2) { __typename totalCount pageInfo { __typename hasNextPage endCursor } edges { __typename cursor node { ...UU } } }
	    all: users { totalCount edges { node { id } } }
	    devices { ...D } guest: devices(type: GUEST) { id } own: devices(type: UNIT) { id type }
	    property { id name ssids maxUnits sendSms sendEmail allowSeparateGuestSecret enforceMaxUnits address description
	      managementName managementPhone managementEmail helpText announcements maxDevicesPerIdentity }
	    ... on Unit { number secret @include(if: $no) }
	  }
	}
	fragment U on Unit { number }
	fragment UU on UnitUser { id userName email phoneNumber passphrase status type
	  devices { ...D user { userName unit { number } } } unit { number } }
	fragment D on Device { __typename id macAddress displayName description osType lastSeen online type }`
	// A VLAN, and one device online (RADIUS accounting's mark).
	dbtest.Must[model.Unit](t)(e.store.SetUnitVLAN(ctx, nil, f.unit.Unit.ID, dbtest.Ptr(120)))
	if _, err := e.store.Pool().Exec(ctx, `UPDATE devices SET online_until = now() + interval '1 hour'
	  WHERE id = (SELECT id FROM devices WHERE unit_id = $1 ORDER BY id LIMIT 1)`, f.unit.Unit.ID); err != nil {
		t.Fatal(err)
	}
	body := e.compare(t, "direct", token, everything, map[string]any{"p": pid, "yes": true, "no": false})
	for _, want := range []string{`\u0026`, `\u003c`, `\u2028`, `\t`, `\u0001`, `\u001F`, "🙂", `"lastSeen":"2026-11-27T04:46:04Z"`, `"guestSecret":"`,
		`"vlanId":120`, `"online":true`, `"online":false`} {
		if !strings.Contains(body, want) {
			t.Errorf("%s not in %s", want, body)
		}
	}
	// Change requests: a failed one with a detail that needs escaping, a
	// removed device's, paging and a status filter.
	var mac string
	if err := e.store.Pool().QueryRow(ctx, `SELECT mac_address FROM devices WHERE unit_id = $1 LIMIT 1`, f.unit.Unit.ID).Scan(&mac); err != nil {
		t.Fatal(err)
	}
	dbtest.Must[model.ChangeRequest](t)(e.store.RemoveDevice(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID, nil, mac))
	changes := dbtest.Must[[]model.ChangeRequest](t)(e.store.ChangeRequestsByUnit(ctx, f.unit.Unit.ID))
	detail := "<&> \u2028 \"quoted\" \t 🙂"
	if _, _, err := e.store.CompleteChangeRequest(ctx, f.property.ID, changes[0].ID, model.ChangeFailed, &detail); err != nil {
		t.Fatal(err)
	}
	changesQuery := `query($p: ID!, $a: String, $s: ChangeStatus) { unit(propertyId: $p) {
	  changeRequests(first: 2, after: $a, status: $s) { __typename totalCount pageInfo { hasNextPage endCursor }
	    edges { cursor node { __typename id kind status createdAt publishedAt completedAt detail userId deviceId macAddress
	      unit { number changeRequests(first: 1) { edges { node { id } } } } } } } } }`
	// The removed device is blocked: the unit lists it, by the tree's read
	// and by the units' prefetch alike.
	blocked := e.compare(t, "direct", token, `query($p: ID!) { unit(propertyId: $p) { number
	  blockedDevices { __typename macAddress userId blockedAt } users { edges { node { id } } } } }`, vars)
	if !strings.Contains(blocked, `"macAddress":"`+mac+`"`) {
		t.Errorf("%s not blocked in %s", mac, blocked)
	}
	e.compare(t, "direct", key, `query($p: ID!) { property(propertyId: $p) { units(first: 5) { edges { node { number
	  blockedDevices { macAddress userId blockedAt } } } } } }`, vars)
	page := e.compare(t, "direct", token, changesQuery, vars)
	e.compare(t, "direct", token, changesQuery, map[string]any{"p": pid, "a": endCursor(t, page, "unit", "changeRequests")})
	page = e.compare(t, "direct", token, changesQuery, map[string]any{"p": pid, "s": "FAILED"})
	if !strings.Contains(page, `"status":"FAILED"`) || !strings.Contains(page, `\u003c\u0026\u003e`) {
		t.Errorf("the failed change request is not in %s", page)
	}

	e.compare(t, "direct", token, `query($p: ID!, $a: String) { unit(propertyId: $p) {
	  users(first: 2, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { userName } } } } }`,
		map[string]any{"p": pid, "a": endCursor(t, body, "me", "users")})

	// A manager, through paging, cycles and every root field it knows.
	mgrPage := `query($p: ID!, $a: String) { property(propertyId: $p) { name
	  units(first: 1, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { number
	    users { edges { node { userName devices { id user { unit { property { name units(first: 5) { totalCount } } } } } } } } } } } } }`
	body = e.compare(t, "direct", key, mgrPage, vars)
	e.compare(t, "direct", key, mgrPage, map[string]any{"p": pid, "a": endCursor(t, body, "property", "units")})
	var user string
	if err := e.store.Pool().QueryRow(ctx, `SELECT id FROM unit_users WHERE unit_id = $1 AND type = 'LINKED' LIMIT 1`, f.neighbour.Unit.ID).Scan(&user); err != nil {
		t.Fatal(err)
	}
	e.compare(t, "direct", key, `query($p: ID!, $u: ID, $user: ID!) {
	  unit(propertyId: $p, unitId: $u) { number devices(type: LINKED) { id } }
	  unitUser(propertyId: $p, userId: $user) { ... on UnitUser { email userName } unit { number users(first: 1) { edges { node { id } } } } }
	  property(propertyId: $p) { units(first: 100) { edges { node { number } } } } }`,
		map[string]any{"p": pid, "u": f.neighbour.Unit.ID.String(), "user": user})
	e.compare(t, "direct", token, `query($p: ID!) { unit(propertyId: $p) { users(first: 1) { edges { node { id } } } } }`, vars)

	// The page's own queries, as its manifest has them, and the branding
	// whole (with strings that need escaping).
	if _, err := e.store.Pool().Exec(ctx, `UPDATE properties SET title = $1, subtitle = $1, login_text = $1, main_color = '#102030'`, awkward); err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Operations []struct{ Name, Type, Body string }
	}
	if err := json.Unmarshal(dbtest.Must[[]byte](t)(os.ReadFile("../graph/portal/manifest.json")), &manifest); err != nil {
		t.Fatal(err)
	}
	for _, o := range manifest.Operations {
		if o.Type == "query" {
			e.compare(t, "direct", token, o.Body, map[string]any{"propertyId": pid})
		}
	}
	e.compare(t, "direct", key, `query($p: ID!) { property(propertyId: $p) { name uiConfiguration { __typename
	  access { __typename tenantSetDpsk } text { title subTitle loginText announcements helpText }
	  color { mainColor accentColor separatorColor textColor } files { logoFileName favIconFileName } } }
	  ui: uiConfiguration(propertyId: $p) { t: text { title } } portalAccess(propertyId: $p) { __typename portalAllowed loginText } }`, vars)

	// What it does not run — errors, fields it does not know, mutations,
	// introspection — gqlgen runs, with the same result as without it.
	for _, c := range []struct {
		credential, query string
		vars              map[string]any
	}{
		{token, `query($p: ID!) { unit(propertyId: $p) { users(first: 0) { totalCount } } }`, vars},
		{token, `query($p: ID!) { unit(propertyId: $p) { users(after: "bm90IGEgY3Vyc29y") { totalCount } } }`, vars},
		{token, `query($p: ID!) { property(propertyId: $p) { name units { totalCount } } }`, vars},
		{token, `query($p: ID!) { unit(propertyId: $p) { property { units { totalCount } } } }`, vars},
		{key, `query($p: ID!) { unit(propertyId: $p) { id } }`, vars},
		{key, `query($p: ID!, $u: ID) { unit(propertyId: $p, unitId: $u) { id } }`, map[string]any{"p": pid, "u": uuid.NewString()}},
		{key, `query($p: ID!) { unitUser(propertyId: $p, userId: "nope") { id } }`, vars},
		{"", `query($p: ID!) { unit(propertyId: $p) { id } }`, vars},
		{token, `query($p: ID!) { unit(propertyId: $p) { id } portalAccess(propertyId: "` + uuid.NewString() + `") { portalAllowed } }`, vars},
		{token, `query($p: ID!) { unitDevices(propertyId: $p, type: UNIT) { id } }`, vars},
		{token, `query($p: ID!) { unitUsers(propertyId: $p, first: 2) { edges { node { id } } } }`, vars},
		{token, `query { __schema { queryType { name } } }`, nil},
		{token, `query($p: ID!) { unit(propertyId: $p) { id } __type(name: "Unit") { name } }`, vars},
		{token, `query($p: ID!) { unit(propertyId: $p) { ... @defer { id } } }`, vars},
		{token, `mutation($p: ID!) { updateUnit(propertyId: $p, input: {description: "same"}) { description } }`, vars},
	} {
		e.compare(t, "gqlgen", c.credential, c.query, c.vars)
	}
	// A fallback names the field the direct executor has no case for; an
	// error is no fallback.
	e.mu.Lock()
	e.fell = e.fell[:0]
	e.mu.Unlock()
	e.compare(t, "gqlgen", token, `query($p: ID!) { unit(propertyId: $p) { id } unitDevices(propertyId: $p, type: UNIT) { id } }`, vars)
	e.compare(t, "gqlgen", key, `query($p: ID!) { unit(propertyId: $p) { id } }`, vars)
	e.mu.Lock()
	fell := slices.Clone(e.fell)
	e.mu.Unlock()
	if !slices.Equal(fell, []string{"Query.unitDevices"}) {
		t.Errorf("fallbacks told: %v, want [Query.unitDevices]", fell)
	}

	// Nothing at all runs for an operation that does not validate.
	e.compare(t, "", token, `query { unit { id } }`, nil)
	e.compare(t, "", token, `query($p: ID!) { unit(propertyId: $p) { devices(type: NOBODY) { id } } }`, vars)
}

// FuzzDirectExecutor: whatever the operation, when the direct executor runs
// it, the response is gqlgen's, byte for byte.
func FuzzDirectExecutor(f *testing.F) {
	e, w, token, key := newExecutorWorld(f)
	pid := w.property.ID.String()
	for _, q := range []string{residentQuery, managerQuery,
		`query($p: ID!) { unit(propertyId: $p) { ...on Unit { a: number b: number } users(first: 2) { pageInfo { endCursor } edges { cursor } } } }`,
		`query($p: ID!, $u: ID) { unit(propertyId: $p, unitId: $u) { devices(type: GUEST) { user { devices { id } } } property { ssids } } }`,
		`query($p: ID!) { property(propertyId: $p) { units(first: 3, after: "eyJ2IjoiMTAxIn0") { totalCount edges { node { guestSecret contact { email } } } } } }`,
		`query($p: ID!, $s: Boolean!) { __typename unitUser(propertyId: $p, userId: $p) @skip(if: $s) { id } }`,
	} {
		f.Add(uint8(0), q, `{"p":"`+pid+`","u":"`+w.neighbour.Unit.ID.String()+`","s":true}`)
		f.Add(uint8(1), q, `{"p":"`+pid+`","u":"`+w.neighbour.Unit.ID.String()+`","s":false}`)
	}
	f.Fuzz(func(t *testing.T, who uint8, query, variables string) {
		var vars any
		if json.Unmarshal([]byte(variables), &vars) != nil {
			vars = nil
		}
		credential := token
		if who%2 == 1 {
			credential = key
		}
		d, g, ran := e.both(credential, query, vars)
		if ran == "direct" && d != g {
			t.Fatalf("%s\ndirect: %d %s %s\ngqlgen: %d %s %s", query, d.status, d.contentType, d.body, g.status, g.contentType, g.body)
		}
	})
}
