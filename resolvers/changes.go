package resolvers

import (
	"context"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/loaders"
)

// Change requests (SPEC §8.2) as GraphQL pages them: a unit's, through
// the per-request loader.

// changeRequests serves Unit.changeRequests through the per-request loader.
func changeRequests(ctx context.Context, unit uuid.UUID, first *int, after *string, status *model.ChangeStatus) (*model.ChangeRequestConnection, error) {
	key, err := loaders.ChangeKeyOf(unit, first, after, status)
	if err != nil {
		return nil, err
	}
	key.NoTotal = !totalSelected(ctx, "ChangeRequestConnection")
	page, err := loadersFrom(ctx).ChangePages.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	conn := &model.ChangeRequestConnection{Edges: make([]*model.ChangeRequestEdge, len(page.Items)),
		PageInfo: &model.PageInfo{HasNextPage: page.HasNext}, TotalCount: page.Total}
	for i := range page.Items {
		r := &page.Items[i]
		conn.Edges[i] = &model.ChangeRequestEdge{Cursor: loaders.ChangeCursor(r), Node: r}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}
