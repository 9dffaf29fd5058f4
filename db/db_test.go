package db_test

import (
	"context"
	"testing"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
)

func TestMigrate(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for range 2 { // idempotent
		v, err := d.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != db.SchemaVersion() {
			t.Fatalf("version = %d, want %d", v, db.SchemaVersion())
		}
	}
}

// Statements are planned once per connection unless DATABASE_URL says
// otherwise.
func TestGenericPlans(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	for _, c := range []struct{ url, want string }{
		{url, "force_generic_plan"},
		{url + "&plan_cache_mode=auto", "auto"},
	} {
		d, err := db.Open(ctx, c.url, dbtest.Keys(t), db.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		err = d.Pool().QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode)
		d.Close()
		if err != nil || mode != c.want {
			t.Fatalf("plan_cache_mode = %q (%v), want %q", mode, err, c.want)
		}
	}
}

// A binary older than the schema (a rolling deploy) runs on it as it is:
// it never migrates down, which would drop what the newer one writes.
func TestMigrateNeverGoesDown(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	newer := db.SchemaVersion() + 1
	if _, err := d.Pool().Exec(ctx, `UPDATE schema_version SET version = $1`, newer); err != nil {
		t.Fatal(err)
	}
	v, err := d.Migrate(ctx)
	if err != nil || v != newer {
		t.Fatalf("Migrate on a newer schema = %d, %v; want %d, nil", v, err, newer)
	}
	var n int
	if err := d.Pool().QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
	  WHERE table_name = 'change_requests' AND column_name = 'traceparent'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the newest migration was undone: %d, %v", n, err)
	}
}
