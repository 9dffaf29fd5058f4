package resolvers

import (
	"context"
	"strconv"

	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// Change requests (SPEC §8.2) as GraphQL pages them: a unit's, through
// the per-request loader.

// changeKey asks for one page of a unit's change requests.
type changeKey struct {
	unit   uuid.UUID
	first  int
	before int64 // the seq of the previous page's last item; 0 for the first page
	status model.ChangeStatus
	// noTotal skips counting (totalCount is not selected).
	noTotal bool
}

// changePages is the batch function of Unit.changeRequests: keys asking
// for the same page of different units share one statement.
func changePages(s service.Store) dataloader.BatchFunc[changeKey, model.Page[model.ChangeRequest]] {
	return func(ctx context.Context, keys []changeKey) []*dataloader.Result[model.Page[model.ChangeRequest]] {
		type args struct {
			first   int
			before  int64
			status  model.ChangeStatus
			noTotal bool
		}
		groups := map[args][]uuid.UUID{}
		for _, k := range keys {
			a := args{k.first, k.before, k.status, k.noTotal}
			groups[a] = append(groups[a], k.unit)
		}
		found := make(map[changeKey]model.Page[model.ChangeRequest], len(keys))
		for a, units := range groups {
			var before *int64
			if a.before > 0 {
				before = &a.before
			}
			var status *model.ChangeStatus
			if a.status != "" {
				status = &a.status
			}
			res, err := s.ChangeRequestPages(ctx, units, a.first, before, status, a.noTotal)
			if err != nil {
				return fail[model.Page[model.ChangeRequest]](len(keys), err)
			}
			for unit, p := range res {
				found[changeKey{unit, a.first, a.before, a.status, a.noTotal}] = p
			}
		}
		out := make([]*dataloader.Result[model.Page[model.ChangeRequest]], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[model.Page[model.ChangeRequest]]{Data: found[k]}
		}
		return out
	}
}

// changeKeyOf checks Unit.changeRequests' arguments and returns the loader
// key of the page (counting included).
func changeKeyOf(unit uuid.UUID, first *int, after *string, status *model.ChangeStatus) (changeKey, error) {
	n, err := pageSize(first)
	if err != nil {
		return changeKey{}, err
	}
	c, err := decodeCursor(after)
	if err != nil {
		return changeKey{}, err
	}
	key := changeKey{unit: unit, first: n}
	if c != nil {
		if key.before, err = strconv.ParseInt(c.Value, 10, 64); err != nil || key.before <= 0 {
			return changeKey{}, errBadCursor
		}
	}
	if status != nil {
		key.status = *status
	}
	return key, nil
}

// changeRequests serves Unit.changeRequests through the per-request loader.
func changeRequests(ctx context.Context, unit uuid.UUID, first *int, after *string, status *model.ChangeStatus) (*model.ChangeRequestConnection, error) {
	key, err := changeKeyOf(unit, first, after, status)
	if err != nil {
		return nil, err
	}
	key.noTotal = !totalSelected(ctx, "ChangeRequestConnection")
	page, err := loadersFrom(ctx).changePages.get(ctx, key)
	if err != nil {
		return nil, err
	}
	conn := &model.ChangeRequestConnection{Edges: make([]*model.ChangeRequestEdge, len(page.Items)),
		PageInfo: &model.PageInfo{HasNextPage: page.HasNext}, TotalCount: page.Total}
	for i := range page.Items {
		r := &page.Items[i]
		conn.Edges[i] = &model.ChangeRequestEdge{Cursor: encodeCursor(cursor{Value: strconv.FormatInt(r.Seq, 10), ID: r.ID}), Node: r}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}
