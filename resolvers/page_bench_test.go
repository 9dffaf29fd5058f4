package resolvers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/portal"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
)

// BenchmarkTrustedDocuments runs what the clients send most — the resident
// page's ResidentUnit and portal-wifisync's claim check, by documentId —
// through the whole endpoint in process, set up as portald sets it up
// (trusted documents allowed, logs discarded): what to profile when they
// cost more than the floor's (BENCHMARKS.md).
func BenchmarkTrustedDocuments(b *testing.B) {
	r := newReplica(b, dbtest.NewURL(b))
	trusted := dbtest.Must[*resolvers.TrustedDocuments](b)(resolvers.NewTrustedDocuments(resolvers.TrustedAllow,
		portal.Manifest(), consumer.Manifest()))
	h := endpoint(b, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, TrustedDocuments: trusted})
	f := newFixture(b, r.store, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)})
	populate(b, r.store, f.property.ID, []uuid.UUID{f.unit.Unit.ID}, 20)
	token := r.login(b, f.property.ID, f.unit.PortalSecret)
	key := dbtest.Must[db.CreatedManagerKey](b)(r.store.CreateManagerKey(context.Background(), f.property.ID)).Key
	byID := func(doc string, vars map[string]any) string {
		sum := sha256.Sum256([]byte(doc))
		body, _ := json.Marshal(map[string]any{"documentId": "sha256:" + hex.EncodeToString(sum[:]), "variables": vars})
		return string(body)
	}
	for _, c := range []struct {
		name, credential, body, want string
	}{
		{"page", token, byID(pageQuery(b), map[string]any{"propertyId": f.property.ID}), `"users":{"edges":[`},
		{"claim", key, byID(consumer.UnitUserQuery, map[string]any{"p": f.property.ID, "u": f.unit.Unit.UnitUserID}), `"passphrase":"`},
	} {
		do := func() *httptest.ResponseRecorder {
			req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/graphql", strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", c.credential)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}
		if w := do(); w.Code != 200 || !strings.Contains(w.Body.String(), c.want) {
			b.Fatalf("%s: %d %s", c.name, w.Code, w.Body.String())
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if w := do(); w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
