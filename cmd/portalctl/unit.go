package main

import (
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/residentportal/bff/cmd/internal/config"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

// Units: create (with the portal secret and link), enable and disable,
// reset portal access.

func cmdUnitCreate(e *env, args []string) (any, error) {
	f := newFlags("unit create")
	f.String("property", "", "property id")
	number := f.String("number", "", "unit number")
	name := f.String("contact-name", "", "resident's name")
	email := f.String("email", "", "resident's e-mail")
	phone := f.String("phone", "", "resident's phone")
	if err := f.parse(args, "property", "number"); err != nil {
		return nil, err
	}
	id, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	c, err := e.store.CreateUnit(e.ctx, db.NewUnit{PropertyID: id, Number: *number,
		Contact: model.Contact{ContactName: *name, Email: *email, PhoneNumber: *phone}})
	if err != nil {
		return nil, err
	}
	return createdUnitJSON(e.cfg, c.Unit, c.PortalSecret), nil
}

func createdUnitJSON(cfg config.Config, u model.Unit, portalSecret string) map[string]any {
	out := map[string]any{
		"unitId": u.ID, "number": u.Number, "hashedSecret": portalSecret,
		"portalUrl": cfg.PortalURL(u.PropertyID.String(), portalSecret),
		"secret":    u.Secret, "unitUserId": u.UnitUserID,
	}
	if u.GuestSecret != nil {
		out["guestSecret"], out["guestUserId"] = *u.GuestSecret, *u.GuestUserID
	}
	return out
}

func unitFlag(e *env, name string, args []string) (model.Scope, uuid.UUID, error) {
	f := newFlags(name)
	f.String("unit", "", "unit id")
	if err := f.parse(args, "unit"); err != nil {
		return model.Scope{}, uuid.Nil, err
	}
	id, err := f.uuid("unit")
	if err != nil {
		return model.Scope{}, id, err
	}
	p, err := e.store.PropertyOfUnit(e.ctx, id)
	return model.PropertyScope(p), id, err
}

func cmdUnitStatus(status model.UnitStatus) func(e *env, args []string) (any, error) {
	return func(e *env, args []string) (any, error) {
		scope, id, err := unitFlag(e, "unit "+strings.ToLower(string(status)), args)
		if err != nil {
			return nil, err
		}
		u, err := e.store.SetUnitStatus(e.ctx, scope, id, status)
		return map[string]any{"unitId": u.ID, "status": u.Status}, err
	}
}

func cmdUnitResetAccess(e *env, args []string) (any, error) {
	scope, id, err := unitFlag(e, "unit reset-access", args)
	if err != nil {
		return nil, err
	}
	res, err := e.store.UpdateUnit(e.ctx, scope, id, model.UnitUpdate{ResetPortalAccess: true})
	if err != nil {
		return nil, err
	}
	return map[string]any{"unitId": res.Unit.ID, "status": res.Unit.Status, "hashedSecret": res.PortalSecret,
		"portalUrl": e.cfg.PortalURL(res.Unit.PropertyID.String(), res.PortalSecret)}, nil
}

func cmdUnitSetVLAN(e *env, args []string) (any, error) {
	f := newFlags("unit set-vlan")
	f.String("unit", "", "unit id")
	vlan := f.String("vlan", "", "1 to 4094, or none")
	if err := f.parse(args, "unit", "vlan"); err != nil {
		return nil, err
	}
	id, err := f.uuid("unit")
	if err != nil {
		return nil, err
	}
	var v *int
	if *vlan != "none" {
		n, err := strconv.Atoi(*vlan)
		if err != nil || n < 1 || n > 4094 {
			return nil, usagef("--vlan: %q is not 1 to 4094 or none", *vlan)
		}
		v = &n
	}
	u, err := e.store.SetUnitVLAN(e.ctx, nil, id, v)
	if err != nil {
		return nil, err
	}
	return map[string]any{"unitId": u.ID, "vlanId": u.VLAN}, nil
}
