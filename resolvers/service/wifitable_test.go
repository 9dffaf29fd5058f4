package service

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// tableStore serves one property's devices and identities, counting loads.
type tableStore struct {
	Store
	unit  uuid.UUID
	loads int
}

func (s *tableStore) WifiDevices(context.Context, uuid.UUID, int) ([]model.WifiDevice, error) {
	s.loads++
	return []model.WifiDevice{{MAC: "AA:BB:CC:00:11:22", UnitID: s.unit, UserID: uuid.New()}}, nil
}

func (s *tableStore) WifiCandidates(context.Context, uuid.UUID, int) ([]model.WifiDevice, error) {
	return nil, nil
}

// A session report ("s:") leaves a property's table in place — accounting
// changes no access decision, and every Interim-Update would otherwise
// reload the table; any other change to one of its units ("u:") drops it,
// and so does a change to a unit no table has (a new unit).
func TestTablesFollowUnitNoticesNotSessionReports(t *testing.T) {
	events := NewEvents()
	events.ListenerUp(true)
	tables := newWifiTables(events)
	store := &tableStore{unit: uuid.New()}
	property := uuid.New()
	ctx := context.Background()
	get := func() {
		if tables.get(ctx, store, property) == nil {
			t.Fatal("no table")
		}
	}
	get()
	events.Notice("s:" + store.unit.String())
	get()
	if store.loads != 1 {
		t.Fatalf("%d loads after a session report, want 1", store.loads)
	}
	events.Notice("u:" + store.unit.String())
	get()
	if store.loads != 2 {
		t.Fatalf("%d loads after a change to the unit, want 2", store.loads)
	}
	events.Notice("u:" + uuid.NewString())
	get()
	if store.loads != 3 {
		t.Fatalf("%d loads after a change to a unit no table has, want 3", store.loads)
	}
	events.ListenerUp(false)
	if tables.get(ctx, store, property) != nil {
		t.Fatal("a table while the notices are away")
	}
}
