package resolvers_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// A manager lists the property's access points over GraphQL, never with a
// secret; a resident is refused; another property's stay unseen.
func TestAccessPointsForManagers(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	f := newFixture(t, a.store, db.PropertyInput{})
	key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, f.property.ID)).Key
	lobby := dbtest.Must[db.CreatedNAS](t)(a.store.CreateNAS(ctx, model.NAS{PropertyID: f.property.ID, Name: "lobby",
		Address: netip.MustParsePrefix("192.0.2.0/28"), Profile: model.NASCisco, CoAPort: 1700}))
	dbtest.Must[db.CreatedNAS](t)(a.store.CreateNAS(ctx, model.NAS{PropertyID: f.other.ID, Name: "elsewhere",
		Address: netip.MustParsePrefix("198.51.100.1/32"), Profile: model.NASHostapd}))
	const q = `query($p: ID!) { property(propertyId: $p) { accessPoints { id name address profile coaPort createdAt } } }`
	var out struct {
		Property struct {
			AccessPoints []map[string]any `json:"accessPoints"`
		} `json:"property"`
	}
	vars := map[string]any{"p": f.property.ID.String()}
	a.ok(t, key, q, vars, &out)
	aps := out.Property.AccessPoints
	if len(aps) != 1 || aps[0]["id"] != lobby.NAS.ID.String() || aps[0]["name"] != "lobby" || aps[0]["address"] != "192.0.2.0/28" ||
		aps[0]["profile"] != "cisco" || aps[0]["coaPort"] != float64(1700) {
		t.Fatalf("accessPoints = %v", aps)
	}
	var raw json.RawMessage
	a.ok(t, key, q, vars, &raw)
	if strings.Contains(string(raw), lobby.Secret) {
		t.Fatal("the secret is in the answer")
	}
	token := a.login(t, f.property.ID, f.unit.PortalSecret)
	a.fails(t, token, q, vars, "FORBIDDEN")
}

// A manager sets a unit's VLAN over GraphQL and clears it with null; a
// resident is refused, a VLAN out of range is a bad input, and another
// property's unit is not found.
func TestSetUnitVLANForManagers(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	f := newFixture(t, a.store, db.PropertyInput{})
	key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, f.property.ID)).Key
	const set = `mutation($p: ID!, $u: ID!, $v: Int) { setUnitVlan(propertyId: $p, unitId: $u, vlanId: $v) { id vlanId } }`
	const read = `query($p: ID!, $u: ID) { unit(propertyId: $p, unitId: $u) { vlanId } }`
	vars := func(v any) map[string]any {
		return map[string]any{"p": f.property.ID.String(), "u": f.unit.Unit.ID.String(), "v": v}
	}
	var out struct {
		SetUnitVlan struct{ VlanID *int } `json:"setUnitVlan"`
		Unit        struct{ VlanID *int } `json:"unit"`
	}
	a.ok(t, key, set, vars(120), &out)
	if out.SetUnitVlan.VlanID == nil || *out.SetUnitVlan.VlanID != 120 {
		t.Fatalf("set: %+v", out.SetUnitVlan)
	}
	a.ok(t, key, read, vars(nil), &out)
	if out.Unit.VlanID == nil || *out.Unit.VlanID != 120 {
		t.Fatalf("read back: %+v", out.Unit)
	}
	a.fails(t, key, set, vars(4095), "BAD_USER_INPUT")
	token := a.login(t, f.property.ID, f.unit.PortalSecret)
	a.fails(t, token, set, vars(7), "FORBIDDEN")
	a.fails(t, key, set, map[string]any{"p": f.property.ID.String(), "u": f.foreign.Unit.ID.String(), "v": 7}, "NOT_FOUND")
	a.ok(t, key, set, vars(nil), &out)
	if out.SetUnitVlan.VlanID != nil {
		t.Fatalf("cleared: %+v", out.SetUnitVlan)
	}
}
