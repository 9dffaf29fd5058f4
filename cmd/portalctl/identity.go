package main

import (
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

// Unit users (identities) and their devices.

func cmdUserCreate(e *env, args []string) (any, error) {
	f := newFlags("user create")
	f.String("unit", "", "unit id")
	name := f.String("name", "", "user name")
	email := f.String("email", "", "e-mail")
	phone := f.String("phone", "", "phone")
	if err := f.parse(args, "unit", "name"); err != nil {
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
	u, err := e.store.CreateUnitUser(e.ctx, model.PropertyScope(p), id, *name, *email, *phone)
	return map[string]any{"userId": u.ID, "passphrase": u.Passphrase}, err
}

func cmdDeviceAdd(e *env, args []string) (any, error) {
	f := newFlags("device add")
	f.String("user", "", "unit user id")
	mac := f.String("mac", "", "MAC address")
	name := f.String("name", "", "display name")
	osType := f.String("os", "", "OS type")
	if err := f.parse(args, "user", "mac"); err != nil {
		return nil, err
	}
	id, err := f.uuid("user")
	if err != nil {
		return nil, err
	}
	p, err := e.store.PropertyOfUser(e.ctx, id)
	if err != nil {
		return nil, err
	}
	d, err := e.store.AddDevice(e.ctx, model.PropertyScope(p), db.NewDevice{UserID: id, MACAddress: *mac, DisplayName: *name, OSType: *osType})
	return map[string]any{"deviceId": d.MACAddress}, err
}
