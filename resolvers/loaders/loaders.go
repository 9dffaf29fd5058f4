package loaders

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// loaderWait is how long a loader collects keys before it queries when a
// Load is not flushed. Resolvers load through get, which flushes at once:
// parents that return lists prefetch their children in one batch (see
// prefetch), so batching never depends on this timing.
const loaderWait = 500 * time.Microsecond

// PageKey asks for one page of a parent's children.
type PageKey struct {
	Parent uuid.UUID
	First  int
	// After is the decoded cursor value ("" for the first page).
	After string
	// NoTotal skips counting the parent's children (totalCount is not
	// selected).
	NoTotal bool
}

// DeviceKey asks for a unit's devices, of one user type or ("") all.
type DeviceKey struct {
	Unit     uuid.UUID
	UserType string
}

// Set is a request's dataloaders, one per parent→child edge. Each
// batch is one `= ANY($1)` statement; results come back in key order, one
// per key, NOT_FOUND for a missing key. They are one allocation per request
// and each dataloader is made on first use (most operations use two or
// three of the seven).
type Set struct {
	batches     *Batches
	Property    Loader[uuid.UUID, *model.Property]
	Unit        Loader[uuid.UUID, *model.Unit]
	User        Loader[uuid.UUID, *model.UnitUser]
	UnitPages   Loader[PageKey, model.Page[model.Unit]]
	UserPages   Loader[PageKey, model.Page[model.UnitUser]]
	UnitDevices Loader[DeviceKey, []*model.Device]
	UserDevices Loader[uuid.UUID, []*model.Device]
	ChangePages Loader[ChangeKey, model.Page[model.ChangeRequest]]
	// Blocked are a unit's blocked devices, by unit.
	Blocked Loader[uuid.UUID, []*model.BlockedDevice]
}

// New returns a request's loaders over b, empty.
func New(b *Batches) *Set {
	return &Set{batches: b,
		Property:    Loader[uuid.UUID, *model.Property]{batch: b.property},
		Unit:        Loader[uuid.UUID, *model.Unit]{batch: b.unit},
		User:        Loader[uuid.UUID, *model.UnitUser]{batch: b.user},
		UnitPages:   Loader[PageKey, model.Page[model.Unit]]{batch: b.unitPages},
		UserPages:   Loader[PageKey, model.Page[model.UnitUser]]{batch: b.userPages},
		UnitDevices: Loader[DeviceKey, []*model.Device]{batch: b.unitDevices},
		UserDevices: Loader[uuid.UUID, []*model.Device]{batch: b.userDevices},
		ChangePages: Loader[ChangeKey, model.Page[model.ChangeRequest]]{batch: b.changePages},
		Blocked:     Loader[uuid.UUID, []*model.BlockedDevice]{batch: b.blocked}}
}

// Batches are the loaders' batch functions over a store, made once.
type Batches struct {
	property    dataloader.BatchFunc[uuid.UUID, *model.Property]
	unit        dataloader.BatchFunc[uuid.UUID, *model.Unit]
	user        dataloader.BatchFunc[uuid.UUID, *model.UnitUser]
	unitPages   dataloader.BatchFunc[PageKey, model.Page[model.Unit]]
	userPages   dataloader.BatchFunc[PageKey, model.Page[model.UnitUser]]
	unitDevices dataloader.BatchFunc[DeviceKey, []*model.Device]
	userDevices dataloader.BatchFunc[uuid.UUID, []*model.Device]
	changePages dataloader.BatchFunc[ChangeKey, model.Page[model.ChangeRequest]]
	blocked     dataloader.BatchFunc[uuid.UUID, []*model.BlockedDevice]
}

func NewBatches(s service.Store) *Batches {
	b := &Batches{
		property: byID(s.PropertiesByIDs, func(p model.Property) uuid.UUID { return p.ID }, "property"),
		unit:     byID(s.UnitsByIDs, func(u model.Unit) uuid.UUID { return u.ID }, "unit"),
		user:     byID(s.UnitUsersByIDs, func(u model.UnitUser) uuid.UUID { return u.ID }, "unit user"),
		unitPages: pages(func(ctx context.Context, ids []uuid.UUID, a PageArgs) (map[uuid.UUID]model.Page[model.Unit], error) {
			page := model.UnitPage{Limit: a.First, SkipTotal: a.NoTotal}
			if a.After != "" {
				page.AfterNumber = &a.After
			}
			return s.UnitPages(ctx, ids, page)
		}),
		userPages: pages(func(ctx context.Context, ids []uuid.UUID, a PageArgs) (map[uuid.UUID]model.Page[model.UnitUser], error) {
			page, err := a.UserPage()
			if err != nil {
				return nil, err
			}
			return s.UnitUserPages(ctx, ids, page)
		}),
		unitDevices: func(ctx context.Context, keys []DeviceKey) []*dataloader.Result[[]*model.Device] {
			byType := map[string][]uuid.UUID{}
			for _, k := range keys {
				byType[k.UserType] = append(byType[k.UserType], k.Unit)
			}
			found := make(map[DeviceKey][]*model.Device, len(keys))
			for typ, units := range byType {
				var t *model.UnitUserType
				if typ != "" {
					ut := model.UnitUserType(typ)
					t = &ut
				}
				devices, err := s.DevicesByUnitIDs(ctx, units, t)
				if err != nil {
					return fail[[]*model.Device](len(keys), err)
				}
				Grouped(found, devices, func(d *model.Device) DeviceKey { return DeviceKey{d.UnitID, typ} })
			}
			out := results[[]*model.Device](len(keys))
			for i, k := range keys {
				out[i].Data = NonNil(found[k])
			}
			return out
		},
		changePages: changePagesOf(s),
		blocked: func(ctx context.Context, keys []uuid.UUID) []*dataloader.Result[[]*model.BlockedDevice] {
			blocked, err := s.BlockedDevicesByUnitIDs(ctx, keys)
			if err != nil {
				return fail[[]*model.BlockedDevice](len(keys), err)
			}
			found := make(map[uuid.UUID][]*model.BlockedDevice, len(keys))
			Grouped(found, blocked, func(b *model.BlockedDevice) uuid.UUID { return b.UnitID })
			out := results[[]*model.BlockedDevice](len(keys))
			for i, k := range keys {
				out[i].Data = NonNil(found[k])
			}
			return out
		},
		userDevices: func(ctx context.Context, keys []uuid.UUID) []*dataloader.Result[[]*model.Device] {
			devices, err := s.DevicesByUserIDs(ctx, keys)
			if err != nil {
				return fail[[]*model.Device](len(keys), err)
			}
			found := make(map[uuid.UUID][]*model.Device, len(keys))
			Grouped(found, devices, func(d *model.Device) uuid.UUID { return d.UserID })
			out := results[[]*model.Device](len(keys))
			for i, k := range keys {
				out[i].Data = NonNil(found[k])
			}
			return out
		},
	}
	b.property, b.unit, b.user = traced("property", b.property), traced("unit", b.unit), traced("unit user", b.user)
	b.unitPages, b.userPages = traced("unit pages", b.unitPages), traced("user pages", b.userPages)
	b.unitDevices, b.userDevices = traced("unit devices", b.unitDevices), traced("user devices", b.userDevices)
	b.changePages, b.blocked = traced("change requests", b.changePages), traced("blocked devices", b.blocked)
	return b
}

// loader is a dataloader, made on first use, that a parent can also fill
// ahead of its children. What a parent fetched is kept in a plain map that
// get reads first: a prefetched key costs a map lookup, not a dataloader
// thunk, and a loader that only prefetches never makes its dataloader.
type Loader[K comparable, V any] struct {
	batch dataloader.BatchFunc[K, V]

	once sync.Once
	dl   *dataloader.Loader[K, V]

	mu sync.Mutex
	// fetched holds every key prefetched: its value, when found.
	fetched map[K]prefetched[V]
}

type prefetched[V any] struct {
	v     V
	found bool
}

func (l *Loader[K, V]) loader() *dataloader.Loader[K, V] {
	l.once.Do(func() {
		l.dl = dataloader.NewBatchedLoader(l.batch, dataloader.WithWait[K, V](loaderWait),
			// A batch holds few keys (parents prefetch theirs): the default
			// 1,000-slot input channel would cost 8 KiB per batch.
			dataloader.WithInputCapacity[K, V](8))
	})
	return l.dl
}

// get loads one key: a prefetched value, or else through the dataloader
// without waiting for siblings — a parent that has many children fetched
// them all ahead (prefetch), so a key missing here is a lone one (or one
// whose prefetch failed, loaded again so its error is reported), and
// flushing at once saves the wait window.
func (l *Loader[K, V]) Get(ctx context.Context, key K) (V, error) {
	l.mu.Lock()
	p := l.fetched[key]
	l.mu.Unlock()
	if p.found {
		return p.v, nil
	}
	dl := l.loader()
	thunk := dl.Load(ctx, key)
	dl.Flush()
	return thunk()
}

// put keeps v as key's value, as a prefetch would: a parent that read its
// children another way hands them to their resolvers.
func (l *Loader[K, V]) Put(key K, v V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fetched == nil {
		l.fetched = map[K]prefetched[V]{}
	}
	l.fetched[key] = prefetched[V]{v, true}
}

// prefetch fetches every key not prefetched before in one call of the batch
// function — whatever the time it takes to gather the keys — and keeps the
// results, so that the children's gets find them. It returns the values of
// the distinct keys (those that failed are left out; their child resolvers
// load them again and report the error).
func (l *Loader[K, V]) Prefetch(ctx context.Context, keys []K) []V {
	l.mu.Lock()
	if l.fetched == nil {
		l.fetched = make(map[K]prefetched[V], len(keys))
	}
	var missing []K
	for _, k := range keys {
		if _, done := l.fetched[k]; !done {
			l.fetched[k] = prefetched[V]{}
			missing = append(missing, k)
		}
	}
	l.mu.Unlock()
	var results []*dataloader.Result[V]
	if len(missing) > 0 {
		results = l.batch(ctx, missing)
	}
	// Each key once: the values share the selection below them, so a
	// repeated parent (users → unit → users …) would only multiply the
	// next level's keys.
	out := make([]V, 0, len(keys))
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range results {
		if r.Error == nil {
			l.fetched[missing[i]] = prefetched[V]{r.Data, true}
		}
	}
	var seen map[K]struct{} // past a few keys; before, a look back
	if len(keys) > 16 {
		seen = make(map[K]struct{}, len(keys))
	}
	for i, k := range keys {
		if seen != nil {
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
		} else if slices.Contains(keys[:i], k) {
			continue
		}
		if p := l.fetched[k]; p.found {
			out = append(out, p.v)
		}
	}
	return out
}

func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Grouped adds devices (or blocked devices), which come ordered by owner,
// to into by owner, without a slice per owner: each run of one owner is a
// piece of one slice of pointers, its capacity capped so that an append
// never reaches the next run's. An owner met in two runs gets both.
func Grouped[K comparable, T any](into map[K][]*T, devices []T, owner func(*T) K) {
	ptrs := make([]*T, len(devices))
	start := 0
	for i := range devices {
		ptrs[i] = &devices[i]
		k := owner(&devices[i])
		if i+1 < len(devices) && owner(&devices[i+1]) == k {
			continue
		}
		run := ptrs[start : i+1 : i+1]
		if prev, ok := into[k]; ok {
			run = append(prev[:len(prev):len(prev)], run...)
		}
		into[k] = run
		start = i + 1
	}
}

// results is n empty results, allocated together (a batch function returns
// pointers).
func results[V any](n int) []*dataloader.Result[V] {
	rs := make([]dataloader.Result[V], n)
	out := make([]*dataloader.Result[V], n)
	for i := range rs {
		out[i] = &rs[i]
	}
	return out
}

func fail[V any](n int, err error) []*dataloader.Result[V] {
	out := results[V](n)
	for _, r := range out {
		r.Error = err
	}
	return out
}

// byID makes a batch function from a `= ANY($1)` query: results in key
// order, NOT_FOUND for a key with no row.
func byID[V any](query func(context.Context, []uuid.UUID) ([]V, error), id func(V) uuid.UUID, what string) dataloader.BatchFunc[uuid.UUID, *V] {
	return func(ctx context.Context, keys []uuid.UUID) []*dataloader.Result[*V] {
		rows, err := query(ctx, keys)
		if err != nil {
			return fail[*V](len(keys), err)
		}
		found := make(map[uuid.UUID]*V, len(rows))
		for i := range rows {
			found[id(rows[i])] = &rows[i]
		}
		out := results[*V](len(keys))
		for i, k := range keys {
			if v, ok := found[k]; ok {
				out[i].Data = v
			} else {
				out[i].Error = model.ErrNotFound(what)
			}
		}
		return out
	}
}

// PageArgs is what a page asks for besides its parent.
type PageArgs struct {
	First   int
	After   string
	NoTotal bool
}

// Args is what k asks for besides its parent.
func (k PageKey) Args() PageArgs { return PageArgs{k.First, k.After, k.NoTotal} }

// userPage is the page of unit users a's key asks for.
func (a PageArgs) UserPage() (model.UserPage, error) {
	page := model.UserPage{Limit: a.First, SkipTotal: a.NoTotal}
	if a.After != "" {
		id, err := uuid.Parse(a.After)
		if err != nil {
			return page, ErrBadCursor
		}
		page.AfterID = &id
	}
	return page, nil
}

// pages makes a batch function for connection pages: keys asking for the
// same page share one statement (normally all of them).
func pages[T any](query func(ctx context.Context, ids []uuid.UUID, a PageArgs) (map[uuid.UUID]model.Page[T], error)) dataloader.BatchFunc[PageKey, model.Page[T]] {
	return func(ctx context.Context, keys []PageKey) []*dataloader.Result[model.Page[T]] {
		groups := map[PageArgs][]uuid.UUID{}
		for _, k := range keys {
			a := k.Args()
			groups[a] = append(groups[a], k.Parent)
		}
		found := make(map[PageKey]model.Page[T], len(keys))
		for a, ids := range groups {
			res, err := query(ctx, ids, a)
			if err != nil {
				return fail[model.Page[T]](len(keys), err)
			}
			for id, p := range res {
				found[PageKey{id, a.First, a.After, a.NoTotal}] = p
			}
		}
		out := results[model.Page[T]](len(keys))
		for i, k := range keys {
			out[i].Data = found[k]
		}
		return out
	}
}

// Fresh returns new, empty loaders over the same batch functions: a
// subscription reads each event through loaders of its own, so no event
// is answered from an earlier one's cache.
func (l *Set) Fresh() *Set { return New(l.batches) }

// Batches are the batch functions the loaders run.
func (l *Set) Batches() *Batches { return l.batches }
