package main

import (
	"fmt"
	"net/url"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

// demoProperty is the demo property's id in the database named db: fixed
// for a database, so that `portalctl demo` is idempotent, and another in
// another database, so that two checkouts' demos (each with a database of
// its own) are two properties — their changes never meet on a shared NATS,
// whose consumers are per property.
func demoProperty(db string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("resident-portal/demo-property/"+db))
}

type demoDevice struct{ owner, mac, name, os string }

// cmdDemo creates (or finds) a demo property with units, users and devices,
// and prints what a new user needs to try it.
func cmdDemo(e *env, args []string) (any, error) {
	if err := newFlags("demo").parse(args); err != nil {
		return nil, err
	}
	if _, err := e.store.Migrate(e.ctx); err != nil {
		return nil, err
	}
	var database string
	if err := e.store.Pool().QueryRow(e.ctx, "SELECT current_database()").Scan(&database); err != nil {
		return nil, err
	}
	demoPropertyID := demoProperty(database)
	if _, err := e.store.PropertyByID(e.ctx, demoPropertyID); model.ErrorCode(err) == model.CodeNotFound {
		t, name := true, "Demo Residences"
		addr, help := "1 Harbour Street, Springfield", "Call the front desk on +1 555 0100 for help with Wi-Fi."
		title, sub, login := "Harbour Wi-Fi", "Your home network", "Welcome! Manage your apartment's Wi-Fi here."
		_, err = e.store.CreateProperty(e.ctx, db.PropertyInput{ID: demoPropertyID, Name: &name, Address: &addr,
			AllowSeparateGuestSecret: &t, TenantSetDpsk: &t, HelpText: &help, Title: &title, Subtitle: &sub,
			LoginText: &login, SSIDs: []string{"Harbour-Residents", "Harbour-Guests"}})
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	scope := model.PropertyScope(demoPropertyID)
	type unitOut struct {
		UnitID       uuid.UUID `json:"unitId"`
		Number       string    `json:"number"`
		PortalURL    string    `json:"portalUrl"`
		HashedSecret string    `json:"hashedSecret"`
		Secret       string    `json:"secret"`
		GuestSecret  *string   `json:"guestSecret,omitempty"`
	}
	var units []unitOut
	residents := []model.Contact{
		{ContactName: "Ada Lovelace", Email: "ada@example.org", PhoneNumber: "+1 555 0101"},
		{ContactName: "Alan Turing", Email: "alan@example.org", PhoneNumber: "+1 555 0102"},
		{ContactName: "Grace Hopper", Email: "grace@example.org", PhoneNumber: "+1 555 0201"},
	}
	for i, number := range []string{"101", "102", "201"} {
		u, err := e.store.UnitByNumber(e.ctx, demoPropertyID, number)
		if model.ErrorCode(err) == model.CodeNotFound {
			var c db.CreatedUnit
			c, err = e.store.CreateUnit(e.ctx, db.NewUnit{PropertyID: demoPropertyID, Number: number, Contact: residents[i]})
			u = c.Unit
		}
		if err != nil {
			return nil, err
		}
		secret, err := e.store.PortalSecret(e.ctx, scope, u.ID)
		if err != nil {
			return nil, err
		}
		units = append(units, unitOut{UnitID: u.ID, Number: u.Number, PortalURL: e.cfg.PortalURL(demoPropertyID.String(), secret),
			HashedSecret: secret, Secret: u.Secret, GuestSecret: u.GuestSecret})
		if err := demoMembers(e, u, i); err != nil {
			return nil, err
		}
	}
	base := e.cfg.PublicBaseURL
	login := fmt.Sprintf(`curl -s -X POST %s/residents/properties/%s/units/logins -H 'Content-Type: application/json' -d '{"hashedSecret":"%s"}'`,
		base, demoPropertyID, units[0].HashedSecret)
	return map[string]any{
		"propertyId": demoPropertyID,
		"units":      units,
		"tryIt": map[string]any{
			"login":      login,
			"unit":       fmt.Sprintf(`TOKEN=$(%s | sed -E 's/.*"token":"([^"]+)".*/\1/') && curl -s %s/residents/properties/%s/units -H "Authorization: $TOKEN"`, login, base, demoPropertyID),
			"playground": playgroundLink(base, demoPropertyID, units[0].HashedSecret),
			"graphql":    base + "/graphql",
		},
	}, nil
}

// playgroundLink opens the playground on the demo ready to run: log in
// with the first unit's portal secret (the token fills the playground's
// Token field), then run the unit query.
func playgroundLink(base string, demoPropertyID uuid.UUID, portalSecret string) string {
	query := fmt.Sprintf(`# Run LogIn (its token fills the Token field above), then MyUnit.
mutation LogIn {
  login(propertyId: "%s", hashedSecret: "%s") { token expiresAt }
}

query MyUnit($p: ID!) {
  unit(propertyId: $p) {
    number
    secret
    users { edges { node { userName type devices { macAddress displayName } } } }
    changeRequests(first: 5) { edges { node { kind status createdAt } } }
  }
}
`, demoPropertyID, portalSecret)
	return base + "/graphiql?" + url.Values{"query": {query}, "variables": {`{"p": "` + demoPropertyID.String() + `"}`}}.Encode()
}

// demoMembers gives the i-th demo unit a linked user (the first unit only)
// and a few devices, skipping what exists already.
func demoMembers(e *env, u model.Unit, i int) error {
	users, _, err := e.store.QueryUnitUsers(e.ctx, model.UserQuery{UnitID: u.ID, Limit: 100})
	if err != nil {
		return err
	}
	owners := map[string]uuid.UUID{"UNIT": u.UnitUserID}
	if u.GuestUserID != nil {
		owners["GUEST"] = *u.GuestUserID
	}
	for _, usr := range users {
		if usr.Type == model.UserTypeLinked {
			owners["LINKED"] = usr.ID
		}
	}
	if _, ok := owners["LINKED"]; !ok && i == 0 {
		linked, err := e.store.CreateUnitUser(e.ctx, model.PropertyScope(u.PropertyID), u.ID, "Ada's office", "office@example.org", "")
		if err != nil {
			return err
		}
		owners["LINKED"] = linked.ID
	}
	devices := []demoDevice{
		{"UNIT", fmt.Sprintf("02:00:00:00:%02x:01", i), "Living-room TV", "Android TV"},
		{"UNIT", fmt.Sprintf("02:00:00:00:%02x:02", i), "Laptop", "macOS"},
		{"GUEST", fmt.Sprintf("02:00:00:00:%02x:03", i), "Visitor's phone", "iOS"},
		{"LINKED", fmt.Sprintf("02:00:00:00:%02x:04", i), "Office printer", "Linux"},
	}
	for _, d := range devices {
		owner, ok := owners[d.owner]
		if !ok {
			continue
		}
		_, err := e.store.AddDevice(e.ctx, model.PropertyScope(u.PropertyID), db.NewDevice{UserID: owner, MACAddress: d.mac, DisplayName: d.name, OSType: d.os})
		if err != nil && model.ErrorCode(err) != model.CodeConflict {
			return err
		}
	}
	return nil
}
