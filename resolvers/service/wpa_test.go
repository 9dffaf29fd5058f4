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

// RFC 4493 §4: AES-CMAC examples 1 to 4 (empty, one block, a block and a
// quarter, four blocks).
func TestCMACTestVectors(t *testing.T) {
	key, _ := hex.DecodeString("2b7e151628aed2a6abf7158809cf4f3c")
	msg, _ := hex.DecodeString("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, c := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		if got := hex.EncodeToString(cmac(key, msg[:c.n])); got != c.want {
			t.Errorf("CMAC of %d bytes = %s, want %s", c.n, got, c.want)
		}
	}
}
