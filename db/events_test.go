package db_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// A device's session report is announced as "s:<unit>", any other change
// to it as "u:<unit>" (migration 014).
func TestSessionReportsHaveTheirOwnNotice(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	d := dbtest.Must[*db.DB](t)(db.Open(ctx, url, dbtest.Keys(t), db.Options{}))
	t.Cleanup(d.Close)
	p := newProperty(t, d, db.PropertyInput{})
	u := newUnit(t, d, p.ID, "1")
	scope := model.UnitScope(p.ID, u.Unit.ID)
	dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: "AA:BB:CC:00:11:22"}))
	nas := dbtest.Must[db.CreatedNAS](t)(d.CreateNAS(ctx, model.NAS{PropertyID: p.ID, Name: "lobby",
		Address: netip.MustParsePrefix("192.0.2.1/32"), Profile: model.NASHostapd}))
	conn := dbtest.Must[*pgx.Conn](t)(pgx.Connect(ctx, url))
	t.Cleanup(func() { _ = conn.Close(ctx) })
	if _, err := conn.Exec(ctx, "LISTEN "+db.EventsChannel); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		wait, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		n, err := conn.WaitForNotification(wait)
		if err != nil {
			t.Fatal(err)
		}
		return n.Payload
	}
	if _, err := d.Accounting(ctx, model.Accounting{PropertyID: p.ID, NASID: nas.NAS.ID, Status: model.AcctStart,
		MAC: "AA:BB:CC:00:11:22", SessionID: "s-1", OnlineUntil: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, want := next(), "s:"+u.Unit.ID.String(); got != want {
		t.Fatalf("a session report announced %q, want %q", got, want)
	}
	if _, err := d.Pool().Exec(ctx, `UPDATE devices SET display_name = 'Phone', last_seen = now() WHERE unit_id = $1`, u.Unit.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := next(), "u:"+u.Unit.ID.String(); got != want {
		t.Fatalf("a renamed device announced %q, want %q", got, want)
	}
}
