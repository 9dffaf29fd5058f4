package resolvers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/vektah/gqlparser/v2/ast"
)

// Cursors are opaque to clients: base64url of a small JSON object holding
// the keyset position (the sort value and the id of the last item).
type cursor struct {
	Value string    `json:"v,omitempty"`
	ID    uuid.UUID `json:"i"`
}

var errBadCursor = model.InvalidField("after", "is not a cursor of this list")

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s *string) (*cursor, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*s)
	if err != nil || len(b) > 1024 {
		return nil, errBadCursor
	}
	var c cursor
	if json.Unmarshal(b, &c) != nil || c.ID == uuid.Nil {
		return nil, errBadCursor
	}
	return &c, nil
}

// pageSize checks a connection's first argument: 1 to 100, default 20.
func pageSize(first *int) (int, error) {
	if first == nil {
		return service.DefaultPageSize, nil
	}
	if *first < 1 || *first > service.MaxPageSize {
		return 0, model.InvalidField("first", "must be between 1 and 100")
	}
	return *first, nil
}

// connectionKey checks a connection's first and after arguments and returns
// the loader key of the page; position is the keyset value a cursor holds
// for this connection (a unit number, a user id).
func connectionKey(parent uuid.UUID, first *int, after *string, position func(*cursor) string) (pageKey, error) {
	n, err := pageSize(first)
	if err != nil {
		return pageKey{}, err
	}
	c, err := decodeCursor(after)
	if err != nil {
		return pageKey{}, err
	}
	key := pageKey{parent: parent, first: n}
	if c != nil {
		key.after = position(c)
	}
	return key, nil
}

// totalSelected reports whether the connection field being resolved
// selects totalCount (its children are counted only then; the direct
// executor's pageKey decides the same way, so both find the same pages).
func totalSelected(ctx context.Context, connType string) bool {
	return selectsTotal(graphql.CollectFieldsCtx(ctx, []string{connType}))
}

// selectsTotal reports whether a connection's fields include totalCount.
func selectsTotal(fields []graphql.CollectedField) bool {
	return slices.ContainsFunc(fields, func(f graphql.CollectedField) bool { return f.Name == "totalCount" })
}

// Cursor positions: a user page resumes after an id, a unit page after a
// unit number.
func idPosition(c *cursor) string    { return c.ID.String() }
func valuePosition(c *cursor) string { return c.Value }

// The prefetchers below are how gqlgen's executor batches: a resolver that
// returns many parents calls one, and everything the operation selects
// below those parents is fetched level by level for all of them at once —
// by the direct executor's prefetchers (direct.go), so that both executors
// batch the same way — and primed into the loaders, where the child
// resolvers find it. Errors are left for the child resolvers to report.

// below returns a direct executor over the operation ctx belongs to and
// the selection of the field being resolved.
func below(ctx context.Context, svc *service.Service) (*direct, ast.SelectionSet, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return nil, nil, false
	}
	return newDirect(ctx, graphql.GetOperationContext(ctx), svc, loadersFrom(ctx)), fc.Field.Selections, true
}

// prefetchUnitChildren serves a field that returns a UnitConnection.
func prefetchUnitChildren(ctx context.Context, svc *service.Service, units []*model.Unit) {
	if e, sel, ok := below(ctx, svc); ok && len(units) > 1 {
		_ = e.belowNodes(sel, "UnitConnection", "UnitEdge", func(nodes []graphql.CollectedField) error {
			return e.prefetchUnits(units, nodes)
		})
	}
}

// prefetchUserChildren serves a field that returns a UnitUserConnection.
func prefetchUserChildren(ctx context.Context, svc *service.Service, users []*model.UnitUser) {
	if e, sel, ok := below(ctx, svc); ok && len(users) > 1 {
		_ = e.belowNodes(sel, "UnitUserConnection", "UnitUserEdge", func(nodes []graphql.CollectedField) error {
			return e.prefetchUsers(users, nodes)
		})
	}
}

// prefetchDeviceChildren serves a field that returns a list of devices.
func prefetchDeviceChildren(ctx context.Context, svc *service.Service, devices []*model.Device) {
	if e, sel, ok := below(ctx, svc); ok && len(devices) > 1 {
		_ = e.prefetchDevices(devices, sel)
	}
}

// project returns f of every element of s.
func project[T, K any](s []T, f func(T) K) []K {
	out := make([]K, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// flatten joins device lists.
func flatten(lists [][]*model.Device) []*model.Device {
	var out []*model.Device
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func unitConnection(p model.Page[model.Unit]) *model.UnitConnection {
	c := &model.UnitConnection{Edges: make([]*model.UnitEdge, len(p.Items)), PageInfo: &model.PageInfo{HasNextPage: p.HasNext}, TotalCount: p.Total}
	for i := range p.Items {
		u := &p.Items[i]
		c.Edges[i] = &model.UnitEdge{Cursor: encodeCursor(cursor{Value: u.Number, ID: u.ID}), Node: u}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.EndCursor = &c.Edges[n-1].Cursor
	}
	return c
}

func userConnection(p model.Page[model.UnitUser], value func(*model.UnitUser) string) *model.UnitUserConnection {
	c := &model.UnitUserConnection{Edges: make([]*model.UnitUserEdge, len(p.Items)), PageInfo: &model.PageInfo{HasNextPage: p.HasNext}, TotalCount: p.Total}
	for i := range p.Items {
		u := &p.Items[i]
		cur := cursor{ID: u.ID}
		if value != nil {
			cur.Value = value(u)
		}
		c.Edges[i] = &model.UnitUserEdge{Cursor: encodeCursor(cur), Node: u}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.EndCursor = &c.Edges[n-1].Cursor
	}
	return c
}

func unitsOf(c *model.UnitConnection) []*model.Unit {
	return project(c.Edges, func(e *model.UnitEdge) *model.Unit { return e.Node })
}

func usersOf(c *model.UnitUserConnection) []*model.UnitUser {
	return project(c.Edges, func(e *model.UnitUserEdge) *model.UnitUser { return e.Node })
}
