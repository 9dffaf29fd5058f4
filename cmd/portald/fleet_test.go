package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/rest/ratelimit/redistest"
)

// newFleet starts a Redis of the test's own and three portald instances
// on it and on one database, which holds a property named name.
func newFleet(t *testing.T, name string) (*redistest.Server, []*server, model.Property) {
	t.Helper()
	rs := redistest.Start(t)
	url := dbtest.NewURL(t)
	store, err := db.Open(context.Background(), url, dbtest.Keys(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := store.CreateProperty(context.Background(), db.PropertyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url, "REDIS_URL": rs.URL()}
	var fleet []*server
	for range 3 {
		fleet = append(fleet, start(t, env, nil))
	}
	return rs, fleet, p
}

// TestFleetSharesOneBudget runs three portald instances against one
// database and one Redis (started by the test on a spare port): together
// they admit what one process would, 100 plus 80 per second. Then Redis
// stops and the fleet keeps answering.
func TestFleetSharesOneBudget(t *testing.T) {
	rs, fleet, p := newFleet(t, "Fleet House")
	path := fmt.Sprintf("/residents/properties/%s/access", p.ID)
	client := &http.Client{Timeout: 5 * time.Second}
	hammer := func(d time.Duration) (ok, limited, other int64) {
		var wg sync.WaitGroup
		var okN, limN, otherN, next atomic.Int64
		stop := time.Now().Add(d)
		for range 6 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					s := fleet[next.Add(1)%3]
					resp, err := client.Get(s.public + path)
					if err != nil {
						otherN.Add(1)
						continue
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case 200:
						okN.Add(1)
					case 429:
						limN.Add(1)
					default:
						otherN.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return okN.Load(), limN.Load(), otherN.Load()
	}

	begin := time.Now()
	ok, limited, other := hammer(2 * time.Second)
	elapsed := time.Since(begin).Seconds()
	want := 100 + 80*elapsed
	t.Logf("fleet of 3 over %.2fs: %d admitted (one process: %.0f), %d limited, %d other", elapsed, ok, want, limited, other)
	if other != 0 || limited == 0 {
		t.Fatalf("%d requests neither admitted nor limited; %d limited", other, limited)
	}
	if float64(ok) < want*0.85 || float64(ok) > want*1.1 {
		t.Fatalf("fleet admitted %d, one process would admit about %.0f", ok, want)
	}

	rs.Stop()
	ok, limited, other = hammer(time.Second)
	t.Logf("without Redis: %d admitted, %d limited, %d other", ok, limited, other)
	if other != 0 || ok == 0 {
		t.Fatalf("without Redis the fleet failed: %d admitted, %d failed", ok, other)
	}
	for _, s := range fleet {
		resp, body := get(t, s.metrics+"/metrics")
		if resp.StatusCode != 200 || !strings.Contains(body, "portal_ratelimit_redis_degraded 1") {
			t.Fatal("the degradation is not exposed as a metric")
		}
	}
}

// TestFleetSharesTheFailedLoginBudget: with Redis, a client's failed logins
// count on every replica. Ten wrong secrets spread over three replicas
// spend the budget, and the next is refused on each (before, each replica
// admitted ten of its own: thirty guesses a minute).
func TestFleetSharesTheFailedLoginBudget(t *testing.T) {
	_, fleet, p := newFleet(t, "Guarded House")
	guess := func(s *server) int {
		resp, err := http.Post(fmt.Sprintf("%s/residents/properties/%s/units/logins", s.public, p.ID), "application/json",
			strings.NewReader(`{"hashedSecret":"a wrong guess"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 10 {
		if code := guess(fleet[i%3]); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, code)
		}
	}
	for i, s := range fleet {
		if code := guess(s); code != http.StatusTooManyRequests {
			t.Fatalf("replica %d after ten failed logins in the fleet: %d, want 429", i, code)
		}
	}
}
