package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/rest"
)

// The authorization matrix: every REST route of the route table and every
// root field of the GraphQL schema, against every way a caller can be wrong.
// A new operation without a row here fails the test.

// graphQLOps are the operations the matrix sends for each root field; $p is
// the property, $u a unit user, $d a device (MAC).
var graphQLOps = map[string]string{
	"property":             `query($p: ID!) { property(propertyId: $p) { id name } }`,
	"unit":                 `query($p: ID!) { unit(propertyId: $p) { id secret guestSecret } }`,
	"unitUser":             `query($p: ID!, $u: ID!) { unitUser(propertyId: $p, userId: $u) { id passphrase } }`,
	"unitUsers":            `query($p: ID!) { unitUsers(propertyId: $p) { totalCount edges { node { passphrase } } } }`,
	"unitDevices":          `query($p: ID!) { unitDevices(propertyId: $p, type: UNIT) { id } }`,
	"updateUnit":           `mutation($p: ID!) { updateUnit(propertyId: $p, input: {description: "matrix"}) { id } }`,
	"resetPortalAccess":    `mutation($p: ID!) { resetPortalAccess(propertyId: $p) }`,
	"updateUnitUser":       `mutation($p: ID!, $u: ID!) { updateUnitUser(propertyId: $p, userId: $u, input: {userName: "matrix", passphrase: ""}) { user { id } } }`,
	"removeUnitDevice":     `mutation($p: ID!, $d: String!) { removeUnitDevice(propertyId: $p, deviceId: $d) }`,
	"removeUnitUserDevice": `mutation($p: ID!, $u: ID!, $d: String!) { removeUnitUserDevice(propertyId: $p, userId: $u, deviceId: $d) }`,
	"allowUnitUserDevice":  `mutation($p: ID!, $u: ID!, $d: String!) { allowUnitUserDevice(propertyId: $p, userId: $u, deviceId: $d) }`,
	// $u stands for a change request's id here: the credential is refused first.
	"changeRequest":         `query($p: ID!, $u: ID!) { changeRequest(propertyId: $p, id: $u) { id } }`,
	"completeChangeRequest": `mutation($p: ID!, $u: ID!) { completeChangeRequest(propertyId: $p, id: $u, result: APPLIED) { id } }`,
	// $u stands for a unit's id: the credential is refused first.
	"setUnitVlan": `mutation($p: ID!, $u: ID!) { setUnitVlan(propertyId: $p, unitId: $u, vlanId: 7) { id } }`,
}

// publicGraphQL are the root fields that need no credential.
var publicGraphQL = map[string]bool{"portalAccess": true, "uiConfiguration": true, "login": true}

// takesIDs marks the GraphQL operations that name a user or a device.
var takesIDs = map[string]bool{"unitUser": true, "updateUnitUser": true, "removeUnitDevice": true, "removeUnitUserDevice": true,
	"allowUnitUserDevice": true}

type target struct {
	property     string
	user, device string
	credential   string
}

type matrixCase struct {
	name string
	// make prepares the case in its own world and returns the target.
	make func(t *testing.T, w *world) target
	// rest and graphql are the expected REST status and GraphQL code;
	// 0 / "" means the case does not apply to that transport.
	rest    int
	graphql string
	// idsOnly: only for operations that name a user or device.
	idsOnly bool
}

func rootFields(t *testing.T) []string {
	t.Helper()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var out []string
	for _, typ := range []string{"Query", "Mutation"} {
		for _, f := range schema.Types[typ].Fields {
			if !strings.HasPrefix(f.Name, "__") {
				out = append(out, f.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestAuthorizationMatrix(t *testing.T) {
	ctx := context.Background()
	own := func(w *world, credential string) target {
		return target{property: w.p.ID.String(), user: w.linked.ID.String(), device: "02:00:00:00:00:03", credential: credential}
	}
	cases := []matrixCase{
		{name: "no token", make: func(t *testing.T, w *world) target { return own(w, "") }, rest: 401, graphql: "UNAUTHENTICATED"},
		{name: "malformed token", make: func(t *testing.T, w *world) target { return own(w, "Bearer not.a.token") }, rest: 401, graphql: "UNAUTHENTICATED"},
		{name: "expired token", make: func(t *testing.T, w *world) target {
			tok := dbtest.Keys(t).SignToken(model.UnitToken{PropertyID: w.p.ID, UnitID: w.unit.Unit.ID, Generation: w.unit.Unit.TokenGeneration,
				ExpiresAt: time.Now().Add(-time.Minute)})
			return own(w, tok)
		}, rest: 401, graphql: "UNAUTHENTICATED"},
		{name: "revoked token (TOKEN_RESET)", make: func(t *testing.T, w *world) target {
			if _, err := w.store.UpdateUnit(ctx, model.PropertyScope(w.p.ID), w.unit.Unit.ID, model.UnitUpdate{ResetPortalAccess: true}); err != nil {
				t.Fatal(err)
			}
			return own(w, w.token)
		}, rest: 401, graphql: "UNAUTHENTICATED"},
		{name: "disabled unit", make: func(t *testing.T, w *world) target {
			dbtest.Must[model.Unit](t)(w.store.SetUnitStatus(ctx, model.PropertyScope(w.p.ID), w.unit.Unit.ID, model.UnitDisabled))
			return own(w, w.token)
		}, rest: 401, graphql: "UNAUTHENTICATED"},
		{name: "portal switched off", make: func(t *testing.T, w *world) target {
			dbtest.Must[model.Property](t)(w.store.UpdateProperty(ctx, w.p.ID, db.PropertyInput{PortalAllowed: dbtest.Ptr(false)}))
			return own(w, w.token)
		}, rest: 401, graphql: "UNAUTHENTICATED"},
		{name: "token of another property", make: func(t *testing.T, w *world) target { return own(w, w.qToken) }, rest: 401, graphql: "UNAUTHENTICATED"},
		{name: "another unit's user and device", idsOnly: true, make: func(t *testing.T, w *world) target {
			return target{property: w.p.ID.String(), user: w.other.Unit.UnitUserID.String(), device: "02:00:00:00:00:04", credential: w.token}
		}, rest: 404, graphql: "NOT_FOUND"},
		{name: "manager key on REST", make: func(t *testing.T, w *world) target {
			return own(w, dbtest.Must[db.CreatedManagerKey](t)(w.store.CreateManagerKey(ctx, w.p.ID)).Key)
		}, rest: 401},
		{name: "manager key of another property", make: func(t *testing.T, w *world) target {
			return own(w, dbtest.Must[db.CreatedManagerKey](t)(w.store.CreateManagerKey(ctx, w.q.ID)).Key)
		}, rest: 401, graphql: "UNAUTHENTICATED"},
		{name: "revoked manager key", make: func(t *testing.T, w *world) target {
			k := dbtest.Must[db.CreatedManagerKey](t)(w.store.CreateManagerKey(ctx, w.p.ID))
			dbtest.Must[model.ManagerKey](t)(w.store.RevokeManagerKey(ctx, k.ManagerKey.ID))
			return own(w, k.Key)
		}, rest: 401, graphql: "UNAUTHENTICATED"},
	}

	fields := rootFields(t)
	for _, f := range fields {
		if _, ok := graphQLOps[f]; !ok && !publicGraphQL[f] {
			t.Fatalf("GraphQL root field %q has no row in the authorization matrix", f)
		}
	}
	restIDs := map[string]bool{"residentRemoveDevice": true, "getUnitUser": true, "updateUnitUser": true,
		"getUnitUserDevices": true, "removeUnitUserDevice": true}
	checked := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			tg := c.make(t, w)
			before := w.snapshotForeign(t)
			if c.rest != 0 {
				for _, rt := range rest.Routes {
					if !rt.Token || (c.idsOnly && !restIDs[rt.OperationID]) {
						continue
					}
					path := strings.NewReplacer("{propertyId}", tg.property, "{userId}", tg.user, "{deviceId}", tg.device).Replace(rt.Path)
					var body any
					if rt.Method == "PUT" || rt.Method == "POST" {
						body = `{"description":"matrix","userName":"matrix","passphrase":""}`
					}
					var header []string
					if tg.credential != "" {
						header = []string{"Authorization", tg.credential}
					}
					r := w.do(t, rt.Method, path, body, header...)
					if r.status != c.rest {
						t.Errorf("REST %s: %d, want %d: %s", rt.OperationID, r.status, c.rest, r.body)
					}
					w.noForeignSecrets(t, rt.OperationID, r.body)
					checked++
				}
			}
			if c.graphql != "" {
				for _, f := range fields {
					if publicGraphQL[f] || (c.idsOnly && !takesIDs[f]) {
						continue
					}
					vars := map[string]any{"p": tg.property}
					if strings.Contains(graphQLOps[f], "$u") {
						vars["u"] = tg.user
					}
					if strings.Contains(graphQLOps[f], "$d") {
						vars["d"] = tg.device
					}
					var header []string
					if tg.credential != "" {
						header = []string{"Authorization", tg.credential}
					}
					r := w.do(t, "POST", "/graphql", map[string]any{"query": graphQLOps[f], "variables": vars}, header...)
					var resp struct {
						Data   map[string]any
						Errors []struct{ Extensions map[string]any }
					}
					_ = json.Unmarshal(r.body, &resp)
					if r.status != 200 || len(resp.Errors) == 0 || resp.Errors[0].Extensions["code"] != c.graphql {
						t.Errorf("GraphQL %s: %d %s, want %s", f, r.status, r.body, c.graphql)
					}
					w.noForeignSecrets(t, f, r.body)
					checked++
				}
			}
			if after := w.snapshotForeign(t); after != before {
				t.Fatalf("foreign data changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	t.Logf("authorization matrix: %d routes + %d root fields, %d cases, %d checks", len(rest.Routes), len(fields), len(cases), checked)
}

// snapshotForeign reads everything of the neighbour's unit and of the other
// property that an attacker could try to read or change.
func (w *world) snapshotForeign(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, u := range []struct {
		scope model.Scope
		unit  db.CreatedUnit
	}{{model.PropertyScope(w.p.ID), w.other}, {model.PropertyScope(w.q.ID), w.plain}} {
		unit := dbtest.Must[model.Unit](t)(w.store.UnitByID(ctx, u.scope, u.unit.Unit.ID))
		j, _ := json.Marshal(unit) // by value: pointers compare by what they point to
		b.Write(j)
		users, _, err := w.store.QueryUnitUsers(ctx, model.UserQuery{UnitID: u.unit.Unit.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		j, _ = json.Marshal(users)
		b.Write(j)
		j, _ = json.Marshal(dbtest.Must[[]model.Device](t)(w.store.DevicesByUnitIDs(ctx, []uuid.UUID{u.unit.Unit.ID}, nil)))
		b.Write(j)
		fmt.Fprintf(&b, "changes=%d|", len(dbtest.Must[[]model.ChangeRequest](t)(w.store.ChangeRequestsByUnit(ctx, u.unit.Unit.ID))))
		secret, err := w.store.PortalSecret(ctx, u.scope, u.unit.Unit.ID)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "portal=%s|", secret)
	}
	return b.String()
}

// noForeignSecrets fails when a response carries a secret of the neighbour
// or of the other property.
func (w *world) noForeignSecrets(t *testing.T, op string, body []byte) {
	t.Helper()
	for _, s := range []string{w.other.Unit.Secret, w.plain.Unit.Secret, w.other.PortalSecret, w.plain.PortalSecret} {
		if strings.Contains(string(body), s) {
			t.Errorf("%s returned a foreign secret", op)
		}
	}
}
