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
)

// BenchmarkPageQuery is the resident page's ResidentUnit as the page sends
// it (by documentId) through the whole endpoint, in process: what to
// profile when the page's query costs more than the floor's
// (BENCHMARKS.md).
func BenchmarkPageQuery(b *testing.B) {
	a := newAPI(b)
	f := newFixture(b, a.store, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)})
	populate(b, a.store, f.property.ID, []uuid.UUID{f.unit.Unit.ID}, 20)
	token := a.login(b, f.property.ID, f.unit.PortalSecret)
	doc := pageQuery(b)
	sum := sha256.Sum256([]byte(doc))
	id := hex.EncodeToString(sum[:])
	body, _ := json.Marshal(map[string]any{"documentId": "sha256:" + id, "variables": map[string]any{"propertyId": f.property.ID}})
	whole, _ := json.Marshal(map[string]any{"query": doc, "variables": map[string]any{"propertyId": f.property.ID},
		"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": id}}})
	// The document is known once sent whole (automatic persisted queries).
	a.post(b, string(whole), "Authorization", token)
	do := func() *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token)
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, req)
		return w
	}
	if w := do(); w.Code != 200 || !strings.Contains(w.Body.String(), `"users":{"edges":[`) {
		b.Fatalf("%d %s", w.Code, w.Body.String())
	}
	b.ReportAllocs()
	b.Run("documentId", func(b *testing.B) {
		for b.Loop() {
			if w := do(); w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
	b.Run("query", func(b *testing.B) {
		body = whole
		for b.Loop() {
			if w := do(); w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}
