package model

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMAC(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF"},
		{"AA-BB-CC-DD-EE-FF", "AA:BB:CC:DD:EE:FF"},
		{"aabb.ccdd.eeff", "AA:BB:CC:DD:EE:FF"},
		{"aabbccddeeff", "AA:BB:CC:DD:EE:FF"},
		{"01:23:45:67:89:aB", "01:23:45:67:89:AB"},
		{"aa:bb-cc:dd:ee:ff", ""},
		{"aa:bb:cc:dd:ee", ""},
		{"aabbccddeefg", ""},
		{"aabb.ccdd-eeff", ""},
		{"", ""},
		{"aa:bb:cc:dd:ee:ff:00", ""},
		{"+a:bb:cc:dd:ee:ff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMAC(tt.in)
			if tt.want == "" {
				if ErrorCode(err) != CodeBadUserInput {
					t.Fatalf("ParseMAC(%q) = %q, %v; want BAD_USER_INPUT", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseMAC(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"aa:bb:cc:dd:ee:ff", "aabb.ccdd.eeff", "aabbccddeeff", "AA-BB-CC-DD-EE-FF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseMAC(s)
		if err != nil {
			return
		}
		// Canonical output parses to itself.
		if again, err := ParseMAC(got); err != nil || again != got || len(got) != 17 {
			t.Fatalf("ParseMAC(%q) = %q, not canonical", s, got)
		}
	})
}

func TestValidatePassphrase(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"OK 8", "abcdefgh", true},
		{"OK 63", strings.Repeat("x", 63), true},
		{"OK symbols and space", "a b!~\"#$%&'()", true},
		{"ErrShort", "abcdefg", false},
		{"ErrLong", strings.Repeat("x", 64), false},
		{"ErrNonASCII", "pässwörter", false},
		{"ErrControl", "abcdefgh\n", false},
		{"ErrDEL", "abcdefgh\x7f", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidatePassphrase(tt.in); (err == nil) != tt.ok {
				t.Fatalf("ValidatePassphrase(%q) = %v", tt.in, err)
			}
		})
	}
}

func TestGeneratePassphrase(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{0, 8, 12, 63, 100} {
		p := GeneratePassphrase(n)
		want := min(max(n, 8), 63)
		if len(p) != want || ValidatePassphrase(p) != nil {
			t.Fatalf("GeneratePassphrase(%d) = %q", n, p)
		}
		for _, c := range p {
			if !strings.ContainsRune(passphraseAlphabet, c) {
				t.Fatalf("character %q outside the alphabet", c)
			}
		}
		if seen[p] {
			t.Fatal("repeated passphrase")
		}
		seen[p] = true
	}
}

func TestMintPortalSecret(t *testing.T) {
	a, b := MintPortalSecret(), MintPortalSecret()
	if a == b || len(a) != 43 || strings.ContainsAny(a, "+/=%&?") {
		t.Fatalf("secrets %q %q", a, b)
	}
}

func TestKeyring(t *testing.T) {
	k, err := NewKeyring("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKeyring("fedcba9876543210fedcba9876543210")
	aad := []byte("row-1")
	sealed := k.Encrypt("hunter2-passphrase", aad)
	if strings.Contains(string(sealed), "hunter2") {
		t.Fatal("plaintext visible in ciphertext")
	}
	if got, err := k.Decrypt(sealed, aad); err != nil || got != "hunter2-passphrase" {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	if string(k.Encrypt("x", aad)) == string(k.Encrypt("x", aad)) {
		t.Fatal("encryption is deterministic (nonce reuse)")
	}
	if _, err := k.Decrypt(sealed, []byte("row-2")); err == nil {
		t.Fatal("ciphertext moved to another row decrypts")
	}
	if _, err := other.Decrypt(sealed, aad); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other key: %v, want ErrWrongKey", err)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := k.Decrypt(tampered, aad); err == nil {
		t.Fatal("tampered ciphertext decrypts")
	}
	if string(k.Digest("a")) != string(k.Digest("a")) || string(k.Digest("a")) == string(other.Digest("a")) {
		t.Fatal("digest is not a keyed function")
	}
	if !k.Verify([]byte("m"), k.Sign([]byte("m"))) || other.Verify([]byte("m"), k.Sign([]byte("m"))) {
		t.Fatal("signature check broken")
	}
	if _, err := NewKeyring("short"); ErrorCode(err) != CodeBadUserInput {
		t.Fatalf("short key: %v", err)
	}

	// A rekey's window: reads under either key, writes under the one in use.
	both, err := other.WithPrevious("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := both.Decrypt(sealed, aad); err != nil || got != "hunter2-passphrase" {
		t.Fatalf("previous key's ciphertext = %q, %v", got, err)
	}
	if len(both.Digests("a")) != 2 || string(both.Digests("a")[1]) != string(k.Digest("a")) {
		t.Fatal("Digests does not give the previous key's digest")
	}
	if !both.Use(both.KeyOf(sealed)) {
		t.Fatal("the previous key is not one of the ring's")
	}
	if _, err := k.Decrypt(both.Encrypt("x", aad), aad); err != nil || !k.Verify([]byte("m"), both.Sign([]byte("m"))) {
		t.Fatalf("in use, the previous key does not seal and sign: %v", err)
	}
	if both.Use(k) || both.Match("text", other.Digest("text")) == nil || both.Match("text", []byte("x")) != nil {
		t.Fatal("Use or Match take a key that is not the ring's")
	}
	if _, err := other.WithPrevious("fedcba9876543210fedcba9876543210"); ErrorCode(err) != CodeBadUserInput {
		t.Fatalf("previous = current: %v", err)
	}
}

func TestValidator(t *testing.T) {
	var v Validator
	v.Check(true, "a", "fine")
	v.Check(false, "b", "bad")
	v.Add("c", ValidateEmail("no-at-sign"))
	err := v.Err()
	if ErrorCode(err) != CodeBadUserInput || len(ErrorFields(err)) != 2 || ErrorFields(err)[1].Field != "c" {
		t.Fatalf("err = %v, fields %v", err, ErrorFields(err))
	}
	if ErrorMessage(errors.New("pq: secret SQL")) != "internal error" {
		t.Fatal("internal error text leaks")
	}
}

// Generated shared secrets are letters and digits only, long enough, and
// differ.
func TestMintNASSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := MintNASSecret()
		if len(s) != 39 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" || seen[s] {
			t.Fatalf("secret %q", s)
		}
		seen[s] = true
	}
}
