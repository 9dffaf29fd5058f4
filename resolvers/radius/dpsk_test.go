package radius_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/radius"
	"github.com/residentportal/bff/resolvers/service"
)

// handshake makes a 4-way handshake's ANonce and EAPOL-Key message 2 as a
// device holding passphrase would, with this test's own WPA2 key
// derivation (the server's is held to IEEE 802.11's test vectors).
func handshake(t *testing.T, passphrase, ssid string, aa, spa []byte) (anonce, frame []byte) {
	t.Helper()
	anonce, snonce := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(anonce)
	_, _ = rand.Read(snonce)
	pmk, err := pbkdf2.Key(sha1.New, passphrase, []byte(ssid), 4096, 32)
	if err != nil {
		t.Fatal(err)
	}
	order := func(a, b []byte) []byte {
		if bytes.Compare(a, b) > 0 {
			a, b = b, a
		}
		return append(append([]byte{}, a...), b...)
	}
	data := append(order(aa, spa), order(anonce, snonce)...)
	var ptk []byte
	for i := byte(0); len(ptk) < 64; i++ {
		h := hmac.New(sha1.New, pmk)
		h.Write(append(append([]byte("Pairwise key expansion\x00"), data...), i))
		ptk = h.Sum(ptk)
	}
	rsnIE, _ := hex.DecodeString("30140100000fac040100000fac040100000fac020000")
	var body bytes.Buffer
	body.WriteByte(2)                          // descriptor: RSN
	body.Write([]byte{0x01, 0x0a})             // key info: pairwise, MIC, version 2 (HMAC-SHA1-128)
	body.Write([]byte{0, 0})                   // key length
	body.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1}) // replay counter
	body.Write(snonce)
	body.Write(make([]byte, 16+8+8+16)) // IV, RSC, reserved, MIC (zero for now)
	body.Write([]byte{0, byte(len(rsnIE))})
	body.Write(rsnIE)
	frame = append([]byte{1, 3, byte(body.Len() >> 8), byte(body.Len())}, body.Bytes()...)
	h := hmac.New(sha1.New, ptk[:16])
	h.Write(frame)
	copy(frame[81:97], h.Sum(nil)[:16])
	return anonce, frame
}

func TestDynamicPSKByHandshakeWithRadclient(t *testing.T) {
	s := newSite(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	ctx := context.Background()
	// More identities than one request derives PMKs for: a new device's
	// passphrase may be found only once the background has derived them.
	var units []db.CreatedUnit
	for i := range 12 {
		units = append(units, dbtest.Must[db.CreatedUnit](t)(s.store.CreateUnit(ctx, db.NewUnit{PropertyID: s.property.ID, Number: fmt.Sprint(200 + i)})))
	}
	aa, _ := hex.DecodeString("0a0000000001")
	ask := func(mac, passphrase string, frameOf func([]byte) []byte) string {
		spa, _ := hex.DecodeString(strings.ReplaceAll(mac, ":", ""))
		anonce, frame := handshake(t, passphrase, "Residents", aa, spa)
		if frameOf != nil {
			frame = frameOf(frame)
		}
		return radclient(t, s.addr, s.secrets["127.0.0.1"], `User-Name = "`+strings.ReplaceAll(strings.ToLower(mac), ":", "")+`"`,
			`Calling-Station-Id = "`+strings.ReplaceAll(mac, ":", "-")+`"`, `Called-Station-Id = "0A-00-00-00-00-01:Residents"`,
			`FreeRADIUS-802.1X-Anonce = 0x`+hex.EncodeToString(anonce), `FreeRADIUS-802.1X-EAPoL-Key-Msg = 0x`+hex.EncodeToString(frame))
	}
	accepts := func(out, passphrase string) bool {
		return strings.Contains(out, "Received Access-Accept") && strings.Contains(out, `Tunnel-Password:0 = "`+passphrase+`"`)
	}
	// The site's device, with its own unit's passphrase: found first.
	if out := ask(s.mac, s.unit.Unit.Secret, nil); !accepts(out, s.unit.Unit.Secret) {
		t.Fatalf("the known device:\n%s", out)
	}
	// A new device with the last unit's passphrase: accepted (perhaps on
	// a retry, once the PMKs are derived) and recorded as its device.
	last := units[len(units)-1]
	const newMAC = "02:00:00:00:0A:0B"
	deadline := time.Now().Add(20 * time.Second)
	for out := ask(newMAC, last.Unit.Secret, nil); !accepts(out, last.Unit.Secret); out = ask(newMAC, last.Unit.Secret, nil) {
		if !strings.Contains(out, `Reply-Message = "`+service.RefusedNoMatch+`"`) || time.Now().After(deadline) {
			t.Fatalf("the new device:\n%s", out)
		}
		<-time.After(100 * time.Millisecond)
	}
	devices := dbtest.Must[[]model.Device](t)(s.store.DevicesByUnitIDs(ctx, []uuid.UUID{last.Unit.ID}, nil))
	if len(devices) != 1 || devices[0].MACAddress != newMAC || devices[0].UserID != last.Unit.UnitUserID {
		t.Fatalf("the new device was not recorded with its identity: %+v", devices)
	}
	// A passphrase no identity has; a frame that is no EAPOL-Key frame.
	if out := ask("02:00:00:00:0A:0C", "not anyone's passphrase", nil); !strings.Contains(out, `Reply-Message = "`+service.RefusedNoMatch+`"`) {
		t.Fatalf("an unknown passphrase:\n%s", out)
	}
	if out := ask("02:00:00:00:0A:0C", last.Unit.Secret, func(f []byte) []byte { return f[:40] }); !strings.Contains(out, `Reply-Message = "`+service.RefusedHandshake+`"`) {
		t.Fatalf("a cut frame:\n%s", out)
	}
	// A new passphrase: the old one's handshake is refused at once, the
	// new one's accepted (the old PMK is not used).
	regenerate := ""
	res, err := s.store.UpdateUnitUser(ctx, model.UnitScope(s.property.ID, last.Unit.ID), last.Unit.UnitUserID, model.UnitUserUpdate{Passphrase: &regenerate})
	if err != nil {
		t.Fatal(err)
	}
	if out := ask(newMAC, last.Unit.Secret, nil); accepts(out, last.Unit.Secret) || !strings.Contains(out, "Received Access-Reject") {
		t.Fatalf("the old passphrase after the change:\n%s", out)
	}
	if out := ask(newMAC, res.User.Passphrase, nil); !accepts(out, res.User.Passphrase) {
		t.Fatalf("the new passphrase:\n%s", out)
	}
}
