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
