package resolvers

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/loaders"
)

// totalSelected reports whether the connection field being resolved
// selects totalCount (its children are counted only then; the direct
// fast path decides the same way, so both find the same pages).
func totalSelected(ctx context.Context, connType string) bool {
	return slices.ContainsFunc(graphql.CollectFieldsCtx(ctx, []string{connType}), func(f graphql.CollectedField) bool { return f.Name == "totalCount" })
}

func unitConnection(p model.Page[model.Unit]) *model.UnitConnection {
	c := &model.UnitConnection{Edges: make([]*model.UnitEdge, len(p.Items)), PageInfo: &model.PageInfo{HasNextPage: p.HasNext}, TotalCount: p.Total}
	for i := range p.Items {
		u := &p.Items[i]
		c.Edges[i] = &model.UnitEdge{Cursor: loaders.EncodeCursor(loaders.Cursor{Value: u.Number, ID: u.ID}), Node: u}
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
		cur := loaders.Cursor{ID: u.ID}
		if value != nil {
			cur.Value = value(u)
		}
		c.Edges[i] = &model.UnitUserEdge{Cursor: loaders.EncodeCursor(cur), Node: u}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.EndCursor = &c.Edges[n-1].Cursor
	}
	return c
}

func unitsOf(c *model.UnitConnection) []*model.Unit {
	out := make([]*model.Unit, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

func usersOf(c *model.UnitUserConnection) []*model.UnitUser {
	out := make([]*model.UnitUser, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}
