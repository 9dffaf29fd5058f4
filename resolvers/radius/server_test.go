package radius_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
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

// site is a property with one unit whose UNIT identity has a device, and
// access points on loopback addresses, served by a RADIUS server.
type site struct {
	store    *db.DB
	property model.Property
	unit     db.CreatedUnit
	mac      string
	secrets  map[string]string // by access point address
	addr     string            // the server's
	acct     string            // its accounting port's
	reg      *prometheus.Registry
}

func newSite(t *testing.T, opts radius.Options, profiles map[string]model.NASProfile) *site {
	t.Helper()
	return newSiteWith(t, opts, profiles, false)
}

// newSiteWith is newSite; with live set, the service hears the live-update
// notices (as portald's does), so it keeps its access tables in memory.
func newSiteWith(t testing.TB, opts radius.Options, profiles map[string]model.NASProfile, live bool) *site {
	t.Helper()
	ctx := context.Background()
	store := dbtest.New(t)
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Harbour View"),
		SSIDs: []string{"Residents"}}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "101"}))
	s := &site{store: store, property: p, unit: u, mac: "AA:BB:CC:00:11:22", secrets: map[string]string{}}
	dbtest.Must[model.Device](t)(store.AddDevice(ctx, model.UnitScope(p.ID, u.Unit.ID), db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: s.mac}))
	for addr, profile := range profiles {
		n := dbtest.Must[db.CreatedNAS](t)(store.CreateNAS(ctx, model.NAS{PropertyID: p.ID, Name: "ap " + addr,
			Address: netip.MustParsePrefix(addr + "/32"), Profile: profile}))
		s.secrets[addr] = n.Secret
	}
	s.reg = prometheus.NewRegistry()
	opts.Registry = s.reg
	s.addr, s.acct = serve(t, store, opts, live)
	return s
}

// serve runs a RADIUS server (a replica: its own service, notices and
// tables) over store and returns its addresses.
func serve(t testing.TB, store *db.DB, opts radius.Options, live bool) (auth, acct string) {
	t.Helper()
	ctx := context.Background()
	svcOpts := service.Options{}
	if live {
		events := service.NewEvents()
		svcOpts.Events = events
		listenCtx, stopListening := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			store.Listen(listenCtx, db.EventsChannel, events.Notice, events.ListenerUp, slog.New(slog.DiscardHandler))
		}()
		t.Cleanup(func() { stopListening(); <-stopped })
		for deadline := time.Now().Add(10 * time.Second); !events.Up(); {
			if time.Now().After(deadline) {
				t.Fatal("the notice connection did not come up")
			}
			<-time.After(10 * time.Millisecond)
		}
	}
	srv := radius.New(service.New(store, dbtest.Keys(t), svcOpts), opts)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acctConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn, acctConn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return conn.LocalAddr().String(), acctConn.LocalAddr().String()
}

// radclient sends one Access-Request with FreeRADIUS's radclient (see
// radiustest.Radclient).
func radclient(t *testing.T, server, secret string, attrs ...string) string {
	t.Helper()
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Fatal("radclient is required: make test installs it (.ci/services.sh radclient)")
	}
	out, err := radiustest.Radclient(server, "auth", secret, attrs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIdentityPSKByMACWithRadclient(t *testing.T) {
	profiles := map[string]model.NASProfile{"127.0.0.1": model.NASHostapd, "127.0.0.2": model.NASCisco, "127.0.0.3": model.NASAruba}
	s := newSite(t, radius.Options{}, profiles)
	if _, err := s.store.Pool().Exec(context.Background(), `UPDATE units SET vlan_id = 120 WHERE id = $1`, s.unit.Unit.ID); err != nil {
		t.Fatal(err)
	}
	request := []string{`User-Name = "aabbcc001122"`, `Calling-Station-Id = "AA-BB-CC-00-11-22"`,
		`Called-Station-Id = "00-11-22-33-44-55:Residents"`}
	pass := s.unit.Unit.Secret
	for addr, want := range map[string][]string{
		"127.0.0.1": {`Tunnel-Password:0 = "` + pass + `"`},
		"127.0.0.2": {`Cisco-AVPair = "psk-mode=ascii"`, `Cisco-AVPair = "psk=` + pass + `"`},
		"127.0.0.3": {`Aruba-MPSK-Passphrase = 0x` + hex.EncodeToString([]byte(pass))}, // octets, decrypted
	} {
		t.Run(string(profiles[addr]), func(t *testing.T) {
			out := radclientFrom(t, addr, s.addr, s.secrets[addr], request...)
			for _, w := range append(want, "Received Access-Accept", `Tunnel-Type:1 = VLAN`, `Tunnel-Medium-Type:1 = IEEE-802`,
				`Tunnel-Private-Group-Id:1 = "120"`, "Class = 0x") {
				if !strings.Contains(out, w) {
					t.Errorf("radclient printed no %q:\n%s", w, out)
				}
			}
			// The Blast-RADIUS rule: Message-Authenticator first.
			if _, reply, _ := strings.Cut(out, "Received Access-Accept"); !strings.HasPrefix(strings.TrimSpace(strings.SplitN(reply, "\n", 2)[1]), "Message-Authenticator = 0x") {
				t.Errorf("the reply's first attribute is not Message-Authenticator:\n%s", out)
			}
		})
	}
}

// radclientFrom sends from a given loopback address (radclient binds it with
// -S? it has no such flag: a Packet-Src-IP-Address attribute does it).
func radclientFrom(t *testing.T, from, server, secret string, attrs ...string) string {
	return radclient(t, server, secret, append(attrs, `Packet-Src-IP-Address = `+from)...)
}

func TestRefusalsSayWhyAndNoSecret(t *testing.T) {
	s := newSite(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	ctx := context.Background()
	ask := func(mac, called string) string {
		return radclient(t, s.addr, s.secrets["127.0.0.1"], `User-Name = "`+mac+`"`, `Calling-Station-Id = "`+mac+`"`,
			`Called-Station-Id = "`+called+`"`)
	}
	cases := []struct {
		name, mac, called, reason string
		before                    func()
	}{
		{"unknown device", "02-00-00-00-00-01", "00-11-22-33-44-55:Residents", service.RefusedUnknownDevice, nil},
		{"another SSID", "AA-BB-CC-00-11-22", "00-11-22-33-44-55:Guests", service.RefusedSSID, nil},
		{"no SSID", "AA-BB-CC-00-11-22", "00-11-22-33-44-55", service.RefusedSSID, nil},
		{"identity blocked", "aabb.cc00.1122", "00:11:22:33:44:55:Residents", service.RefusedBlocked, func() {
			_, err := s.store.Pool().Exec(ctx, `UPDATE unit_users SET status = 'BLOCKED' WHERE id = $1`, s.unit.Unit.UnitUserID)
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"unit disabled", "aa:bb:cc:00:11:22", "001122334455:Residents", service.RefusedUnitDisabled, func() {
			_, err := s.store.Pool().Exec(ctx, `UPDATE unit_users SET status = 'ACTIVE' WHERE id = $1; `, s.unit.Unit.UnitUserID)
			if err == nil {
				_, err = s.store.Pool().Exec(ctx, `UPDATE units SET status = 'DISABLED' WHERE id = $1`, s.unit.Unit.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		if c.before != nil {
			c.before()
		}
		out := ask(c.mac, c.called)
		if !strings.Contains(out, "Received Access-Reject") || !strings.Contains(out, `Reply-Message = "`+c.reason+`"`) {
			t.Errorf("%s: want a reject saying %q:\n%s", c.name, c.reason, out)
		}
		if strings.Contains(out, s.unit.Unit.Secret) || strings.Contains(out, "Tunnel-Password") {
			t.Errorf("%s: a reject carries a secret:\n%s", c.name, out)
		}
	}
	if got := testutil.ToFloat64(radiusRequests(t, s.reg, "reject", "ssid")); got != 2 {
		t.Errorf("rejects for the SSID counted %v, want 2", got)
	}
}

func radiusRequests(t *testing.T, reg *prometheus.Registry, result, reason string) prometheus.Collector {
	t.Helper()
	return counterFrom(t, reg, "portal_radius_requests_total", map[string]string{"result": result, "reason": reason})
}

// counterFrom is a gathered counter's value as a collector testutil reads.
func counterFrom(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metric
				}
			}
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return v })
}

// request is an Access-Request for the site's device from an access point,
// encoded as a client would (Message-Authenticator computed here, by the
// test, over layeh's encoding).
func request(t *testing.T, secret string, withAuthenticator bool) []byte {
	t.Helper()
	p := layeh.New(layeh.CodeAccessRequest, []byte(secret))
	for typ, v := range map[layeh.Type]string{1: "aabbcc001122", 31: "AA-BB-CC-00-11-22", 30: "00-11-22-33-44-55:Residents"} {
		a, _ := layeh.NewString(v)
		p.Add(typ, a)
	}
	if withAuthenticator {
		p.Add(80, make(layeh.Attribute, 16))
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if withAuthenticator {
		mac := hmac.New(md5.New, []byte(secret))
		mac.Write(b)
		copy(b[len(b)-16:], mac.Sum(nil))
	}
	return b
}

// exchange sends b from a loopback address and returns the reply (nil when
// none came within wait).
func exchange(t *testing.T, from, server string, b []byte, wait time.Duration) []byte {
	t.Helper()
	conn, err := net.ListenPacket("udp", from+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to, _ := net.ResolveUDPAddr("udp", server)
	if _, err := conn.WriteTo(b, to); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func dropped(t *testing.T, s *site, cause string) float64 {
	return testutil.ToFloat64(counterFrom(t, s.reg, "portal_radius_dropped_total", map[string]string{"cause": cause}))
}

// waitDropped polls until the cause's count reaches want.
func waitDropped(t *testing.T, s *site, cause string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for dropped(t, s, cause) < want {
		if time.Now().After(deadline) {
			t.Fatalf("dropped for %s: %v, want %v", cause, dropped(t, s, cause), want)
		}
		<-time.After(10 * time.Millisecond)
	}
}

func TestHostileAccessRequestsAreDropped(t *testing.T) {
	s := newSite(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	secret := s.secrets["127.0.0.1"]
	// Blast-RADIUS: no Message-Authenticator, or one that does not verify.
	if r := exchange(t, "127.0.0.1", s.addr, request(t, secret, false), 300*time.Millisecond); r != nil {
		t.Fatal("a request without Message-Authenticator was answered")
	}
	waitDropped(t, s, "no_message_authenticator", 1)
	if r := exchange(t, "127.0.0.1", s.addr, request(t, "another secret", true), 300*time.Millisecond); r != nil {
		t.Fatal("a request signed with another secret was answered")
	}
	waitDropped(t, s, "bad_message_authenticator", 1)
	// A source no access point has.
	if r := exchange(t, "127.0.0.9", s.addr, request(t, secret, true), 300*time.Millisecond); r != nil {
		t.Fatal("a request from an unknown source was answered")
	}
	waitDropped(t, s, "unknown_source", 1)
	// Malformed: short, a length past the datagram, an attribute running
	// past the end, and a datagram longer than RADIUS allows.
	good := request(t, secret, true)
	long := append(append([]byte(nil), good...), make([]byte, 5000)...)
	long[2], long[3] = byte(len(long)>>8), byte(len(long))
	badAttr := append([]byte(nil), good...)
	badAttr[21] = 250
	for i, b := range [][]byte{good[:19], append(append([]byte(nil), good[:4]...), good[4:30]...), badAttr, long} {
		if r := exchange(t, "127.0.0.1", s.addr, b, 200*time.Millisecond); r != nil {
			t.Fatalf("malformed packet %d was answered", i)
		}
	}
	waitDropped(t, s, "malformed", 4)
	// And the server still answers a good request.
	if r := exchange(t, "127.0.0.1", s.addr, good, 3*time.Second); r == nil || layeh.Code(r[0]) != layeh.CodeAccessAccept {
		t.Fatalf("a good request after the hostile ones: %v", r)
	}
}

func TestRetransmissionGetsTheSameReply(t *testing.T) {
	s := newSite(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to, _ := net.ResolveUDPAddr("udp", s.addr)
	b := request(t, s.secrets["127.0.0.1"], true)
	var replies [][]byte
	for range 2 {
		if _, err := conn.WriteTo(b, to); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 4096)
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, buf[:n])
	}
	// Tunnel-Password's salt is random: a reply decided twice would differ.
	if string(replies[0]) != string(replies[1]) {
		t.Fatal("the retransmission got another reply")
	}
	if got := testutil.ToFloat64(counterFrom(t, s.reg, "portal_radius_retransmissions_total", nil)); got != 1 {
		t.Fatalf("retransmissions counted %v, want 1", got)
	}
	if got := testutil.ToFloat64(radiusRequests(t, s.reg, "accept", "")); got != 1 {
		t.Fatalf("accepts counted %v, want 1 (the retransmission is not decided again)", got)
	}
}

func TestOneAccessPointsFloodStarvesNoOther(t *testing.T) {
	s := newSite(t, radius.Options{PerNAS: 20, PerNASBurst: 20}, map[string]model.NASProfile{
		"127.0.0.1": model.NASHostapd, "127.0.0.2": model.NASHostapd})
	flood, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	to, _ := net.ResolveUDPAddr("udp", s.addr)
	start := time.Now()
	for range 500 { // each a new request (a new authenticator)
		if _, err := flood.WriteTo(request(t, s.secrets["127.0.0.1"], true), to); err != nil {
			t.Fatal(err)
		}
	}
	waitDropped(t, s, "nas_budget", 100)
	// The other access point asks, and asks again as access points do
	// when no answer comes (a loaded machine may be slow, never silent).
	var r []byte
	for try := 0; try < 5 && r == nil; try++ {
		r = exchange(t, "127.0.0.2", s.addr, request(t, s.secrets["127.0.0.2"], true), 2*time.Second)
	}
	if r == nil || layeh.Code(r[0]) != layeh.CodeAccessAccept {
		t.Fatalf("the other access point's request during the flood: %v", r)
	}
	// The flooding one was decided no more than its budget allows (burst
	// and rate), the other's request included.
	allowed := 20 + 20*time.Since(start).Seconds() + 1
	if got := testutil.ToFloat64(radiusRequests(t, s.reg, "accept", "")); got > allowed {
		t.Fatalf("%v requests decided, want at most %.0f", got, allowed)
	}
}

// radacct sends one Accounting-Request with radclient.
func radacct(t *testing.T, server, secret string, attrs ...string) string {
	t.Helper()
	out, err := radiustest.Radclient(server, "acct", secret, attrs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAccountingMakesDevicesOnline(t *testing.T) {
	s := newSite(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	ctx := context.Background()
	online := func() model.Device {
		t.Helper()
		ds := dbtest.Must[[]model.Device](t)(s.store.DevicesByUnitIDs(ctx, []uuid.UUID{s.unit.Unit.ID}, nil))
		if len(ds) != 1 {
			t.Fatalf("devices: %v", ds)
		}
		return ds[0]
	}
	report := func(status, session string) string {
		return radacct(t, s.acct, s.secrets["127.0.0.1"], `Acct-Status-Type = `+status, `Acct-Session-Id = "`+session+`"`,
			`Calling-Station-Id = "AA-BB-CC-00-11-22"`, `User-Name = "aabbcc001122"`, `NAS-IP-Address = 127.0.0.1`)
	}
	if d := online(); d.Online || d.LastSeen != nil {
		t.Fatalf("before any accounting: %+v", d)
	}
	if out := report("Start", "s-1"); !strings.Contains(out, "Received Accounting-Response") {
		t.Fatalf("Start: %s", out)
	}
	if d := online(); !d.Online || d.LastSeen == nil {
		t.Fatalf("after Start: %+v", d)
	}
	// A Stop of another (older) session leaves the current one online.
	report("Stop", "s-0")
	if d := online(); !d.Online {
		t.Fatalf("a Stop of another session took it offline: %+v", d)
	}
	report("Interim-Update", "s-1")
	if out := report("Stop", "s-1"); !strings.Contains(out, "Received Accounting-Response") {
		t.Fatalf("Stop: %s", out)
	}
	if d := online(); d.Online {
		t.Fatalf("after Stop: %+v", d)
	}
	// An access point that restarts ends its sessions.
	report("Start", "s-2")
	if out := radacct(t, s.acct, s.secrets["127.0.0.1"], `Acct-Status-Type = Accounting-On`, `NAS-IP-Address = 127.0.0.1`); !strings.Contains(out, "Received Accounting-Response") {
		t.Fatalf("Accounting-On: %s", out)
	}
	if d := online(); d.Online {
		t.Fatalf("after Accounting-On: %+v", d)
	}
	// A report signed with another secret is dropped, and changes nothing.
	if out := radacct(t, s.acct, "not the secret", `Acct-Status-Type = Start`, `Acct-Session-Id = "s-3"`,
		`Calling-Station-Id = "AA-BB-CC-00-11-22"`); strings.Contains(out, "Received") {
		t.Fatalf("a report under another secret was answered: %s", out)
	}
	waitDropped(t, s, "bad_authenticator", 1)
	if d := online(); d.Online {
		t.Fatalf("a report under another secret took effect: %+v", d)
	}
	// An Access-Request on the accounting port is not answered there.
	if r := exchange(t, "127.0.0.1", s.acct, request(t, s.secrets["127.0.0.1"], true), 300*time.Millisecond); r != nil {
		t.Fatal("an Access-Request was answered on the accounting port")
	}
	waitDropped(t, s, "unexpected_code", 1)
}

// With the notices heard, requests are answered from memory, and every
// change — a new passphrase, a blocked identity, a removed device, a new
// unit's device — counts within a notice's delay, whoever makes it.
func TestInMemoryTablesFollowChanges(t *testing.T) {
	s := newSiteWith(t, radius.Options{}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd}, true)
	ctx := context.Background()
	secret := s.secrets["127.0.0.1"]
	ask := func(mac string) []byte {
		b := request(t, secret, true)
		m := strings.ReplaceAll(mac, ":", "-")
		copy(b[bytes.Index(b, []byte("AA-BB-CC-00-11-22")):], m) // the Calling-Station-Id, same length
		mac16 := hmac.New(md5.New, []byte(secret))
		clear(b[len(b)-16:])
		mac16.Write(b)
		copy(b[len(b)-16:], mac16.Sum(nil))
		return exchange(t, "127.0.0.1", s.addr, b, 3*time.Second)
	}
	until := func(what string, mac string, ok func(r []byte) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for r := ask(mac); !ok(r); r = ask(mac) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5 s (last reply %v)", what, r)
			}
			<-time.After(20 * time.Millisecond)
		}
	}
	accepted := func(r []byte) bool { return r != nil && layeh.Code(r[0]) == layeh.CodeAccessAccept }
	rejected := func(r []byte) bool { return r != nil && layeh.Code(r[0]) == layeh.CodeAccessReject }
	until("the first accept", s.mac, accepted)
	scope := model.UnitScope(s.property.ID, s.unit.Unit.ID)
	blocked := "BLOCKED"
	if _, err := s.store.UpdateUnitUser(ctx, scope, s.unit.Unit.UnitUserID, model.UnitUserUpdate{Status: &blocked}); err != nil {
		t.Fatal(err)
	}
	until("a blocked identity refused", s.mac, rejected)
	active := "ACTIVE"
	if _, err := s.store.UpdateUnitUser(ctx, scope, s.unit.Unit.UnitUserID, model.UnitUserUpdate{Status: &active}); err != nil {
		t.Fatal(err)
	}
	until("an active identity again", s.mac, accepted)
	if _, err := s.store.RemoveDevice(ctx, scope, s.unit.Unit.ID, nil, s.mac); err != nil {
		t.Fatal(err)
	}
	until("a removed device refused", s.mac, rejected)
	// A device of a unit made after the table was loaded.
	u := dbtest.Must[db.CreatedUnit](t)(s.store.CreateUnit(ctx, db.NewUnit{PropertyID: s.property.ID, Number: "900"}))
	const mac = "AA:BB:CC:00:99:99"
	dbtest.Must[model.Device](t)(s.store.AddDevice(ctx, model.UnitScope(s.property.ID, u.Unit.ID), db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: mac}))
	until("a new unit's device", mac, accepted)
}

// An access point added, given a new secret or removed counts on its
// notice, well before the periodic read (an hour here): the new one is
// answered, the old secret's request is not, the removed one's is not.
func TestAccessPointChangesCountOnTheirNotice(t *testing.T) {
	s := newSiteWith(t, radius.Options{Refresh: time.Hour}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd}, true)
	ctx := context.Background()
	request := []string{`User-Name = "aabbcc001122"`, `Calling-Station-Id = "AA-BB-CC-00-11-22"`, `Called-Station-Id = "00-11-22-33-44-55:Residents"`}
	accepted := func(from, secret string) bool {
		out, err := radiustest.Radclient(s.addr, "auth", secret, append(request, `Packet-Src-IP-Address = `+from)...)
		return err == nil && strings.Contains(out, "Received Access-Accept")
	}
	within := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); { // a refused request costs radclient's 3 s
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20 s", what)
			}
			<-time.After(20 * time.Millisecond)
		}
	}
	added := dbtest.Must[db.CreatedNAS](t)(s.store.CreateNAS(ctx, model.NAS{PropertyID: s.property.ID, Name: "ap added",
		Address: netip.MustParsePrefix("127.0.0.9/32"), Profile: model.NASHostapd}))
	within("the added access point answered", func() bool { return accepted("127.0.0.9", added.Secret) })
	rotated := dbtest.Must[db.CreatedNAS](t)(s.store.RotateNASSecret(ctx, added.NAS.ID))
	within("the new secret answered", func() bool { return accepted("127.0.0.9", rotated.Secret) })
	if accepted("127.0.0.9", added.Secret) {
		t.Fatal("the old secret is still answered")
	}
	dbtest.Must[model.NAS](t)(s.store.RemoveNAS(ctx, added.NAS.ID))
	within("the removed access point counted out", func() bool {
		return testutil.ToFloat64(counterFrom(t, s.reg, "portal_radius_access_points", nil)) == 1
	})
	if accepted("127.0.0.9", rotated.Secret) {
		t.Fatal("the removed access point is still answered")
	}
	if !accepted("127.0.0.1", s.secrets["127.0.0.1"]) {
		t.Fatal("the access point that stayed is not answered")
	}
}
