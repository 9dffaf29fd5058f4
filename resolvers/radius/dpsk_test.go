package radius_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/radius"
	"github.com/residentportal/bff/resolvers/radius/radiustest"
	"github.com/residentportal/bff/resolvers/service"
	layeh "layeh.com/radius"
)

// handshake is radiustest.Handshake, failing t on an error.
func handshake(t *testing.T, passphrase, ssid string, aa, spa []byte) (anonce, frame []byte) {
	t.Helper()
	anonce, frame, err := radiustest.Handshake(passphrase, ssid, aa, spa)
	if err != nil {
		t.Fatal(err)
	}
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
	// 802.11w (PSK-SHA256, key descriptor version 3): the SHA-256 KDF and
	// an AES-128-CMAC MIC.
	spa3, _ := hex.DecodeString("02000000000a")
	anonce3, frame3, err := radiustest.HandshakeVersion(3, s.unit.Unit.Secret, "Residents", aa, spa3)
	if err != nil {
		t.Fatal(err)
	}
	if out := radclient(t, s.addr, s.secrets["127.0.0.1"], `Calling-Station-Id = "02-00-00-00-00-0A"`, `Called-Station-Id = "0A-00-00-00-00-01:Residents"`,
		`FreeRADIUS-802.1X-Anonce = 0x`+hex.EncodeToString(anonce3), `FreeRADIUS-802.1X-EAPoL-Key-Msg = 0x`+hex.EncodeToString(frame3)); !accepts(out, s.unit.Unit.Secret) {
		t.Fatalf("a version 3 handshake:\n%s", out)
	}
	frame3[90] ^= 1 // a corrupted MIC
	if out := radclient(t, s.addr, s.secrets["127.0.0.1"], `Calling-Station-Id = "02-00-00-00-00-0A"`, `Called-Station-Id = "0A-00-00-00-00-01:Residents"`,
		`FreeRADIUS-802.1X-Anonce = 0x`+hex.EncodeToString(anonce3), `FreeRADIUS-802.1X-EAPoL-Key-Msg = 0x`+hex.EncodeToString(frame3)); !strings.Contains(out, `Reply-Message = "`+service.RefusedNoMatch+`"`) {
		t.Fatalf("a corrupted MIC:\n%s", out)
	}
	// The right passphrase on another SSID than the one asked for.
	anonceW, frameW := handshake(t, s.unit.Unit.Secret, "Guests", aa, spa3)
	if out := radclient(t, s.addr, s.secrets["127.0.0.1"], `Calling-Station-Id = "02-00-00-00-00-0A"`, `Called-Station-Id = "0A-00-00-00-00-01:Residents"`,
		`FreeRADIUS-802.1X-Anonce = 0x`+hex.EncodeToString(anonceW), `FreeRADIUS-802.1X-EAPoL-Key-Msg = 0x`+hex.EncodeToString(frameW)); !strings.Contains(out, `Reply-Message = "`+service.RefusedNoMatch+`"`) {
		t.Fatalf("a handshake made for another SSID:\n%s", out)
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

// handshakeRequest is an Access-Request carrying a handshake (the
// Extended-Vendor-Specific-5 attributes encoded here, by the test), with a
// Message-Authenticator.
func handshakeRequest(t *testing.T, secret, mac string, anonce, frame []byte) []byte {
	t.Helper()
	p := layeh.New(layeh.CodeAccessRequest, []byte(secret))
	for typ, v := range map[layeh.Type]string{1: strings.ReplaceAll(strings.ToLower(mac), ":", ""),
		31: strings.ReplaceAll(mac, ":", "-"), 30: "0A-00-00-00-00-01:Residents"} {
		a, _ := layeh.NewString(v)
		p.Add(typ, a)
	}
	for typ, v := range map[byte][]byte{1: anonce, 2: frame} {
		p.Add(245, append([]byte{26, 0, 0, 0, 0x2c, 0x50, typ}, v...)) // FreeRADIUS's vendor id, 11344
	}
	p.Add(80, make(layeh.Attribute, 16))
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(md5.New, []byte(secret))
	h.Write(b)
	copy(b[len(b)-16:], h.Sum(nil))
	return b
}

// A flood of handshakes from devices no identity has (each a search of the
// whole property) is cut to the search budget; a known device's handshake
// (its own identity first, no search) is answered throughout.
func TestUnknownDeviceFloodIsBounded(t *testing.T) {
	s := newSite(t, radius.Options{SearchPerNAS: 1, Search: 100}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	aa, _ := hex.DecodeString("0a0000000001")
	secret := s.secrets["127.0.0.1"]
	for i := range 20 {
		mac := fmt.Sprintf("02:00:00:00:%02X:01", i)
		spa, _ := hex.DecodeString(strings.ReplaceAll(mac, ":", ""))
		anonce, frame := handshake(t, "nobody's passphrase", "Residents", aa, spa)
		exchange(t, "127.0.0.1", s.addr, handshakeRequest(t, secret, mac, anonce, frame), 50*time.Millisecond)
	}
	waitDropped(t, s, "search_budget", 10)
	spa, _ := hex.DecodeString(strings.ReplaceAll(s.mac, ":", ""))
	anonce, frame := handshake(t, s.unit.Unit.Secret, "Residents", aa, spa)
	r := exchange(t, "127.0.0.1", s.addr, handshakeRequest(t, secret, s.mac, anonce, frame), 3*time.Second)
	if r == nil || layeh.Code(r[0]) != layeh.CodeAccessAccept {
		t.Fatalf("the known device during the flood: %v", r)
	}
	if got := testutil.ToFloat64(radiusRequests(t, s.reg, "reject", "no_match")); got > 4 {
		t.Fatalf("%v searches of the property in about a second, want at most the budget's burst and refill", got)
	}
}

// A device the resident removed is refused when it joins again by
// handshake with the passphrase it still knows (and not recorded again),
// until the resident allows it again; a new passphrase ends the block too.
func TestRemovedDeviceStaysOut(t *testing.T) {
	s := newSite(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	ctx := context.Background()
	aa, _ := hex.DecodeString("0a0000000001")
	const mac = "02:00:00:00:0D:01"
	spa, _ := hex.DecodeString(strings.ReplaceAll(mac, ":", ""))
	join := func(passphrase string) string {
		anonce, frame := handshake(t, passphrase, "Residents", aa, spa)
		return radclient(t, s.addr, s.secrets["127.0.0.1"], `Calling-Station-Id = "02-00-00-00-0D-01"`, `Called-Station-Id = "0A-00-00-00-00-01:Residents"`,
			`FreeRADIUS-802.1X-Anonce = 0x`+hex.EncodeToString(anonce), `FreeRADIUS-802.1X-EAPoL-Key-Msg = 0x`+hex.EncodeToString(frame))
	}
	devices := func() int {
		return len(dbtest.Must[[]model.Device](t)(s.store.DevicesByUserIDs(ctx, []uuid.UUID{s.unit.Unit.UnitUserID})))
	}
	if out := join(s.unit.Unit.Secret); !strings.Contains(out, "Received Access-Accept") || devices() != 2 {
		t.Fatalf("first join (%d devices):\n%s", devices(), out)
	}
	scope := model.UnitScope(s.property.ID, s.unit.Unit.ID)
	dbtest.Must[model.ChangeRequest](t)(s.store.RemoveDevice(ctx, scope, s.unit.Unit.ID, nil, mac))
	if out := join(s.unit.Unit.Secret); !strings.Contains(out, `Reply-Message = "`+service.RefusedDeviceRemoved+`"`) || devices() != 1 {
		t.Fatalf("after removal (%d devices):\n%s", devices(), out)
	}
	if got := testutil.ToFloat64(radiusRequests(t, s.reg, "reject", "device_removed")); got != 1 {
		t.Errorf("%v refusals counted as device_removed", got)
	}
	if err := s.store.AllowDevice(ctx, scope, s.unit.Unit.UnitUserID, mac); err != nil {
		t.Fatal(err)
	}
	if out := join(s.unit.Unit.Secret); !strings.Contains(out, "Received Access-Accept") || devices() != 2 {
		t.Fatalf("allowed again (%d devices):\n%s", devices(), out)
	}
	// Removed again, then a new passphrase: the device knows it only if
	// the resident gave it, and joins.
	dbtest.Must[model.ChangeRequest](t)(s.store.RemoveDevice(ctx, scope, s.unit.Unit.ID, nil, mac))
	res, err := s.store.UpdateUnitUser(ctx, scope, s.unit.Unit.UnitUserID, model.UnitUserUpdate{Passphrase: dbtest.Ptr("")})
	if err != nil {
		t.Fatal(err)
	}
	fresh := res.User.Passphrase
	deadline := time.Now().Add(10 * time.Second)
	for out := join(fresh); !strings.Contains(out, "Received Access-Accept"); out = join(fresh) {
		if time.Now().After(deadline) {
			t.Fatalf("with the new passphrase:\n%s", out)
		}
		<-time.After(50 * time.Millisecond) // the access table learns of the new passphrase
	}
	if err := s.store.AllowDevice(ctx, scope, s.unit.Unit.UnitUserID, mac); model.ErrorCode(err) != model.CodeNotFound {
		t.Fatalf("the block outlived the passphrase: %v", err)
	}
}

// A property's cap on devices per identity: a new device joining by
// handshake past it is refused, and not recorded.
func TestDeviceCapRefusesANewDevice(t *testing.T) {
	s := newSite(t, radius.Options{Refresh: 50 * time.Millisecond}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	ctx := context.Background()
	dbtest.Must[model.Property](t)(s.store.UpdateProperty(ctx, s.property.ID, db.PropertyInput{MaxDevicesPerIdentity: dbtest.Ptr(1)}))
	aa, _ := hex.DecodeString("0a0000000001")
	const mac = "02:00:00:00:0C:01" // the identity has s.mac already: one device, the cap
	spa, _ := hex.DecodeString(strings.ReplaceAll(mac, ":", ""))
	deadline := time.Now().Add(10 * time.Second)
	for {
		anonce, frame := handshake(t, s.unit.Unit.Secret, "Residents", aa, spa)
		out := radclient(t, s.addr, s.secrets["127.0.0.1"], `Calling-Station-Id = "02-00-00-00-0C-01"`, `Called-Station-Id = "0A-00-00-00-00-01:Residents"`,
			`FreeRADIUS-802.1X-Anonce = 0x`+hex.EncodeToString(anonce), `FreeRADIUS-802.1X-EAPoL-Key-Msg = 0x`+hex.EncodeToString(frame))
		if strings.Contains(out, `Reply-Message = "`+service.RefusedDeviceLimit+`"`) {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(out, "Received Access-Accept") {
			t.Fatalf("want a refusal once the cap is read:\n%s", out)
		}
		// Accepted before the access points' table had the cap: undo it
		// (and the block a removal leaves).
		if _, err := s.store.RemoveDevice(ctx, model.UnitScope(s.property.ID, s.unit.Unit.ID), s.unit.Unit.ID, nil, mac); err != nil {
			t.Fatal(err)
		}
		if err := s.store.AllowDevice(ctx, model.PropertyScope(s.property.ID), s.unit.Unit.UnitUserID, mac); err != nil {
			t.Fatal(err)
		}
		<-time.After(50 * time.Millisecond)
	}
	devices := dbtest.Must[[]model.Device](t)(s.store.DevicesByUnitIDs(ctx, []uuid.UUID{s.unit.Unit.ID}, nil))
	if len(devices) != 1 || devices[0].MACAddress != s.mac {
		t.Fatalf("devices after the refusal: %+v", devices)
	}
}

// Two replicas, each with its tables and PMKs in memory: once a resident's
// new passphrase is committed (on either, or anywhere), neither accepts the
// old one's handshake, and both accept the new one's.
func TestPassphraseChangeReachesEveryReplica(t *testing.T) {
	s := newSiteWith(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd}, true)
	other, _ := serve(t, s.store, radius.Options{Registry: prometheus.NewRegistry()}, true)
	aa, _ := hex.DecodeString("0a0000000001")
	spa, _ := hex.DecodeString(strings.ReplaceAll(s.mac, ":", ""))
	ask := func(server, passphrase string) string {
		anonce, frame := handshake(t, passphrase, "Residents", aa, spa)
		return radclient(t, server, s.secrets["127.0.0.1"], `Calling-Station-Id = "AA-BB-CC-00-11-22"`, `Called-Station-Id = "0A-00-00-00-00-01:Residents"`,
			`FreeRADIUS-802.1X-Anonce = 0x`+hex.EncodeToString(anonce), `FreeRADIUS-802.1X-EAPoL-Key-Msg = 0x`+hex.EncodeToString(frame))
	}
	old := s.unit.Unit.Secret
	for _, server := range []string{s.addr, other} { // both hold the table and the old PMK
		if out := ask(server, old); !strings.Contains(out, "Received Access-Accept") {
			t.Fatalf("before the change, %s:\n%s", server, out)
		}
	}
	regenerate := ""
	res, err := s.store.UpdateUnitUser(context.Background(), model.UnitScope(s.property.ID, s.unit.Unit.ID), s.unit.Unit.UnitUserID,
		model.UnitUserUpdate{Passphrase: &regenerate})
	if err != nil {
		t.Fatal(err)
	}
	for _, server := range []string{s.addr, other} {
		deadline := time.Now().Add(5 * time.Second)
		for out := ask(server, old); !strings.Contains(out, "Received Access-Reject"); out = ask(server, old) {
			if time.Now().After(deadline) {
				t.Fatalf("the old passphrase still accepted by %s 5 s after the change:\n%s", server, out)
			}
			<-time.After(20 * time.Millisecond)
		}
		if out := ask(server, res.User.Passphrase); !strings.Contains(out, `Tunnel-Password:0 = "`+res.User.Passphrase+`"`) {
			t.Fatalf("the new passphrase on %s:\n%s", server, out)
		}
	}
}

// Ruckus's external DPSK: the handshake in Ruckus-DPSK-Params (as
// dictionary.ruckus encodes the TLV), the SSID and BSSID in Ruckus-SSID and
// Ruckus-BSSID; the Access-Accept carries the matched PMK in Ruckus-Dpsk.
func TestRuckusDynamicPSKWithRadclient(t *testing.T) {
	s := newSite(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASRuckus})
	aa, _ := hex.DecodeString("0a0000000001")
	spa, _ := hex.DecodeString("020000000b01")
	ask := func(passphrase, ssid string) string {
		anonce, frame := handshake(t, passphrase, ssid, aa, spa)
		return radclient(t, s.addr, s.secrets["127.0.0.1"], `User-Name = "020000000b01"`, `Calling-Station-Id = "02-00-00-00-0B-01"`,
			`Ruckus-SSID = "Residents"`, `Ruckus-BSSID = 0x0a0000000001`, `Ruckus-DPSK-AKM-Suite = 0x000fac02`,
			`Ruckus-DPSK-Cipher = 4`, `Ruckus-DPSK-Anonce = 0x`+hex.EncodeToString(anonce),
			`Ruckus-DPSK-EAPOL-Key-Frame = 0x`+hex.EncodeToString(frame))
	}
	pass := s.unit.Unit.Secret
	pmk, err := pbkdf2.Key(sha1.New, pass, []byte("Residents"), 4096, 32)
	if err != nil {
		t.Fatal(err)
	}
	out := ask(pass, "Residents")
	for _, want := range []string{"Received Access-Accept", "Ruckus-Dpsk = 0x" + hex.EncodeToString(pmk), "Class = 0x"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	// Another passphrase's handshake, or one made for another SSID than
	// the one Ruckus-SSID names: refused, no PMK.
	for _, c := range []struct{ passphrase, ssid string }{{"not anyone's passphrase", "Residents"}, {pass, "Guests"}} {
		if out := ask(c.passphrase, c.ssid); !strings.Contains(out, `Reply-Message = "`+service.RefusedNoMatch+`"`) || strings.Contains(out, "Ruckus-Dpsk") {
			t.Fatalf("%+v:\n%s", c, out)
		}
	}
}
