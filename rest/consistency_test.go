package rest_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
)

// graphql runs an operation over HTTP with the world's token.
func (w *world) graphql(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	r := w.do(t, "POST", "/graphql", map[string]any{"query": query, "variables": vars}, "Authorization", w.token)
	var resp struct {
		Data   json.RawMessage
		Errors []any
	}
	if r.status != 200 || json.Unmarshal(r.body, &resp) != nil || len(resp.Errors) > 0 {
		t.Fatalf("graphql: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(resp.Data, out); err != nil {
		t.Fatal(err)
	}
}

const sameUnitQuery = `query($p: ID!) { unit(propertyId: $p) { id number description status secret guestSecret
  contact { contactName email phoneNumber }
  users(first: 100) { edges { node { id userName email phoneNumber passphrase status type
    devices { id macAddress displayName description osType lastSeen type user { id } } } } } } }`

type gqlUnit struct {
	Unit struct {
		ID, Number, Description, Status, Secret string
		GuestSecret                             *string
		Contact                                 struct{ ContactName, Email, PhoneNumber string }
		Users                                   struct {
			Edges []struct {
				Node struct {
					ID, UserName, Email, PhoneNumber, Passphrase, Status, Type string
					Devices                                                    []struct {
						ID, MacAddress, DisplayName, Description, OsType, Type string
						LastSeen                                               *string
						User                                                   struct{ ID string }
					}
				}
			}
		}
	}
}

// TestRESTAndGraphQLAgree reads the same unit, users and devices through
// both transports and finds equal values, then writes through each and reads
// through the other.
func TestRESTAndGraphQLAgree(t *testing.T) {
	w := newWorld(t)
	pid := w.p.ID
	auth := []string{"Authorization", w.token}
	compare := func(t *testing.T) {
		t.Helper()
		var g gqlUnit
		w.graphql(t, sameUnitQuery, map[string]any{"p": pid}, &g)
		var unit map[string]any
		json.Unmarshal(w.do(t, "GET", w.path("%s/units", pid), nil, auth...).body, &unit)
		contact := unit["contact"].(map[string]any)
		got := []any{g.Unit.ID, g.Unit.Number, g.Unit.Description, g.Unit.Status, g.Unit.Secret, *g.Unit.GuestSecret,
			g.Unit.Contact.ContactName, g.Unit.Contact.Email, g.Unit.Contact.PhoneNumber}
		want := []any{unit["guid"], unit["number"], unit["description"], unit["status"], unit["secret"], unit["guestSecret"],
			contact["contactName"], contact["email"], contact["phoneNumber"]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("unit differs:\nGraphQL %v\nREST    %v", got, want)
		}
		var page map[string]any
		json.Unmarshal(w.do(t, "POST", w.path("%s/units/users/query", pid), `{}`, auth...).body, &page)
		restUsers := page["content"].([]any)
		if len(restUsers) != len(g.Unit.Users.Edges) {
			t.Fatalf("%d users over REST, %d over GraphQL", len(restUsers), len(g.Unit.Users.Edges))
		}
		for i, e := range g.Unit.Users.Edges { // both ordered by id
			u, r := e.Node, restUsers[i].(map[string]any)
			if fmt.Sprint(u.ID, u.UserName, u.Email, u.PhoneNumber, u.Passphrase, u.Status, u.Type) !=
				fmt.Sprint(r["userId"], r["userName"], r["email"], r["phoneNumber"], r["passphrase"], r["status"], r["type"]) {
				t.Fatalf("user %d differs:\nGraphQL %+v\nREST    %v", i, u, r)
			}
			var devices map[string]any
			json.Unmarshal(w.do(t, "GET", w.path("%s/units/users/%s/devices", pid, u.ID), nil, auth...).body, &devices)
			rd := devices["contents"].([]any)
			if len(rd) != len(u.Devices) {
				t.Fatalf("user %s: %d devices over REST, %d over GraphQL", u.ID, len(rd), len(u.Devices))
			}
			sort.Slice(rd, func(a, b int) bool {
				return rd[a].(map[string]any)["macAddress"].(string) < rd[b].(map[string]any)["macAddress"].(string)
			})
			for j, d := range u.Devices {
				r := rd[j].(map[string]any)
				seen := "<nil>"
				if d.LastSeen != nil {
					seen = *d.LastSeen
				}
				if fmt.Sprint(d.ID, d.MacAddress, d.DisplayName, d.Description, d.OsType, d.Type, d.User.ID, seen) !=
					fmt.Sprint(r["deviceId"], r["macAddress"], r["displayName"], r["description"], r["osType"], r["type"], r["userId"], r["lastSeen"]) {
					t.Fatalf("device differs:\nGraphQL %+v\nREST    %v", d, r)
				}
			}
		}
	}
	compare(t)

	// Write through REST, read through GraphQL (and compare everything again).
	w.do(t, "PUT", w.path("%s/units", pid), `{"description":"via REST","secret":""}`, auth...)
	w.do(t, "PUT", w.path("%s/units/users/%s", pid, w.linked.ID), `{"userName":"Named via REST","status":"BLOCKED"}`, auth...)
	var g gqlUnit
	w.graphql(t, sameUnitQuery, map[string]any{"p": pid}, &g)
	if g.Unit.Description != "via REST" || g.Unit.Secret == w.unit.Unit.Secret {
		t.Fatalf("GraphQL does not see the REST write: %+v", g.Unit)
	}
	compare(t)

	// Write through GraphQL, read through REST.
	var out any
	w.graphql(t, `mutation($p: ID!, $u: ID!) { updateUnit(propertyId: $p, input: {contact: {email: "gql@example.org"}}) { id }
	  updateUnitUser(propertyId: $p, userId: $u, input: {phoneNumber: "+1 555 0123"}) { personaUpdateId }
	  removeUnitDevice(propertyId: $p, deviceId: "02:00:00:00:00:01") }`,
		map[string]any{"p": pid, "u": w.linked.ID}, &out)
	var unit map[string]any
	json.Unmarshal(w.do(t, "GET", w.path("%s/units", pid), nil, auth...).body, &unit)
	if unit["contact"].(map[string]any)["email"] != "gql@example.org" {
		t.Fatalf("REST does not see the GraphQL write: %v", unit)
	}
	var user map[string]any
	json.Unmarshal(w.do(t, "GET", w.path("%s/units/users/%s", pid, w.linked.ID), nil, auth...).body, &user)
	if user["phoneNumber"] != "+1 555 0123" {
		t.Fatalf("REST user = %v", user)
	}
	if r := w.do(t, "GET", w.path("%s/units/devices?type=UNIT", pid), nil, auth...); len(r.json(t)["contents"].([]any)) != 0 {
		t.Fatalf("REST still lists the device GraphQL removed: %s", r.body)
	}
	compare(t)
}
