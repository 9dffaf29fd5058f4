// Package radiustest is what tests of the RADIUS server share: a device's
// side of a WPA2 4-way handshake, written for the tests (not the server's
// code, which is held to IEEE 802.11's test vectors), and FreeRADIUS's
// radclient as the access point.
package radiustest

import (
	"bytes"
	"crypto/aes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"os/exec"
	"strings"

	"layeh.com/radius"
)

// Handshake makes a 4-way handshake's ANonce and EAPOL-Key message 2
// (descriptor version 2, HMAC-SHA1-128) as a device holding passphrase
// would, between the access point aa and the device spa (6 bytes each).
func Handshake(passphrase, ssid string, aa, spa []byte) (anonce, frame []byte, err error) {
	return HandshakeVersion(2, passphrase, ssid, aa, spa)
}

// HandshakeVersion is Handshake with key descriptor version 2 or 3 (PSK-SHA256,
// 802.11w: the PTK from the SHA-256 KDF, the MIC by AES-128-CMAC).
func HandshakeVersion(version byte, passphrase, ssid string, aa, spa []byte) (anonce, frame []byte, err error) {
	anonce, snonce := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(anonce)
	_, _ = rand.Read(snonce)
	pmk, err := pbkdf2.Key(sha1.New, passphrase, []byte(ssid), 4096, 32)
	if err != nil {
		return nil, nil, err
	}
	order := func(a, b []byte) []byte {
		if bytes.Compare(a, b) > 0 {
			a, b = b, a
		}
		return append(append([]byte{}, a...), b...)
	}
	data := append(order(aa, spa), order(anonce, snonce)...)
	var ptk []byte
	if version == 3 { // KDF-SHA256-384: HMAC-SHA256(PMK, counter || label || data || 384), little-endian counters
		for i := 1; len(ptk) < 48; i++ {
			h := hmac.New(sha256.New, pmk)
			h.Write(binary.LittleEndian.AppendUint16(nil, uint16(i)))
			h.Write([]byte("Pairwise key expansion"))
			h.Write(data)
			h.Write(binary.LittleEndian.AppendUint16(nil, 384))
			ptk = h.Sum(ptk)
		}
	} else {
		for i := byte(0); len(ptk) < 64; i++ {
			h := hmac.New(sha1.New, pmk)
			h.Write(append(append([]byte("Pairwise key expansion\x00"), data...), i))
			ptk = h.Sum(ptk)
		}
	}
	rsnIE, _ := hex.DecodeString("30140100000fac040100000fac040100000fac020000")
	var body bytes.Buffer
	body.WriteByte(2)                          // descriptor: RSN
	body.Write([]byte{0x01, 0x08 | version})   // key info: pairwise, MIC, the descriptor version
	body.Write([]byte{0, 0})                   // key length
	body.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1}) // replay counter
	body.Write(snonce)
	body.Write(make([]byte, 16+8+8+16)) // IV, RSC, reserved, MIC (zero for now)
	body.Write([]byte{0, byte(len(rsnIE))})
	body.Write(rsnIE)
	frame = append([]byte{1, 3, byte(body.Len() >> 8), byte(body.Len())}, body.Bytes()...)
	if version == 3 {
		copy(frame[81:97], aesCMAC(ptk[:16], frame))
		return anonce, frame, nil
	}
	h := hmac.New(sha1.New, ptk[:16])
	h.Write(frame)
	copy(frame[81:97], h.Sum(nil)[:16])
	return anonce, frame, nil
}

// aesCMAC is AES-128-CMAC (RFC 4493) as its pseudocode reads, for the
// frames the tests make (not the server's code).
func aesCMAC(key, m []byte) []byte {
	c, _ := aes.NewCipher(key)
	shift := func(b []byte) []byte { // b·x in GF(2^128)
		out := new(big.Int).Lsh(new(big.Int).SetBytes(b), 1).FillBytes(make([]byte, 17))[1:]
		if b[0]&0x80 != 0 {
			out[15] ^= 0x87
		}
		return out
	}
	l := make([]byte, 16)
	c.Encrypt(l, l)
	k1 := shift(l)
	k2 := shift(k1)
	blocks := [][]byte{}
	for i := 0; i < len(m); i += 16 {
		blocks = append(blocks, append([]byte{}, m[i:min(i+16, len(m))]...))
	}
	if len(blocks) == 0 || len(blocks[len(blocks)-1]) < 16 {
		if len(blocks) == 0 {
			blocks = append(blocks, nil)
		}
		last := append(blocks[len(blocks)-1], 0x80)
		last = append(last, make([]byte, 16-len(last))...)
		for i := range last {
			last[i] ^= k2[i]
		}
		blocks[len(blocks)-1] = last
	} else {
		for i := range 16 {
			blocks[len(blocks)-1][i] ^= k1[i]
		}
	}
	x := make([]byte, 16)
	for _, b := range blocks {
		for i := range 16 {
			x[i] ^= b[i]
		}
		c.Encrypt(x, x)
	}
	return x
}

// HandshakeAttributes are radclient's lines for a handshake of mac
// (AA:BB:CC:DD:EE:FF) made with passphrase on ssid, through the access
// point with BSSID 0A:00:00:00:00:01.
func HandshakeAttributes(mac, passphrase, ssid string) ([]string, error) {
	aa, _ := hex.DecodeString("0a0000000001")
	spa, err := hex.DecodeString(strings.ReplaceAll(mac, ":", ""))
	if err != nil {
		return nil, err
	}
	anonce, frame, err := Handshake(passphrase, ssid, aa, spa)
	if err != nil {
		return nil, err
	}
	return []string{`Calling-Station-Id = "` + strings.ReplaceAll(mac, ":", "-") + `"`,
		`Called-Station-Id = "0A-00-00-00-00-01:` + ssid + `"`,
		`FreeRADIUS-802.1X-Anonce = 0x` + hex.EncodeToString(anonce),
		`FreeRADIUS-802.1X-EAPoL-Key-Msg = 0x` + hex.EncodeToString(frame)}, nil
}

// Radclient sends one request (kind auth, acct or disconnect) with FreeRADIUS's
// radclient and dictionaries, and returns what it printed: the reply's
// attributes decoded, encrypted ones decrypted. An Access-Request and a
// Disconnect-Request (kind disconnect) get a Message-Authenticator.
func Radclient(server, kind, secret string, attrs ...string) (string, error) {
	if kind == "auth" || kind == "disconnect" {
		attrs = append(attrs, "Message-Authenticator = 0x00")
	}
	cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "3", "-D", "/usr/share/freeradius", "-d", "/nonexistent", server, kind, secret)
	cmd.Stdin = strings.NewReader(strings.Join(attrs, ",\n") + "\n")
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); ok {
		err = nil // a reject, or no reply, exits 1: the output says which
	}
	return string(out), err
}

// MACRequest is an Access-Request for a MAC authentication (User-Name and
// Calling-Station-Id the MAC, Called-Station-Id as given) with identifier
// id, a fresh authenticator and a valid Message-Authenticator, as hostapd
// sends it.
func MACRequest(secret, mac, called string, id byte) ([]byte, error) {
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	p.Identifier = id
	flat := strings.ToLower(strings.NewReplacer(":", "", "-", "").Replace(mac))
	for _, a := range []struct {
		t radius.Type
		v string
	}{{1, flat}, {31, strings.ReplaceAll(mac, ":", "-")}, {30, called}} {
		v, err := radius.NewString(a.v)
		if err != nil {
			return nil, err
		}
		p.Add(a.t, v)
	}
	p.Add(80, make(radius.Attribute, 16))
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	h := hmac.New(md5.New, []byte(secret))
	h.Write(b)
	copy(b[len(b)-16:], h.Sum(nil))
	return b, nil
}
