package resolvers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

func TestConcurrentRegenerations(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	ctx := context.Background()
	p := dbtest.Must[model.Property](t)(r.store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Busy"), PassphraseLength: dbtest.Ptr(8)}))
	scope := model.PropertyScope(p.ID)
	var users []uuid.UUID
	var units []uuid.UUID
	for i := range 20 {
		c := dbtest.Must[db.CreatedUnit](t)(r.store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: fmt.Sprint(i)}))
		units = append(units, c.Unit.ID)
		users = append(users, c.Unit.UnitUserID)
		for j := range 9 {
			users = append(users, dbtest.Must[model.UnitUser](t)(r.store.CreateUnitUser(ctx, scope, c.Unit.ID, fmt.Sprint(j), "", "")).ID)
		}
	}
	key := dbtest.Must[db.CreatedManagerKey](t)(r.store.CreateManagerKey(ctx, p.ID)).Key
	before := countChanges(t, r.store, units)
	var wg sync.WaitGroup
	results := make([]model.UnitUserUpdateResult, len(users))
	errs := make([]error, len(users))
	for i, u := range users {
		wg.Go(func() {
			results[i], errs[i] = r.svc.UpdateUnitUser(r.as(key), p.ID, u, model.UnitUserUpdate{Passphrase: dbtest.Ptr("")})
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("regeneration %d: %v", i, err)
		}
		if seen[results[i].User.Passphrase] || results[i].DpskUpdateID == nil {
			t.Fatalf("regeneration %d: repeated passphrase or no change request", i)
		}
		seen[results[i].User.Passphrase] = true
	}
	if got := countChanges(t, r.store, units) - before; got != len(users) {
		t.Fatalf("%d change requests for %d regenerations", got, len(users))
	}
	t.Logf("%d concurrent regenerations: %d distinct passphrases, %d change requests", len(users), len(seen), len(users))
}

func countChanges(t *testing.T, store *db.DB, units []uuid.UUID) int {
	t.Helper()
	n := 0
	for _, u := range units {
		n += len(dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(context.Background(), u)))
	}
	return n
}

func TestConcurrentUpdatesOfOneUser(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	ctx := context.Background()
	f := newFixture(t, r.store, db.PropertyInput{})
	token := r.login(t, f.property.ID, f.unit.PortalSecret)
	user := f.unit.Unit.UnitUserID
	fields := []func(k int) model.UnitUserUpdate{
		func(k int) model.UnitUserUpdate {
			return model.UnitUserUpdate{UserName: dbtest.Ptr(fmt.Sprintf("name-%d", k))}
		},
		func(k int) model.UnitUserUpdate {
			return model.UnitUserUpdate{Email: dbtest.Ptr(fmt.Sprintf("e%d@example.org", k))}
		},
		func(k int) model.UnitUserUpdate {
			return model.UnitUserUpdate{PhoneNumber: dbtest.Ptr(fmt.Sprintf("+1 555 %04d", k))}
		},
		func(k int) model.UnitUserUpdate { return model.UnitUserUpdate{Passphrase: dbtest.Ptr("")} },
	}
	const rounds = 25
	var mu sync.Mutex
	persona, dpsk := 0, 0
	var wg sync.WaitGroup
	for _, field := range fields {
		wg.Go(func() {
			for k := 1; k <= rounds; k++ {
				res, err := r.svc.UpdateUnitUser(r.as(token), f.property.ID, user, field(k))
				if err != nil {
					t.Errorf("update: %v", err)
					return
				}
				mu.Lock()
				if res.PersonaUpdateID != nil {
					persona++
				}
				if res.DpskUpdateID != nil {
					dpsk++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got := dbtest.Must[model.UnitUser](t)(r.store.UnitUserByID(ctx, model.PropertyScope(f.property.ID), user))
	if got.UserName != fmt.Sprintf("name-%d", rounds) || got.Email != fmt.Sprintf("e%d@example.org", rounds) ||
		got.PhoneNumber != fmt.Sprintf("+1 555 %04d", rounds) {
		t.Fatalf("a field was lost: %+v", got)
	}
	kinds := map[model.ChangeKind]int{}
	for _, c := range dbtest.Must[[]model.ChangeRequest](t)(r.store.ChangeRequestsByUnit(ctx, f.unit.Unit.ID)) {
		kinds[c.Kind]++
	}
	if persona != 3*rounds || dpsk != rounds || kinds[model.ChangeIdentity] != persona || kinds[model.ChangePassphrase] != dpsk {
		t.Fatalf("answers said %d identity and %d passphrase changes; the outbox holds %v", persona, dpsk, kinds)
	}
}

func TestConcurrentResetAndLogin(t *testing.T) {
	url := dbtest.NewURL(t)
	a, b := newReplica(t, url), newReplica(t, url)
	ctx := context.Background()
	f := newFixture(t, a.store, db.PropertyInput{})
	pid := f.property.ID
	key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, pid)).Key
	secret := f.unit.PortalSecret
	var mu sync.Mutex
	var tokens []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 40 {
				mu.Lock()
				s := secret
				mu.Unlock()
				if res, err := b.svc.Login(ctx, pid, s); err == nil {
					mu.Lock()
					tokens = append(tokens, res.Token)
					mu.Unlock()
				}
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			res, err := a.svc.UpdateUnit(a.as(key), pid, &f.unit.Unit.ID, model.UnitUpdate{ResetPortalAccess: true})
			if err != nil {
				t.Errorf("reset: %v", err)
				return
			}
			mu.Lock()
			secret = res.PortalSecret
			mu.Unlock()
		}
	})
	wg.Wait()
	// A last reset: no token minted before it may work anywhere.
	last := dbtest.Must[model.UnitUpdateResult](t)(a.svc.UpdateUnit(a.as(key), pid, &f.unit.Unit.ID, model.UnitUpdate{ResetPortalAccess: true}))
	if len(tokens) == 0 {
		t.Fatal("no login succeeded during the storm")
	}
	for _, r := range []*replica{a, b} {
		for _, tok := range tokens {
			eventually(t, "old token refused", func() bool {
				_, err := r.svc.Authenticator().Authenticate(ctx, tok)
				return model.ErrorCode(err) == model.CodeUnauthenticated
			})
		}
	}
	if _, err := b.svc.Login(ctx, pid, secret); model.ErrorCode(err) != model.CodeUnauthenticated {
		t.Fatalf("a rotated portal secret still logs in: %v", err)
	}
	fresh := dbtest.Must[service.LoginResult](t)(b.svc.Login(ctx, pid, last.PortalSecret))
	if _, err := a.svc.Authenticator().Authenticate(ctx, fresh.Token); err != nil {
		t.Fatalf("the current secret's token is refused: %v", err)
	}
	t.Logf("%d tokens minted during 10 concurrent resets; all refused on both replicas after the last reset", len(tokens))
}
