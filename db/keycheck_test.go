package db_test

import (
	"context"
	"errors"
	"testing"

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
	next, _ := model.NewKeyring(newKey)
	dbtest.Must[int](t)(old.Rekey(ctx, next))
	if err := open(newKey).VerifyKey(ctx); err != nil {
		t.Fatalf("after rekey, the new key: %v", err)
	}
	if err := open(oldKey).VerifyKey(ctx); !errors.Is(err, db.ErrOtherKey) {
		t.Fatalf("after rekey, the old key: %v", err)
	}
}
