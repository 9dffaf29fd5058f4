package resolvers

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
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
		return DefaultPageSize, nil
	}
	if *first < 1 || *first > MaxPageSize {
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

// Cursor positions: a user page resumes after an id, a unit page after a
// unit number.
func idPosition(c *cursor) string    { return c.ID.String() }
func valuePosition(c *cursor) string { return c.Value }

// step is one level of a lookahead path: a field name on an object type.
type step struct{ field, onType string }

// lookahead returns the argument maps of every occurrence (aliases and
// fragments included) of the field at path below the field being resolved.
func lookahead(ctx context.Context, path ...step) []map[string]any {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return nil
	}
	op := graphql.GetOperationContext(ctx)
	level := []ast.SelectionSet{fc.Field.Selections}
	var fields []graphql.CollectedField
	for _, s := range path {
		fields = fields[:0]
		var next []ast.SelectionSet
		for _, set := range level {
			for _, f := range graphql.CollectFields(op, set, []string{s.onType}) {
				if f.Name == s.field {
					fields = append(fields, f)
					next = append(next, f.Selections)
				}
			}
		}
		level = next
	}
	out := make([]map[string]any, 0, len(fields))
	for _, f := range fields {
		out = append(out, f.ArgumentMap(op.Variables))
	}
	return out
}

func intArg(args map[string]any, name string) *int {
	switch v := args[name].(type) {
	case int:
		return &v
	case int64:
		n := int(v)
		return &n
	case json.Number:
		if n, err := v.Int64(); err == nil {
			i := int(n)
			return &i
		}
	}
	return nil
}

func stringArg(args map[string]any, name string) *string {
	if v, ok := args[name].(string); ok {
		return &v
	}
	return nil
}

// The prefetchers below run in a resolver that returns many parents: for
// each child edge the query selects under them, they fetch every parent's
// children in one batch and prime the child's loader, then descend to the
// children's own children, so that each nesting level costs exactly one statement however
// many parents there are and however busy the machine is. The child
// resolvers then find their results in the loaders' caches. Invalid child
// arguments are skipped here and reported by the child resolver.

func prefetchUnitChildren(ctx context.Context, l *loaders, units []*model.Unit, path ...step) {
	if len(units) < 2 {
		return
	}
	for _, args := range lookahead(ctx, with(path, step{"users", "Unit"})...) {
		key, err := connectionKey(uuid.Nil, intArg(args, "first"), stringArg(args, "after"), idPosition)
		if err != nil {
			continue
		}
		keys := make([]pageKey, len(units))
		for i, u := range units {
			keys[i] = pageKey{parent: u.ID, first: key.first, after: key.after}
		}
		var users []*model.UnitUser
		for _, p := range l.userPages.prefetch(ctx, keys) {
			users = append(users, pointers(p.Items)...)
		}
		prefetchUserChildren(ctx, l, users, with(path, append([]step{{"users", "Unit"}}, userNodes...)...)...)
	}
	for _, args := range lookahead(ctx, with(path, step{"devices", "Unit"})...) {
		t := ""
		if s := stringArg(args, "type"); s != nil {
			t = *s
		}
		keys := make([]deviceKey, len(units))
		for i, u := range units {
			keys[i] = deviceKey{u.ID, t}
		}
		prefetchDeviceChildren(ctx, l, flatten(l.unitDevices.prefetch(ctx, keys)), with(path, step{"devices", "Unit"})...)
	}
	if len(lookahead(ctx, with(path, step{"property", "Unit"})...)) > 0 {
		keys := make([]uuid.UUID, len(units))
		for i, u := range units {
			keys[i] = u.PropertyID
		}
		l.property.prefetch(ctx, keys)
	}
}

func prefetchUserChildren(ctx context.Context, l *loaders, users []*model.UnitUser, path ...step) {
	if len(users) < 2 {
		return
	}
	if len(lookahead(ctx, with(path, step{"devices", "UnitUser"})...)) > 0 {
		keys := make([]uuid.UUID, len(users))
		for i, u := range users {
			keys[i] = u.ID
		}
		prefetchDeviceChildren(ctx, l, flatten(l.userDevices.prefetch(ctx, keys)), with(path, step{"devices", "UnitUser"})...)
	}
	if len(lookahead(ctx, with(path, step{"unit", "UnitUser"})...)) > 0 {
		keys := make([]uuid.UUID, len(users))
		for i, u := range users {
			keys[i] = u.UnitID
		}
		l.unit.prefetch(ctx, keys)
	}
}

func prefetchDeviceChildren(ctx context.Context, l *loaders, devices []*model.Device, path ...step) {
	if len(devices) < 2 || len(lookahead(ctx, with(path, step{"user", "Device"})...)) == 0 {
		return
	}
	keys := make([]uuid.UUID, len(devices))
	for i, d := range devices {
		keys[i] = d.UserID
	}
	l.user.prefetch(ctx, keys)
}

// with returns path extended by more, without sharing path's array.
func with(path []step, more ...step) []step {
	return append(append(make([]step, 0, len(path)+len(more)), path...), more...)
}

// flatten joins device lists.
func flatten(lists [][]*model.Device) []*model.Device {
	var out []*model.Device
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Paths from a connection field to its nodes.
var (
	unitNodes = []step{{"edges", "UnitConnection"}, {"node", "UnitEdge"}}
	userNodes = []step{{"edges", "UnitUserConnection"}, {"node", "UnitUserEdge"}}
)

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
