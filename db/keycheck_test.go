package db_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// The database records which key its secrets are under: a process under
// another key is refused before it writes anything, and a rekey moves the
// record with the secrets.
func TestKeyCheck(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	open := func(secret string) *db.DB {
		keys, err := model.NewKeyring(secret)
		if err != nil {
			t.Fatal(err)
		}
		d := dbtest.Must[*db.DB](t)(db.Open(ctx, url, keys, db.Options{}))
		t.Cleanup(d.Close)
		return d
	}
	const oldKey, newKey = dbtest.TestSecretKey, "a-new-secret-key-0123456789abcdef-0123456789"
	old := open(oldKey)
	// Data from before the check (none recorded) under another key is not claimed.
	newUnit(t, old, newProperty(t, old, db.PropertyInput{}).ID, "1")
	if _, err := old.Pool().Exec(ctx, `DELETE FROM key_check`); err != nil {
		t.Fatal(err)
	}
	if err := open(newKey).VerifyKey(ctx); !errors.Is(err, db.ErrOtherKey) {
		t.Fatalf("a key the data is not under claimed it: %v", err)
	}
	if err := old.VerifyKey(ctx); err != nil { // the right key claims it
		t.Fatal(err)
	}
	if err := open(newKey).VerifyKey(ctx); !errors.Is(err, db.ErrOtherKey) {
		t.Fatalf("another key: %v", err)
	}
	nas := dbtest.Must[db.CreatedNAS](t)(old.CreateNAS(ctx, model.NAS{PropertyID: newProperty(t, old, db.PropertyInput{}).ID,
		Name: "lobby", Address: netip.MustParsePrefix("192.0.2.10/32"), Profile: model.NASHostapd}))
	next, _ := model.NewKeyring(newKey)
	dbtest.Must[int](t)(old.Rekey(ctx, next))
	if err := open(newKey).VerifyKey(ctx); err != nil {
		t.Fatalf("after rekey, the new key: %v", err)
	}
	// An access point's secret moved with the rest.
	if all, err := open(newKey).NASClients(ctx); err != nil || len(all) != 1 || all[0].Secret != nas.Secret {
		t.Fatalf("after rekey, the access points under the new key: %v, %v", all, err)
	}
	if err := open(oldKey).VerifyKey(ctx); !errors.Is(err, db.ErrOtherKey) {
		t.Fatalf("after rekey, the old key: %v", err)
	}
}

// A rekey's window: servers restarted with SECRET_KEY=new and
// SECRET_KEY_PREVIOUS=old read and write what the old servers do until the
// rekey commits, then write under the new key; writes racing the rekey are
// all readable under the new key afterwards, and a server left under the
// old key alone writes nothing.
func TestRekeyWindow(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	const oldKey, newKey = dbtest.TestSecretKey, "a-new-secret-key-0123456789abcdef-0123456789"
	open := func(secret, previous string) *db.DB {
		keys := dbtest.Must[*model.Keyring](t)(model.NewKeyring(secret))
		keys = dbtest.Must[*model.Keyring](t)(keys.WithPrevious(previous))
		d := dbtest.Must[*db.DB](t)(db.Open(ctx, url, keys, db.Options{}))
		t.Cleanup(d.Close)
		if err := d.VerifyKey(ctx); err != nil {
			t.Fatalf("VerifyKey(%.8s…, previous %.8s…): %v", secret, previous, err)
		}
		return d
	}
	old := open(oldKey, "")
	p := newProperty(t, old, db.PropertyInput{})
	before := newUnit(t, old, p.ID, "1")

	// Rolling restart: the new servers read the old rows and write under
	// the old key, so the old servers still running read theirs.
	rolled := open(newKey, oldKey)
	if _, err := rolled.UnitAuthBySecret(ctx, p.ID, before.PortalSecret); err != nil {
		t.Fatalf("new server, portal secret under the old key: %v", err)
	}
	during := dbtest.Must[db.CreatedUnit](t)(rolled.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "2"}))
	if got := dbtest.Must[model.Unit](t)(old.UnitByID(ctx, model.PropertyScope(p.ID), during.Unit.ID)); got.Secret != during.Unit.Secret {
		t.Fatalf("an old server cannot read a unit a new server created before the rekey")
	}
	if _, err := old.UnitAuthBySecret(ctx, p.ID, during.PortalSecret); err != nil {
		t.Fatalf("an old server cannot log in to a unit a new server created: %v", err)
	}
	tok := rolled.Keys().SignToken(model.UnitToken{PropertyID: p.ID, UnitID: during.Unit.ID, ExpiresAt: time.Now().Add(time.Hour)})
	if _, err := old.Keys().ParseToken(tok, time.Now()); err != nil {
		t.Fatalf("an old server refuses a token a new server signed before the rekey: %v", err)
	}

	// The rekey runs while new servers keep changing passphrases: every
	// write lands under one key or the other's turn, none is lost.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var writes atomic.Int64
	for _, u := range []db.CreatedUnit{before, during} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := rolled.UpdateUnit(ctx, model.PropertyScope(p.ID), u.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr("")})
				if err != nil {
					t.Errorf("passphrase write during the rekey: %v", err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	for writes.Load() < 10 {
		runtime.Gosched()
	}
	next := dbtest.Must[*model.Keyring](t)(model.NewKeyring(newKey))
	dbtest.Must[int](t)(rolled.Rekey(ctx, next))
	for n := writes.Load(); writes.Load() < n+10; {
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()

	// After the rekey, a server under only the new key reads everything.
	fresh := open(newKey, "")
	for _, u := range []db.CreatedUnit{before, during} {
		if _, err := fresh.UnitByID(ctx, model.PropertyScope(p.ID), u.Unit.ID); err != nil {
			t.Fatalf("unit %s after the rekey, under the new key alone: %v", u.Unit.Number, err)
		}
		if _, err := fresh.UnitAuthBySecret(ctx, p.ID, u.PortalSecret); err != nil {
			t.Fatalf("login to unit %s after the rekey: %v", u.Unit.Number, err)
		}
	}
	after := dbtest.Must[db.CreatedUnit](t)(rolled.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "3"}))
	if _, err := fresh.UnitByID(ctx, model.PropertyScope(p.ID), after.Unit.ID); err != nil {
		t.Fatalf("a unit created after the rekey by a window server is not under the new key: %v", err)
	}
	// Sessions from before the rekey go on in the window; the old server writes nothing.
	if _, err := rolled.Keys().ParseToken(tok, time.Now()); err != nil {
		t.Fatalf("a window server refuses a session from before the rekey: %v", err)
	}
	_, err := old.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "4"})
	if !errors.Is(err, db.ErrOtherKey) {
		t.Fatalf("a server left under the old key wrote after the rekey: %v", err)
	}
	dbtest.WantCode(t, err, model.CodeUnavailable)
}
