package service

import (
	"bytes"
	"crypto/aes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// WPA2-Personal's key hierarchy (IEEE 802.11-2020 §12.7.1), as far as
// dynamic PSK needs it (SPEC §9.3): which passphrase made a handshake's
// message 2.

// wpaPMK is the pairwise master key of a passphrase on an SSID:
// PBKDF2-HMAC-SHA1(passphrase, SSID, 4096, 32).
func wpaPMK(passphrase, ssid string) [32]byte {
	k, _ := pbkdf2.Key(sha1.New, passphrase, []byte(ssid), 4096, 32)
	return [32]byte(k)
}

// prf is IEEE 802.11's PRF-n over HMAC-SHA1: HMAC(K, A || 0 || B || i)
// for i = 0, 1, … until n bytes.
func prf(key []byte, label string, data []byte, n int) []byte {
	out := make([]byte, 0, n+sha1.Size)
	msg := make([]byte, 0, len(label)+1+len(data)+1)
	msg = append(append(append(msg, label...), 0), data...)
	msg = append(msg, 0)
	for i := byte(0); len(out) < n; i++ {
		msg[len(msg)-1] = i
		h := hmac.New(sha1.New, key)
		h.Write(msg)
		out = h.Sum(out)
	}
	return out[:n]
}

// eapolKey is what the handshake check needs of an EAPOL-Key frame.
type eapolKey struct {
	version byte   // key descriptor version: 1 HMAC-MD5, 2 HMAC-SHA1-128, 3 AES-128-CMAC
	snonce  []byte // the supplicant's nonce (message 2's key nonce)
	mic     []byte
	frame   []byte // the whole frame, MIC zeroed
}

// EAPOL-Key layout (IEEE 802.1X-2010 §11.3, 802.11-2020 §12.7.2): the
// 802.1X header (version, type 3 = Key, body length), then descriptor
// type, key information, key length, replay counter, key nonce, key IV,
// RSC, reserved, MIC (16 bytes with the AKMs here), key data length, key
// data.
const (
	eapolHeader    = 4
	eapolNonceAt   = eapolHeader + 1 + 2 + 2 + 8
	eapolMICAt     = eapolNonceAt + 32 + 16 + 8 + 8
	eapolMinLength = eapolMICAt + 16 + 2
)

var errNotKeyFrame = errors.New("not an EAPOL-Key frame")

// parseEAPOLKey checks an EAPOL-Key frame's framing and takes it apart.
func parseEAPOLKey(b []byte) (eapolKey, error) {
	if len(b) < eapolMinLength || len(b) > 1024 || b[1] != 3 {
		return eapolKey{}, errNotKeyFrame
	}
	body := int(binary.BigEndian.Uint16(b[2:4]))
	dataLen := int(binary.BigEndian.Uint16(b[eapolMICAt+16:]))
	if eapolHeader+body > len(b) || eapolMinLength+dataLen > eapolHeader+body {
		return eapolKey{}, errNotKeyFrame
	}
	b = b[:eapolHeader+body]
	info := binary.BigEndian.Uint16(b[eapolHeader+1:])
	k := eapolKey{version: byte(info & 7), snonce: b[eapolNonceAt : eapolNonceAt+32], mic: b[eapolMICAt : eapolMICAt+16]}
	k.frame = bytes.Clone(b)
	clear(k.frame[eapolMICAt : eapolMICAt+16])
	return k, nil
}

// ptkData is PRF's input for the pairwise key: min(AA,SPA) || max(AA,SPA)
// || min(ANonce,SNonce) || max(ANonce,SNonce).
func ptkData(aa, spa, anonce, snonce []byte) []byte {
	out := make([]byte, 0, 6+6+32+32)
	lo, hi := aa, spa
	if bytes.Compare(lo, hi) > 0 {
		lo, hi = hi, lo
	}
	out = append(append(out, lo...), hi...)
	lo, hi = anonce, snonce
	if bytes.Compare(lo, hi) > 0 {
		lo, hi = hi, lo
	}
	return append(append(out, lo...), hi...)
}

// micMatches reports whether pmk made the frame's MIC: the KCK (the PTK's
// first 16 bytes) keys HMAC-MD5 (version 1) or HMAC-SHA1 cut to 16 bytes
// (version 2) over the frame with its MIC zeroed, the KCK of PRF-SHA1; or
// AES-128-CMAC (version 3: PSK-SHA256, 802.11w) with the KCK of the SHA-256
// KDF (a 384-bit PTK).
func micMatches(pmk [32]byte, data []byte, k eapolKey) bool {
	var kck []byte
	if k.version == 3 {
		kck = kdfSHA256(pmk[:], "Pairwise key expansion", data, 384)[:16]
	} else {
		kck = prf(pmk[:], "Pairwise key expansion", data, 16)
	}
	var h []byte
	switch k.version {
	case 3:
		h = cmac(kck, k.frame)
	case 1:
		m := hmac.New(md5.New, kck)
		m.Write(k.frame)
		h = m.Sum(nil)
	case 2:
		m := hmac.New(sha1.New, kck)
		m.Write(k.frame)
		h = m.Sum(nil)[:16]
	default:
		return false
	}
	return hmac.Equal(h, k.mic)
}

// cmac is AES-128-CMAC (RFC 4493, NIST SP 800-38B) of msg under key.
func cmac(key, msg []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	// Subkeys: L = AES(K, 0); K1 = L·x, K2 = K1·x in GF(2^128).
	double := func(in []byte) []byte {
		out := make([]byte, 16)
		carry := in[0] >> 7
		for i := range 15 {
			out[i] = in[i]<<1 | in[i+1]>>7
		}
		out[15] = in[15] << 1
		if carry == 1 {
			out[15] ^= 0x87
		}
		return out
	}
	l := make([]byte, 16)
	block.Encrypt(l, l)
	k1 := double(l)
	k2 := double(k1)
	n := (len(msg) + 15) / 16
	last := make([]byte, 16)
	if n > 0 && len(msg)%16 == 0 {
		subtle.XORBytes(last, msg[(n-1)*16:], k1)
	} else {
		if n == 0 {
			n = 1
		}
		rest := msg[(n-1)*16:]
		copy(last, rest)
		last[len(rest)] = 0x80
		subtle.XORBytes(last, last, k2)
	}
	x := make([]byte, 16)
	for i := range n - 1 {
		subtle.XORBytes(x, x, msg[i*16:(i+1)*16])
		block.Encrypt(x, x)
	}
	subtle.XORBytes(x, x, last)
	block.Encrypt(x, x)
	return x
}

// kdfSHA256 is IEEE 802.11's KDF-Hash-Length with SHA-256 (§12.7.1.7.2):
// HMAC-SHA256(K, i || label || context || length), i and length in bits,
// both 16-bit little-endian, until bits/8 bytes.
func kdfSHA256(key []byte, label string, context []byte, bits int) []byte {
	out := make([]byte, 0, bits/8+sha256.Size)
	for i := uint16(1); len(out) < bits/8; i++ {
		h := hmac.New(sha256.New, key)
		h.Write([]byte{byte(i), byte(i >> 8)})
		h.Write([]byte(label))
		h.Write(context)
		h.Write([]byte{byte(bits), byte(bits >> 8)})
		out = h.Sum(out)
	}
	return out[:bits/8]
}
