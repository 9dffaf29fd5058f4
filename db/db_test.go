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
