package disconnect_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/delivery/disconnect"
	"github.com/residentportal/bff/resolvers/radius"
	"github.com/residentportal/bff/resolvers/radius/radiustest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// site is a property whose access point (a stand-in answering on its CoA
// port) holds the sessions of a unit's devices.
type site struct {
	store *db.DB
	p     model.Property
	unit  db.CreatedUnit
	nas   db.CreatedNAS
	ap    *radiustest.NAS
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	store := dbtest.New(t)
	s := &site{store: store}
	s.p = dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Harbour View"),
		SSIDs: []string{"Residents"}, TenantSetDpsk: dbtest.Ptr(true)}))
	s.unit = dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: s.p.ID, Number: "101"}))
	// The access point's entry is a network: requests go to the address
	// the session's accounting came from.
	s.ap = radiustest.StartNAS(t)
	s.nas = dbtest.Must[db.CreatedNAS](t)(store.CreateNAS(ctx, model.NAS{PropertyID: s.p.ID, Name: "lobby",
		Address: netip.MustParsePrefix("127.0.0.0/24"), Profile: model.NASHostapd, CoAPort: s.ap.Addr.Port}))
	s.ap.SetSecret(s.nas.Secret)
	return s
}

// online adds a device to the unit's identity and opens its session.
func (s *site) online(t *testing.T, mac, session string) {
	t.Helper()
	ctx := context.Background()
	dbtest.Must[model.Device](t)(s.store.AddDevice(ctx, model.UnitScope(s.p.ID, s.unit.Unit.ID),
		db.NewDevice{UserID: s.unit.Unit.UnitUserID, MACAddress: mac}))
	if _, err := s.store.Accounting(ctx, model.Accounting{PropertyID: s.p.ID, NASID: s.nas.NAS.ID, Status: model.AcctStart,
		MAC: mac, SessionID: session, OnlineUntil: time.Now().Add(time.Hour), Source: netip.MustParseAddr("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
}

// run starts a worker until the test ends.
func (s *site) run(t *testing.T, cfg disconnect.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := disconnect.New(s.store, radius.NewDisconnecter(radius.DisconnectOptions{Tries: 3, First: 50 * time.Millisecond}), cfg, quiet, nil)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// settled polls until the change request is APPLIED or FAILED.
func (s *site) settled(t *testing.T, id uuid.UUID) model.ChangeRequest {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := dbtest.Must[model.ChangeRequest](t)(s.store.ChangeRequestByID(context.Background(), model.PropertyScope(s.p.ID), id))
		if c.Status == model.ChangeApplied || c.Status == model.ChangeFailed {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("change request %s still %s", id, c.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *site) remove(t *testing.T, mac string) model.ChangeRequest {
	t.Helper()
	return dbtest.Must[model.ChangeRequest](t)(s.store.RemoveDevice(context.Background(), model.UnitScope(s.p.ID, s.unit.Unit.ID), s.unit.Unit.ID, nil, mac))
}

func detail(c model.ChangeRequest) string {
	if c.Detail == nil {
		return ""
	}
	return *c.Detail
}

// A removed device's session ends at its access point: one
// Disconnect-Request naming it (Message-Authenticator first and valid),
// acknowledged, and the change request APPLIED; a NAK is FAILED with its
// Error-Cause, silence FAILED "no answer" after the retries, an access
// point that no longer holds the session (Session-Context-Not-Found) is
// what the request was for.
func TestRemovedDeviceIsDisconnected(t *testing.T) {
	s := newSite(t)
	s.run(t, disconnect.Config{})
	for _, tc := range []struct {
		name   string
		answer radiustest.Answer
		want   model.ChangeStatus
		detail string
		tries  int
	}{
		{"ack", radiustest.Answer{}, model.ChangeApplied, "1 session(s) disconnected", 1},
		{"nak", radiustest.Answer{NAK: true, Cause: 506}, model.ChangeFailed, "Error-Cause 506 (Resources-Unavailable)", 1},
		{"gone", radiustest.Answer{NAK: true, Cause: 503}, model.ChangeApplied, "1 session(s) disconnected", 1},
		{"silent", radiustest.Answer{Silent: true}, model.ChangeFailed, "no answer from the access point", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mac, session := "AA:BB:CC:00:00:0"+fmt.Sprint(len(tc.name)), "sess-"+tc.name
			s.online(t, mac, session)
			before, _ := s.ap.Received()
			s.ap.SetAnswer(tc.answer)
			c := s.settled(t, s.remove(t, mac).ID)
			if c.Status != tc.want || !strings.Contains(detail(c), tc.detail) {
				t.Fatalf("%s %q, want %s with %q", c.Status, detail(c), tc.want, tc.detail)
			}
			got, bad := s.ap.Received()
			got = got[len(before):]
			if len(bad) > 0 {
				t.Fatalf("the access point refused requests: %v", bad)
			}
			if len(got) != tc.tries {
				t.Fatalf("%d requests reached the access point, want %d", len(got), tc.tries)
			}
			hex := strings.ToLower(strings.ReplaceAll(mac, ":", ""))
			for _, d := range got {
				if !d.First || d.AcctSessionID != session || d.UserName != hex || d.CallingStationID != strings.ReplaceAll(mac, ":", "-") ||
					d.Identifier != got[0].Identifier {
					t.Errorf("request %+v", d)
				}
			}
		})
	}
}

// Without an online session there is nothing to end: APPLIED at once, and
// nothing sent. A new passphrase ends every session of the identity's
// devices; a change that takes nothing off the air (a contact edited)
// sends nothing.
func TestChangesEndTheSessionsTheyAffect(t *testing.T) {
	s := newSite(t)
	s.run(t, disconnect.Config{})
	ctx := context.Background()
	dbtest.Must[model.Device](t)(s.store.AddDevice(ctx, model.UnitScope(s.p.ID, s.unit.Unit.ID),
		db.NewDevice{UserID: s.unit.Unit.UnitUserID, MACAddress: "AA:BB:CC:00:00:01"}))
	c := s.settled(t, s.remove(t, "AA:BB:CC:00:00:01").ID)
	if c.Status != model.ChangeApplied || detail(c) != "no session was online" {
		t.Fatalf("offline device: %s %q", c.Status, detail(c))
	}
	s.online(t, "AA:BB:CC:00:00:02", "s2")
	s.online(t, "AA:BB:CC:00:00:03", "s3")
	res := dbtest.Must[model.UnitUserUpdateResult](t)(s.store.UpdateUnitUser(ctx, model.PropertyScope(s.p.ID), s.unit.Unit.UnitUserID,
		model.UnitUserUpdate{UserName: dbtest.Ptr("Ada")}))
	if c := s.settled(t, *res.PersonaUpdateID); c.Status != model.ChangeApplied || detail(c) != "no session was online" {
		t.Fatalf("contact edited: %s %q", c.Status, detail(c))
	}
	res = dbtest.Must[model.UnitUserUpdateResult](t)(s.store.UpdateUnitUser(ctx, model.PropertyScope(s.p.ID), s.unit.Unit.UnitUserID,
		model.UnitUserUpdate{Passphrase: dbtest.Ptr("")}))
	if c := s.settled(t, *res.DpskUpdateID); c.Status != model.ChangeApplied || detail(c) != "2 session(s) disconnected" {
		t.Fatalf("new passphrase: %s %q", c.Status, detail(c))
	}
	got, _ := s.ap.Received()
	sessions := map[string]bool{}
	for _, d := range got {
		sessions[d.AcctSessionID] = true
	}
	if len(got) != 2 || !sessions["s2"] || !sessions["s3"] {
		t.Fatalf("the access point received %+v", got)
	}
	offline := func(what string) {
		t.Helper()
		for _, d := range dbtest.Must[[]model.Device](t)(s.store.DevicesByUnitIDs(ctx, []uuid.UUID{s.unit.Unit.ID}, nil)) {
			if d.Online {
				t.Fatalf("%s: %s still online", what, d.MACAddress)
			}
		}
	}
	// Acknowledged: the devices are offline at once, not at the access
	// point's Accounting-Stop.
	offline("after the new passphrase's disconnects")
	// The sessions come back (the devices joined with the new passphrase);
	// the identity is blocked: both end. A status change is also a
	// PASSPHRASE_CHANGED (the vendor's contract); whichever of the two is
	// delivered first ends the sessions.
	for _, mac := range []string{"AA:BB:CC:00:00:02", "AA:BB:CC:00:00:03"} {
		if _, err := s.store.Accounting(ctx, model.Accounting{PropertyID: s.p.ID, NASID: s.nas.NAS.ID, Status: model.AcctStart,
			MAC: mac, SessionID: "again-" + mac, OnlineUntil: time.Now().Add(time.Hour), Source: netip.MustParseAddr("127.0.0.1")}); err != nil {
			t.Fatal(err)
		}
	}
	res = dbtest.Must[model.UnitUserUpdateResult](t)(s.store.UpdateUnitUser(ctx, model.PropertyScope(s.p.ID), s.unit.Unit.UnitUserID,
		model.UnitUserUpdate{Status: dbtest.Ptr("BLOCKED")}))
	for _, id := range []uuid.UUID{*res.PersonaUpdateID, *res.DpskUpdateID} {
		if c := s.settled(t, id); c.Status != model.ChangeApplied {
			t.Fatalf("identity blocked: %s %q", c.Status, detail(c))
		}
	}
	offline("after the block")
	again := map[string]bool{}
	got, bad := s.ap.Received()
	for _, d := range got[2:] {
		again[d.AcctSessionID] = true
	}
	if len(bad) > 0 || !again["again-AA:BB:CC:00:00:02"] || !again["again-AA:BB:CC:00:00:03"] {
		t.Fatalf("the access point received %+v (refused %v)", got, bad)
	}
	// Sessions again (the access point admitted the devices before it
	// heard); the unit is disabled: both end.
	for _, mac := range []string{"AA:BB:CC:00:00:02", "AA:BB:CC:00:00:03"} {
		if _, err := s.store.Accounting(ctx, model.Accounting{PropertyID: s.p.ID, NASID: s.nas.NAS.ID, Status: model.AcctStart,
			MAC: mac, SessionID: "third-" + mac, OnlineUntil: time.Now().Add(time.Hour), Source: netip.MustParseAddr("127.0.0.1")}); err != nil {
			t.Fatal(err)
		}
	}
	before := len(got)
	dbtest.Must[model.Unit](t)(s.store.SetUnitStatus(ctx, model.PropertyScope(s.p.ID), s.unit.Unit.ID, model.UnitDisabled))
	var unitChange model.ChangeRequest
	for _, c := range dbtest.Must[[]model.ChangeRequest](t)(s.store.ChangeRequestsByUnit(ctx, s.unit.Unit.ID)) {
		if c.Kind == model.ChangeUnitStatus {
			unitChange = c
		}
	}
	if c := s.settled(t, unitChange.ID); c.Status != model.ChangeApplied || detail(c) != "2 session(s) disconnected" {
		t.Fatalf("unit disabled: %s %q", c.Status, detail(c))
	}
	if got, _ := s.ap.Received(); len(got) != before+2 || got[before].AcctSessionID[:6] != "third-" {
		t.Fatalf("the unit's disconnects: %+v", got[before:])
	}
	offline("after the unit was disabled")
}

// A replica that dies between claiming a change request and recording its
// result leaves it PUBLISHED; another worker delivers it again once it has
// been so for RepublishAfter: at least once to the access point, never
// lost. The NATS relay never takes it.
func TestAbandonedDeliveryIsDeliveredAgain(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	s.online(t, "AA:BB:CC:00:00:04", "s4")
	id := s.remove(t, "AA:BB:CC:00:00:04").ID
	if n, err := s.store.RelayChanges(ctx, 10, 100, func(_ context.Context, c []model.ChangeRequest) []uuid.UUID {
		t.Errorf("the relay was handed %d change requests of a property with access points", len(c))
		return nil
	}); err != nil || n != 0 {
		t.Fatalf("relay: %d, %v", n, err)
	}
	claimed := dbtest.Must[[]model.Disconnect](t)(s.store.ClaimDisconnects(ctx, 10)) // and the replica dies
	var found bool
	for _, d := range claimed {
		found = found || d.Change.ID == id && len(d.Targets) == 1 && d.Targets[0].Session.ID == "s4"
	}
	if !found {
		t.Fatalf("claimed %+v", claimed)
	}
	s.run(t, disconnect.Config{Deliver: 100 * time.Millisecond, RepublishAfter: 200 * time.Millisecond})
	if c := s.settled(t, id); c.Status != model.ChangeApplied {
		t.Fatalf("%s %q", c.Status, detail(c))
	}
	if got, _ := s.ap.Received(); len(got) != 1 || got[0].AcctSessionID != "s4" {
		t.Fatalf("the access point received %+v", got)
	}
}

// An access point whose CoA port has nothing listening (ICMP port
// unreachable: restarting, or Disconnect-Requests not enabled) is tried
// again after each wait, not at once, and the change request says why.
func TestClosedCoAPortIsWaitedOutAndNamed(t *testing.T) {
	ctx := context.Background()
	store := dbtest.New(t)
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Closed Port"), SSIDs: []string{"Residents"}}))
	unit := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	closed := radiustest.StartNAS(t) // a port of our own, then nothing on it
	port := closed.Addr.Port
	closed.Close()
	nas := dbtest.Must[db.CreatedNAS](t)(store.CreateNAS(ctx, model.NAS{PropertyID: p.ID, Name: "attic",
		Address: netip.MustParsePrefix("127.0.0.1/32"), Profile: model.NASHostapd, CoAPort: port}))
	s := &site{store: store, p: p, unit: unit, nas: nas}
	s.online(t, "AA:BB:CC:00:00:09", "s9")
	s.run(t, disconnect.Config{})
	start := time.Now()
	c := s.settled(t, s.remove(t, "AA:BB:CC:00:00:09").ID)
	if c.Status != model.ChangeFailed || !strings.Contains(detail(c), fmt.Sprintf("nothing listens on its CoA port %d", port)) {
		t.Fatalf("%s %q", c.Status, detail(c))
	}
	if took := time.Since(start); took < 300*time.Millisecond { // 3 tries: 50 + 100 + 200 ms of waiting
		t.Fatalf("gave up after %v: the tries did not wait", took)
	}
}
