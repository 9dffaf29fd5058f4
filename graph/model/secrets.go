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
)

// MinSecretKeyLength is the shortest SECRET_KEY accepted (characters).
const MinSecretKeyLength = 32

// Keyring holds the keys derived from one SECRET_KEY: an AES-256-GCM key for
// secrets at rest, an HMAC key for their lookup digests and an HMAC key for
// signing tokens. Safe for concurrent use.
type Keyring struct {
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
	k := &Keyring{
		aead:      aead,
		digestKey: derive("lookup-digest/hmac-sha256/v1", 32),
		tokenKey:  derive("tokens/hmac-sha256/v1", 32),
	}
	copy(k.id[:], derive("key-id/v1", 4))
	k.tokenMACs.New = func() any { return hmac.New(sha256.New, k.tokenKey) }
	return k, nil
}

// Encrypt seals plain with AES-GCM, bound to aad (the row's id), as
// version ‖ key id ‖ nonce ‖ ciphertext.
func (k *Keyring) Encrypt(plain string, aad []byte) []byte {
	out := make([]byte, 0, 1+4+k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	out = append(out, ciphertextVersion)
	out = append(out, k.id[:]...)
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, []byte(plain), aad)
}

// Decrypt opens a ciphertext made by Encrypt with the same aad. It returns
// ErrWrongKey for a ciphertext of another key and an error for a tampered one.
func (k *Keyring) Decrypt(sealed, aad []byte) (string, error) {
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

// Digest is the keyed lookup digest of a secret (HMAC-SHA256). Equal secrets
// have equal digests under one key, which is what lookups and the
// per-property uniqueness constraint rely on.
func (k *Keyring) Digest(secret string) []byte {
	m := hmac.New(sha256.New, k.digestKey)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Sign returns HMAC-SHA256 of msg under the token key.
func (k *Keyring) Sign(msg []byte) []byte {
	m := k.tokenMACs.Get().(hash.Hash)
	defer k.tokenMACs.Put(m)
	m.Reset()
	m.Write(msg)
	return m.Sum(nil)
}

// Verify reports, in constant time, whether sig is Sign(msg).
func (k *Keyring) Verify(msg, sig []byte) bool {
	return hmac.Equal(k.Sign(msg), sig)
}
