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
