package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/portal"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
)

// Every query a real client sends — the resident page's manifest and
// portal-wifisync's documents, by documentId as they send them — runs on
// the direct executor, answered without errors: none falls back to
// gqlgen's (portal_graphql_operations_total{executor="gqlgen"} stays 0).
// Mutations and subscriptions always run on gqlgen's and are not counted
// here.
func TestTrustedQueriesRunOnTheFastPath(t *testing.T) {
	dbURL, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Fast Court"), AllowSeparateGuestSecret: dbtest.Ptr(true)})
	s := start(t, map[string]string{"DATABASE_URL": dbURL}, nil)
	ctx := context.Background()
	token := login(t, s.public+"/residents/properties/"+p.ID.String(), u.PortalSecret)
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
	var user string
	if err := store.Pool().QueryRow(ctx, `SELECT id FROM unit_users WHERE unit_id = $1 AND type = 'UNIT'`, u.Unit.ID).Scan(&user); err != nil {
		t.Fatal(err)
	}
	type op struct{ ID, Name, Type, Body string }
	var manifests []struct {
		credential string
		vars       map[string]any
		ops        []op
	}
	for _, m := range []struct {
		b          []byte
		credential string
		vars       map[string]any
	}{
		{portal.Manifest(), token, map[string]any{"propertyId": p.ID}},
		{consumer.Manifest(), key, map[string]any{"p": p.ID, "u": u.Unit.ID}},
	} {
		var doc struct{ Operations []op }
		if err := json.Unmarshal(m.b, &doc); err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, struct {
			credential string
			vars       map[string]any
			ops        []op
		}{m.credential, m.vars, doc.Operations})
	}
	queries := 0
	for _, m := range manifests {
		for _, o := range m.ops {
			if o.Type != "query" {
				continue
			}
			queries++
			vars := m.vars
			switch o.Name {
			case "UnitUser":
				vars = map[string]any{"p": p.ID, "u": user}
			case "Identities":
				vars = map[string]any{"p": p.ID}
			}
			body, _ := json.Marshal(map[string]any{"documentId": "sha256:" + o.ID, "variables": vars})
			req, _ := http.NewRequest("POST", s.public+"/graphql", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", m.credential)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || strings.Contains(string(b), `"errors"`) || !strings.Contains(string(b), `"data"`) {
				t.Fatalf("%s: %d %s", o.Name, resp.StatusCode, b)
			}
		}
	}
	_, metrics := get(t, s.metrics+"/metrics")
	want := `portal_graphql_operations_total{executor="direct"} ` + strconv.Itoa(queries)
	if !strings.Contains(metrics, want) || !strings.Contains(metrics, `portal_graphql_operations_total{executor="gqlgen"} 0`) {
		var lines []string
		for _, l := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(l, "portal_graphql_operations_total") {
				lines = append(lines, l)
			}
		}
		t.Fatalf("%d trusted queries: %v, want all %d direct", queries, lines, queries)
	}
	t.Logf("%d trusted queries, every one on the direct executor", queries)
}
