package resolvers

import (
	"errors"
	"strconv"
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
	fired := func(w *credentialWatch) bool {
		select {
		case <-w.changed:
			return true
		default:
			return false
		}
	}
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
		r, m := a.watch(resident), a.watch(manager)
		tt.notice()
		if fired(r) != tt.resident || fired(m) != tt.manager {
			t.Errorf("%s: resident's watch fired %v, manager's %v; want %v, %v", tt.name, fired(r), fired(m), tt.resident, tt.manager)
		}
		a.unwatch(r)
		a.unwatch(m)
		a.unwatch(m) // twice is harmless
		if n := a.watching(); n != 0 || len(a.watches) != 0 {
			t.Fatalf("%s: %d watches (%d keys) left", tt.name, n, len(a.watches))
		}
	}
}
