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
