package resolvers_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// A LISTEN connection that stalls without closing (a frozen proxy, a dead
// NAT entry) must not keep a revoked token alive: the listener proves its
// connection every half second, gives it up when it does not answer, and
// token checks go to the database meanwhile.
func TestRevocationSurvivesAStalledListener(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of stalls on purpose: make test runs it, make check does not")
	}
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	ctx := context.Background()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, url, dbtest.Keys(t), db.Options{}))
	t.Cleanup(store.Close)
	listener := dbtest.Must[*db.DB](t)(db.Open(ctx, proxy.URL(url), dbtest.Keys(t), db.Options{}))
	t.Cleanup(listener.Close)
	svc := service.New(store, dbtest.Keys(t), service.Options{TokenTTL: time.Hour})
	auth := svc.Authenticator()
	listenCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		listener.ListenAuthChanges(listenCtx, auth, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, "listener up", auth.Caching)

	f := newFixture(t, store, db.PropertyInput{})
	token := dbtest.Must[service.LoginResult](t)(svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
	if _, err := auth.Authenticate(ctx, token); err != nil { // cached from here on
		t.Fatal(err)
	}
	proxy.Freeze()
	dbtest.Must[model.Unit](t)(store.SetUnitStatus(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID, model.UnitDisabled))
	took := eventually(t, "revoked token refused", func() bool {
		_, err := auth.Authenticate(ctx, token)
		return model.ErrorCode(err) == model.CodeUnauthenticated
	})
	if took > time.Second {
		t.Fatalf("the disabled unit's token was refused after %v, want ≤ 1s", took)
	}
	t.Logf("with the listener's connection frozen, the token was refused after %v", took)
	// The listener comes back over a new connection and caching resumes.
	eventually(t, "listener back", auth.Caching)
}

// A revocation listener that is only slow to prove its connection stops
// vouching for the cache at once (token checks go to the database), and
// vouches again when the late answer comes, on the same connection.
func TestSlowListenerStopsCachingMeanwhile(t *testing.T) {
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	ctx := context.Background()
	listener := dbtest.Must[*db.DB](t)(db.Open(ctx, proxy.URL(url), dbtest.Keys(t), db.Options{}))
	t.Cleanup(listener.Close)
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, url, dbtest.Keys(t), db.Options{}))
	t.Cleanup(store.Close)
	auth := service.New(store, dbtest.Keys(t), service.Options{TokenTTL: time.Hour}).Authenticator()
	var logs strings.Builder
	var mu sync.Mutex
	listenCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		listener.ListenAuthChanges(listenCtx, auth, slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)))
	}()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, "listener up", auth.Caching)
	proxy.Slow(2 * time.Second)
	took := eventually(t, "caching stopped", func() bool { return !auth.Caching() })
	if took > time.Second {
		t.Fatalf("the cache was trusted for %v after the connection went quiet", took)
	}
	eventually(t, "caching resumed", auth.Caching)
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "reconnecting") {
		t.Fatalf("a slow connection was given up:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
