package main

import (
	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// Lookups: what an operator needs to see without changing anything (and
// device remove, which writes its change request like the API).

func unitJSON(u model.Unit) map[string]any {
	out := map[string]any{"unitId": u.ID, "propertyId": u.PropertyID, "number": u.Number, "description": u.Description,
		"status": u.Status, "contact": map[string]any{"contactName": u.Contact.ContactName, "email": u.Contact.Email,
			"phoneNumber": u.Contact.PhoneNumber}, "unitUserId": u.UnitUserID}
	if u.GuestUserID != nil {
		out["guestUserId"] = *u.GuestUserID
	}
	return out
}

func userJSON(u model.UnitUser) map[string]any {
	return map[string]any{"userId": u.ID, "unitId": u.UnitID, "type": u.Type, "userName": u.UserName, "email": u.Email,
		"phoneNumber": u.PhoneNumber, "status": u.Status, "passphrase": u.Passphrase}
}

func deviceJSON(d model.Device) map[string]any {
	return map[string]any{"deviceId": d.MACAddress, "macAddress": d.MACAddress, "userId": d.UserID, "type": d.UserType,
		"displayName": d.DisplayName, "description": d.Description, "osType": d.OSType, "lastSeen": d.LastSeen}
}

// unit list --property P [--limit N]: the property's units by number.
func cmdUnitList(e *env, args []string) (any, error) {
	f := newFlags("unit list")
	f.String("property", "", "property id")
	limit := f.Int("limit", 100, "at most this many (1 to 1000)")
	if err := f.parse(args, "property"); err != nil {
		return nil, err
	}
	id, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	if *limit < 1 || *limit > 1000 {
		return nil, usagef("--limit must be between 1 and 1000")
	}
	if _, err := e.store.PropertyByID(e.ctx, id); err != nil {
		return nil, err
	}
	pages, err := e.store.UnitPages(e.ctx, []uuid.UUID{id}, model.UnitPage{Limit: *limit})
	if err != nil {
		return nil, err
	}
	units := make([]map[string]any, 0, len(pages[id].Items))
	for _, u := range pages[id].Items {
		units = append(units, map[string]any{"unitId": u.ID, "number": u.Number, "status": u.Status, "description": u.Description})
	}
	return map[string]any{"units": units, "total": pages[id].Total, "more": pages[id].HasNext}, nil
}

// unit show --unit U: the unit, its Wi-Fi passphrases (secret, guestSecret)
// and its portal link (hashedSecret is the portal secret), without rotating
// anything.
func cmdUnitShow(e *env, args []string) (any, error) {
	scope, id, err := unitFlag(e, "unit show", args)
	if err != nil {
		return nil, err
	}
	u, err := e.store.UnitByID(e.ctx, scope, id)
	if err != nil {
		return nil, err
	}
	portal, err := e.store.PortalSecret(e.ctx, scope, id)
	if err != nil {
		return nil, err
	}
	out := unitJSON(u)
	out["secret"], out["hashedSecret"], out["portalUrl"] = u.Secret, portal, e.cfg.PortalURL(u.PropertyID.String(), portal)
	if u.GuestSecret != nil {
		out["guestSecret"] = *u.GuestSecret
	}
	return out, nil
}

// user list --unit U: the unit's identities.
func cmdUserList(e *env, args []string) (any, error) {
	_, id, err := unitFlag(e, "user list", args)
	if err != nil {
		return nil, err
	}
	pages, err := e.store.UnitUserPages(e.ctx, []uuid.UUID{id}, model.UserPage{Limit: 1000})
	if err != nil {
		return nil, err
	}
	users := make([]map[string]any, 0, len(pages[id].Items))
	for _, u := range pages[id].Items {
		users = append(users, userJSON(u))
	}
	return map[string]any{"users": users}, nil
}

// user show --user U: one identity with its passphrase.
func cmdUserShow(e *env, args []string) (any, error) {
	id, err := idFlag("user show", "user", args)
	if err != nil {
		return nil, err
	}
	users, err := e.store.UnitUsersByIDs(e.ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, model.ErrNotFound("unit user")
	}
	return userJSON(users[0]), nil
}

// device list --unit U: the unit's devices, of every identity.
func cmdDeviceList(e *env, args []string) (any, error) {
	scope, id, err := unitFlag(e, "device list", args)
	if err != nil {
		return nil, err
	}
	if _, err := e.store.UnitByID(e.ctx, scope, id); err != nil {
		return nil, err
	}
	devices, err := e.store.DevicesByUnitIDs(e.ctx, []uuid.UUID{id}, nil)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(devices))
	for _, d := range devices {
		out = append(out, deviceJSON(d))
	}
	return map[string]any{"devices": out}, nil
}

// device remove --unit U --mac M: removes a device, writing its
// DEVICE_REMOVED change request as the API does.
func cmdDeviceRemove(e *env, args []string) (any, error) {
	f := newFlags("device remove")
	f.String("unit", "", "unit id")
	mac := f.String("mac", "", "MAC address")
	if err := f.parse(args, "unit", "mac"); err != nil {
		return nil, err
	}
	id, err := f.uuid("unit")
	if err != nil {
		return nil, err
	}
	p, err := e.store.PropertyOfUnit(e.ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := e.store.RemoveDevice(e.ctx, model.PropertyScope(p), id, nil, *mac)
	if err != nil {
		return nil, err
	}
	return map[string]any{"changeRequestId": c.ID, "macAddress": c.MACAddress}, nil
}
