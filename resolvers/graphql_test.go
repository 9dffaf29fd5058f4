package resolvers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/graph/portal"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

// api is the public HTTP surface over one replica, driven through gqlgen's client.
type api struct {
	*replica
	handler http.Handler
	c       *client.Client
	logs    *strings.Builder
}

func newAPI(tb testing.TB) *api { return newAPIOn(tb, false) }

// newAPIOn is newAPI with gqlgen's executor alone when gqlgenOnly is set.
func newAPIOn(tb testing.TB, gqlgenOnly bool) *api {
	tb.Helper()
	r := newReplica(tb, dbtest.NewURL(tb))
	logs := &strings.Builder{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	gql := resolvers.NewGraphQLHandler(r.svc, resolvers.GraphQLOptions{Log: log, Introspection: true,
		ComplexityLimit: 50000, MaxBodyBytes: edge.MaxBodyBytes, RequestID: edge.RequestID, GqlgenOnly: gqlgenOnly})
	h := rest.NewHandler(rest.Deps{Service: r.svc, Log: log, Metrics: edge.NewMetrics(), RequestTimeout: 10 * time.Second,
		PublicBaseURL: "http://localhost:8080", GraphQL: gql})
	return &api{replica: r, handler: h, c: client.New(h, client.Path("/graphql")), logs: logs}
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// query runs a GraphQL operation with an optional credential, decodes its
// data into out and returns its errors.
func (a *api) query(tb testing.TB, credential, q string, vars map[string]any, out any) []gqlError {
	tb.Helper()
	opts := []client.Option{}
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	if credential != "" {
		opts = append(opts, client.AddHeader("Authorization", credential))
	}
	resp, err := a.c.RawPost(q, opts...)
	if err != nil {
		tb.Fatalf("graphql: %v", err)
	}
	if out != nil && resp.Data != nil {
		b, _ := json.Marshal(resp.Data)
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("decode data: %v", err)
		}
	}
	var errs []gqlError
	if len(resp.Errors) > 0 {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			tb.Fatalf("decode errors: %v", err)
		}
	}
	return errs
}

// ok runs an operation that must succeed.
func (a *api) ok(tb testing.TB, credential, q string, vars map[string]any, out any) {
	tb.Helper()
	if errs := a.query(tb, credential, q, vars, out); len(errs) > 0 {
		tb.Fatalf("errors: %+v", errs)
	}
}

// fails runs an operation that must fail with code.
func (a *api) fails(tb testing.TB, credential, q string, vars map[string]any, code string) gqlError {
	tb.Helper()
	errs := a.query(tb, credential, q, vars, nil)
	if len(errs) == 0 || errs[0].Extensions["code"] != code {
		tb.Fatalf("errors = %+v, want code %s", errs, code)
	}
	return errs[0]
}

// post sends a raw body and returns the status and body.
func (a *api) post(tb testing.TB, body string, header ...string) (int, string) {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Body)
	return w.Code, string(b)
}

func TestGraphQLResident(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	f := newFixture(t, a.store, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true), TenantSetDpsk: dbtest.Ptr(true)})
	pid := f.property.ID.String()
	scope := model.PropertyScope(f.property.ID)
	dbtest.Must[model.Device](t)(a.store.AddDevice(ctx, scope, db.NewDevice{UserID: f.unit.Unit.UnitUserID, MACAddress: "02:00:00:00:00:01", DisplayName: "TV"}))
	dbtest.Must[model.Device](t)(a.store.AddDevice(ctx, scope, db.NewDevice{UserID: *f.unit.Unit.GuestUserID, MACAddress: "02:00:00:00:00:02"}))
	dbtest.Must[model.Device](t)(a.store.AddDevice(ctx, scope, db.NewDevice{UserID: f.neighbour.Unit.UnitUserID, MACAddress: "02:00:00:00:00:03"}))
	linked := dbtest.Must[model.UnitUser](t)(a.store.CreateUnitUser(ctx, scope, f.unit.Unit.ID, "Office", "office@example.org", ""))

	// Public fields.
	var pub struct {
		PortalAccess struct {
			PortalAllowed bool
			LoginText     string
		}
		UiConfiguration struct {
			Access struct{ TenantSetDpsk bool }
			Color  struct{ MainColor string }
		}
	}
	a.ok(t, "", `query($p: ID!) { portalAccess(propertyId: $p) { portalAllowed loginText }
	  uiConfiguration(propertyId: $p) { access { tenantSetDpsk } color { mainColor } text { title } files { logoFileName } } }`,
		map[string]any{"p": pid}, &pub)
	if !pub.PortalAccess.PortalAllowed || !pub.UiConfiguration.Access.TenantSetDpsk || pub.UiConfiguration.Color.MainColor == "" {
		t.Fatalf("public = %+v", pub)
	}

	// Login.
	var login struct {
		Login struct {
			Token, UnitID, ExpiresAt, ServerVersion string
		}
	}
	a.ok(t, "", `mutation($p: ID!, $s: String!) { login(propertyId: $p, hashedSecret: $s) { token unitId expiresAt serverVersion } }`,
		map[string]any{"p": pid, "s": f.unit.PortalSecret}, &login)
	token := login.Login.Token
	if login.Login.UnitID != f.unit.Unit.ID.String() || token == "" {
		t.Fatalf("login = %+v", login)
	}
	if _, err := time.Parse(time.RFC3339, login.Login.ExpiresAt); err != nil {
		t.Fatalf("expiresAt %q: %v", login.Login.ExpiresAt, err)
	}
	a.fails(t, "", `mutation($p: ID!) { login(propertyId: $p, hashedSecret: "wrong") { token } }`, map[string]any{"p": pid}, "UNAUTHENTICATED")
	a.fails(t, "", `mutation($p: ID!) { login(propertyId: $p, hashedSecret: "") { token } }`, map[string]any{"p": pid}, "BAD_USER_INPUT")

	// The resident's nested read.
	var read struct {
		Property struct {
			Name  string
			Ssids []string
		}
		Unit struct {
			ID, Number, Secret string
			GuestSecret        *string
			Contact            struct{ ContactName string }
			Status             string
			Property           struct{ ID string }
			Users              struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   *string
				}
				Edges []struct {
					Cursor string
					Node   struct {
						ID, Type, Passphrase string
						Devices              []struct {
							ID, MacAddress, Type string
							User                 struct{ ID string }
						}
						Unit struct{ ID string }
					}
				}
			}
			Devices []struct{ MacAddress string }
		}
	}
	a.ok(t, token, `query($p: ID!) {
	  property(propertyId: $p) { name ssids }
	  unit(propertyId: $p) { id number secret guestSecret status contact { contactName } property { id }
	    users(first: 10) { totalCount pageInfo { hasNextPage endCursor }
	      edges { cursor node { id type passphrase unit { id } devices { id macAddress type user { id } } } } }
	    devices(type: GUEST) { macAddress } } }`, map[string]any{"p": pid}, &read)
	u := read.Unit
	if u.ID != f.unit.Unit.ID.String() || u.Secret != f.unit.Unit.Secret || u.GuestSecret == nil || u.Property.ID != pid ||
		u.Users.TotalCount != 3 || len(u.Users.Edges) != 3 || u.Users.PageInfo.HasNextPage || len(u.Devices) != 1 ||
		u.Devices[0].MacAddress != "02:00:00:00:00:02" || read.Property.Name != "Harbour View" {
		t.Fatalf("read = %+v", read)
	}
	for _, e := range u.Users.Edges {
		if e.Node.Unit.ID != u.ID {
			t.Fatal("user.unit is another unit")
		}
		for _, d := range e.Node.Devices {
			if d.User.ID != e.Node.ID || d.ID != d.MacAddress || d.Type != e.Node.Type {
				t.Fatalf("device %+v of user %s", d, e.Node.ID)
			}
		}
		if e.Node.Type == "UNIT" && e.Node.Passphrase != u.Secret {
			t.Fatal("the unit's secret is not its UNIT user's passphrase")
		}
	}

	t.Run("unitUser and unitDevices", func(t *testing.T) {
		var got struct {
			UnitUser    struct{ ID, UserName, Passphrase, Type string }
			UnitDevices []struct{ ID, Type string }
		}
		a.ok(t, token, `query($p: ID!, $u: ID!) { unitUser(propertyId: $p, userId: $u) { id userName passphrase type }
		  unitDevices(propertyId: $p, type: UNIT) { id type } }`, map[string]any{"p": pid, "u": linked.ID.String()}, &got)
		if got.UnitUser.ID != linked.ID.String() || got.UnitUser.Passphrase != linked.Passphrase || got.UnitUser.Type != "LINKED" ||
			len(got.UnitDevices) != 1 || got.UnitDevices[0].ID != "02:00:00:00:00:01" || got.UnitDevices[0].Type != "UNIT" {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("unitUsers pages", func(t *testing.T) {
		type page struct {
			UnitUsers struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   *string
				}
				Edges []struct {
					Node struct{ ID, UserName, Type string }
				}
			}
		}
		q := `query($p: ID!, $after: String, $order: UnitUserOrder, $filter: UnitUserFilter) {
		  unitUsers(propertyId: $p, first: 2, after: $after, orderBy: $order, filter: $filter) {
		    totalCount pageInfo { hasNextPage endCursor } edges { node { id userName type } } } }`
		var seen []string
		var after any
		for {
			var pg page
			a.ok(t, token, q, map[string]any{"p": pid, "after": after, "order": map[string]any{"field": "TYPE", "direction": "DESC"}}, &pg)
			for _, e := range pg.UnitUsers.Edges {
				seen = append(seen, e.Node.Type)
			}
			if pg.UnitUsers.TotalCount != 3 {
				t.Fatalf("totalCount = %d", pg.UnitUsers.TotalCount)
			}
			if !pg.UnitUsers.PageInfo.HasNextPage {
				break
			}
			after = *pg.UnitUsers.PageInfo.EndCursor
		}
		if strings.Join(seen, ",") != "UNIT,LINKED,GUEST" {
			t.Fatalf("TYPE DESC over pages = %v", seen)
		}
		var filtered page
		a.ok(t, token, q, map[string]any{"p": pid, "filter": map[string]any{"type": "LINKED"}}, &filtered)
		if filtered.UnitUsers.TotalCount != 1 || filtered.UnitUsers.Edges[0].Node.ID != linked.ID.String() {
			t.Fatalf("filtered = %+v", filtered)
		}
		a.fails(t, token, `query($p: ID!) { unitUsers(propertyId: $p, first: 101) { totalCount } }`, map[string]any{"p": pid}, "BAD_USER_INPUT")
		a.fails(t, token, `query($p: ID!) { unitUsers(propertyId: $p, after: "garbage") { totalCount } }`, map[string]any{"p": pid}, "BAD_USER_INPUT")
	})

	t.Run("mutations", func(t *testing.T) {
		var upd struct {
			UpdateUnit struct {
				Secret  string
				Contact struct{ Email string }
			}
		}
		a.ok(t, token, `mutation($p: ID!) { updateUnit(propertyId: $p, input: {contact: {email: "new@example.org"}, secret: "my-new-secret"}) { secret contact { email } } }`,
			map[string]any{"p": pid}, &upd)
		if upd.UpdateUnit.Secret != "my-new-secret" || upd.UpdateUnit.Contact.Email != "new@example.org" {
			t.Fatalf("updateUnit = %+v", upd)
		}
		var uu struct {
			UpdateUnitUser struct {
				PersonaUpdateID, DpskUpdateID *string
				User                          struct{ UserName, Status string }
			}
		}
		a.ok(t, token, `mutation($p: ID!, $u: ID!) { updateUnitUser(propertyId: $p, userId: $u, input: {userName: "Den", passphrase: ""}) {
		  personaUpdateId dpskUpdateId user { userName status } } }`, map[string]any{"p": pid, "u": linked.ID.String()}, &uu)
		if uu.UpdateUnitUser.PersonaUpdateID == nil || uu.UpdateUnitUser.DpskUpdateID == nil || uu.UpdateUnitUser.User.UserName != "Den" {
			t.Fatalf("updateUnitUser = %+v", uu)
		}
		var none struct {
			UpdateUnitUser struct{ PersonaUpdateID, DpskUpdateID *string }
		}
		a.ok(t, token, `mutation($p: ID!, $u: ID!) { updateUnitUser(propertyId: $p, userId: $u, input: {userName: "Den"}) { personaUpdateId dpskUpdateId } }`,
			map[string]any{"p": pid, "u": linked.ID.String()}, &none)
		if none.UpdateUnitUser.PersonaUpdateID != nil || none.UpdateUnitUser.DpskUpdateID != nil {
			t.Fatalf("no-op update = %+v", none)
		}
		var rm struct{ RemoveUnitDevice, RemoveUnitUserDevice bool }
		a.ok(t, token, `mutation($p: ID!, $u: ID!) { removeUnitDevice(propertyId: $p, deviceId: "02-00-00-00-00-02")
		  removeUnitUserDevice(propertyId: $p, userId: $u, deviceId: "0200.0000.0001") }`,
			map[string]any{"p": pid, "u": f.unit.Unit.UnitUserID.String()}, &rm)
		if !rm.RemoveUnitDevice || !rm.RemoveUnitUserDevice {
			t.Fatalf("remove = %+v", rm)
		}
		a.fails(t, token, `mutation($p: ID!) { removeUnitDevice(propertyId: $p, deviceId: "02:00:00:00:00:03") }`, map[string]any{"p": pid}, "NOT_FOUND")
		a.fails(t, token, `mutation($p: ID!) { removeUnitDevice(propertyId: $p, deviceId: "nope") }`, map[string]any{"p": pid}, "BAD_USER_INPUT")
		conflict := a.fails(t, token, `mutation($p: ID!, $s: String!) { updateUnit(propertyId: $p, input: {guestSecret: $s}) { id } }`,
			map[string]any{"p": pid, "s": "my-new-secret"}, "CONFLICT")
		if !strings.Contains(conflict.Message, "already used") {
			t.Fatalf("conflict message = %q", conflict.Message)
		}
		var reset struct{ ResetPortalAccess bool }
		a.ok(t, token, `mutation($p: ID!) { resetPortalAccess(propertyId: $p) }`, map[string]any{"p": pid}, &reset)
		eventually(t, "token revoked", func() bool {
			errs := a.query(t, token, `query($p: ID!) { unit(propertyId: $p) { id } }`, map[string]any{"p": pid}, nil)
			return len(errs) > 0 && errs[0].Extensions["code"] == "UNAUTHENTICATED"
		})
	})
}

func TestGraphQLErrorCodes(t *testing.T) {
	a := newAPI(t)
	f := newFixture(t, a.store, db.PropertyInput{})
	pid, other := f.property.ID.String(), f.other.ID.String()
	token := a.login(t, f.property.ID, f.unit.PortalSecret)
	vars := map[string]any{"p": pid}
	tests := []struct {
		name, credential, query string
		vars                    map[string]any
		code                    string
	}{
		{"no token", "", `query($p: ID!) { unit(propertyId: $p) { id } }`, vars, "UNAUTHENTICATED"},
		{"garbage token", "garbage", `query($p: ID!) { unit(propertyId: $p) { id } }`, vars, "UNAUTHENTICATED"},
		{"other property", token, `query($p: ID!) { property(propertyId: $p) { id } }`, map[string]any{"p": other}, "UNAUTHENTICATED"},
		{"neighbour's unit", token, `query($p: ID!, $u: ID) { unit(propertyId: $p, unitId: $u) { id } }`, map[string]any{"p": pid, "u": f.neighbour.Unit.ID.String()}, "NOT_FOUND"},
		{"neighbour's user", token, `query($p: ID!, $u: ID!) { unitUser(propertyId: $p, userId: $u) { id } }`, map[string]any{"p": pid, "u": f.neighbour.Unit.UnitUserID.String()}, "NOT_FOUND"},
		{"neighbour's user update", token, `mutation($p: ID!, $u: ID!) { updateUnitUser(propertyId: $p, userId: $u, input: {userName: "x"}) { user { id } } }`, map[string]any{"p": pid, "u": f.neighbour.Unit.UnitUserID.String()}, "NOT_FOUND"},
		{"resident lists units", token, `query($p: ID!) { property(propertyId: $p) { units { totalCount } } }`, vars, "FORBIDDEN"},
		{"chosen passphrase", token, `mutation($p: ID!) { updateUnit(propertyId: $p, input: {secret: "chosen-one-1"}) { id } }`, vars, "FORBIDDEN"},
		{"guest secret without guests", token, `mutation($p: ID!) { updateUnit(propertyId: $p, input: {guestSecret: ""}) { id } }`, vars, "FORBIDDEN"},
		{"bad id", token, `query { unit(propertyId: "not-a-uuid") { id } }`, nil, "BAD_USER_INPUT"},
		{"short passphrase", token, `mutation($p: ID!) { updateUnit(propertyId: $p, input: {secret: "short"}) { id } }`, vars, "BAD_USER_INPUT"},
		{"bad type", token, `query($p: ID!) { unitDevices(propertyId: $p, type: LINKED) { id } }`, vars, "BAD_USER_INPUT"},
		{"unknown property public", "", `query { portalAccess(propertyId: "00000000-0000-0000-0000-000000000001") { portalAllowed } }`, nil, "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := a.fails(t, tt.credential, tt.query, tt.vars, tt.code)
			if strings.Contains(e.Message, "SQL") || strings.Contains(e.Message, "pgx") {
				t.Fatalf("message leaks internals: %q", e.Message)
			}
		})
	}
	if got := dbtest.Must[model.UnitUser](t)(a.store.UnitUserByID(context.Background(), model.PropertyScope(f.property.ID), f.neighbour.Unit.UnitUserID)); got.UserName == "x" {
		t.Fatal("a neighbour's user changed")
	}

	t.Run("bad user input names the field", func(t *testing.T) {
		e := a.fails(t, token, `mutation($p: ID!) { updateUnit(propertyId: $p, input: {contact: {email: "x", phoneNumber: "12345678901234567"}}) { id } }`, vars, "BAD_USER_INPUT")
		fields, _ := e.Extensions["fields"].([]any)
		if len(fields) != 2 {
			t.Fatalf("fields = %v", e.Extensions)
		}
	})
	t.Run("internal errors are hidden", func(t *testing.T) {
		// Corrupt a ciphertext: reading it fails inside the store.
		if _, err := a.store.Pool().Exec(context.Background(), `UPDATE unit_users SET passphrase_cipher = '\x01' WHERE id = $1`, f.unit.Unit.UnitUserID); err != nil {
			t.Fatal(err)
		}
		e := a.fails(t, token, `query($p: ID!) { unit(propertyId: $p) { secret } }`, vars, "INTERNAL")
		if e.Message != "internal error" {
			t.Fatalf("message = %q", e.Message)
		}
		if !strings.Contains(a.logs.String(), "internal error") || !strings.Contains(a.logs.String(), "request_id") {
			t.Fatalf("internal error not logged with a request id:\n%s", a.logs.String())
		}
	})
	t.Run("parse and validation failures are 422", func(t *testing.T) {
		for body, code := range map[string]string{
			`{"query":"query { unit(propertyId: "}`:    "GRAPHQL_PARSE_FAILED",
			`{"query":"query { nosuchfield }"}`:        "GRAPHQL_VALIDATION_FAILED",
			`{"query":"query { portalAccess { x } }"}`: "GRAPHQL_VALIDATION_FAILED",
		} {
			status, resp := a.post(t, body)
			if status != 422 || !strings.Contains(resp, code) {
				t.Fatalf("%s → %d %s", body, status, resp)
			}
		}
		status, resp := a.post(t, `{"query": not json`)
		if status != 400 || strings.Contains(resp, "not json") {
			t.Fatalf("bad JSON → %d %s (the body must not be echoed)", status, resp)
		}
		for _, body := range []string{
			`{"query":"{ __typename }","variables":"x"}`, `{"query":"{ __typename }","extensions":[1]}`,
			`{"query":"{ __typename }"} {"query":"{ __typename }"}`, `{"query":"{ __typename }"} x`, `[{"query":"{ __typename }"}]`,
			`{"query":7}`, `{"query":"{ __typename }","operationName":{}}`,
		} {
			if status, resp := a.post(t, body); status != 400 || !strings.Contains(resp, `"code":"BAD_REQUEST"`) {
				t.Fatalf("malformed request object %s → %d %s", body, status, resp)
			}
		}
	})
}

func TestGraphQLUnavailable(t *testing.T) {
	store := dbtest.Must[*db.DB](t)(db.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", dbtest.Keys(t), db.Options{}))
	defer store.Close()
	svc := service.New(store, dbtest.Keys(t), service.Options{})
	h := rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(), RequestTimeout: 5 * time.Second,
		PublicBaseURL: "http://localhost", GraphQL: resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 1000})})
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ portalAccess(propertyId: \"`+uuid.NewString()+`\") { portalAllowed } }"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"UNAVAILABLE"`) {
		t.Fatalf("database down → %d %s", w.Code, w.Body.String())
	}
}

func TestGraphQLManager(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	f := newFixture(t, a.store, db.PropertyInput{})
	key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, f.property.ID)).Key
	otherKey := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, f.other.ID)).Key
	pid := f.property.ID.String()

	var res struct {
		Property struct {
			Units struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct{ Node struct{ Number string } }
			}
		}
	}
	a.ok(t, key, `query($p: ID!) { property(propertyId: $p) { units(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { number } } } } }`,
		map[string]any{"p": pid}, &res)
	if res.Property.Units.TotalCount != 2 || res.Property.Units.Edges[0].Node.Number != "101" || !res.Property.Units.PageInfo.HasNextPage {
		t.Fatalf("page 1 = %+v", res)
	}
	a.ok(t, key, `query($p: ID!, $a: String) { property(propertyId: $p) { units(first: 1, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { number } } } } }`,
		map[string]any{"p": pid, "a": res.Property.Units.PageInfo.EndCursor}, &res)
	if res.Property.Units.Edges[0].Node.Number != "102" || res.Property.Units.PageInfo.HasNextPage {
		t.Fatalf("page 2 = %+v", res)
	}
	var upd struct{ UpdateUnit struct{ Description string } }
	a.ok(t, key, `mutation($p: ID!, $u: ID) { updateUnit(propertyId: $p, input: {unitId: $u, description: "by the manager"}) { description } }`,
		map[string]any{"p": pid, "u": f.neighbour.Unit.ID.String()}, &upd)
	if upd.UpdateUnit.Description != "by the manager" {
		t.Fatalf("update = %+v", upd)
	}
	a.fails(t, key, `query($p: ID!) { unit(propertyId: $p) { id } }`, map[string]any{"p": pid}, "BAD_USER_INPUT")
	a.fails(t, key, `query($p: ID!, $u: ID) { unit(propertyId: $p, unitId: $u) { id } }`, map[string]any{"p": pid, "u": f.foreign.Unit.ID.String()}, "NOT_FOUND")
	a.fails(t, otherKey, `query($p: ID!) { property(propertyId: $p) { id } }`, map[string]any{"p": pid}, "UNAUTHENTICATED")
	a.fails(t, model.ManagerKeyPrefix+"made-up", `query($p: ID!) { property(propertyId: $p) { id } }`, map[string]any{"p": pid}, "UNAUTHENTICATED")
}

// statements counts the SQL statements one GraphQL operation sends.
func (a *api) statements(tb testing.TB, credential, q string, vars map[string]any) int64 {
	tb.Helper()
	n, _ := a.sends(tb, credential, q, vars)
	return n
}

// sends counts the SQL statements one GraphQL operation sends and the
// waits on the database they cost (a batch of statements is one).
func (a *api) sends(tb testing.TB, credential, q string, vars map[string]any) (statements, sends int64) {
	tb.Helper()
	a.ok(tb, credential, q, vars, nil) // warm the credential cache
	before, sent := a.counter.Count(), a.counter.Sends()
	a.ok(tb, credential, q, vars, nil)
	return a.counter.Count() - before, a.counter.Sends() - sent
}

// populate gives every unit children-1 LINKED users besides its UNIT user
// and every user two devices.
func populate(tb testing.TB, store *db.DB, propertyID uuid.UUID, units []uuid.UUID, children int) {
	tb.Helper()
	ctx := context.Background()
	for _, u := range units {
		for i := 1; i < children; i++ {
			dbtest.Must[model.UnitUser](tb)(store.CreateUnitUser(ctx, model.PropertyScope(propertyID), u, fmt.Sprintf("user %d", i), "", ""))
		}
	}
	if _, err := store.Pool().Exec(ctx, `INSERT INTO devices (id, unit_id, user_id, mac_address)
	  SELECT gen_random_uuid(), uu.unit_id, uu.id,
	    upper(regexp_replace(lpad(to_hex(row_number() OVER () * 2 + d), 12, '0'), '(..)(?!$)', '\1:', 'g'))
	  FROM unit_users uu CROSS JOIN generate_series(0, 1) AS d WHERE uu.unit_id = ANY($1)`, units); err != nil {
		tb.Fatal(err)
	}
}

const residentQuery = `query($p: ID!) { unit(propertyId: $p) { id number
  users(first: 100) { totalCount edges { node { id userName passphrase devices { macAddress displayName lastSeen } } } } } }`

const managerQuery = `query($p: ID!) { property(propertyId: $p) { name
  units(first: 50) { totalCount edges { node { number secret
    users(first: 20) { edges { node { userName type devices { macAddress osType } } } } } } } } }`

func TestStatementsPerNestingLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("a large tree of rows to count statements over: make test runs it, make check does not")
	}
	for _, c := range []struct {
		children   int
		gqlgenOnly bool
	}{{2, false}, {20, false}, {2, true}, {20, true}} {
		children, executor := c.children, map[bool]string{false: "direct", true: "gqlgen"}[c.gqlgenOnly]
		t.Run(fmt.Sprintf("%d children per parent, %s executor", children, executor), func(t *testing.T) {
			a := newAPIOn(t, c.gqlgenOnly)
			ctx := context.Background()
			p := dbtest.Must[model.Property](t)(a.store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Scale")}))
			var units []uuid.UUID
			var first db.CreatedUnit
			for i := range 50 {
				c := dbtest.Must[db.CreatedUnit](t)(a.store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: fmt.Sprintf("%03d", i)}))
				units = append(units, c.Unit.ID)
				if i == 0 {
					first = c
				}
			}
			populate(t, a.store, p.ID, units, children)
			token := a.login(t, p.ID, first.PortalSecret)
			key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, p.ID)).Key
			vars := map[string]any{"p": p.ID.String()}

			var res struct {
				Unit struct{ Users struct{ TotalCount int } }
			}
			a.ok(t, token, residentQuery, vars, &res)
			if res.Unit.Users.TotalCount != children {
				t.Fatalf("users = %d, want %d", res.Unit.Users.TotalCount, children)
			}
			// The direct executor reads the resident's unit, users and
			// devices in one batch; gqlgen's, level by level.
			wantSends := map[bool]int64{false: 1, true: 3}[c.gqlgenOnly]
			if n, sends := a.sends(t, token, residentQuery, vars); n != 3 || sends != wantSends {
				t.Fatalf("resident query (unit → users → devices) sent %d statements in %d sends, want 3 in %d", n, sends, wantSends)
			}
			// The page's own query: with its blocked devices, change
			// requests and property, 6 statements in one batch on the
			// direct executor.
			pageSends := map[bool]int64{false: 1, true: 6}[c.gqlgenOnly]
			if n, sends := a.sends(t, token, pageQuery(t), map[string]any{"propertyId": p.ID.String()}); n != 6 || sends != pageSends {
				t.Fatalf("the page's ResidentUnit sent %d statements in %d sends, want 6 in %d", n, sends, pageSends)
			}
			var mgr struct {
				Property struct {
					Units struct {
						Edges []struct {
							Node struct {
								Users struct {
									Edges []struct {
										Node struct{ Devices []struct{ MacAddress string } }
									}
								}
							}
						}
					}
				}
			}
			a.ok(t, key, managerQuery, vars, &mgr)
			if len(mgr.Property.Units.Edges) != 50 || len(mgr.Property.Units.Edges[49].Node.Users.Edges) != children ||
				len(mgr.Property.Units.Edges[49].Node.Users.Edges[0].Node.Devices) != 2 {
				t.Fatal("manager query did not return the whole tree")
			}
			for range 3 { // not a matter of timing: every run sends the same
				if n := a.statements(t, key, managerQuery, vars); n != 4 {
					t.Fatalf("manager query (property → 50 units → users → devices) sent %d statements, want 4", n)
				}
			}
			t.Logf("%d children per parent, %s executor: resident query 3 statements in %d sends, manager query 4 statements", children, executor, wantSends)
		})
	}
}

// pageQuery is the resident page's ResidentUnit, as its manifest holds it.
func pageQuery(tb testing.TB) string {
	tb.Helper()
	m := dbtest.Must[resolvers.Manifest](tb)(resolvers.ParseManifest(portal.Manifest()))
	for _, o := range m.Operations {
		if o.Name == "ResidentUnit" {
			return o.Body
		}
	}
	tb.Fatal("no ResidentUnit in the page's manifest")
	return ""
}
