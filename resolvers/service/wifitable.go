package service

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// wifiTables keep, per property, what access requests decide on — its
// devices by MAC and its candidate identities, with their passphrases — in
// memory, so that a request reads no database. A table is dropped on any
// notice of a change to one of its units (the live-update channel: a
// change to a unit, its identities or its devices, whoever made it), and
// every table on a notice for a unit no table has (a new unit) or while
// the notice connection is away, when requests read the database as
// before: the liveness rule of the credential cache. A reload that a
// change overtook is not kept (generations).
type wifiTables struct {
	mu     sync.Mutex
	up     bool
	tables map[uuid.UUID]*wifiTable
	units  map[uuid.UUID]uuid.UUID // unit → its property, for the tables held
	gen    map[uuid.UUID]uint64    // bumped when a property's table is dropped
	epoch  uint64                  // bumped when every table is dropped
	loads  map[uuid.UUID]*wifiLoad // one load per property at a time
}

type wifiTable struct {
	byMAC      map[string][]model.WifiDevice
	candidates []model.WifiDevice
}

type wifiLoad struct {
	done  chan struct{}
	table *wifiTable
	err   error
}

// maxTableDevices bounds a table: a property with more devices is not
// held (its requests read the database).
const maxTableDevices = 200_000

func newWifiTables(events *Events) *wifiTables {
	t := &wifiTables{tables: map[uuid.UUID]*wifiTable{}, units: map[uuid.UUID]uuid.UUID{},
		gen: map[uuid.UUID]uint64{}, loads: map[uuid.UUID]*wifiLoad{}}
	if events != nil {
		events.watch(t.unitChanged, t.listenerUp)
		t.up = events.Up()
	}
	return t
}

func (t *wifiTables) unitChanged(unit uuid.UUID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.units[unit]; ok {
		t.dropLocked(p)
		return
	}
	t.dropAllLocked()
}

func (t *wifiTables) listenerUp(up bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.up = up
	t.dropAllLocked() // notices may have been missed
}

func (t *wifiTables) dropLocked(property uuid.UUID) {
	if tbl := t.tables[property]; tbl != nil {
		for _, c := range tbl.candidates {
			delete(t.units, c.UnitID)
		}
		for _, ds := range tbl.byMAC {
			for _, d := range ds {
				delete(t.units, d.UnitID)
			}
		}
		delete(t.tables, property)
	}
	t.gen[property]++
}

func (t *wifiTables) dropAllLocked() {
	clear(t.tables)
	clear(t.units)
	t.epoch++
}

// get returns the property's table, loading it if need be; nil when
// tables are not kept now (no notice connection), the property is too
// large, or the table is not loaded within ctx: the caller reads the
// database. The load runs on its own deadline (tableLoadTimeout), apart
// from the request that started it, so a large property's table is ready
// for the requests after it.
func (t *wifiTables) get(ctx context.Context, store Store, property uuid.UUID) *wifiTable {
	t.mu.Lock()
	if !t.up {
		t.mu.Unlock()
		return nil
	}
	if tbl := t.tables[property]; tbl != nil {
		t.mu.Unlock()
		return tbl
	}
	l := t.loads[property]
	if l == nil {
		l = &wifiLoad{done: make(chan struct{})}
		t.loads[property] = l
		go t.load(context.WithoutCancel(ctx), store, property, l, t.gen[property], t.epoch)
	}
	t.mu.Unlock()
	select {
	case <-l.done:
		return l.table
	case <-ctx.Done():
		return nil
	}
}

// tableLoadTimeout bounds one load of a property's table.
const tableLoadTimeout = 30 * time.Second

func (t *wifiTables) load(ctx context.Context, store Store, property uuid.UUID, l *wifiLoad, gen, epoch uint64) {
	ctx, cancel := context.WithTimeout(ctx, tableLoadTimeout)
	defer cancel()
	l.table, l.err = load(ctx, store, property)
	t.mu.Lock()
	delete(t.loads, property)
	// Kept only if no change came while it loaded (else the next request
	// loads again); the requests waiting use it either way, as they would
	// a read.
	if l.err == nil && l.table != nil && t.up && t.gen[property] == gen && t.epoch == epoch {
		t.tables[property] = l.table
		for _, c := range l.table.candidates {
			t.units[c.UnitID] = property
		}
		for _, ds := range l.table.byMAC {
			for _, d := range ds {
				t.units[d.UnitID] = property
			}
		}
	}
	t.mu.Unlock()
	close(l.done)
}

func load(ctx context.Context, store Store, property uuid.UUID) (*wifiTable, error) {
	devices, err := store.WifiDevices(ctx, property, maxTableDevices+1)
	if err != nil {
		return nil, err
	}
	candidates, err := store.WifiCandidates(ctx, property, MaxCandidates+1)
	if err != nil {
		return nil, err
	}
	if len(devices) > maxTableDevices || len(candidates) > MaxCandidates {
		return nil, nil
	}
	tbl := &wifiTable{byMAC: make(map[string][]model.WifiDevice, len(devices)), candidates: candidates}
	for _, d := range devices {
		tbl.byMAC[d.MAC] = append(tbl.byMAC[d.MAC], d)
	}
	return tbl, nil
}
