// Package fastpath is GraphQL's direct executor for hot reads.
//
// gqlgen's generated executor gives every field of every object a field context and a marshaler, and every resolver field
// and every list element a goroutine of its own: for the nested reads that
// residents and managers make, that costs several times what the data does.
// Read operations made only of fields the direct executor knows run on it
// instead: it fetches the whole tree first, level by level through the same
// service calls and per-request loaders (one statement per nesting level),
// then writes the JSON in one pass on one goroutine.
//
// Everything else runs on gqlgen's executor: mutations, introspection,
// @defer, fields it does not know, and every operation that meets an error
// of any kind (an argument that does not parse, a service error, a missing
// row, a panic) — so errors, null propagation and extensions are always
// gqlgen's own. Reads are idempotent, so running an operation again after
// the direct executor gave up is safe; the loaders keep what it fetched. Its
// output is byte for byte gqlgen's (TestDirectExecutorMatchesGqlgen).
package fastpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/graph/scalar"
	"github.com/residentportal/bff/resolvers/loaders"
	"github.com/residentportal/bff/resolvers/plan"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Options are what the fast path is told of the endpoint it sits in.
type Options struct {
	Log       *slog.Logger
	RequestID func(context.Context) string
	// MaxObjects bounds the objects one operation may write
	// (DefaultMaxObjects when 0); MaxExecutions the operations running at
	// once (none when 0).
	MaxObjects, MaxExecutions int
	// Executed is told which executor ran each operation ("direct" or
	// "gqlgen"), FellBack the field a query fell back for.
	Executed func(executor string)
	FellBack func(field string)

	// Loaders are the request's (nil: the operation runs on gqlgen's).
	Loaders func(context.Context) *loaders.Set
	// Plan is the operation's plan, if it has one.
	Plan func(context.Context, *graphql.OperationContext) *plan.Plan
	// Wrote is handed the data the fast path wrote (JSON, escaped as
	// gqlgen's would be), for a transport that sends it as it is; the
	// buffer goes back with Recycle once sent.
	Wrote func(ctx context.Context, data []byte)
	// Hint is told the code an operation stopped with (a status for HTTP).
	Hint func(context.Context, model.Code)
	// IsEvent reports an operation that renders a subscription's event:
	// not counted as an operation.
	IsEvent func(context.Context) bool
}

// New puts the fast path in front of es: queries it can answer run on it,
// everything else on es. It is the package's one entry for operations.
func New(es graphql.ExecutableSchema, svc *service.Service, opts Options) graphql.ExecutableSchema {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.RequestID == nil {
		opts.RequestID = func(context.Context) string { return "" }
	}
	if opts.Loaders == nil {
		opts.Loaders = func(context.Context) *loaders.Set { return nil }
	}
	s := schema{ExecutableSchema: es, svc: svc, opts: opts}
	if opts.MaxExecutions > 0 {
		s.slots = make(chan struct{}, opts.MaxExecutions)
	}
	return s
}

// schema is the generated executable schema with the direct executor in
// front of it.
type schema struct {
	graphql.ExecutableSchema
	svc  *service.Service
	opts Options
	// slots bound the operations running at once (nil: no bound).
	slots chan struct{}
}

// errNotDirect makes the direct executor hand the operation to gqlgen.
var errNotDirect = errors.New("not for the direct executor")

// fallback is errNotDirect for a field the direct executor has no case
// for: the operation runs on gqlgen's, and the field is told
// (Options.FellBack, a debug log) so that a query a client sends
// does not fall back unseen.
type fallback struct{ field string }

func (f *fallback) Error() string        { return "not for the direct executor: " + f.field }
func (f *fallback) Is(target error) bool { return target == errNotDirect }

func (s schema) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Query {
		data, err := s.run(ctx, oc)
		if err == nil {
			s.tell("direct")
			if s.opts.Wrote != nil {
				s.opts.Wrote(ctx, data)
			}
			return graphql.OneShot(&graphql.Response{Data: data})
		}
		s.fellBack(ctx, oc, err)
		if stop, ok := err.(*stopped); ok {
			// Running it again on gqlgen's executor would cost as much.
			s.tell("direct")
			if s.opts.Hint != nil {
				s.opts.Hint(ctx, stop.code)
			}
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{Message: stop.msg,
				Extensions: map[string]any{"code": string(stop.code)}}}})
		}
	}
	if s.opts.IsEvent == nil || !s.opts.IsEvent(ctx) { // an event is not an operation
		s.tell("gqlgen")
	}
	return s.ExecutableSchema.Exec(ctx)
}

// fellBack tells of a query that runs on gqlgen's executor because the
// direct one has no case for one of its fields.
func (s schema) fellBack(ctx context.Context, oc *graphql.OperationContext, err error) {
	var fb *fallback
	if !errors.As(err, &fb) {
		return // an error: gqlgen answers it, as it should
	}
	if s.opts.FellBack != nil {
		s.opts.FellBack(fb.field)
	}
	s.opts.Log.DebugContext(ctx, "the direct executor handed a query to gqlgen's", "request_id", s.opts.RequestID(ctx),
		"operation", oc.OperationName, "field", fb.field)
}

// stopped ends an operation on the direct executor with an error instead of
// handing it to gqlgen: the request's deadline passed or its client went
// away, or the result would exceed the bound on objects.
type stopped struct {
	code model.Code
	msg  string
}

func (s *stopped) Error() string { return s.msg }

// LateMessage is the message of an operation stopped by its request's
// end (its deadline, its client gone, the server stopping).
const LateMessage = "the request was cancelled or ran past its deadline"

var errLate = &stopped{code: model.CodeUnavailable, msg: LateMessage}

// DefaultMaxObjects bounds the objects one operation may write on the
// direct executor. The complexity limit already bounds them (a list weighs
// its page size times its elements); this is the second guard.
const DefaultMaxObjects = 100_000

// spend counts n objects about to be materialised and checks, every
// checkEvery objects and at every level, the request's context.
func (e *direct) spend(n int) error {
	e.objects += n
	if e.objects > e.maxObjects {
		return &stopped{code: model.CodeBadUserInput, msg: fmt.Sprintf("the result would hold more than %d objects; ask for smaller pages", e.maxObjects)}
	}
	if e.objects-e.checked < checkEvery && n < checkEvery {
		return nil
	}
	e.checked = e.objects
	if e.ctx.Err() != nil {
		return errLate
	}
	return nil
}

const checkEvery = 256

func (s schema) tell(executor string) {
	if s.opts.Executed != nil {
		s.opts.Executed(executor)
	}
}

// run returns the operation's data, a *stopped error, or another error
// that hands the operation to gqlgen.
func (s schema) run(ctx context.Context, oc *graphql.OperationContext) (data []byte, err error) {
	defer func() {
		// gqlgen runs the operation again and reports a panic of its own
		// its way; this one is logged, being the direct executor's.
		if v := recover(); v != nil {
			s.opts.Log.ErrorContext(ctx, "panic in the direct executor; the operation runs on gqlgen's",
				"request_id", s.opts.RequestID(ctx), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = errNotDirect
		}
	}()
	l := s.opts.Loaders(ctx)
	if l == nil {
		return nil, errNotDirect
	}
	// A read holds what it fetched until it is written, so reads waiting
	// on the database's pool between their statements each hold a part of
	// a result: under many clients that is most of the heap, and the
	// collector's work. Waiting for a slot first, before fetching anything,
	// keeps the reads in progress about as many as the pool serves.
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		case <-ctx.Done():
			return nil, errLate
		}
	}
	e := newDirect(ctx, oc, s.svc, l)
	if s.opts.Plan != nil {
		e.plan = s.opts.Plan(ctx, oc)
	}
	if s.opts.MaxObjects > 0 {
		e.maxObjects = s.opts.MaxObjects
	}
	e.out = (*buffers.Get().(*[]byte))[:0]
	if err := e.query(oc.Operation.SelectionSet); err != nil {
		var stop *stopped
		if errors.As(err, &stop) {
			return nil, stop
		}
		if ctx.Err() != nil {
			return nil, errLate
		}
		return nil, err
	}
	return e.out, nil
}

// buffers recycles the direct executor's output (see postTransport).
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Recycle gives a written response's buffer back.
func Recycle(b []byte) {
	if cap(b) <= 1<<20 {
		b = b[:0]
		buffers.Put(&b)
	}
}

// direct runs one operation.
type direct struct {
	ctx context.Context
	oc  *graphql.OperationContext
	svc *service.Service
	l   *loaders.Set
	out []byte

	// Memos: the elements of a list share their selection set, so fields
	// are collected and arguments coerced once per list, not per element;
	// and once per operation, not per request, where it has a plan.
	plan   *plan.Plan
	fields map[fieldsKey][]graphql.CollectedField
	args   map[*ast.Field]map[string]any

	// objects counts what the operation materialised so far, up to
	// maxObjects; checked is where the context was last looked at.
	objects, checked, maxObjects int
}

func newDirect(ctx context.Context, oc *graphql.OperationContext, svc *service.Service, l *loaders.Set) *direct {
	return &direct{ctx: ctx, oc: oc, svc: svc, l: l, maxObjects: DefaultMaxObjects}
}

type fieldsKey struct {
	first  *ast.Selection
	n      int
	onType string
}

// collect returns the fields of sel that apply to an object of type onType
// (fragments, @skip and @include resolved, as gqlgen collects them).
func (e *direct) collect(sel ast.SelectionSet, onType string) ([]graphql.CollectedField, error) {
	if len(sel) == 0 {
		return nil, errNotDirect // an object field always selects something
	}
	if e.plan != nil {
		f, deferred := e.plan.Collect(e.oc, sel, onType)
		if deferred {
			return nil, errNotDirect
		}
		return f, nil
	}
	k := fieldsKey{&sel[0], len(sel), onType}
	if f, ok := e.fields[k]; ok {
		return f, nil
	}
	f, deferred := (*plan.Plan)(nil).Collect(e.oc, sel, onType)
	if deferred {
		return nil, errNotDirect
	}
	if e.fields == nil {
		e.fields = map[fieldsKey][]graphql.CollectedField{}
	}
	e.fields[k] = f
	return f, nil
}

// argMap returns f's arguments (shared: never modified).
func (e *direct) argMap(f graphql.CollectedField) map[string]any {
	if m, ok := e.plan.Args(f, e.oc.Variables); ok {
		return m
	}
	if m, ok := e.args[f.Field]; ok {
		return m
	}
	m := f.ArgumentMap(e.oc.Variables)
	if e.args == nil {
		e.args = map[*ast.Field]map[string]any{}
	}
	e.args[f.Field] = m
	return m
}

// Arguments, coerced as the generated code coerces them.

func (e *direct) idArg(f graphql.CollectedField, name string) (uuid.UUID, error) {
	return scalar.UnmarshalUUID(e.argMap(f)[name])
}

func (e *direct) optIDArg(f graphql.CollectedField, name string) (*uuid.UUID, error) {
	v := e.argMap(f)[name]
	if v == nil {
		return nil, nil
	}
	id, err := scalar.UnmarshalUUID(v)
	return &id, err
}

// pageKey returns the loader key of a connection's page below parent; the
// children are counted only where totalCount is selected.
func (e *direct) pageKey(f graphql.CollectedField, connType string, parent uuid.UUID, position func(*loaders.Cursor) string) (loaders.PageKey, error) {
	args := e.argMap(f)
	var first *int
	if v := args["first"]; v != nil {
		n, err := graphql.UnmarshalInt(v)
		if err != nil {
			return loaders.PageKey{}, err
		}
		first = &n
	}
	var after *string
	if v := args["after"]; v != nil {
		s, err := graphql.UnmarshalString(v)
		if err != nil {
			return loaders.PageKey{}, err
		}
		after = &s
	}
	k, err := loaders.ConnectionKey(parent, first, after, position)
	if err != nil {
		return k, err
	}
	fields, err := e.collect(f.Selections, connType)
	if err != nil {
		return k, err
	}
	k.NoTotal = !selectsTotal(fields)
	return k, nil
}

// deviceKey returns the loader key of Unit.devices(type) for unit.
func (e *direct) deviceKey(f graphql.CollectedField, unit uuid.UUID) (loaders.DeviceKey, error) {
	k := loaders.DeviceKey{Unit: unit}
	if v := e.argMap(f)["type"]; v != nil {
		var t model.UnitUserType
		if err := t.UnmarshalGQL(v); err != nil {
			return k, err
		}
		k.UserType = string(t)
	}
	return k, nil
}

// query runs the root fields it knows: each one's object is fetched with
// everything below it, then written.
func (e *direct) query(sel ast.SelectionSet) error {
	fields, err := e.collect(sel, "Query")
	if err != nil {
		return err
	}
	return e.object(fields, "Query", func(f graphql.CollectedField) error {
		switch f.Name {
		case "property":
			return root(e, f, "Property", e.ofProperty(f, e.svc.Property), e.prefetchProperties, e.property)
		case "unit":
			return e.unitRoot(f)
		case "portalAccess": // the page's first read, before any credential
			return root(e, f, "PortalAccess", e.ofProperty(f, e.svc.PortalAccess), noPrefetch, e.portalAccess)
		case "uiConfiguration":
			return root(e, f, "UiConfiguration", e.ofProperty(f, e.svc.UiConfiguration), noPrefetch, e.uiConfiguration)
		case "unitUser":
			return root(e, f, "UnitUser", func() (model.UnitUser, error) {
				pid, err := e.idArg(f, "propertyId")
				if err != nil {
					return model.UnitUser{}, err
				}
				uid, err := e.idArg(f, "userId")
				if err != nil {
					return model.UnitUser{}, err
				}
				return e.svc.UnitUser(e.ctx, pid, uid)
			}, e.prefetchUsers, e.user)
		}
		return errNotDirect
	})
}

// root fetches a root field's object, then everything below it, then
// writes it.
func root[T any](e *direct, f graphql.CollectedField, onType string, fetch func() (T, error),
	prefetch func([]*T, []graphql.CollectedField) error, write func(*T, []graphql.CollectedField) error) error {
	obj, err := fetch()
	if err != nil {
		return err
	}
	fields, err := e.collect(f.Selections, onType)
	if err != nil {
		return err
	}
	if err := prefetch([]*T{&obj}, fields); err != nil {
		return err
	}
	return write(&obj, fields)
}

// unitRoot runs Query.unit (a resident's own unit, mostly, and its users:
// what residents read most). Where the unit's fields select users, the
// unit, the first users field's page and, where that page's nodes select
// devices, their devices — and, where the unit's fields select them, its
// first changeRequests field's page and its property — are read in one
// round trip (Service.UnitTree) and handed to the loaders, where the
// prefetchers find them: the same statements as level by level, one wait
// instead of up to five.
func (e *direct) unitRoot(f graphql.CollectedField) error {
	pid, err := e.idArg(f, "propertyId")
	if err != nil {
		return err
	}
	uid, err := e.optIDArg(f, "unitId")
	if err != nil {
		return err
	}
	fields, err := e.collect(f.Selections, "Unit")
	if err != nil {
		return err
	}
	i := slices.IndexFunc(fields, func(f graphql.CollectedField) bool { return f.Name == "users" })
	if i < 0 {
		u, err := e.svc.Unit(e.ctx, pid, uid)
		if err != nil {
			return err
		}
		return e.rootUnit(&u, fields)
	}
	users := fields[i]
	key, err := e.pageKey(users, "UnitUserConnection", uuid.Nil, loaders.IDPosition)
	if err != nil {
		return err
	}
	page, err := key.Args().UserPage()
	if err != nil {
		return err
	}
	devices := false
	if err := e.belowNodes(users.Selections, "UnitUserConnection", "UnitUserEdge", func(nodes []graphql.CollectedField) error {
		devices = devices || slices.ContainsFunc(nodes, func(f graphql.CollectedField) bool { return f.Name == "devices" })
		return nil
	}); err != nil {
		return err
	}
	q := model.TreeQuery{Users: page, Devices: devices}
	var changes loaders.ChangeKey
	if j := slices.IndexFunc(fields, func(f graphql.CollectedField) bool { return f.Name == "changeRequests" }); j >= 0 {
		if changes, err = e.changeKey(fields[j], uuid.Nil); err != nil {
			return err
		}
		q.Changes = &model.ChangePage{Limit: changes.First, SkipTotal: changes.NoTotal}
		if changes.Before > 0 {
			q.Changes.Before = &changes.Before
		}
		if changes.Status != "" {
			q.Changes.Status = &changes.Status
		}
	}
	q.Property = slices.ContainsFunc(fields, func(f graphql.CollectedField) bool { return f.Name == "property" })
	q.Blocked = slices.ContainsFunc(fields, func(f graphql.CollectedField) bool { return f.Name == "blockedDevices" })
	t, err := e.svc.UnitTree(e.ctx, pid, uid, q)
	if err != nil {
		return err
	}
	if q.Changes != nil {
		changes.Unit = t.Unit.ID
		e.l.ChangePages.Put(changes, t.Changes)
	}
	if t.Property != nil {
		e.l.Property.Put(t.Unit.PropertyID, t.Property)
	}
	if q.Blocked {
		e.l.Blocked.Put(t.Unit.ID, loaders.NonNil(pointers(t.Blocked)))
	}
	key.Parent = t.Unit.ID
	e.l.UserPages.Put(key, t.Users)
	if devices {
		owned := make(map[uuid.UUID][]*model.Device, len(t.Users.Items))
		loaders.Grouped(owned, t.Devices, func(d *model.Device) uuid.UUID { return d.UserID })
		for _, u := range t.Users.Items {
			e.l.UserDevices.Put(u.ID, loaders.NonNil(owned[u.ID]))
		}
	}
	return e.rootUnit(&t.Unit, fields)
}

// rootUnit fetches everything below a root unit, then writes it.
func (e *direct) rootUnit(u *model.Unit, fields []graphql.CollectedField) error {
	if err := e.prefetchUnits([]*model.Unit{u}, fields); err != nil {
		return err
	}
	return e.unit(u, fields)
}

// The prefetchers load, for all the objects of one level at once, every
// child the fields select, then go down to the children's level: one
// statement per level and edge, however many parents. The writers below
// then find everything in the loaders' caches. A child that failed is left
// out here; its writer loads it again and gives up on the error.

func (e *direct) prefetchProperties(props []*model.Property, fields []graphql.CollectedField) error {
	for _, f := range fields {
		if f.Name != "units" {
			continue
		}
		keys := make([]loaders.PageKey, 0, len(props))
		for _, p := range props {
			if err := e.svc.RequireManager(e.ctx, p.ID); err != nil {
				return err
			}
			k, err := e.pageKey(f, "UnitConnection", p.ID, loaders.ValuePosition)
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		var units []*model.Unit
		for _, p := range e.l.UnitPages.Prefetch(e.ctx, keys) {
			units = append(units, pointers(p.Items)...)
		}
		if err := e.belowNodes(f.Selections, "UnitConnection", "UnitEdge", func(nodes []graphql.CollectedField) error {
			return e.prefetchUnits(units, nodes)
		}); err != nil {
			return err
		}
	}
	return nil
}

func (e *direct) prefetchUnits(units []*model.Unit, fields []graphql.CollectedField) error {
	if len(units) == 0 {
		return nil
	}
	if err := e.spend(len(units)); err != nil {
		return err
	}
	for _, f := range fields {
		switch f.Name {
		case "users":
			keys := make([]loaders.PageKey, len(units))
			for i, u := range units {
				k, err := e.pageKey(f, "UnitUserConnection", u.ID, loaders.IDPosition)
				if err != nil {
					return err
				}
				keys[i] = k
			}
			var users []*model.UnitUser
			for _, p := range e.l.UserPages.Prefetch(e.ctx, keys) {
				users = append(users, pointers(p.Items)...)
			}
			if err := e.belowNodes(f.Selections, "UnitUserConnection", "UnitUserEdge", func(nodes []graphql.CollectedField) error {
				return e.prefetchUsers(users, nodes)
			}); err != nil {
				return err
			}
		case "devices":
			keys := make([]loaders.DeviceKey, len(units))
			for i, u := range units {
				k, err := e.deviceKey(f, u.ID)
				if err != nil {
					return err
				}
				keys[i] = k
			}
			if err := e.prefetchDevices(flatten(e.l.UnitDevices.Prefetch(e.ctx, keys)), f.Selections); err != nil {
				return err
			}
		case "property":
			fs, err := e.collect(f.Selections, "Property")
			if err != nil {
				return err
			}
			ids := project(units, func(u *model.Unit) uuid.UUID { return u.PropertyID })
			if err := e.prefetchProperties(e.l.Property.Prefetch(e.ctx, ids), fs); err != nil {
				return err
			}
		case "changeRequests":
			if err := e.prefetchChanges(units, f); err != nil {
				return err
			}
		case "blockedDevices":
			e.l.Blocked.Prefetch(e.ctx, project(units, func(u *model.Unit) uuid.UUID { return u.ID }))
		}
	}
	return nil
}

// changeKey returns the loader key of Unit.changeRequests for unit, from
// the field's arguments (coerced as the generated code coerces them).
func (e *direct) changeKey(f graphql.CollectedField, unit uuid.UUID) (loaders.ChangeKey, error) {
	args := e.argMap(f)
	first, after, status := (*int)(nil), (*string)(nil), (*model.ChangeStatus)(nil)
	if v := args["first"]; v != nil {
		n, err := graphql.UnmarshalInt(v)
		if err != nil {
			return loaders.ChangeKey{}, err
		}
		first = &n
	}
	if v := args["after"]; v != nil {
		s, err := graphql.UnmarshalString(v)
		if err != nil {
			return loaders.ChangeKey{}, err
		}
		after = &s
	}
	if v := args["status"]; v != nil {
		var st model.ChangeStatus
		if err := st.UnmarshalGQL(v); err != nil {
			return loaders.ChangeKey{}, err
		}
		status = &st
	}
	k, err := loaders.ChangeKeyOf(unit, first, after, status)
	if err != nil {
		return k, err
	}
	fields, err := e.collect(f.Selections, "ChangeRequestConnection")
	if err != nil {
		return k, err
	}
	k.NoTotal = !selectsTotal(fields)
	return k, nil
}

// prefetchChanges loads Unit.changeRequests of every unit, then the units
// the change requests name.
func (e *direct) prefetchChanges(units []*model.Unit, f graphql.CollectedField) error {
	keys := make([]loaders.ChangeKey, len(units))
	for i, u := range units {
		k, err := e.changeKey(f, u.ID)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	var changes []*model.ChangeRequest
	for _, p := range e.l.ChangePages.Prefetch(e.ctx, keys) {
		changes = append(changes, pointers(p.Items)...)
	}
	return e.belowNodes(f.Selections, "ChangeRequestConnection", "ChangeRequestEdge", func(nodes []graphql.CollectedField) error {
		for _, n := range nodes {
			if n.Name != "unit" || len(changes) == 0 {
				continue
			}
			fs, err := e.collect(n.Selections, "Unit")
			if err != nil {
				return err
			}
			ids := project(changes, func(c *model.ChangeRequest) uuid.UUID { return c.UnitID })
			if err := e.prefetchUnits(e.l.Unit.Prefetch(e.ctx, ids), fs); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *direct) prefetchUsers(users []*model.UnitUser, fields []graphql.CollectedField) error {
	if len(users) == 0 {
		return nil
	}
	if err := e.spend(len(users)); err != nil {
		return err
	}
	for _, f := range fields {
		switch f.Name {
		case "devices":
			ids := project(users, func(u *model.UnitUser) uuid.UUID { return u.ID })
			if err := e.prefetchDevices(flatten(e.l.UserDevices.Prefetch(e.ctx, ids)), f.Selections); err != nil {
				return err
			}
		case "unit":
			fs, err := e.collect(f.Selections, "Unit")
			if err != nil {
				return err
			}
			ids := project(users, func(u *model.UnitUser) uuid.UUID { return u.UnitID })
			if err := e.prefetchUnits(e.l.Unit.Prefetch(e.ctx, ids), fs); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *direct) prefetchDevices(devices []*model.Device, sel ast.SelectionSet) error {
	if len(devices) == 0 {
		return nil
	}
	if err := e.spend(len(devices)); err != nil {
		return err
	}
	fields, err := e.collect(sel, "Device")
	if err != nil {
		return err
	}
	for _, f := range fields {
		if f.Name != "user" {
			continue
		}
		fs, err := e.collect(f.Selections, "UnitUser")
		if err != nil {
			return err
		}
		ids := project(devices, func(d *model.Device) uuid.UUID { return d.UserID })
		if err := e.prefetchUsers(e.l.User.Prefetch(e.ctx, ids), fs); err != nil {
			return err
		}
	}
	return nil
}

// belowNodes calls fn with the node fields of every edges { node { … } }
// that a connection's selection holds (aliases and fragments may give
// several).
func (e *direct) belowNodes(sel ast.SelectionSet, connType, edgeType string, fn func([]graphql.CollectedField) error) error {
	conn, err := e.collect(sel, connType)
	if err != nil {
		return err
	}
	for _, c := range conn {
		if c.Name != "edges" {
			continue
		}
		edge, err := e.collect(c.Selections, edgeType)
		if err != nil {
			return err
		}
		for _, n := range edge {
			if n.Name != "node" {
				continue
			}
			nodes, err := e.collect(n.Selections, edgeType[:len(edgeType)-len("Edge")])
			if err != nil {
				return err
			}
			if err := fn(nodes); err != nil {
				return err
			}
		}
	}
	return nil
}

// The writers: one object at a time, its fields in the order collected.

func (e *direct) property(p *model.Property, fields []graphql.CollectedField) error {
	return e.object(fields, "Property", func(f graphql.CollectedField) error {
		switch f.Name {
		case "id":
			e.uuid(p.ID)
		case "name":
			e.str(p.Name)
		case "address":
			e.str(p.Address)
		case "description":
			e.str(p.Description)
		case "managementName":
			e.str(p.ManagementName)
		case "managementPhone":
			e.str(p.ManagementPhone)
		case "managementEmail":
			e.str(p.ManagementEmail)
		case "helpText":
			e.str(p.HelpText)
		case "announcements":
			e.str(p.Announcements)
		case "allowSeparateGuestSecret":
			e.bool(p.AllowSeparateGuestSecret)
		case "enforceMaxUnits":
			e.bool(p.EnforceMaxUnits)
		case "maxUnits":
			e.int(p.MaxUnits)
		case "maxDevicesPerIdentity":
			e.int(p.MaxDevicesPerIdentity)
		case "sendEmail":
			e.bool(p.SendEmail)
		case "sendSms":
			e.bool(p.SendSms)
		case "ssids":
			e.out = append(e.out, '[')
			for j, s := range p.SSIDs {
				if j > 0 {
					e.out = append(e.out, ',')
				}
				e.str(s)
			}
			e.out = append(e.out, ']')
		case "uiConfiguration":
			fields, err := e.collect(f.Selections, "UiConfiguration")
			if err != nil {
				return err
			}
			return e.uiConfiguration(p, fields)
		case "units":
			if err := e.svc.RequireManager(e.ctx, p.ID); err != nil {
				return err
			}
			k, err := e.pageKey(f, "UnitConnection", p.ID, loaders.ValuePosition)
			if err != nil {
				return err
			}
			page, err := e.l.UnitPages.Get(e.ctx, k)
			if err != nil {
				return err
			}
			if err := e.unitConnection(page, f.Selections); err != nil {
				return err
			}
		default:
			return errNotDirect
		}
		return nil
	})
}

func (e *direct) unit(u *model.Unit, fields []graphql.CollectedField) error {
	return e.object(fields, "Unit", func(f graphql.CollectedField) error {
		switch f.Name {
		case "id":
			e.uuid(u.ID)
		case "number":
			e.str(u.Number)
		case "description":
			e.str(u.Description)
		case "status":
			e.str(string(u.Status))
		case "secret":
			e.str(u.Secret)
		case "guestSecret":
			if u.GuestSecret == nil {
				e.out = append(e.out, "null"...)
			} else {
				e.str(*u.GuestSecret)
			}
		case "vlanId":
			if u.VLAN == nil {
				e.out = append(e.out, "null"...)
			} else {
				e.int(*u.VLAN)
			}
		case "contact":
			if err := e.contact(&u.Contact, f.Selections); err != nil {
				return err
			}
		case "users":
			k, err := e.pageKey(f, "UnitUserConnection", u.ID, loaders.IDPosition)
			if err != nil {
				return err
			}
			page, err := e.l.UserPages.Get(e.ctx, k)
			if err != nil {
				return err
			}
			if err := e.userConnection(page, f.Selections); err != nil {
				return err
			}
		case "devices":
			k, err := e.deviceKey(f, u.ID)
			if err != nil {
				return err
			}
			devices, err := e.l.UnitDevices.Get(e.ctx, k)
			if err != nil {
				return err
			}
			if err := e.devices(devices, f.Selections); err != nil {
				return err
			}
		case "property":
			if err := child(e, &e.l.Property, u.PropertyID, f.Selections, "Property", e.property); err != nil {
				return err
			}
		case "blockedDevices":
			blocked, err := e.l.Blocked.Get(e.ctx, u.ID)
			if err != nil {
				return err
			}
			if err := e.blocked(blocked, f.Selections); err != nil {
				return err
			}
		case "changeRequests":
			k, err := e.changeKey(f, u.ID)
			if err != nil {
				return err
			}
			page, err := e.l.ChangePages.Get(e.ctx, k)
			if err != nil {
				return err
			}
			cursorOf := func(i int) string { return loaders.ChangeCursor(&page.Items[i]) }
			if err := e.connection(f.Selections, "ChangeRequestConnection", "ChangeRequestEdge", len(page.Items), page.HasNext, page.Total,
				cursorOf, func(i int, fields []graphql.CollectedField) error { return e.change(&page.Items[i], fields) }); err != nil {
				return err
			}
		default:
			return errNotDirect
		}
		return nil
	})
}

func (e *direct) blocked(blocked []*model.BlockedDevice, sel ast.SelectionSet) error {
	fields, err := e.collect(sel, "BlockedDevice")
	if err != nil {
		return err
	}
	e.out = append(e.out, '[')
	for i, b := range blocked {
		if i > 0 {
			e.out = append(e.out, ',')
		}
		if err := e.object(fields, "BlockedDevice", func(f graphql.CollectedField) error {
			switch f.Name {
			case "macAddress":
				e.str(b.MACAddress)
			case "userId":
				e.uuid(b.UserID)
			case "blockedAt":
				e.time(&b.BlockedAt)
			default:
				return errNotDirect
			}
			return nil
		}); err != nil {
			return err
		}
	}
	e.out = append(e.out, ']')
	return nil
}

func (e *direct) change(c *model.ChangeRequest, fields []graphql.CollectedField) error {
	return e.object(fields, "ChangeRequest", func(f graphql.CollectedField) error {
		switch f.Name {
		case "id":
			e.uuid(c.ID)
		case "kind":
			e.str(string(c.Kind))
		case "status":
			e.str(string(c.Status))
		case "createdAt":
			e.time(&c.CreatedAt)
		case "publishedAt":
			e.time(c.PublishedAt)
		case "completedAt":
			e.time(c.CompletedAt)
		case "detail":
			e.optStr(c.Detail)
		case "macAddress":
			e.optStr(c.MACAddress)
		case "userId":
			e.optUUID(c.UserID)
		case "deviceId":
			e.optUUID(c.DeviceID)
		case "unit":
			if err := child(e, &e.l.Unit, c.UnitID, f.Selections, "Unit", e.unit); err != nil {
				return err
			}
		default:
			return errNotDirect
		}
		return nil
	})
}

// object writes an object of type typeName with its fields in the order
// collected: __typename here, every other field by field, which returns
// errNotDirect for a field it does not know.
func (e *direct) object(fields []graphql.CollectedField, typeName string, field func(graphql.CollectedField) error) error {
	if err := e.spend(1); err != nil {
		return err
	}
	e.out = append(e.out, '{')
	for i, f := range fields {
		e.key(i, f.Alias)
		if f.Name == "__typename" {
			e.str(typeName)
			continue
		}
		if err := field(f); err != nil {
			if err == errNotDirect {
				return &fallback{field: typeName + "." + f.Name}
			}
			return err
		}
	}
	e.out = append(e.out, '}')
	return nil
}

// child writes the object a loader holds for key, with the fields sel
// selects on onType.
func child[K comparable, T any](e *direct, l *loaders.Loader[K, *T], key K, sel ast.SelectionSet, onType string,
	write func(*T, []graphql.CollectedField) error) error {
	obj, err := l.Get(e.ctx, key)
	if err != nil {
		return err
	}
	fields, err := e.collect(sel, onType)
	if err != nil {
		return err
	}
	return write(obj, fields)
}

// ofProperty is root's fetch of a root field that reads a property by its
// propertyId argument.
func (e *direct) ofProperty(f graphql.CollectedField, read func(context.Context, uuid.UUID) (model.Property, error)) func() (model.Property, error) {
	return func() (model.Property, error) {
		id, err := e.idArg(f, "propertyId")
		if err != nil {
			return model.Property{}, err
		}
		return read(e.ctx, id)
	}
}

// noPrefetch is root's prefetch for an object with nothing below to
// fetch.
func noPrefetch([]*model.Property, []graphql.CollectedField) error { return nil }

func (e *direct) portalAccess(p *model.Property, fields []graphql.CollectedField) error {
	return e.object(fields, "PortalAccess", func(f graphql.CollectedField) error {
		switch f.Name {
		case "loginText":
			e.str(p.LoginText)
		case "portalAllowed":
			e.bool(p.PortalAllowed)
		default:
			return errNotDirect
		}
		return nil
	})
}

// uiParts are UiConfiguration's objects: each one's type and its string
// fields (UiAccess.tenantSetDpsk, the one other, is written apart).
var uiParts = map[string]struct {
	typeName string
	fields   map[string]func(*model.Property) string
}{
	"access": {"UiAccess", nil},
	"text": {"UiText", map[string]func(*model.Property) string{
		"title": func(p *model.Property) string { return p.Title }, "subTitle": func(p *model.Property) string { return p.Subtitle },
		"loginText": func(p *model.Property) string { return p.LoginText }, "announcements": func(p *model.Property) string { return p.Announcements },
		"helpText": func(p *model.Property) string { return p.HelpText }}},
	"color": {"UiColor", map[string]func(*model.Property) string{
		"mainColor": func(p *model.Property) string { return p.MainColor }, "accentColor": func(p *model.Property) string { return p.AccentColor },
		"separatorColor": func(p *model.Property) string { return p.SeparatorColor }, "textColor": func(p *model.Property) string { return p.TextColor }}},
	"files": {"UiFiles", map[string]func(*model.Property) string{
		"logoFileName": func(p *model.Property) string { return p.LogoFileName }, "favIconFileName": func(p *model.Property) string { return p.FavIconFileName }}},
}

// uiConfiguration writes a property's UiConfiguration (the page's
// branding), as convert.go's uiConfiguration gives it to gqlgen.
func (e *direct) uiConfiguration(p *model.Property, fields []graphql.CollectedField) error {
	return e.object(fields, "UiConfiguration", func(f graphql.CollectedField) error {
		part, ok := uiParts[f.Name]
		if !ok {
			return errNotDirect
		}
		sub, err := e.collect(f.Selections, part.typeName)
		if err != nil {
			return err
		}
		return e.object(sub, part.typeName, func(g graphql.CollectedField) error {
			if part.typeName == "UiAccess" && g.Name == "tenantSetDpsk" {
				e.bool(p.TenantSetDpsk)
				return nil
			}
			get, ok := part.fields[g.Name]
			if !ok {
				return errNotDirect
			}
			e.str(get(p))
			return nil
		})
	})
}

func (e *direct) contact(c *model.Contact, sel ast.SelectionSet) error {
	fields, err := e.collect(sel, "Contact")
	if err != nil {
		return err
	}
	return e.object(fields, "Contact", func(f graphql.CollectedField) error {
		switch f.Name {
		case "contactName":
			e.str(c.ContactName)
		case "email":
			e.str(c.Email)
		case "phoneNumber":
			e.str(c.PhoneNumber)
		default:
			return errNotDirect
		}
		return nil
	})
}

func (e *direct) user(u *model.UnitUser, fields []graphql.CollectedField) error {
	return e.object(fields, "UnitUser", func(f graphql.CollectedField) error {
		switch f.Name {
		case "id":
			e.uuid(u.ID)
		case "userName":
			e.str(u.UserName)
		case "email":
			e.str(u.Email)
		case "phoneNumber":
			e.str(u.PhoneNumber)
		case "passphrase":
			e.str(u.Passphrase)
		case "status":
			e.str(string(u.Status))
		case "type":
			e.str(string(u.Type))
		case "devices":
			devices, err := e.l.UserDevices.Get(e.ctx, u.ID)
			if err != nil {
				return err
			}
			if err := e.devices(devices, f.Selections); err != nil {
				return err
			}
		case "unit":
			if err := child(e, &e.l.Unit, u.UnitID, f.Selections, "Unit", e.unit); err != nil {
				return err
			}
		default:
			return errNotDirect
		}
		return nil
	})
}

func (e *direct) devices(devices []*model.Device, sel ast.SelectionSet) error {
	fields, err := e.collect(sel, "Device")
	if err != nil {
		return err
	}
	e.out = append(e.out, '[')
	for i, d := range devices {
		if i > 0 {
			e.out = append(e.out, ',')
		}
		if err := e.device(d, fields); err != nil {
			return err
		}
	}
	e.out = append(e.out, ']')
	return nil
}

func (e *direct) device(d *model.Device, fields []graphql.CollectedField) error {
	return e.object(fields, "Device", func(f graphql.CollectedField) error {
		switch f.Name {
		case "id", "macAddress":
			e.str(d.MACAddress)
		case "displayName":
			e.str(d.DisplayName)
		case "description":
			e.str(d.Description)
		case "osType":
			e.str(d.OSType)
		case "type":
			e.str(string(d.UserType))
		case "lastSeen":
			e.time(d.LastSeen)
		case "online":
			e.bool(d.Online)
		case "user":
			if err := child(e, &e.l.User, d.UserID, f.Selections, "UnitUser", e.user); err != nil {
				return err
			}
		default:
			return errNotDirect
		}
		return nil
	})
}

func (e *direct) unitConnection(p model.Page[model.Unit], sel ast.SelectionSet) error {
	cursorOf := func(i int) string {
		return loaders.EncodeCursor(loaders.Cursor{Value: p.Items[i].Number, ID: p.Items[i].ID})
	}
	return e.connection(sel, "UnitConnection", "UnitEdge", len(p.Items), p.HasNext, p.Total, cursorOf,
		func(i int, fields []graphql.CollectedField) error { return e.unit(&p.Items[i], fields) })
}

func (e *direct) userConnection(p model.Page[model.UnitUser], sel ast.SelectionSet) error {
	cursorOf := func(i int) string { return loaders.EncodeCursor(loaders.Cursor{ID: p.Items[i].ID}) }
	return e.connection(sel, "UnitUserConnection", "UnitUserEdge", len(p.Items), p.HasNext, p.Total, cursorOf,
		func(i int, fields []graphql.CollectedField) error { return e.user(&p.Items[i], fields) })
}

// connection writes a page of n nodes: edges (a cursor is computed only
// where one is selected), pageInfo and totalCount.
func (e *direct) connection(sel ast.SelectionSet, connType, edgeType string, n int, hasNext bool, total int,
	cursorOf func(int) string, node func(int, []graphql.CollectedField) error) error {
	fields, err := e.collect(sel, connType)
	if err != nil {
		return err
	}
	nodeType := edgeType[:len(edgeType)-len("Edge")]
	return e.object(fields, connType, func(f graphql.CollectedField) error {
		switch f.Name {
		case "totalCount":
			e.int(total)
		case "edges":
			edge, err := e.collect(f.Selections, edgeType)
			if err != nil {
				return err
			}
			e.out = append(e.out, '[')
			for item := range n {
				if item > 0 {
					e.out = append(e.out, ',')
				}
				if err := e.object(edge, edgeType, func(ef graphql.CollectedField) error {
					switch ef.Name {
					case "cursor":
						e.str(cursorOf(item))
					case "node":
						nf, err := e.collect(ef.Selections, nodeType)
						if err != nil {
							return err
						}
						return node(item, nf)
					default:
						return errNotDirect
					}
					return nil
				}); err != nil {
					return err
				}
			}
			e.out = append(e.out, ']')
		case "pageInfo":
			info, err := e.collect(f.Selections, "PageInfo")
			if err != nil {
				return err
			}
			return e.object(info, "PageInfo", func(pf graphql.CollectedField) error {
				switch pf.Name {
				case "hasNextPage":
					e.bool(hasNext)
				case "endCursor":
					if n == 0 {
						e.out = append(e.out, "null"...)
					} else {
						e.str(cursorOf(n - 1))
					}
				default:
					return errNotDirect
				}
				return nil
			})
		default:
			return errNotDirect
		}
		return nil
	})
}

// JSON, written as gqlgen writes it.

// key writes the response key of the i-th field of an object.
func (e *direct) key(i int, alias string) {
	if i > 0 {
		e.out = append(e.out, ',')
	}
	e.str(alias)
	e.out = append(e.out, ':')
}

// str writes s quoted, escaped as gqlgen's string marshaler escapes it and
// then as encoding/json escapes for HTML (<, >, &, U+2028 and U+2029), the
// two steps every gqlgen response goes through.
func (e *direct) str(s string) {
	e.out = append(e.out, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain[c] {
			continue
		}
		if c == 0xE2 { // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
			if i+2 >= len(s) || s[i+1] != 0x80 || s[i+2]&^1 != 0xA8 {
				continue
			}
			e.out = append(e.out, s[start:i]...)
			e.out = append(e.out, `\u202`...)
			e.out = append(e.out, '8'+s[i+2]-0xA8)
			i += 2
			start = i + 1
			continue
		}
		e.out = append(e.out, s[start:i]...)
		switch c {
		case '<':
			e.out = append(e.out, `\u003c`...)
		case '>':
			e.out = append(e.out, `\u003e`...)
		case '&':
			e.out = append(e.out, `\u0026`...)
		case '\t':
			e.out = append(e.out, `\t`...)
		case '\r':
			e.out = append(e.out, `\r`...)
		case '\n':
			e.out = append(e.out, `\n`...)
		case '\\':
			e.out = append(e.out, `\\`...)
		case '"':
			e.out = append(e.out, `\"`...)
		default:
			e.out = append(e.out, `\u00`...)
			e.out = append(e.out, hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	e.out = append(e.out, s[start:]...)
	e.out = append(e.out, '"')
}

// plain holds the bytes str copies as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < len(t); c++ {
		t[c] = true
	}
	for _, c := range []byte{'\\', '"', '<', '>', '&', 0xE2} {
		t[c] = false
	}
	return t
}()

const hexDigits = "0123456789ABCDEF" // gqlgen escapes in upper case

func (e *direct) uuid(id uuid.UUID) {
	e.out = append(model.AppendUUID(append(e.out, '"'), id), '"')
}

// time writes a Time (RFC 3339 in UTC, as graph/scalar marshals it), or
// null.
func (e *direct) time(t *time.Time) {
	if t == nil {
		e.out = append(e.out, "null"...)
		return
	}
	e.out = append(e.out, '"')
	e.out = t.UTC().AppendFormat(e.out, time.RFC3339)
	e.out = append(e.out, '"')
}

func (e *direct) optStr(s *string) {
	if s == nil {
		e.out = append(e.out, "null"...)
	} else {
		e.str(*s)
	}
}

func (e *direct) optUUID(id *uuid.UUID) {
	if id == nil {
		e.out = append(e.out, "null"...)
	} else {
		e.uuid(*id)
	}
}

func (e *direct) int(n int)   { e.out = strconv.AppendInt(e.out, int64(n), 10) }
func (e *direct) bool(b bool) { e.out = strconv.AppendBool(e.out, b) }

// Prefetching for gqlgen's executor. A gqlgen resolver that returns many
// parents calls one of these, and everything the operation selects below
// those parents is fetched level by level for all of them at once — by the
// fast path's prefetchers, so that both executors batch the same way — and
// primed into the loaders, where the child resolvers find it. Errors are
// left for the child resolvers to report.

// below returns a direct executor over the operation ctx belongs to and
// the selection of the field being resolved.
func below(ctx context.Context, svc *service.Service, l *loaders.Set) (*direct, ast.SelectionSet, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return nil, nil, false
	}
	return newDirect(ctx, graphql.GetOperationContext(ctx), svc, l), fc.Field.Selections, true
}

// PrefetchUnitChildren serves a field that returns a UnitConnection.
func PrefetchUnitChildren(ctx context.Context, svc *service.Service, l *loaders.Set, units []*model.Unit) {
	if e, sel, ok := below(ctx, svc, l); ok && len(units) > 1 {
		_ = e.belowNodes(sel, "UnitConnection", "UnitEdge", func(nodes []graphql.CollectedField) error {
			return e.prefetchUnits(units, nodes)
		})
	}
}

// PrefetchUserChildren serves a field that returns a UnitUserConnection.
func PrefetchUserChildren(ctx context.Context, svc *service.Service, l *loaders.Set, users []*model.UnitUser) {
	if e, sel, ok := below(ctx, svc, l); ok && len(users) > 1 {
		_ = e.belowNodes(sel, "UnitUserConnection", "UnitUserEdge", func(nodes []graphql.CollectedField) error {
			return e.prefetchUsers(users, nodes)
		})
	}
}

// PrefetchDeviceChildren serves a field that returns a list of devices.
func PrefetchDeviceChildren(ctx context.Context, svc *service.Service, l *loaders.Set, devices []*model.Device) {
	if e, sel, ok := below(ctx, svc, l); ok && len(devices) > 1 {
		_ = e.prefetchDevices(devices, sel)
	}
}

// selectsTotal reports whether a connection's fields include totalCount
// (its children are counted only then; gqlgen's resolvers decide the same
// way, so both executors find the same pages).
func selectsTotal(fields []graphql.CollectedField) bool {
	return slices.ContainsFunc(fields, func(f graphql.CollectedField) bool { return f.Name == "totalCount" })
}

// project returns f of every element of s.
func project[T, K any](s []T, f func(T) K) []K {
	out := make([]K, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// pointers returns a pointer to every element of s.
func pointers[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
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
