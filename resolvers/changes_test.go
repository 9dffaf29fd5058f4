package resolvers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

type changeNode struct {
	ID, Kind, Status, UserID string
	CompletedAt, Detail      *string
	Unit                     struct{ ID string }
}

type changePage struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage bool
		EndCursor   *string
	}
	Edges []struct{ Node changeNode }
}

const unitChanges = `query($p: ID!, $first: Int, $after: String, $status: ChangeStatus) { unit(propertyId: $p) {
  changeRequests(first: $first, after: $after, status: $status) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind status userId completedAt detail unit { id } } } } } }`

func TestChangeRequestsOverGraphQL(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	f := newFixture(t, a.store, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
	pid := f.property.ID.String()
	token := a.login(t, f.property.ID, f.unit.PortalSecret)
	key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, f.property.ID)).Key
	// IDENTITY_CREATED at creation, then three passphrase changes.
	for range 3 {
		a.ok(t, token, `mutation($p: ID!) { updateUnit(propertyId: $p, input: {secret: ""}) { id } }`, map[string]any{"p": pid}, nil)
	}
	written := dbtest.Must[[]model.ChangeRequest](t)(a.store.ChangeRequestsByUnit(ctx, f.unit.Unit.ID))

	t.Run("newest first, paged, filtered", func(t *testing.T) {
		var res struct {
			Unit struct{ ChangeRequests changePage }
		}
		a.ok(t, token, unitChanges, map[string]any{"p": pid, "first": 3}, &res)
		page := res.Unit.ChangeRequests
		if page.TotalCount != 4 || !page.PageInfo.HasNextPage || len(page.Edges) != 3 {
			t.Fatalf("first page: %+v", page)
		}
		for i, e := range page.Edges {
			if want := written[len(written)-1-i]; e.Node.ID != want.ID.String() || e.Node.Kind != string(want.Kind) ||
				e.Node.Status != "PENDING" || e.Node.Unit.ID != f.unit.Unit.ID.String() {
				t.Fatalf("edge %d: %+v, want %+v", i, e.Node, want)
			}
		}
		a.ok(t, token, unitChanges, map[string]any{"p": pid, "first": 3, "after": *page.PageInfo.EndCursor}, &res)
		if rest := res.Unit.ChangeRequests; len(rest.Edges) != 1 || rest.PageInfo.HasNextPage ||
			rest.Edges[0].Node.ID != written[0].ID.String() || rest.Edges[0].Node.Kind != "IDENTITY_CREATED" {
			t.Fatalf("second page: %+v", rest)
		}
		a.ok(t, token, unitChanges, map[string]any{"p": pid, "status": "APPLIED"}, &res)
		if res.Unit.ChangeRequests.TotalCount != 0 || len(res.Unit.ChangeRequests.Edges) != 0 {
			t.Fatalf("APPLIED: %+v", res.Unit.ChangeRequests)
		}
		a.fails(t, token, unitChanges, map[string]any{"p": pid, "after": "bm90IGEgY3Vyc29y"}, "BAD_USER_INPUT")
	})

	t.Run("one by id, own unit only", func(t *testing.T) {
		q := `query($p: ID!, $id: ID!) { changeRequest(propertyId: $p, id: $id) { id kind status } }`
		var res struct{ ChangeRequest changeNode }
		a.ok(t, token, q, map[string]any{"p": pid, "id": written[1].ID}, &res)
		if res.ChangeRequest.ID != written[1].ID.String() || res.ChangeRequest.Kind != "PASSPHRASE_CHANGED" {
			t.Fatalf("%+v", res.ChangeRequest)
		}
		neighbour := dbtest.Must[[]model.ChangeRequest](t)(a.store.ChangeRequestsByUnit(ctx, f.neighbour.Unit.ID))[0]
		a.fails(t, token, q, map[string]any{"p": pid, "id": neighbour.ID}, "NOT_FOUND")
		a.fails(t, token, q, map[string]any{"p": pid, "id": uuid.New()}, "NOT_FOUND")
		a.ok(t, key, q, map[string]any{"p": pid, "id": neighbour.ID}, &res) // a manager sees every unit's
	})

	t.Run("results reported by the Wi-Fi side", func(t *testing.T) {
		q := `mutation($p: ID!, $id: ID!, $r: ChangeResult!, $d: String) {
		  completeChangeRequest(propertyId: $p, id: $id, result: $r, detail: $d) { id status detail completedAt } }`
		vars := func(id uuid.UUID, r string, detail any) map[string]any {
			return map[string]any{"p": pid, "id": id, "r": r, "d": detail}
		}
		a.fails(t, token, q, vars(written[3].ID, "APPLIED", nil), "FORBIDDEN")
		var res struct{ CompleteChangeRequest changeNode }
		a.ok(t, key, q, vars(written[3].ID, "APPLIED", "set on 3 access points"), &res)
		if c := res.CompleteChangeRequest; c.Status != "APPLIED" || c.Detail == nil || *c.Detail != "set on 3 access points" || c.CompletedAt == nil {
			t.Fatalf("%+v", c)
		}
		a.ok(t, key, q, vars(written[3].ID, "APPLIED", "again"), &res) // at-least-once: a no-op
		if *res.CompleteChangeRequest.Detail != "set on 3 access points" {
			t.Fatal("a repeated result overwrote the first")
		}
		a.fails(t, key, q, vars(written[3].ID, "FAILED", nil), "CONFLICT")
		a.fails(t, key, q, vars(written[2].ID, "FAILED", strings.Repeat("x", 1025)), "BAD_USER_INPUT")
		a.fails(t, key, q, vars(written[2].ID, "FAILED", "refused\x1b[31m"), "BAD_USER_INPUT")
		long := strings.Repeat("é", 1024) // the bound counts characters, not bytes
		a.ok(t, key, q, vars(written[2].ID, "FAILED", long), &res)
		if c := res.CompleteChangeRequest; c.Status != "FAILED" || c.Detail == nil || *c.Detail != long {
			t.Fatalf("%+v", c)
		}
		foreign := dbtest.Must[[]model.ChangeRequest](t)(a.store.ChangeRequestsByUnit(ctx, f.foreign.Unit.ID))[0]
		a.fails(t, key, q, vars(foreign.ID, "APPLIED", nil), "NOT_FOUND")
		// The resident sees the result.
		var page struct {
			Unit struct{ ChangeRequests changePage }
		}
		a.ok(t, token, unitChanges, map[string]any{"p": pid, "status": "APPLIED"}, &page)
		if e := page.Unit.ChangeRequests.Edges; len(e) != 1 || e[0].Node.ID != written[3].ID.String() {
			t.Fatalf("%+v", page.Unit.ChangeRequests)
		}
	})
}

// Unit.changeRequests goes through a loader: the manager's units page with
// each unit's change requests, and their unit, costs one statement per
// level (4).
func TestChangeRequestsStatementsPerLevel(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	p := dbtest.Must[model.Property](t)(a.store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Levels")}))
	for i := range 20 {
		dbtest.Must[db.CreatedUnit](t)(a.store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: fmt.Sprint(i)}))
	}
	key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, p.ID)).Key
	q := `query($p: ID!) { property(propertyId: $p) { units(first: 20) { edges { node { number
	  changeRequests(first: 5) { totalCount edges { node { kind status unit { number } } } } } } } } }`
	if n := a.statements(t, key, q, map[string]any{"p": p.ID}); n != 4 {
		t.Fatalf("property → 20 units → change requests → their unit sent %d statements, want 4", n)
	}
}
