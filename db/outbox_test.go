package db_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// Every write the Wi-Fi side must learn about records its change requests,
// in the order they were made, whoever makes it (the server's service layer
// and portalctl both call these methods).
func TestOutboxEveryWrite(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
	scope := model.PropertyScope(p.ID)
	var unit db.CreatedUnit
	var linked model.UnitUser
	var guestID uuid.UUID
	seen := 0
	type step struct {
		name  string
		write func(t *testing.T)
		want  []model.ChangeKind
	}
	for _, s := range []step{
		{"unit created", func(t *testing.T) { unit = newUnit(t, d, p.ID, "1") },
			[]model.ChangeKind{model.ChangeIdentityCreated}},
		{"linked user created", func(t *testing.T) {
			linked = dbtest.Must[model.UnitUser](t)(d.CreateUnitUser(ctx, scope, unit.Unit.ID, "Office", "", ""))
		}, []model.ChangeKind{model.ChangeIdentityCreated}},
		{"guest secrets allowed", func(t *testing.T) {
			dbtest.Must[model.Property](t)(d.UpdateProperty(ctx, p.ID, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)}))
			guestID = *dbtest.Must[model.Unit](t)(d.UnitByID(ctx, scope, unit.Unit.ID)).GuestUserID
		}, []model.ChangeKind{model.ChangeIdentityCreated}},
		{"identity changed", func(t *testing.T) {
			dbtest.Must[model.UnitUserUpdateResult](t)(d.UpdateUnitUser(ctx, scope, linked.ID, model.UnitUserUpdate{UserName: dbtest.Ptr("Study")}))
		}, []model.ChangeKind{model.ChangeIdentity}},
		{"passphrase changed", func(t *testing.T) {
			dbtest.Must[model.UnitUserUpdateResult](t)(d.UpdateUnitUser(ctx, scope, linked.ID, model.UnitUserUpdate{Passphrase: dbtest.Ptr("")}))
		}, []model.ChangeKind{model.ChangePassphrase}},
		{"device removed", func(t *testing.T) {
			dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: linked.ID, MACAddress: "02:00:00:00:00:01"}))
			dbtest.Must[model.ChangeRequest](t)(d.RemoveDevice(ctx, scope, unit.Unit.ID, nil, "02:00:00:00:00:01"))
		}, []model.ChangeKind{model.ChangeDeviceRemoved}},
		{"portal access reset", func(t *testing.T) {
			dbtest.Must[model.UnitUpdateResult](t)(d.UpdateUnit(ctx, scope, unit.Unit.ID, model.UnitUpdate{ResetPortalAccess: true}))
		}, []model.ChangeKind{model.ChangePortalAccessReset}},
		{"unit disabled, disabled again, enabled", func(t *testing.T) {
			for _, s := range []model.UnitStatus{model.UnitDisabled, model.UnitDisabled, model.UnitEnabled} {
				dbtest.Must[model.Unit](t)(d.SetUnitStatus(ctx, scope, unit.Unit.ID, s))
			}
		}, []model.ChangeKind{model.ChangeUnitStatus, model.ChangeUnitStatus}},
		{"guest secrets withdrawn with two guest devices", func(t *testing.T) {
			for _, mac := range []string{"02:00:00:00:00:0B", "02:00:00:00:00:0A"} {
				dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: guestID, MACAddress: mac}))
			}
			dbtest.Must[model.Property](t)(d.UpdateProperty(ctx, p.ID, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(false)}))
		}, []model.ChangeKind{model.ChangeDeviceRemoved, model.ChangeDeviceRemoved, model.ChangeIdentityRemoved}},
	} {
		t.Run(s.name, func(t *testing.T) {
			s.write(t)
			all := dbtest.Must[[]model.ChangeRequest](t)(d.ChangeRequestsByUnit(ctx, unit.Unit.ID))
			fresh := all[seen:]
			seen = len(all)
			var kinds []model.ChangeKind
			for _, c := range fresh {
				kinds = append(kinds, c.Kind)
				if c.Status != model.ChangePending || c.PropertyID != p.ID || c.UnitID != unit.Unit.ID {
					t.Fatalf("row %+v", c)
				}
				if c.Kind == model.ChangeDeviceRemoved && (c.DeviceID == nil || c.MACAddress == nil || c.UserID == nil) {
					t.Fatalf("DEVICE_REMOVED without its ids: %+v", c)
				}
			}
			if !slices.Equal(kinds, s.want) {
				t.Fatalf("recorded %v, want %v", kinds, s.want)
			}
			if s.name == "guest secrets withdrawn with two guest devices" {
				if got := fmt.Sprint(*fresh[0].MACAddress, " ", *fresh[1].MACAddress, " ", *fresh[2].UserID); got !=
					fmt.Sprint("02:00:00:00:00:0A 02:00:00:00:00:0B ", guestID) {
					t.Fatalf("rows name %s", got)
				}
			}
		})
	}
}

// Pruning deletes APPLIED and FAILED change requests completed before the
// cut-off, oldest first and at most the limit per call; PENDING and
// PUBLISHED ones stay however old they are, and a row another transaction
// holds is skipped without waiting.
func TestPruneChanges(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
	unit := newUnit(t, d, p.ID, "1")
	scope := model.PropertyScope(p.ID)
	for range 6 {
		dbtest.Must[model.UnitUpdateResult](t)(d.UpdateUnit(ctx, scope, unit.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr("")}))
	}
	rows := dbtest.Must[[]model.ChangeRequest](t)(d.ChangeRequestsByUnit(ctx, unit.Unit.ID))[1:] // after the unit's creation
	if len(rows) != 6 {
		t.Fatalf("%d change requests, want 6", len(rows))
	}
	// Each row's status, and how long ago it was completed (or created,
	// or published, for the rows not completed).
	set := func(i int, status model.ChangeStatus, ago string) {
		t.Helper()
		if _, err := d.Pool().Exec(ctx, `UPDATE change_requests SET status = $2::change_status,
		    created_at = now() - $3::interval - interval '1 minute',
		    published_at = CASE WHEN $2::change_status <> 'PENDING' THEN now() - $3::interval END,
		    completed_at = CASE WHEN $2::change_status IN ('APPLIED', 'FAILED') THEN now() - $3::interval END
		  WHERE id = $1`, rows[i].ID, status, ago); err != nil {
			t.Fatal(err)
		}
	}
	set(0, model.ChangeApplied, "2 hours")
	set(1, model.ChangeFailed, "3 hours")
	set(2, model.ChangeApplied, "10 minutes") // completed after the cut-off
	set(3, model.ChangePending, "30 days")
	set(4, model.ChangePublished, "30 days")
	set(5, model.ChangeApplied, "5 hours") // held by another transaction
	cutoff := time.Now().Add(-time.Hour)

	tx := dbtest.Must[pgx.Tx](t)(d.Pool().Begin(ctx))
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM change_requests WHERE id = $1 FOR UPDATE`, rows[5].ID); err != nil {
		t.Fatal(err)
	}
	quick, cancel := context.WithTimeout(ctx, 5*time.Second) // it must not wait for tx
	defer cancel()
	exists := func(c model.ChangeRequest) bool {
		t.Helper()
		_, err := d.ChangeRequestByID(ctx, scope, c.ID)
		if err != nil && model.ErrorCode(err) != model.CodeNotFound {
			t.Fatal(err)
		}
		return err == nil
	}
	// The oldest unheld first: the FAILED one (3 h), then the APPLIED one
	// (2 h), then nothing while the 5-hour-old one is held.
	for i, want := range [][2]bool{{false, true}, {false, false}, {false, false}} {
		wantN := 1
		if i == 2 {
			wantN = 0
		}
		if n, err := d.PruneChanges(quick, cutoff, 1); err != nil || n != wantN {
			t.Fatalf("PruneChanges, call %d: %d, %v; want %d", i+1, n, err, wantN)
		}
		if got := [2]bool{exists(rows[1]), exists(rows[0])}; got != want {
			t.Fatalf("after call %d: FAILED 3 h ago and APPLIED 2 h ago exist %v, want %v", i+1, got, want)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := d.PruneChanges(ctx, cutoff, 10); err != nil || n != 1 {
		t.Fatalf("PruneChanges once the row is free: %d, %v; want 1", n, err)
	}
	var left []uuid.UUID
	for _, c := range dbtest.Must[[]model.ChangeRequest](t)(d.ChangeRequestsByUnit(ctx, unit.Unit.ID))[1:] {
		left = append(left, c.ID)
	}
	if want := []uuid.UUID{rows[2].ID, rows[3].ID, rows[4].ID}; !slices.Equal(left, want) {
		t.Fatalf("left %v, want %v (recent APPLIED, old PENDING, old PUBLISHED)", left, want)
	}
}

// A relay that finds the units with the oldest requests held by another
// relay takes the next ones instead of none, so that replicas share a
// backlog; no unit is taken twice, and each unit's rows go in write order.
func TestRelayChangesSharesABacklog(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
	var units []uuid.UUID
	for i := range 4 {
		u := newUnit(t, d, p.ID, fmt.Sprint(i))
		units = append(units, u.Unit.ID)
	}
	for range 2 { // oldest first: unit 0, 1, 2, 3
		for _, u := range units {
			dbtest.Must[model.UnitUpdateResult](t)(d.UpdateUnit(ctx, model.PropertyScope(p.ID), u, model.UnitUpdate{Secret: dbtest.Ptr("")}))
		}
	}
	// taken lists the units of rows, checking each unit's are in write order.
	taken := func(rows []model.ChangeRequest) (out []uuid.UUID, ids []uuid.UUID) {
		last := map[uuid.UUID]time.Time{}
		for _, r := range rows {
			if r.CreatedAt.Before(last[r.UnitID]) {
				t.Errorf("unit %s: out of write order", r.UnitID)
			}
			if _, ok := last[r.UnitID]; !ok {
				out = append(out, r.UnitID)
			}
			last[r.UnitID] = r.CreatedAt
			ids = append(ids, r.ID)
		}
		return out, ids
	}
	holding, release := make(chan []uuid.UUID), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo() // a failing test does not leave the first transaction open
	first := make(chan int, 1)
	go func() {
		n, err := d.RelayChanges(ctx, 2, 100, func(_ context.Context, rows []model.ChangeRequest) []uuid.UUID {
			held, ids := taken(rows)
			holding <- held
			<-release
			return ids
		})
		if err != nil {
			t.Error(err)
		}
		first <- n
	}()
	held := <-holding
	if !slices.Equal(held, units[:2]) {
		t.Fatalf("the first relay took units %v, want the two oldest %v", held, units[:2])
	}
	var second []uuid.UUID
	n, err := d.RelayChanges(ctx, 2, 100, func(_ context.Context, rows []model.ChangeRequest) []uuid.UUID {
		var ids []uuid.UUID
		second, ids = taken(rows)
		return ids
	})
	if err != nil || n == 0 || !slices.Equal(second, units[2:]) {
		t.Fatalf("while the first relay holds the oldest units, the second took %v (%d rows, %v); want %v", second, n, err, units[2:])
	}
	letGo()
	if n += <-first; n == 0 {
		t.Fatal("the first relay marked nothing")
	}
	if left := dbtest.Must[int](t)(d.RelayChanges(ctx, 10, 100, func(_ context.Context, rows []model.ChangeRequest) []uuid.UUID {
		t.Errorf("%d rows still pending", len(rows))
		return nil
	})); left != 0 {
		t.Fatalf("%d more marked", left)
	}
}

// A lock someone holds on the whole outbox (a migration, an operator's
// LOCK TABLE) fails the relay's batch within its lock timeout, instead of
// holding the relay — and every property's changes — until it is
// released; after the release the batch goes through. The disconnect
// worker's claim is bounded alike.
func TestDeliveryWorkersDoNotWaitOnAHeldOutbox(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{})
	newUnit(t, d, p.ID, "1") // a pending IDENTITY_CREATED
	tx := dbtest.Must[pgx.Tx](t)(d.Pool().Begin(ctx))
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE change_requests IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	publish := func(_ context.Context, c []model.ChangeRequest) []uuid.UUID {
		ids := make([]uuid.UUID, len(c))
		for i := range c {
			ids[i] = c[i].ID
		}
		return ids
	}
	for name, run := range map[string]func(context.Context) error{
		"relay": func(ctx context.Context) error { _, err := d.RelayChanges(ctx, 10, 100, publish); return err },
		"claim": func(ctx context.Context) error { _, err := d.ClaimDisconnects(ctx, 10); return err },
	} {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		start := time.Now()
		err := run(ctx)
		cancel()
		if err == nil || time.Since(start) > 10*time.Second {
			t.Fatalf("%s with the outbox held: %v after %v", name, err, time.Since(start))
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := d.RelayChanges(ctx, 10, 100, publish); err != nil || n != 1 {
		t.Fatalf("after the release: %d, %v", n, err)
	}
}
