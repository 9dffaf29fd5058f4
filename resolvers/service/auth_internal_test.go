package service

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// A token's signature is checked once and remembered; what is remembered
// never outlives the token, never includes a forgery, and is bounded.
func TestVerifiedTokens(t *testing.T) {
	keys, err := model.NewKeyring("verified-tokens-test-key-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := NewAuthenticator(keys, nil, func() time.Time { return now })
	token := keys.SignToken(model.UnitToken{PropertyID: uuid.New(), UnitID: uuid.New(), Generation: 1, ExpiresAt: now.Add(time.Minute)})

	if _, err := a.parseToken(token); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.verified[token]; !ok || len(a.verified) != 1 {
		t.Fatalf("the verified token is not remembered (%d kept)", len(a.verified))
	}
	forged := token[:len(token)-2] + "AA"
	if _, err := a.parseToken(forged); !errors.Is(err, model.ErrBadToken) {
		t.Fatalf("forged token: %v", err)
	}
	if len(a.verified) != 1 {
		t.Fatal("a forged token was remembered")
	}

	now = now.Add(time.Minute) // the moment it expires
	if _, err := a.parseToken(token); !errors.Is(err, model.ErrBadToken) {
		t.Fatalf("expired token, remembered as verified: %v", err)
	}

	now = time.Now()
	for i := range maxVerifiedTokens {
		a.verified[strconv.Itoa(i)] = model.UnitToken{ExpiresAt: now.Add(time.Hour)}
	}
	fresh := keys.SignToken(model.UnitToken{PropertyID: uuid.New(), UnitID: uuid.New(), ExpiresAt: now.Add(time.Minute)})
	if _, err := a.parseToken(fresh); err != nil {
		t.Fatal(err)
	}
	if len(a.verified) != 1 {
		t.Fatalf("%d tokens kept past the bound of %d", len(a.verified), maxVerifiedTokens)
	}
}

// A credential watch fires on the notices that can change what its check
// read — its unit or manager key, its property, the listener coming or
// going — and on no other; a fired or stopped watch is forgotten.
func TestCredentialWatch(t *testing.T) {
	a := NewAuthenticator(nil, nil, time.Now)
	property, unit, key := uuid.New(), uuid.New(), uuid.New()
	resident := model.Principal{Kind: model.Resident, PropertyID: property, UnitID: unit}
	manager := model.Principal{Kind: model.Manager, PropertyID: property, KeyID: key}
	tests := []struct {
		name     string
		notice   func()
		resident bool
		manager  bool
	}{
		{"another unit", func() { a.AuthChanged("unit", uuid.New()) }, false, false},
		{"another property", func() { a.AuthChanged("property", uuid.New()) }, false, false},
		{"another key", func() { a.AuthChanged("key", uuid.New()) }, false, false},
		{"the unit's id as a key", func() { a.AuthChanged("key", unit) }, false, false},
		{"the resident's unit", func() { a.AuthChanged("unit", unit) }, true, false},
		{"the manager's key", func() { a.AuthChanged("key", key) }, false, true},
		{"their property", func() { a.AuthChanged("property", property) }, true, true},
		{"the listener going", func() { a.ListenerUp(false) }, true, true},
		{"the listener coming", func() { a.ListenerUp(true) }, true, true},
	}
	for _, tt := range tests {
		r, m := a.watch(resident, nil), a.watch(manager, nil)
		tt.notice()
		if watchFired(a, r) != tt.resident || watchFired(a, m) != tt.manager {
			t.Errorf("%s: resident's watch fired %v, manager's %v; want %v, %v", tt.name, watchFired(a, r), watchFired(a, m), tt.resident, tt.manager)
		}
		a.unwatch(r)
		a.unwatch(m)
		a.unwatch(m)             // twice is harmless
		if len(a.watches) != 0 { // a watch left would leave both its keys
			t.Fatalf("%s: watches left under %d keys", tt.name, len(a.watches))
		}
	}
}

// epochStore is an AuthStore whose auth epoch the test moves, counting
// its reads.
type epochStore struct {
	AuthStore
	mu    sync.Mutex
	n     int64
	err   error
	reads int
}

func (s *epochStore) AuthEpoch(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.n, s.err
}

func (s *epochStore) set(n int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.err = n, err
}

func (s *epochStore) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// While revocation notices are away, WatchEpoch reads the auth epoch
// and fires the watches only when it moved or cannot be read (and once at
// the start); with the notices back it stops reading.
func TestWatchEpoch(t *testing.T) {
	store := &epochStore{}
	a := NewAuthenticator(nil, store, time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.WatchEpoch(ctx) }()
	defer func() { cancel(); <-done }()
	p := model.Principal{Kind: model.Resident, PropertyID: uuid.New(), UnitID: uuid.New()}
	await := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: not within 5 s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	a.ListenerUp(true)
	a.ListenerUp(false)
	w := a.watch(p, nil)
	await("the first read fires the watches", func() bool { return watchFired(a, w) })
	w = a.watch(p, nil)
	reads := store.readCount()
	await("two more reads", func() bool { return store.readCount() >= reads+2 })
	if watchFired(a, w) {
		t.Fatal("the watch fired while the epoch stood still")
	}
	store.set(1, nil)
	await("a moved epoch fires the watches", func() bool { return watchFired(a, w) })
	w = a.watch(p, nil)
	store.set(1, errors.New("database unreachable"))
	await("an unreadable epoch fires the watches", func() bool { return watchFired(a, w) })
	store.set(1, nil)
	a.ListenerUp(true)
	reads = store.readCount()
	time.Sleep(3 * authEpochPoll) // a negative: nothing to poll for
	if n := store.readCount(); n > reads+1 {
		t.Fatalf("%d reads with the notices back", n-reads)
	}
}

// watchFired reports whether w has fired.
func watchFired(a *Authenticator, w *credentialWatch) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return w.fired
}
