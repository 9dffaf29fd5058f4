package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
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
