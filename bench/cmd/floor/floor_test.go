package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

// The floor returns the same data as portald for the benchmark's reads, so
// that a ratio to it compares the same work.
func TestFloorServesWhatPortaldServes(t *testing.T) {
	ctx := context.Background()
	store := dbtest.New(t)
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Floor Court"),
		AllowSeparateGuestSecret: dbtest.Ptr(true)}))
	var units []db.CreatedUnit
	for i := range 3 {
		u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: fmt.Sprint(101 + i)}))
		dbtest.Must[model.UnitUser](t)(store.CreateUnitUser(ctx, model.PropertyScope(p.ID), u.Unit.ID, "Linked", "", ""))
		for j := range i + 1 {
			dbtest.Must[model.Device](t)(store.AddDevice(ctx, model.PropertyScope(p.ID), db.NewDevice{UserID: u.Unit.UnitUserID,
				MACAddress: fmt.Sprintf("02:00:00:00:%02x:%02x", i, j), DisplayName: fmt.Sprint("device ", j), OSType: "iOS"}))
		}
		units = append(units, u)
	}
	svc := resolvers.NewService(store, dbtest.Keys(t), resolvers.Options{TokenTTL: time.Hour})
	portald := rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(),
		RequestTimeout: 10 * time.Second, PublicBaseURL: "http://localhost",
		GraphQL: resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, MaxBodyBytes: edge.MaxBodyBytes})})
	floor := (&server{store}).routes()
	serve := func(h http.Handler, req *http.Request) []byte {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("%s %s: %d %s", req.Method, req.URL, w.Code, w.Body.String())
		}
		return w.Body.Bytes()
	}
	graphql := func(credential, query string) map[string]any {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"p": p.ID}})
		req := httptest.NewRequest("POST", "/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", credential)
		var out struct {
			Data   map[string]any
			Errors []any
		}
		if err := json.Unmarshal(serve(portald, req), &out); err != nil || len(out.Errors) > 0 {
			t.Fatalf("portald: %v %v", err, out.Errors)
		}
		return out.Data
	}
	decode := func(b []byte) any {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// portald's connections (edges → node) flattened into the floor's lists.
	var flat func(v any) any
	flat = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if edges, ok := x["edges"].([]any); ok {
				out := []any{}
				for _, e := range edges {
					out = append(out, flat(e.(map[string]any)["node"]))
				}
				return out
			}
			m := map[string]any{}
			for k, val := range x {
				m[k] = flat(val)
			}
			return m
		case []any:
			out := []any{}
			for _, e := range x {
				out = append(out, flat(e))
			}
			return out
		}
		return v
	}

	for _, u := range units {
		login := dbtest.Must[resolvers.LoginResult](t)(svc.Login(ctx, p.ID, u.PortalSecret))
		want := flat(graphql(login.Token, bench.ResidentQuery)["unit"])
		got := decode(serve(floor, httptest.NewRequest("GET", fmt.Sprintf("/resident?property=%s&unit=%s", p.ID, u.Unit.ID), nil)))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("resident %s:\nfloor   %v\nportald %v", u.Unit.Number, got, want)
		}
	}
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
	want := flat(graphql(key, bench.ManagerQuery)["property"])
	got := decode(serve(floor, httptest.NewRequest("GET", "/manager?property="+p.ID.String(), nil)))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("manager:\nfloor   %v\nportald %v", got, want)
	}
}
