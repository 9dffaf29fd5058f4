package model

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
)

// MinSecretKeyLength is the shortest SECRET_KEY accepted (characters).
const MinSecretKeyLength = 32

// Keyring holds the keys derived from one SECRET_KEY — an AES-256-GCM key
// for secrets at rest, an HMAC key for their lookup digests and an HMAC key
// for signing tokens — and, during a rekey's rolling restart, those of
// SECRET_KEY_PREVIOUS too (WithPrevious). It reads (Decrypt, ParseToken)
// under any of its keys and writes (Encrypt, Digest, SignToken) under the
// one in use, which the database's key check selects (Use). Safe for
// concurrent use.
type Keyring struct {
	sets []*keySet
	// inUse is the set that seals and signs.
	inUse atomic.Pointer[keySet]
}

// keySet is the key material derived from one SECRET_KEY.
type keySet struct {
	id        [4]byte
	aead      cipher.AEAD
	digestKey []byte
	tokenKey  []byte
	// tokenMACs recycles HMACs keyed with tokenKey: a reset HMAC starts
	// from its saved keyed state instead of hashing the key again.
	tokenMACs sync.Pool
}

// ciphertextVersion prefixes every ciphertext so that the format can evolve.
const ciphertextVersion = 1

// ErrWrongKey is returned by Decrypt for a ciphertext sealed under another key.
var ErrWrongKey = errors.New("secret was encrypted under a different SECRET_KEY")

// NewKeyring derives the keyring of secretKey with HKDF-SHA256. It returns
// BAD_USER_INPUT when the key is shorter than MinSecretKeyLength.
func NewKeyring(secretKey string) (*Keyring, error) {
	set, err := deriveSet(secretKey)
	if err != nil {
		return nil, err
	}
	return ringOf(set), nil
}

// WithPrevious returns a keyring of k's key that also reads, and until the
// database's key check names k's key writes, under previous (a rekey's
// window: servers restarted with the new key keep serving rows still under
// the old one). previous "" returns k.
func (k *Keyring) WithPrevious(previous string) (*Keyring, error) {
	if previous == "" {
		return k, nil
	}
	prev, err := deriveSet(previous)
	if err != nil {
		return nil, Errorf(CodeBadUserInput, "SECRET_KEY_PREVIOUS: %s", ErrorMessage(err))
	}
	if prev.id == k.sets[0].id {
		return nil, Errorf(CodeBadUserInput, "SECRET_KEY_PREVIOUS is the same key as SECRET_KEY")
	}
	r := &Keyring{sets: []*keySet{k.sets[0], prev}}
	r.inUse.Store(k.sets[0])
	return r, nil
}

func ringOf(set *keySet) *Keyring {
	k := &Keyring{sets: []*keySet{set}}
	k.inUse.Store(set)
	return k
}

func deriveSet(secretKey string) (*keySet, error) {
	if len(secretKey) < MinSecretKeyLength {
		return nil, Errorf(CodeBadUserInput, "SECRET_KEY must be at least %d characters", MinSecretKeyLength)
	}
	derive := func(label string, n int) []byte {
		k, err := hkdf.Key(sha256.New, []byte(secretKey), []byte("resident-portal"), label, n)
		if err != nil {
			panic(err) // unreachable: n is far below HKDF's limit
		}
		return k
	}
	block, err := aes.NewCipher(derive("secrets-at-rest/aes-256-gcm/v1", 32))
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	s := &keySet{
		aead:      aead,
		digestKey: derive("lookup-digest/hmac-sha256/v1", 32),
		tokenKey:  derive("tokens/hmac-sha256/v1", 32),
	}
	copy(s.id[:], derive("key-id/v1", 4))
	s.tokenMACs.New = func() any { return hmac.New(sha256.New, s.tokenKey) }
	return s, nil
}

// Keys returns one single-key keyring per key of k, SECRET_KEY first.
func (k *Keyring) Keys() []*Keyring {
	out := make([]*Keyring, len(k.sets))
	for i, s := range k.sets {
		out[i] = ringOf(s)
	}
	return out
}

// Match returns the single-key keyring of k's key whose Digest(text) is
// want, or nil if none is.
func (k *Keyring) Match(text string, want []byte) *Keyring {
	for _, s := range k.sets {
		if hmac.Equal(s.digest(text), want) {
			return ringOf(s)
		}
	}
	return nil
}

// KeyOf returns the single-key keyring of k's key that sealed a ciphertext
// made by Encrypt, or nil if none did.
func (k *Keyring) KeyOf(sealed []byte) *Keyring {
	if len(sealed) < 5 {
		return nil
	}
	for _, s := range k.sets {
		if bytes.Equal(sealed[1:5], s.id[:]) {
			return ringOf(s)
		}
	}
	return nil
}

// Use makes one — a keyring from k's Match, KeyOf or Keys — the key k
// writes under. It reports false, changing nothing, if one is not a key of k.
func (k *Keyring) Use(one *Keyring) bool {
	for _, s := range k.sets {
		if s == one.sets[0] {
			k.inUse.Store(s)
			return true
		}
	}
	return false
}

// Encrypt seals plain with AES-GCM, bound to aad (the row's id), as
// version ‖ key id ‖ nonce ‖ ciphertext.
func (k *Keyring) Encrypt(plain string, aad []byte) []byte {
	return k.inUse.Load().encrypt(plain, aad)
}

func (k *keySet) encrypt(plain string, aad []byte) []byte {
	out := make([]byte, 0, 1+4+k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	out = append(out, ciphertextVersion)
	out = append(out, k.id[:]...)
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, []byte(plain), aad)
}

// Decrypt opens a ciphertext made by Encrypt with the same aad, under any
// of k's keys. It returns ErrWrongKey for a ciphertext of another key and
// an error for a tampered one.
func (k *Keyring) Decrypt(sealed, aad []byte) (string, error) {
	if len(sealed) >= 5 {
		for _, s := range k.sets[1:] {
			if bytes.Equal(sealed[1:5], s.id[:]) {
				return s.decrypt(sealed, aad)
			}
		}
	}
	return k.sets[0].decrypt(sealed, aad)
}

func (k *keySet) decrypt(sealed, aad []byte) (string, error) {
	head := 1 + 4 + k.aead.NonceSize()
	if len(sealed) < head+k.aead.Overhead() || sealed[0] != ciphertextVersion {
		return "", errors.New("decrypt: malformed ciphertext")
	}
	if !bytes.Equal(sealed[1:5], k.id[:]) {
		return "", ErrWrongKey
	}
	plain, err := k.aead.Open(nil, sealed[5:head], sealed[head:], aad)
	if err != nil {
		return "", errors.New("decrypt: ciphertext does not authenticate")
	}
	return string(plain), nil
}

// Digest is the keyed lookup digest of a secret (HMAC-SHA256) under the key
// in use. Equal secrets have equal digests under one key, which is what
// lookups and the per-property uniqueness constraint rely on.
func (k *Keyring) Digest(secret string) []byte {
	return k.inUse.Load().digest(secret)
}

// Digests returns a secret's lookup digest under each of k's keys (a lookup
// during a rekey's window finds the row under either).
func (k *Keyring) Digests(secret string) [][]byte {
	out := make([][]byte, len(k.sets))
	for i, s := range k.sets {
		out[i] = s.digest(secret)
	}
	return out
}

func (k *keySet) digest(secret string) []byte {
	m := hmac.New(sha256.New, k.digestKey)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Sign returns HMAC-SHA256 of msg under the token key in use.
func (k *Keyring) Sign(msg []byte) []byte {
	return k.inUse.Load().sign(msg)
}

func (k *keySet) sign(msg []byte) []byte {
	m := k.tokenMACs.Get().(hash.Hash)
	defer k.tokenMACs.Put(m)
	m.Reset()
	m.Write(msg)
	return m.Sum(nil)
}

// Verify reports, in constant time, whether sig is Sign(msg) under any of
// k's keys.
func (k *Keyring) Verify(msg, sig []byte) bool {
	ok := false
	for _, s := range k.sets {
		ok = hmac.Equal(s.sign(msg), sig) || ok
	}
	return ok
}
