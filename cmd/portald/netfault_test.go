package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// portald's database in a network namespace of the test's own, made
// unreachable for real: a black hole (every packet dropped, as a dead host
// or a cut link) and a frozen server (its processes stopped while its
// kernel still acknowledges, as a hung server or a middlebox that still
// answers TCP). Under each, a read or a write is answered 503 in the documented
// shape within 2 s (each statement's own deadline, DATABASE_STATEMENT_TIMEOUT
// 1.5 s, and a new connection's 2 s; REQUEST_TIMEOUT stays at its 10 s),
// /readyz says so, and when the fault ends requests are served again.
func TestDatabaseBlackHoledOrFrozen(t *testing.T) {
	if testing.Short() {
		t.Skip("a network namespace and a PostgreSQL in it: make test runs it, make check does not")
	}
	n := dbtest.StartNetns(t)
	s := start(t, map[string]string{"DATABASE_URL": n.URL}, nil)
	ctx := context.Background()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, n.URL, dbtest.Keys(t), db.Options{}))
	defer store.Close()
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Netns House")}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	login := dbtest.Must[service.LoginResult](t)(service.New(store, dbtest.Keys(t), service.Options{}).Login(ctx, p.ID, u.PortalSecret))
	client := &http.Client{Timeout: 30 * time.Second}
	// A read (GET) and a write (PUT, a transaction) in turn.
	calls := 0
	unit := func() (int, string, time.Duration) {
		calls++
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/residents/properties/%s/units", s.public, p.ID), nil)
		if calls%2 == 0 {
			req, _ = http.NewRequest("PUT", fmt.Sprintf("%s/residents/properties/%s/units", s.public, p.ID), strings.NewReader(`{"secret":""}`))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", login.Token)
		begin := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), time.Since(begin)
	}
	readyz := func() int {
		resp, err := client.Get(s.public + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, cond func() bool) {
		for deadline := time.Now().Add(30 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s\n%s", what, s.logs.String())
			}
			<-time.After(20 * time.Millisecond)
		}
	}
	for _, fault := range []struct {
		name string
		set  func(bool)
	}{{"black hole", n.BlackHole}, {"frozen server", n.Freeze}} {
		t.Run(fault.name, func(t *testing.T) {
			if code, body, _ := unit(); code != 200 {
				t.Fatalf("before the fault: %d %s", code, body)
			}
			fault.set(true)
			defer fault.set(false)
			var slowest time.Duration
			for i := range 6 {
				code, body, took := unit()
				t.Logf("request %d (%s) under the fault: %d after %v", i, map[bool]string{true: "PUT", false: "GET"}[calls%2 == 0], code, took.Round(time.Millisecond))
				if code != 503 || !strings.Contains(body, `"503 SERVICE_UNAVAILABLE"`) {
					t.Fatalf("request %d under the fault: %d %s", i, code, body)
				}
				slowest = max(slowest, took)
			}
			if slowest > 2*time.Second+250*time.Millisecond {
				t.Fatalf("the slowest refusal took %v; the bound is 2 s", slowest)
			}
			waitFor("/readyz reports the fault", func() bool { return readyz() == 503 })
			fault.set(false)
			waitFor("reads and writes served again", func() bool { a, _, _ := unit(); b, _, _ := unit(); return a == 200 && b == 200 })
			waitFor("/readyz ready again", func() bool { return readyz() == 200 })
		})
	}
}
