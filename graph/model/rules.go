package model

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Passphrase limits (the WPA2 rule) and the default generated length.
const (
	MinPassphraseLength     = 8
	MaxPassphraseLength     = 63
	DefaultPassphraseLength = 12
)

// Field length limits shared by the database constraints and the checks
// that run before them.
const (
	MaxEmailLength = 255
	MaxPhoneLength = 16
	MaxNameLength  = 255
	MaxTextLength  = 1024
)

// ValidatePassphrase checks the WPA2 rule: 8 to 63 printable ASCII
// characters. It returns BAD_USER_INPUT.
func ValidatePassphrase(p string) error {
	if len(p) < MinPassphraseLength || len(p) > MaxPassphraseLength {
		return Errorf(CodeBadUserInput, "must be 8 to 63 printable ASCII characters")
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e {
			return Errorf(CodeBadUserInput, "must be 8 to 63 printable ASCII characters")
		}
	}
	return nil
}

// passphraseAlphabet leaves out characters that are easily confused when a
// resident types a key on a television or a printer (0/O, 1/l/I).
const passphraseAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassphrase returns a crypto-random passphrase of the given length
// (clamped to 8–63) from an unambiguous alphanumeric alphabet.
func GeneratePassphrase(length int) string {
	length = min(max(length, MinPassphraseLength), MaxPassphraseLength)
	return randomString(passphraseAlphabet, length)
}

// randomString draws length characters uniformly from alphabet with
// crypto/rand (rejection sampling, no modulo bias).
func randomString(alphabet string, length int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, length)
	buf := make([]byte, length*2)
	for len(out) < length {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go ≥ 1.24)
		for _, b := range buf {
			if int(b) < limit && len(out) < length {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// PortalSecretBytes is the entropy of a unit's portal secret: 256 bits.
const PortalSecretBytes = 32

// MintPortalSecret returns a new portal secret: 256 random bits, URL-safe
// base64 without padding, so it needs no escaping in a portal link.
func MintPortalSecret() string {
	b := make([]byte, PortalSecretBytes)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseMAC accepts a MAC address in any usual notation (aa:bb:cc:dd:ee:ff,
// AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff, aabbccddeeff) and returns it as
// AA:BB:CC:DD:EE:FF. It returns BAD_USER_INPUT for anything else.
func ParseMAC(s string) (string, error) {
	var digits string
	switch {
	case len(s) == 17 && (s[2] == ':' || s[2] == '-'):
		sep := s[2]
		for i := 2; i < 17; i += 3 {
			if s[i] != sep {
				return "", errBadMAC
			}
		}
		digits = strings.Map(func(r rune) rune {
			if r == rune(sep) {
				return -1
			}
			return r
		}, s)
	case len(s) == 14 && s[4] == '.' && s[9] == '.':
		digits = s[0:4] + s[5:9] + s[10:14]
	case len(s) == 12:
		digits = s
	default:
		return "", errBadMAC
	}
	raw, err := hex.DecodeString(digits)
	if err != nil || len(raw) != 6 {
		return "", errBadMAC
	}
	return FormatMAC(raw), nil
}

var errBadMAC = Errorf(CodeBadUserInput, "must be a MAC address such as AA:BB:CC:DD:EE:FF")

// FormatMAC writes 6 bytes as AA:BB:CC:DD:EE:FF.
func FormatMAC(b []byte) string {
	const hexdigits = "0123456789ABCDEF"
	out := make([]byte, 0, 17)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, hexdigits[c>>4], hexdigits[c&0x0f])
	}
	return string(out)
}

// ValidateColor checks a portal colour: #RRGGBB.
func ValidateColor(c string) error {
	if len(c) != 7 || c[0] != '#' {
		return Errorf(CodeBadUserInput, "must be a colour such as #1F4E79")
	}
	if _, err := hex.DecodeString(c[1:]); err != nil {
		return Errorf(CodeBadUserInput, "must be a colour such as #1F4E79")
	}
	return nil
}

// ValidateText checks that s is valid UTF-8 without control characters
// (other than newline and tab) and at most max characters long.
func ValidateText(s string, maxChars int) error {
	if !utf8.ValidString(s) {
		return Errorf(CodeBadUserInput, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxChars {
		return Errorf(CodeBadUserInput, "must be at most %d characters", maxChars)
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return Errorf(CodeBadUserInput, "must not contain control characters")
		}
	}
	return nil
}

// ValidateEmail checks an optional e-mail address: empty, or at most 255
// characters with one @ that has text on both sides.
func ValidateEmail(s string) error {
	if s == "" {
		return nil
	}
	if err := ValidateText(s, MaxEmailLength); err != nil {
		return err
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \t\n") {
		return Errorf(CodeBadUserInput, "must be an e-mail address")
	}
	return nil
}

// ValidatePhone checks an optional phone number: at most 16 characters of
// digits, spaces and + - ( ) .
func ValidatePhone(s string) error {
	if len(s) > MaxPhoneLength {
		return Errorf(CodeBadUserInput, "must be at most %d characters", MaxPhoneLength)
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || strings.ContainsRune(" +-().", r)) {
			return Errorf(CodeBadUserInput, "must contain only digits, spaces and + - ( ) .")
		}
	}
	return nil
}

// ManagerKeyPrefix marks a property manager key, so that the HTTP edge tells
// it from a unit token and a leaked key is recognisable in secret scanners.
const ManagerKeyPrefix = "rpmk_"

// MintManagerKey returns a new manager key: the prefix and 256 random bits.
func MintManagerKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return ManagerKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ManagerKeyDigest is how a manager key is stored and looked up: SHA-256,
// unkeyed, since the key itself carries 256 random bits (and so survives a
// rekey of SECRET_KEY).
func ManagerKeyDigest(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// imageSignatures are the portal file formats accepted, by their first
// bytes (the content decides, never the file name). SVG is refused: it can
// carry script and is served inline.
var imageSignatures = []struct {
	prefix      string
	at          int
	contentType string
}{
	{"\x89PNG\r\n\x1a\n", 0, "image/png"},
	{"\x00\x00\x01\x00", 0, "image/x-icon"},
	{"\xff\xd8\xff", 0, "image/jpeg"},
	{"GIF87a", 0, "image/gif"},
	{"GIF89a", 0, "image/gif"},
	{"WEBP", 8, "image/webp"}, // after "RIFF" and the chunk size
}

// SniffImage returns the content type of a PNG, ICO, JPEG, GIF or WebP
// image by its magic bytes; ok is false for anything else.
func SniffImage(data []byte) (contentType string, ok bool) {
	for _, s := range imageSignatures {
		if len(data) >= s.at+len(s.prefix) && string(data[s.at:s.at+len(s.prefix)]) == s.prefix &&
			(s.at == 0 || string(data[:4]) == "RIFF") {
			return s.contentType, true
		}
	}
	return "", false
}
