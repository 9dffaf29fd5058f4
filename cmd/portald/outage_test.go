package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// TestDatabaseOutage runs portald against a private PostgreSQL, writes under
// load, stops the database, checks that requests fail fast with 503 and that
// /readyz says so, starts it again, checks recovery, and verifies that every
// acknowledged write and its change requests are there.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a PostgreSQL of its own, stopped and started: make test runs it, make check does not")
	}
	cluster := dbtest.StartCluster(t)
	s := start(t, map[string]string{"DATABASE_URL": cluster.URL, "REQUEST_TIMEOUT": "2s",
		"RATE_LIMIT_BURST": "1000000", "RATE_LIMIT_PER_SECOND": "1000000"}, nil)
	ctx := context.Background()
	store, err := db.Open(ctx, cluster.URL, dbtest.Keys(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	name := "Outage Towers"
	p, err := store.CreateProperty(ctx, db.PropertyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	unit, err := store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"})
	if err != nil {
		t.Fatal(err)
	}
	const workers = 4
	var users []uuid.UUID
	for i := range workers {
		u, err := store.CreateUnitUser(ctx, model.PropertyScope(p.ID), unit.Unit.ID, fmt.Sprintf("w%d", i), "", "")
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID)
	}
	login, err := service.New(store, dbtest.Keys(t), service.Options{}).Login(ctx, p.ID, unit.PortalSecret)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	put := func(user uuid.UUID, body string) (int, map[string]string, time.Duration) {
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/residents/properties/%s/units/users/%s", s.public, p.ID, user), strings.NewReader(body))
		req.Header.Set("Authorization", login.Token)
		req.Header.Set("Content-Type", "application/json")
		begin := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, time.Since(begin)
		}
		defer resp.Body.Close()
		var out map[string]string
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		if resp.StatusCode >= 500 && (resp.StatusCode != 503 || !strings.Contains(string(b), `"503 SERVICE_UNAVAILABLE"`)) {
			t.Errorf("status %d with body %s", resp.StatusCode, b)
		}
		return resp.StatusCode, out, time.Since(begin)
	}

	type ack struct {
		k       int
		persona string
		dpsk    string
	}
	var mu sync.Mutex
	acked := make([][]ack, workers)
	failed := make([]int, workers)
	var slowest503 time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				status, out, took := put(users[w], fmt.Sprintf(`{"userName":"w%d-%d","passphrase":""}`, w, k))
				mu.Lock()
				switch status {
				case 200:
					acked[w] = append(acked[w], ack{k, out["personaUpdateId"], out["dpskUpdateId"]})
				case 503:
					failed[w]++
					slowest503 = max(slowest503, took)
				default:
					failed[w]++
				}
				mu.Unlock()
			}
		})
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range acked {
			n += len(a)
		}
		return n
	}
	waitFor := func(what string, cond func() bool) time.Duration {
		begin := time.Now()
		for !cond() {
			if time.Since(begin) > 30*time.Second {
				t.Fatalf("%s: not within 30s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(begin)
	}
	waitFor("writes acknowledged before the outage", func() bool { return count() >= 40 })

	cluster.Stop()
	outageStart := time.Now()
	readyz := func() int {
		resp, err := client.Get(s.public + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor("/readyz reports the outage", func() bool { return readyz() == 503 })
	before := count()
	waitFor("a second of outage with writes refused", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return failed[0]+failed[1]+failed[2]+failed[3] >= 20 && time.Since(outageStart) >= time.Second
	})
	cluster.Start()
	outage := time.Since(outageStart)
	recovery := waitFor("recovery", func() bool { return readyz() == 200 && count() > before })
	close(stop)
	wg.Wait()

	if slowest503 > 2*time.Second {
		t.Fatalf("a refused request took %v; REQUEST_TIMEOUT is 2s", slowest503)
	}
	if recovery > 2*time.Second {
		t.Fatalf("recovery took %v, want within 2s", recovery)
	}
	// Every acknowledged write is there, with its change requests (read
	// through a new pool: the old one's connections died with the server).
	store.Close()
	if store, err = db.Open(ctx, cluster.URL, dbtest.Keys(t), db.Options{}); err != nil {
		t.Fatal(err)
	}
	total, lost := 0, 0
	for w, user := range users {
		extra := 0
		got, err := store.UnitUserByID(ctx, model.PropertyScope(p.ID), user)
		if err != nil {
			t.Fatal(err)
		}
		last := acked[w][len(acked[w])-1]
		var k int
		if _, err := fmt.Sscanf(got.UserName, fmt.Sprintf("w%d-%%d", w), &k); err != nil || k < last.k {
			t.Fatalf("user %d is %q; the last acknowledged write was k=%d", w, got.UserName, last.k)
		}
		ids := map[string]bool{}
		for _, a := range acked[w] {
			ids[a.persona], ids[a.dpsk] = true, true
		}
		rows, err := store.Pool().Query(ctx, `SELECT id::text FROM change_requests WHERE user_id = $1`, user)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for rows.Next() {
			var id string
			_ = rows.Scan(&id)
			if ids[id] {
				found++
			} else {
				extra++
			}
		}
		rows.Close()
		if found != 2*len(acked[w]) {
			t.Fatalf("user %d: %d of %d acknowledged change requests found", w, found, 2*len(acked[w]))
		}
		if extra > 2*failed[w]+2 {
			t.Fatalf("user %d: %d change requests match no acknowledged or failed write", w, extra)
		}
		total += len(acked[w])
		lost += extra
	}
	t.Logf("outage %v; slowest refusal %v; recovery %v after the restart; %d writes acknowledged, %d found with their change requests (%d rows from writes whose answer was lost)",
		outage.Round(time.Millisecond), slowest503.Round(time.Millisecond), recovery.Round(time.Millisecond), total, total, lost)
}
