package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/residentportal/bff/cmd/internal/tracing"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/radius/radiustest"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// portald with RADIUS_ADDR answers an access point (FreeRADIUS's radclient)
// with the passphrase it holds, the new one as soon as it changes, and a
// reject once the device is removed; its metrics count each answer.
func TestRadiusEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Fatal("radclient is required: make test installs it (.ci/services.sh radclient)")
	}
	ctx := context.Background()
	dbURL, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Harbour View"), SSIDs: []string{"Residents"}})
	scope := model.UnitScope(p.ID, u.Unit.ID)
	dbtest.Must[model.Device](t)(store.AddDevice(ctx, scope, db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: "02:11:22:33:44:55"}))
	nas := dbtest.Must[db.CreatedNAS](t)(store.CreateNAS(ctx, model.NAS{PropertyID: p.ID, Name: "lobby",
		Address: netip.MustParsePrefix("127.0.0.1/32"), Profile: model.NASMeraki}))
	radiusAddr := make(chan string, 1)
	s := startWith(t, map[string]string{"DATABASE_URL": dbURL, "RADIUS_ADDR": "127.0.0.1:0"},
		hooks{radius: func(auth, _ string) { radiusAddr <- auth }})
	addr := <-radiusAddr
	ask := func() string { return macRequest(t, addr, nas.Secret) }
	if out := ask(); !strings.Contains(out, "Received Access-Accept") || !strings.Contains(out, `Tunnel-Password:0 = "`+u.Unit.Secret+`"`) {
		t.Fatalf("want an accept with the unit's passphrase:\n%s", out)
	}
	regenerate := "" // a new generated passphrase
	res, err := store.UpdateUnitUser(ctx, scope, u.Unit.UnitUserID, model.UnitUserUpdate{Passphrase: &regenerate})
	if err != nil {
		t.Fatal(err)
	}
	next := res.User.Passphrase
	if next == u.Unit.Secret {
		t.Fatal("the passphrase did not change")
	}
	// Requests are answered from memory; the change's notice drops the
	// table within moments.
	eventually := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for out := ask(); !ok(out); out = ask() {
			if time.Now().After(deadline) {
				t.Fatalf("%s, not within 5 s:\n%s", what, out)
			}
			<-time.After(20 * time.Millisecond)
		}
	}
	eventually("the new passphrase", func(out string) bool { return strings.Contains(out, `Tunnel-Password:0 = "`+next+`"`) })
	if _, err := store.RemoveDevice(ctx, scope, u.Unit.ID, nil, "02:11:22:33:44:55"); err != nil {
		t.Fatal(err)
	}
	eventually("a reject for the removed device", func(out string) bool {
		return strings.Contains(out, "Received Access-Reject") && strings.Contains(out, `Reply-Message = "unknown device"`)
	})
	_, body := get(t, s.metrics+"/metrics")
	for _, want := range []string{`portal_radius_requests_total{reason="",result="accept"}`,
		`portal_radius_requests_total{reason="unknown_device",result="reject"} 1`, "portal_radius_access_points 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// With tracing on, a RADIUS request is a span of its own, with its access
// point and result, and the statements that decided it below it.
func TestRadiusRequestsAreTraced(t *testing.T) {
	ctx := context.Background()
	dbURL, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Harbour View"), SSIDs: []string{"Residents"}})
	dbtest.Must[model.Device](t)(store.AddDevice(ctx, model.UnitScope(p.ID, u.Unit.ID), db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: "02:11:22:33:44:55"}))
	nas := dbtest.Must[db.CreatedNAS](t)(store.CreateNAS(ctx, model.NAS{PropertyID: p.ID, Name: "lobby",
		Address: netip.MustParsePrefix("127.0.0.1/32"), Profile: model.NASHostapd}))
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	radiusAddr := make(chan string, 1)
	startWith(t, map[string]string{"DATABASE_URL": dbURL, "RADIUS_ADDR": "127.0.0.1:0"}, hooks{
		tracing: &tracing.Tracing{Provider: tp, Propagator: propagation.TraceContext{}},
		radius:  func(auth, _ string) { radiusAddr <- auth }})
	if out := macRequest(t, <-radiusAddr, nas.Secret); !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("radclient:\n%s", out)
	}
	var span *tracetest.SpanStub
	deadline := time.Now().Add(5 * time.Second)
	for span == nil {
		for _, s := range exp.GetSpans() {
			if s.Name == "radius Access-Request" {
				span = &s
			}
		}
		if span == nil && time.Now().After(deadline) {
			t.Fatal("no span named radius Access-Request")
		}
		<-time.After(10 * time.Millisecond)
	}
	attrs := map[string]string{}
	for _, a := range span.Attributes {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	if attrs["radius.nas"] != "lobby" || attrs["radius.result"] != "accept" || span.SpanKind != trace.SpanKindServer {
		t.Fatalf("span attributes %v, kind %v", attrs, span.SpanKind)
	}
	children := 0
	for _, s := range exp.GetSpans() {
		if s.Parent.SpanID() == span.SpanContext.SpanID() {
			children++
		}
	}
	if children == 0 {
		t.Fatal("no statement below the RADIUS request's span")
	}
}

// macRequest asks server, as an access point would (radclient), about the
// device 02:11:22:33:44:55 on the SSID Residents.
func macRequest(t *testing.T, server, secret string) string {
	t.Helper()
	out, err := radiustest.Radclient(server, "auth", secret, `User-Name = "021122334455"`, `Calling-Station-Id = "02-11-22-33-44-55"`,
		`Called-Station-Id = "0A-00-00-00-00-01:Residents"`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Changes on the air, end to end with real peers: radclient's accounting
// makes a device online at an access point, the resident removes it
// through the vendor's REST operation, and the access point (its CoA port
// a stand-in checked by layeh.com/radius) receives the Disconnect-Request
// for the session radclient reported; the change request ends APPLIED.
func TestRemovalDisconnectsTheSessionRadclientReported(t *testing.T) {
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Fatal("radclient is required: make test installs it (.ci/services.sh radclient)")
	}
	ctx := context.Background()
	dbURL, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Harbour View"), SSIDs: []string{"Residents"}})
	dbtest.Must[model.Device](t)(store.AddDevice(ctx, model.UnitScope(p.ID, u.Unit.ID), db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: "02:11:22:33:44:77"}))
	ap := radiustest.StartNAS(t)
	nas := dbtest.Must[db.CreatedNAS](t)(store.CreateNAS(ctx, model.NAS{PropertyID: p.ID, Name: "lobby",
		Address: netip.MustParsePrefix("127.0.0.1/32"), Profile: model.NASHostapd, CoAPort: ap.Addr.Port}))
	ap.SetSecret(nas.Secret)
	addrs := make(chan [2]string, 1)
	s := startWith(t, map[string]string{"DATABASE_URL": dbURL, "RADIUS_ADDR": "127.0.0.1:0"},
		hooks{radius: func(auth, acct string) { addrs <- [2]string{auth, acct} }})
	acct := (<-addrs)[1]
	for deadline := time.Now().Add(10 * time.Second); ; { // the access point is read within moments
		out, err := radiustest.Radclient(acct, "acct", nas.Secret, `Acct-Status-Type = Start`, `User-Name = "021122334477"`,
			`Calling-Station-Id = "02-11-22-33-44-77"`, `Acct-Session-Id = "radclient-session-1"`)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "Received Accounting-Response") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accounting Start:\n%s", out)
		}
		<-time.After(100 * time.Millisecond)
	}
	base := s.public + "/residents/properties/" + p.ID.String()
	if status, body := call(t, "DELETE", base+"/units/devices/021122334477", "", "Authorization", "Bearer "+login(t, base, u.PortalSecret)); status != 200 {
		t.Fatalf("REST removal: %d %s", status, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var c model.ChangeRequest
		for _, r := range dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID)) {
			if r.Kind == model.ChangeDeviceRemoved {
				c = r
			}
		}
		if c.Status == model.ChangeApplied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the removal: %s %v", c.Status, c.Detail)
		}
		<-time.After(20 * time.Millisecond)
	}
	got, bad := ap.Received()
	if len(got) != 1 || len(bad) > 0 || got[0].AcctSessionID != "radclient-session-1" || got[0].CallingStationID != "02-11-22-33-44-77" || !got[0].First {
		t.Fatalf("the access point received %+v, refused %v", got, bad)
	}
}

// portald with RADSEC_ADDR serves an access point over TLS with the
// certificate portalctl issued it, and stops serving it, on the open
// connection, once portalctl unpins it.
func TestRadSecEndToEnd(t *testing.T) {
	ctx := context.Background()
	dbURL, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Cloud Court"), SSIDs: []string{"Residents"}})
	dbtest.Must[model.Device](t)(store.AddDevice(ctx, model.UnitScope(p.ID, u.Unit.ID), db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: "02:11:22:33:44:66"}))
	nas := dbtest.Must[db.CreatedNAS](t)(store.CreateNAS(ctx, model.NAS{PropertyID: p.ID, Name: "rooftop",
		Address: netip.MustParsePrefix("203.0.113.7/32"), Profile: model.NASHostapd}))
	dir := t.TempDir()
	ctl := func(args ...string) {
		t.Helper()
		cmd := exec.Command(portalctlBinary(t), args...)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "SECRET_KEY="+dbtest.TestSecretKey)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("portalctl %v: %v %s", args, err, out)
		}
	}
	ctl("nas", "issue-cert", "--nas", nas.NAS.ID.String(), "--cert-out", dir+"/ap.pem", "--key-out", dir+"/ap.key")
	// The server's own certificate.
	server := must(radiustest.SelfSigned("portald", false))
	certPEM, keyPEM, err := radiustest.PEM(server)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/server.pem", certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/server.key", keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	der := server.Certificate[0]
	radsecAddr := make(chan string, 1)
	startWith(t, map[string]string{"DATABASE_URL": dbURL, "RADIUS_ADDR": "127.0.0.1:0", "RADSEC_ADDR": "127.0.0.1:0",
		"RADSEC_CERT_FILE": dir + "/server.pem", "RADSEC_KEY_FILE": dir + "/server.key"}, hooks{radsec: func(a string) { radsecAddr <- a }})
	roots := x509.NewCertPool()
	roots.AddCert(must(x509.ParseCertificate(der)))
	c, err := tls.Dial("tcp", <-radsecAddr, &tls.Config{RootCAs: roots, ServerName: "portald",
		Certificates: []tls.Certificate{must(tls.LoadX509KeyPair(dir+"/ap.pem", dir+"/ap.key"))}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func(id byte) (byte, error) {
		b := must(radiustest.MACRequest("radsec", "02:11:22:33:44:66", "00-11-22-33-44-55:Residents", id))
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(b); err != nil {
			return 0, err
		}
		head := make([]byte, 20)
		if _, err := io.ReadFull(c, head); err != nil {
			return 0, err
		}
		rest := make([]byte, int(head[2])<<8|int(head[3])-20)
		_, err := io.ReadFull(c, rest)
		return head[0], err
	}
	if code, err := ask(1); err != nil || code != 2 { // Access-Accept
		t.Fatalf("over RadSec: code %d, %v", code, err)
	}
	ctl("nas", "register-cert", "--nas", nas.NAS.ID.String(), "--cert", "none")
	for id, deadline := byte(2), time.Now().Add(10*time.Second); ; id++ {
		if _, err := ask(id); err != nil {
			break // the connection is closed: the access point is no longer known
		}
		if time.Now().After(deadline) {
			t.Fatal("an unpinned access point is still served")
		}
		<-time.After(50 * time.Millisecond)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
