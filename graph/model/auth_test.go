package model

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A token has exactly one spelling: every other last character of its
// signature is refused (before, the unused low bits of the last base64
// character made A, B, C and D alike).
func TestTokenHasOneEncoding(t *testing.T) {
	k, err := NewKeyring("test-secret-key-0123456789abcdef-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	token := k.SignToken(UnitToken{PropertyID: uuid.New(), UnitID: uuid.New(), Generation: 3, ExpiresAt: now.Add(time.Hour)})
	if _, err := k.ParseToken(token, now); err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, c := range alphabet {
		variant := token[:len(token)-1] + string(c)
		if variant == token {
			continue
		}
		if _, err := k.ParseToken(variant, now); err == nil {
			t.Fatalf("the token with its last character %q (was %q) authenticated", c, token[len(token)-1:])
		}
	}
	if _, err := k.ParseToken(strings.Replace(token, ".", "=.", 1), now); err == nil {
		t.Fatal("a padded payload authenticated")
	}
}

func TestAppendUUID(t *testing.T) {
	for range 100 {
		id := uuid.New()
		if got := string(AppendUUID([]byte("x:"), id)); got != "x:"+id.String() {
			t.Fatalf("%s, want x:%s", got, id)
		}
	}
}
