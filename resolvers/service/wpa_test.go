package service

import (
	"encoding/hex"
	"testing"
)

// IEEE 802.11-2020 Annex J.4.2: passphrase to PMK.
func TestPMKTestVectors(t *testing.T) {
	for _, c := range []struct{ pass, ssid, want string }{
		{"password", "IEEE", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"},
		{"ThisIsAPassword", "ThisIsASSID", "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"},
	} {
		got := wpaPMK(c.pass, c.ssid)
		if hex.EncodeToString(got[:]) != c.want {
			t.Errorf("PMK(%q, %q) = %x, want %s", c.pass, c.ssid, got, c.want)
		}
	}
}

// IEEE 802.11-2020 Annex J.3.2, test case 1: PRF-512 over HMAC-SHA1.
func TestPRFTestVector(t *testing.T) {
	key, _ := hex.DecodeString("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b")
	got := prf(key, "prefix", []byte("Hi There"), 64)
	want := "bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606e17d8da35402ffee75df78c3d31e0f889f012120c0862beb67753e7439ae242edb8373698356cf5a"
	if hex.EncodeToString(got) != want {
		t.Fatalf("PRF-512 = %x, want %s", got, want)
	}
}
