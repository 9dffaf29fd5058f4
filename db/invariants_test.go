package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// These tests write around the store's own checks, straight in SQL, to show
// that the database itself refuses what breaks an invariant, and that wrap
// turns each refusal into the right domain error.

func TestDatabaseInvariants(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	name, yes := "P", true
	p, err := d.CreateProperty(ctx, db.PropertyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	guestP, err := d.CreateProperty(ctx, db.PropertyInput{Name: &name, AllowSeparateGuestSecret: &yes})
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := d.CreateUnit(ctx, db.NewUnit{PropertyID: guestP.ID, Number: "1"})
	if err != nil {
		t.Fatal(err)
	}
	insertUser := func(unit model.Unit, typ, pass string) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			id := uuid.New()
			_, err := tx.Exec(ctx, `INSERT INTO unit_users (id, unit_id, property_id, type, passphrase_cipher, passphrase_digest)
			  VALUES ($1, $2, $3, $4, $5, $6)`, id, unit.ID, unit.PropertyID, typ, d.Keys().Encrypt(pass, id[:]), d.Keys().Digest(pass))
			return err
		}
	}
	exec := func(sql string, args ...any) func(pgx.Tx) error {
		return func(tx pgx.Tx) error { _, err := tx.Exec(ctx, sql, args...); return err }
	}
	tests := []struct {
		name string
		fn   func(pgx.Tx) error
		code model.Code
	}{
		{"OK linked user", insertUser(a.Unit, "LINKED", "linked-pass-1"), ""},
		{"ErrSecondUnitIdentity", insertUser(a.Unit, "UNIT", "another-pass-1"), model.CodeConflict},
		{"ErrSecondGuestIdentity", insertUser(g.Unit, "GUEST", "another-pass-2"), model.CodeConflict},
		{"ErrGuestNotAllowed", insertUser(a.Unit, "GUEST", "another-pass-3"), model.CodeForbidden},
		{"ErrPassphraseTaken", insertUser(a.Unit, "LINKED", a.Unit.Secret), model.CodeConflict},
		{"ErrUnitWithoutIdentity", exec(`DELETE FROM unit_users WHERE id = $1`, a.Unit.UnitUserID), model.CodeBadUserInput},
		{"ErrUnitIdentityRetyped", exec(`UPDATE unit_users SET type = 'LINKED' WHERE id = $1`, a.Unit.UnitUserID), model.CodeBadUserInput},
		{"ErrUnitInsertedWithoutIdentity", exec(`INSERT INTO units (id, property_id, number, portal_secret_cipher, portal_secret_digest)
		  VALUES ($1, $2, '99', '\x00', '\x00')`, uuid.New(), p.ID), model.CodeBadUserInput},
		{"ErrUserPropertyMismatch", exec(`INSERT INTO unit_users (id, unit_id, property_id, type, passphrase_cipher, passphrase_digest)
		  VALUES ($1, $2, $3, 'LINKED', '\x00', '\x01')`, uuid.New(), a.Unit.ID, guestP.ID), model.CodeNotFound},
		{"ErrDeviceUserOfOtherUnit", exec(`INSERT INTO devices (id, unit_id, user_id, mac_address)
		  VALUES ($1, $2, $3, 'AA:BB:CC:DD:EE:FF')`, uuid.New(), a.Unit.ID, g.Unit.UnitUserID), model.CodeNotFound},
		{"ErrDeviceOfUnknownUser", exec(`INSERT INTO devices (id, unit_id, user_id, mac_address)
		  VALUES ($1, $2, $3, 'AA:BB:CC:DD:EE:FF')`, uuid.New(), a.Unit.ID, uuid.New()), model.CodeNotFound},
		{"OK device type is its user's", exec(`INSERT INTO devices (id, unit_id, user_id, user_type, mac_address)
		  VALUES ($1, $2, $3, 'LINKED', 'AA:BB:CC:DD:EE:F0')`, uuid.New(), a.Unit.ID, a.Unit.UnitUserID), ""},
		{"ErrMACNotCanonical", exec(`INSERT INTO devices (id, unit_id, user_id, mac_address)
		  VALUES ($1, $2, $3, 'aa:bb:cc:dd:ee:ff')`, uuid.New(), a.Unit.ID, a.Unit.UnitUserID), model.CodeBadUserInput},
		{"ErrEmailTooLong", exec(`UPDATE units SET email = repeat('x', 256) WHERE id = $1`, a.Unit.ID), model.CodeBadUserInput},
		{"ErrPhoneTooLong", exec(`UPDATE unit_users SET phone_number = repeat('1', 17) WHERE id = $1`, a.Unit.UnitUserID), model.CodeBadUserInput},
		{"ErrBadEnum", exec(`UPDATE units SET status = 'PAUSED' WHERE id = $1`, a.Unit.ID), model.CodeBadUserInput},
		{"OK same number", exec(`UPDATE units SET number = '1' WHERE id = $1`, a.Unit.ID), ""},
		{"ErrPassphraseLength", exec(`UPDATE properties SET passphrase_length = 64 WHERE id = $1`, p.ID), model.CodeBadUserInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.InTx(ctx, tt.fn)
			if got := model.ErrorCode(err); got != tt.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	t.Run("OK device type follows its user", func(t *testing.T) {
		var typ string
		if err := d.Pool().QueryRow(ctx, `SELECT user_type FROM devices WHERE mac_address = 'AA:BB:CC:DD:EE:F0'`).Scan(&typ); err != nil || typ != "UNIT" {
			t.Fatalf("device inserted as LINKED for a UNIT user has type %q (%v)", typ, err)
		}
		// A retyped user's devices follow (GUEST → LINKED where guests exist).
		guest := *g.Unit.GuestUserID
		if _, err := d.Pool().Exec(ctx, `INSERT INTO devices (id, unit_id, user_id, mac_address) VALUES ($1, $2, $3, 'AA:BB:CC:DD:EE:F1')`,
			uuid.New(), g.Unit.ID, guest); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Pool().Exec(ctx, `UPDATE unit_users SET type = 'LINKED' WHERE id = $1`, guest); err != nil {
			t.Fatal(err)
		}
		if err := d.Pool().QueryRow(ctx, `SELECT user_type FROM devices WHERE mac_address = 'AA:BB:CC:DD:EE:F1'`).Scan(&typ); err != nil || typ != "LINKED" {
			t.Fatalf("device of a user retyped LINKED has type %q (%v)", typ, err)
		}
		if _, err := d.Pool().Exec(ctx, `UPDATE devices SET user_type = 'UNIT' WHERE mac_address = 'AA:BB:CC:DD:EE:F1'`); err == nil {
			t.Fatal("a device's type was set apart from its user's")
		}
	})
	t.Run("OK cascade", func(t *testing.T) {
		if _, err := d.Pool().Exec(ctx, `DELETE FROM properties WHERE id = $1`, p.ID); err != nil {
			t.Fatalf("deleting a property with units: %v", err)
		}
		var n int
		if err := d.Pool().QueryRow(ctx, `SELECT count(*) FROM unit_users WHERE property_id = $1`, p.ID).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d users left (%v)", n, err)
		}
	})
}

func TestGeneratedPassphraseRetriesOnCollision(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	name := "P"
	p, err := d.CreateProperty(ctx, db.PropertyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"})
	if err != nil {
		t.Fatal(err)
	}
	// The generator first repeats a passphrase already in use, twice.
	calls := 0
	d.SetGenerator(func(n int) string {
		calls++
		if calls <= 2 {
			return a.Unit.Secret
		}
		return model.GeneratePassphrase(n)
	})
	b, err := d.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || b.Unit.Secret == a.Unit.Secret {
		t.Fatalf("calls = %d; passphrase reused = %v", calls, b.Unit.Secret == a.Unit.Secret)
	}
	// A generator that always collides gives up with CONFLICT, not a loop.
	d.SetGenerator(func(int) string { return a.Unit.Secret })
	_, err = d.UpdateUnit(ctx, model.PropertyScope(p.ID), b.Unit.ID, model.UnitUpdate{Secret: new(string)})
	if model.ErrorCode(err) != model.CodeConflict {
		t.Fatalf("err = %v, want CONFLICT", err)
	}
}

func TestUnavailable(t *testing.T) {
	keys, _ := model.NewKeyring("test-secret-key-0123456789abcdef-0123456789")
	d, err := db.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", keys, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if code := model.ErrorCode(d.Ping(context.Background())); code != model.CodeUnavailable {
		t.Fatalf("code = %q, want UNAVAILABLE", code)
	}
	_, err = d.PropertyByID(context.Background(), uuid.New())
	if code := model.ErrorCode(err); code != model.CodeUnavailable {
		t.Fatalf("code = %q, want UNAVAILABLE", code)
	}
}
