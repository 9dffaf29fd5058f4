package ratelimit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/rest/ratelimit"
	"github.com/residentportal/bff/rest/ratelimit/redistest"
)

// With a shared budget (Redis), a client's failed logins count on every
// replica: ten in all, however they are spread, where each replica alone
// would admit ten of its own. Logins that succeed cost nothing, guesses
// sent at once to one replica are still held to its own budget, and the
// guard in front of the login route refuses too.
func TestFailedLoginsSharedAcrossReplicas(t *testing.T) {
	rs := redistest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	replica := func() *ratelimit.Guard {
		c := redis.NewClient(&redis.Options{Addr: rs.Addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { c.Close() })
		g := ratelimit.NewGuard(ratelimit.NewMemory(ratelimit.Config{Burst: 100, PerSecond: 80}, nil, 0), nil, nil)
		g.ShareFailedLogins(ratelimit.NewRedis(c, ratelimit.FailedLogins, log, nil))
		return g
	}
	a, b := replica(), replica()
	from := func(client string) context.Context {
		return model.WithRequestInfo(context.Background(), &model.RequestInfo{ClientIP: client})
	}

	// turn alternates between the replicas.
	turn := func(i int) *ratelimit.Guard {
		if i%2 == 1 {
			return b
		}
		return a
	}

	guesser := from("203.0.113.9")
	for i := range ratelimit.FailedLogins.Burst {
		finish, _, ok := turn(i).BeginLogin(guesser)
		if !ok {
			t.Fatalf("failed login %d refused", i+1)
		}
		finish(true)
	}
	for name, g := range map[string]*ratelimit.Guard{"a": a, "b": b} {
		if _, wait, ok := g.BeginLogin(guesser); ok || wait <= 0 {
			t.Fatalf("replica %s admitted an eleventh failed login (wait %v)", name, wait)
		}
	}
	// The login route's guard refuses it before anything is charged.
	route := b.REST(true, true)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the login ran") }))
	rec := httptest.NewRecorder()
	route.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil).WithContext(guesser))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("login route: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}

	// Another client is not held to the guesser's budget, and logins that
	// succeed spend none of it.
	resident := from("198.51.100.7")
	for i := range 3 * ratelimit.FailedLogins.Burst {
		finish, _, ok := turn(i).BeginLogin(resident)
		if !ok {
			t.Fatalf("successful login %d refused", i+1)
		}
		finish(false)
	}

	// Thirty guesses at once on one replica: its own budget admits ten
	// before any of them has failed.
	burst := from("192.0.2.44")
	var mu sync.Mutex
	var admitted int
	var wg sync.WaitGroup
	var finishes []func(bool)
	for range 30 {
		wg.Go(func() {
			if finish, _, ok := a.BeginLogin(burst); ok {
				mu.Lock()
				admitted++
				finishes = append(finishes, finish)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if admitted != ratelimit.FailedLogins.Burst {
		t.Fatalf("%d of 30 guesses at once admitted, want %d", admitted, ratelimit.FailedLogins.Burst)
	}
	for _, finish := range finishes {
		finish(true)
	}
	if _, _, ok := b.BeginLogin(burst); ok {
		t.Fatal("the other replica admitted a guess after the burst's ten failures")
	}
}

// countingLimiter counts the calls made to a limiter.
type countingLimiter struct {
	ratelimit.Limiter
	mu    sync.Mutex
	calls int
}

func (c *countingLimiter) Allow(ctx context.Context, key string, n int) ratelimit.Decision {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Limiter.Allow(ctx, key, n)
}

// A login through the login route reads the shared failed-login budget
// (Redis) once, where it read it twice (the route's check, then the
// login's): a successful login costs one round trip, a failed one two (the
// read and the failure counted).
func TestOneSharedReadPerLogin(t *testing.T) {
	rs := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { c.Close() })
	shared := &countingLimiter{Limiter: ratelimit.NewRedis(c, ratelimit.FailedLogins, slog.New(slog.DiscardHandler), nil)}
	g := ratelimit.NewGuard(ratelimit.NewMemory(ratelimit.Config{Burst: 100, PerSecond: 80}, nil, 0), nil, nil)
	g.ShareFailedLogins(shared)
	for _, failed := range []bool{false, true} {
		shared.calls = 0
		route := g.REST(true, true)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			finish, _, ok := g.BeginLogin(r.Context())
			if !ok {
				t.Fatal("the login was refused")
			}
			finish(failed)
		}))
		ctx := model.WithRequestInfo(context.Background(), &model.RequestInfo{ClientIP: "198.51.100.8"})
		route.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil).WithContext(ctx))
		if want := map[bool]int{false: 1, true: 2}[failed]; shared.calls != want {
			t.Errorf("a login (failed %v) made %d calls to the shared budget, want %d", failed, shared.calls, want)
		}
	}
}
