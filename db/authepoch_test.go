package db_test

import (
	"context"
	"testing"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// The auth epoch moves on once per statement that changes what a token or
// manager key check depends on (a unit's status or token generation, a
// property's portal, a key's revocation), and not for other writes.
func TestAuthEpoch(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{})
	u := newUnit(t, d, p.ID, "1")
	newUnit(t, d, p.ID, "2")
	key := dbtest.Must[db.CreatedManagerKey](t)(d.CreateManagerKey(ctx, p.ID))
	scope := model.PropertyScope(p.ID)
	epoch := dbtest.Must[int64](t)(d.AuthEpoch(ctx))
	for _, step := range []struct {
		name  string
		write func() error
		moves int64
	}{
		{"a description", func() error {
			_, err := d.UpdateUnit(ctx, scope, u.Unit.ID, model.UnitUpdate{Description: dbtest.Ptr("quiet")})
			return err
		}, 0},
		{"a unit disabled", func() error {
			_, err := d.SetUnitStatus(ctx, scope, u.Unit.ID, model.UnitDisabled)
			return err
		}, 1},
		{"every unit's token generation, in one statement", func() error {
			_, err := d.Pool().Exec(ctx, `UPDATE units SET token_generation = token_generation + 1 WHERE property_id = $1`, p.ID)
			return err
		}, 1},
		{"the portal closed", func() error {
			_, err := d.UpdateProperty(ctx, p.ID, db.PropertyInput{PortalAllowed: dbtest.Ptr(false)})
			return err
		}, 1},
		{"a key revoked", func() error {
			_, err := d.RevokeManagerKey(ctx, key.ManagerKey.ID)
			return err
		}, 1},
	} {
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		now := dbtest.Must[int64](t)(d.AuthEpoch(ctx))
		if now-epoch != step.moves {
			t.Fatalf("%s: the epoch moved by %d, want %d", step.name, now-epoch, step.moves)
		}
		epoch = now
	}
}
