package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/graph/portal"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

// The floor writes the bytes portald writes for the benchmark's reads, so
// that a ratio to it compares the same work.
func TestFloorServesWhatPortaldServes(t *testing.T) {
	ctx := context.Background()
	store := dbtest.New(t)
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Floor <Court> & \"Sons\""),
		AllowSeparateGuestSecret: dbtest.Ptr(true)}))
	var units []db.CreatedUnit
	var linked []uuid.UUID
	for i := range 3 {
		u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: fmt.Sprint(101 + i)}))
		l := dbtest.Must[model.UnitUser](t)(store.CreateUnitUser(ctx, model.PropertyScope(p.ID), u.Unit.ID, "Linked <&> 🙂", "a@example.org", "+41 44 123"))
		for j := range i + 1 {
			dbtest.Must[model.Device](t)(store.AddDevice(ctx, model.PropertyScope(p.ID), db.NewDevice{UserID: u.Unit.UnitUserID,
				MACAddress: fmt.Sprintf("02:00:00:00:%02x:%02x", i, j), DisplayName: fmt.Sprint("device ", j), OSType: "iOS"}))
		}
		// A removed device, blocked until allowed.
		dbtest.Must[model.Device](t)(store.AddDevice(ctx, model.PropertyScope(p.ID), db.NewDevice{UserID: l.ID,
			MACAddress: fmt.Sprintf("02:00:00:00:%02x:ff", i)}))
		dbtest.Must[model.ChangeRequest](t)(store.RemoveDevice(ctx, model.PropertyScope(p.ID), u.Unit.ID, &l.ID, fmt.Sprintf("02:00:00:00:%02X:FF", i)))
		units, linked = append(units, u), append(linked, l.ID)
	}
	const base = "http://localhost"
	svc := service.New(store, dbtest.Keys(t), service.Options{TokenTTL: time.Hour})
	portald := rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(),
		RequestTimeout: 10 * time.Second, PublicBaseURL: base,
		GraphQL: resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, MaxBodyBytes: edge.MaxBodyBytes})})
	floor := (&server{store, base}).routes()
	serve := func(h http.Handler, req *http.Request) string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("%s %s: %d %s", req.Method, req.URL, w.Code, w.Body.String())
		}
		return w.Body.String()
	}
	graphqlVars := func(credential, query string, vars map[string]any) string {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req := httptest.NewRequest("POST", "/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", credential)
		return serve(portald, req)
	}
	graphql := func(credential, query string) string {
		return graphqlVars(credential, query, map[string]any{"p": p.ID})
	}
	same := func(what, floor, portald string) {
		t.Helper()
		if floor != portald {
			t.Fatalf("%s:\nfloor   %s\nportald %s", what, floor, portald)
		}
		if !strings.Contains(floor, `"passphrase":"`) || strings.Contains(floor, `"errors"`) {
			t.Fatalf("%s: not the data asked for: %s", what, floor)
		}
	}

	for i, u := range units {
		login := dbtest.Must[service.LoginResult](t)(svc.Login(ctx, p.ID, u.PortalSecret))
		same("resident "+u.Unit.Number,
			serve(floor, httptest.NewRequest("GET", fmt.Sprintf("/resident?property=%s&unit=%s", p.ID, u.Unit.ID), nil)),
			graphql(login.Token, bench.ResidentQuery))
		req := httptest.NewRequest("GET", fmt.Sprintf("/residents/properties/%s/units/users/%s", p.ID, linked[i]), nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		same("REST user "+u.Unit.Number,
			serve(floor, httptest.NewRequest("GET", fmt.Sprintf("/user?property=%s&id=%s", p.ID, linked[i]), nil)),
			serve(portald, req))
	}
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
	same("manager", serve(floor, httptest.NewRequest("GET", "/manager?property="+p.ID.String(), nil)), graphql(key, bench.ManagerQuery))

	// The page's ResidentUnit and portal-wifisync's claim check, as their
	// documents select them: with every field set, and strings to escape.
	for _, q := range []string{
		`UPDATE properties SET title = $1, subtitle = $1, help_text = $1, main_color = '#123456',
		   ssids = ARRAY['Harbour', $1], max_devices_per_identity = 4, tenant_set_dpsk = true`,
		`UPDATE units SET contact_name = $1, email = 'c@example.org', description = $1`,
		`UPDATE devices SET display_name = $1, last_seen = '2026-11-27 05:46:04.123+01', online_until = now() + interval '1 hour'
		   WHERE mac_address LIKE '%:00'`,
		`UPDATE change_requests SET status = 'FAILED', completed_at = now(), detail = $1
		   WHERE id IN (SELECT min(id::text)::uuid FROM change_requests GROUP BY unit_id)`,
	} {
		if _, err := store.Pool().Exec(ctx, q, "Tom & Jerry <b>\"q\"</b>\t\u2028 🙂"); err != nil {
			t.Fatal(err)
		}
	}
	m := dbtest.Must[resolvers.Manifest](t)(resolvers.ParseManifest(portal.Manifest()))
	page := ""
	for _, o := range m.Operations {
		if o.Name == "ResidentUnit" {
			page = o.Body
		}
	}
	for i, u := range units {
		login := dbtest.Must[service.LoginResult](t)(svc.Login(ctx, p.ID, u.PortalSecret))
		body := graphqlVars(login.Token, page, map[string]any{"propertyId": p.ID})
		if !strings.Contains(body, `"online":true`) || !strings.Contains(body, `"completedAt":"`) || !strings.Contains(body, `"blockedAt":"`) {
			t.Fatalf("the page's query reads no online device, completed change or blocked device: %s", body)
		}
		same("page "+u.Unit.Number,
			serve(floor, httptest.NewRequest("GET", fmt.Sprintf("/page?property=%s&unit=%s", p.ID, u.Unit.ID), nil)), body)
		same("claim "+u.Unit.Number,
			serve(floor, httptest.NewRequest("GET", fmt.Sprintf("/claim?property=%s&id=%s", p.ID, linked[i]), nil)),
			graphqlVars(key, consumer.UnitUserQuery, map[string]any{"p": p.ID, "u": linked[i]}))
	}
}
