package db_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// UnitTree reads what UnitByID, UnitUserPages and DevicesByUserIDs read,
// in one batch, and nothing below a unit out of scope.
func TestUnitTree(t *testing.T) {
	ctx := context.Background()
	sent := &db.StatementCounter{}
	d := dbtest.New(t, db.Options{Tracer: sent})
	p := newProperty(t, d, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)})
	c := newUnit(t, d, p.ID, "1")
	other := newUnit(t, d, p.ID, "2")
	elsewhere := newUnit(t, d, newProperty(t, d, db.PropertyInput{}).ID, "1")
	scope := model.PropertyScope(p.ID)
	for i := range 5 {
		u := dbtest.Must[model.UnitUser](t)(d.CreateUnitUser(ctx, scope, c.Unit.ID, fmt.Sprintf("user %d", i), "", ""))
		for j := range i % 3 { // 0, 1 or 2 devices
			dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: u.ID, MACAddress: fmt.Sprintf("02:00:00:00:%02x:%02x", i, j)}))
		}
	}
	dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: c.Unit.UnitUserID, MACAddress: "02:00:00:00:ff:01"}))
	dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: other.Unit.UnitUserID, MACAddress: "02:00:00:00:ff:02"}))

	// What the three statements read one at a time.
	want := func(scope model.Scope, page model.UserPage) model.UnitTree {
		t.Helper()
		u := dbtest.Must[model.Unit](t)(d.UnitByID(ctx, scope, c.Unit.ID))
		users := dbtest.Must[map[uuid.UUID]model.Page[model.UnitUser]](t)(d.UnitUserPages(ctx, []uuid.UUID{u.ID}, page))[u.ID]
		var ids []uuid.UUID
		for _, uu := range users.Items {
			ids = append(ids, uu.ID)
		}
		devices := dbtest.Must[[]model.Device](t)(d.DevicesByUserIDs(ctx, ids))
		return model.UnitTree{Unit: u, Users: users, Devices: devices}
	}
	first := dbtest.Must[model.UnitTree](t)(d.UnitTree(ctx, scope, c.Unit.ID, model.TreeQuery{Users: model.UserPage{Limit: 3}, Devices: true}))
	last := first.Users.Items[2].ID
	all := dbtest.Must[model.UnitTree](t)(d.UnitTree(ctx, scope, c.Unit.ID, model.TreeQuery{Users: model.UserPage{Limit: 100}, Devices: true}))
	end := all.Users.Items[len(all.Users.Items)-1].ID
	for _, tc := range []struct {
		name  string
		scope model.Scope
		page  model.UserPage
		// after is the statements sent after the batch: an empty page
		// past a cursor counts its unit's users on its own.
		after int64
	}{
		{"first page", scope, model.UserPage{Limit: 3}, 0},
		{"second page", scope, model.UserPage{Limit: 3, AfterID: &last}, 0},
		{"past the end, counted", scope, model.UserPage{Limit: 3, AfterID: &end}, 1},
		{"every user, no total", model.UnitScope(p.ID, c.Unit.ID), model.UserPage{Limit: 100, SkipTotal: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := want(tc.scope, tc.page)
			statements, sends := sent.Count(), sent.Sends()
			got := dbtest.Must[model.UnitTree](t)(d.UnitTree(ctx, tc.scope, c.Unit.ID, model.TreeQuery{Users: tc.page, Devices: true}))
			statements, sends = sent.Count()-statements, sent.Sends()-sends
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("tree = %+v\nwant   %+v", got, w)
			}
			// 7 users (UNIT, GUEST and 5 linked): a page of 3 must not read
			// the devices of users past it.
			if tc.page.Limit == 3 && len(got.Users.Items) == 3 {
				for _, dev := range got.Devices {
					if !containsUser(got.Users.Items, dev.UserID) {
						t.Fatalf("device %s of a user not on the page", dev.MACAddress)
					}
				}
			}
			if statements != 3+tc.after || sends != 1+tc.after {
				t.Fatalf("%d statements in %d sends, want %d in %d", statements, sends, 3+tc.after, 1+tc.after)
			}
		})
	}
	if len(all.Users.Items) != 7 || len(all.Devices) != 0+1+2+0+1+1 || all.Users.Total != 7 {
		t.Fatalf("whole unit: %d users (total %d), %d devices", len(all.Users.Items), all.Users.Total, len(all.Devices))
	}

	t.Run("with change requests and the property", func(t *testing.T) {
		for _, cp := range []model.ChangePage{{Limit: 2}, {Limit: 3, SkipTotal: true}, {Limit: 100, Status: dbtest.Ptr(model.ChangePending)}} {
			got := dbtest.Must[model.UnitTree](t)(d.UnitTree(ctx, scope, c.Unit.ID, model.TreeQuery{Users: model.UserPage{Limit: 3},
				Devices: true, Changes: &cp, Property: true}))
			changes := dbtest.Must[map[uuid.UUID]model.Page[model.ChangeRequest]](t)(d.ChangeRequestPages(ctx, []uuid.UUID{c.Unit.ID},
				cp.Limit, cp.Before, cp.Status, cp.SkipTotal))[c.Unit.ID]
			prop := dbtest.Must[model.Property](t)(d.PropertyByID(ctx, p.ID))
			if !reflect.DeepEqual(got.Changes, changes) || got.Property == nil || !reflect.DeepEqual(*got.Property, prop) ||
				!reflect.DeepEqual(got.Users, first.Users) || len(changes.Items) == 0 {
				t.Fatalf("%+v: changes %+v, want %+v; property %+v", cp, got.Changes, changes, got.Property)
			}
		}
		// Out of scope: nothing read below the unit.
		got, err := d.UnitTree(ctx, model.UnitScope(p.ID, other.Unit.ID), c.Unit.ID, model.TreeQuery{Users: model.UserPage{Limit: 3},
			Changes: &model.ChangePage{Limit: 5}, Property: true})
		dbtest.WantCode(t, err, model.CodeNotFound)
		if got.Property != nil || got.Changes.Items != nil {
			t.Fatalf("a unit out of scope returned %+v", got)
		}
	})
	t.Run("without devices", func(t *testing.T) {
		got := dbtest.Must[model.UnitTree](t)(d.UnitTree(ctx, scope, c.Unit.ID, model.TreeQuery{Users: model.UserPage{Limit: 3}}))
		if got.Devices != nil || len(got.Users.Items) != 3 {
			t.Fatalf("tree = %+v", got)
		}
	})
	for name, tc := range map[string]struct {
		scope model.Scope
		id    uuid.UUID
	}{
		"another resident's unit":    {model.UnitScope(p.ID, other.Unit.ID), c.Unit.ID},
		"another property's unit":    {scope, elsewhere.Unit.ID},
		"a unit that does not exist": {scope, uuid.New()},
	} {
		t.Run(name, func(t *testing.T) {
			for range 2 { // and again, on the same prepared statements
				got, err := d.UnitTree(ctx, tc.scope, tc.id, model.TreeQuery{Users: model.UserPage{Limit: 100}, Devices: true})
				dbtest.WantCode(t, err, model.CodeNotFound)
				if !reflect.DeepEqual(got, model.UnitTree{}) {
					t.Fatalf("a unit out of scope returned %+v", got)
				}
			}
		})
	}
}

func containsUser(users []model.UnitUser, id uuid.UUID) bool {
	for _, u := range users {
		if u.ID == id {
			return true
		}
	}
	return false
}
