package loaders

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// Cursors are opaque to clients: base64url of a small JSON object holding
// the keyset position (the sort value and the id of the last item).
type Cursor struct {
	Value string    `json:"v,omitempty"`
	ID    uuid.UUID `json:"i"`
}

// ErrBadCursor answers an after argument that is not a cursor of its list.
var ErrBadCursor = model.InvalidField("after", "is not a cursor of this list")

// EncodeCursor is c as a client sees it.
func EncodeCursor(c Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a client's cursor (nil for none).
func DecodeCursor(s *string) (*Cursor, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*s)
	if err != nil || len(b) > 1024 {
		return nil, ErrBadCursor
	}
	var c Cursor
	if json.Unmarshal(b, &c) != nil || c.ID == uuid.Nil {
		return nil, ErrBadCursor
	}
	return &c, nil
}

// PageSize checks a connection's first argument: 1 to 100, default 20.
func PageSize(first *int) (int, error) {
	if first == nil {
		return service.DefaultPageSize, nil
	}
	if *first < 1 || *first > service.MaxPageSize {
		return 0, model.InvalidField("first", "must be between 1 and 100")
	}
	return *first, nil
}

// ConnectionKey checks a connection's first and after arguments and returns
// the loader key of the page; position is the keyset value a cursor holds
// for this connection (a unit number, a user id).
func ConnectionKey(parent uuid.UUID, first *int, after *string, position func(*Cursor) string) (PageKey, error) {
	n, err := PageSize(first)
	if err != nil {
		return PageKey{}, err
	}
	c, err := DecodeCursor(after)
	if err != nil {
		return PageKey{}, err
	}
	key := PageKey{Parent: parent, First: n}
	if c != nil {
		key.After = position(c)
	}
	return key, nil
}

// Cursor positions: a user page resumes after an id, a unit page after a
// unit number.
func IDPosition(c *Cursor) string    { return c.ID.String() }
func ValuePosition(c *Cursor) string { return c.Value }

// ChangeKey asks for one page of a unit's change requests (SPEC §8.2).
type ChangeKey struct {
	Unit   uuid.UUID
	First  int
	Before int64 // the seq of the previous page's last item; 0 for the first page
	Status model.ChangeStatus
	// NoTotal skips counting (totalCount is not selected).
	NoTotal bool
}

// ChangeKeyOf checks Unit.changeRequests' arguments and returns the loader
// key of the page (counting included).
func ChangeKeyOf(unit uuid.UUID, first *int, after *string, status *model.ChangeStatus) (ChangeKey, error) {
	n, err := PageSize(first)
	if err != nil {
		return ChangeKey{}, err
	}
	c, err := DecodeCursor(after)
	if err != nil {
		return ChangeKey{}, err
	}
	key := ChangeKey{Unit: unit, First: n}
	if c != nil {
		if key.Before, err = strconv.ParseInt(c.Value, 10, 64); err != nil || key.Before <= 0 {
			return ChangeKey{}, ErrBadCursor
		}
	}
	if status != nil {
		key.Status = *status
	}
	return key, nil
}

// ChangeCursor is the cursor of a change request in its unit's list.
func ChangeCursor(r *model.ChangeRequest) string {
	return EncodeCursor(Cursor{Value: strconv.FormatInt(r.Seq, 10), ID: r.ID})
}

// changePagesOf is the batch function of Unit.changeRequests: keys asking
// for the same page of different units share one statement.
func changePagesOf(s service.Store) dataloader.BatchFunc[ChangeKey, model.Page[model.ChangeRequest]] {
	return func(ctx context.Context, keys []ChangeKey) []*dataloader.Result[model.Page[model.ChangeRequest]] {
		type args struct {
			first   int
			before  int64
			status  model.ChangeStatus
			noTotal bool
		}
		groups := map[args][]uuid.UUID{}
		for _, k := range keys {
			a := args{k.First, k.Before, k.Status, k.NoTotal}
			groups[a] = append(groups[a], k.Unit)
		}
		found := make(map[ChangeKey]model.Page[model.ChangeRequest], len(keys))
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
				found[ChangeKey{unit, a.first, a.before, a.status, a.noTotal}] = p
			}
		}
		out := results[model.Page[model.ChangeRequest]](len(keys))
		for i, k := range keys {
			out[i].Data = found[k]
		}
		return out
	}
}
