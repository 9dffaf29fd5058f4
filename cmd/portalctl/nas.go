package main

import (
	"strings"
	"time"

	"github.com/residentportal/bff/graph/model"
)

// Access points (NAS clients, SPEC §9.1): add, list, show, remove,
// rotate-secret. A secret is printed once, when it is made.

func nasJSON(n model.NAS) map[string]any {
	return map[string]any{"nasId": n.ID, "propertyId": n.PropertyID, "name": n.Name, "address": n.Address.String(),
		"profile": string(n.Profile), "coaPort": n.CoAPort, "createdAt": n.CreatedAt.UTC().Format(time.RFC3339),
		"updatedAt": n.UpdatedAt.UTC().Format(time.RFC3339)}
}

func cmdNASAdd(e *env, args []string) (any, error) {
	f := newFlags("nas add")
	f.String("property", "", "property id")
	name := f.String("name", "", "the access point's name (unique in the property)")
	address := f.String("address", "", "the address (or network, CIDR) its RADIUS packets come from")
	profile := f.String("profile", "", "hostapd | cisco | meraki | mist | aruba | ruckus")
	coaPort := f.Int("coa-port", 3799, "its port for Disconnect-Requests (RFC 5176)")
	if err := f.parse(args, "property", "name", "address", "profile"); err != nil {
		return nil, err
	}
	propertyID, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	addr, err := model.ParseNASAddress(*address)
	if err != nil {
		return nil, usagef("--address: %s", model.ErrorMessage(err))
	}
	p, err := model.ParseNASProfile(*profile)
	if err != nil {
		return nil, usagef("--profile: %s", model.ErrorMessage(err))
	}
	if *coaPort < 1 || *coaPort > 65535 {
		return nil, usagef("--coa-port: must be a port (1–65535)")
	}
	if n := strings.TrimSpace(*name); n == "" || len(n) > 255 {
		return nil, usagef("--name: must be 1 to 255 characters")
	}
	created, err := e.store.CreateNAS(e.ctx, model.NAS{PropertyID: propertyID, Name: strings.TrimSpace(*name), Address: addr, Profile: p, CoAPort: *coaPort})
	if err != nil {
		return nil, err
	}
	out := nasJSON(created.NAS)
	out["secret"] = created.Secret
	return out, nil
}

func cmdNASList(e *env, args []string) (any, error) {
	id, err := propertyFlag("nas list", args)
	if err != nil {
		return nil, err
	}
	if _, err := e.store.PropertyByID(e.ctx, id); err != nil {
		return nil, err
	}
	all, err := e.store.NASList(e.ctx, id)
	out := make([]map[string]any, 0, len(all))
	for _, n := range all {
		out = append(out, nasJSON(n))
	}
	return map[string]any{"accessPoints": out}, err
}

func cmdNASShow(e *env, args []string) (any, error) {
	id, err := idFlag("nas show", "nas", args)
	if err != nil {
		return nil, err
	}
	n, err := e.store.NASByID(e.ctx, id)
	if err != nil {
		return nil, err
	}
	return nasJSON(n), nil
}

func cmdNASRemove(e *env, args []string) (any, error) {
	id, err := idFlag("nas remove", "nas", args)
	if err != nil {
		return nil, err
	}
	n, err := e.store.RemoveNAS(e.ctx, id)
	if err != nil {
		return nil, err
	}
	return nasJSON(n), nil
}

func cmdNASRotateSecret(e *env, args []string) (any, error) {
	id, err := idFlag("nas rotate-secret", "nas", args)
	if err != nil {
		return nil, err
	}
	created, err := e.store.RotateNASSecret(e.ctx, id)
	if err != nil {
		return nil, err
	}
	out := nasJSON(created.NAS)
	out["secret"] = created.Secret
	return out, nil
}
