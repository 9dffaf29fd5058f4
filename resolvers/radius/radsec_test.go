package radius_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/radius"
	"github.com/residentportal/bff/resolvers/radius/radiustest"
	layeh "layeh.com/radius"
)

// selfSigned is radiustest.SelfSigned, failing the test on an error.
func selfSigned(t testing.TB, name string, client bool) tls.Certificate {
	t.Helper()
	c, err := radiustest.SelfSigned(name, client)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// radsecSite is a site whose server also serves RadSec, with its access
// point's client certificate pinned.
func radsecSite(t *testing.T) (s *site, addr string, server, pinned tls.Certificate) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server, pinned = selfSigned(t, "portald.test", false), selfSigned(t, "lobby", true)
	s = newSite(t, radius.Options{Refresh: 50 * time.Millisecond, RadSec: &radius.RadSec{Listener: ln, Certificate: server,
		HandshakeTimeout: 300 * time.Millisecond, MaxConnsPerIP: 3}}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd})
	nas := dbtest.Must[[]model.NAS](t)(s.store.NASList(context.Background(), s.property.ID))[0]
	sum := sha256.Sum256(pinned.Certificate[0])
	dbtest.Must[model.NAS](t)(s.store.SetNASCertificate(context.Background(), nas.ID, sum[:]))
	return s, ln.Addr().String(), server, pinned
}

func dialRadSec(addr string, server, client tls.Certificate, maxVersion uint16) (*tls.Conn, error) {
	roots := x509.NewCertPool()
	roots.AddCert(must(x509.ParseCertificate(server.Certificate[0])))
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "portald.test", Certificates: []tls.Certificate{client},
		MaxVersion: maxVersion})
	if err != nil {
		return nil, err
	}
	// TLS 1.3 reports a refused client certificate on the first read.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c, nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// roundTrip sends one packet on a RadSec connection and reads its answer.
func roundTrip(c *tls.Conn, b []byte) ([]byte, error) {
	if _, err := c.Write(b); err != nil {
		return nil, err
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(c, head); err != nil {
		return nil, err
	}
	out := make([]byte, int(head[2])<<8|int(head[3]))
	copy(out, head)
	_, err := io.ReadFull(c, out[4:])
	return out, err
}

// RadSec: the access point known by its pinned certificate asks over TLS
// under the secret "radsec" and is answered as over UDP (an Access-Accept
// with the passphrase, accounting stored), with or without
// Message-Authenticator; its Accounting-Request on the same connection.
func TestRadSecServesThePinnedAccessPoint(t *testing.T) {
	s, addr, server, pinned := radsecSite(t)
	var c *tls.Conn
	var reply []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; { // the table reads the pin within Refresh
		if c, err = dialRadSec(addr, server, pinned, 0); err == nil {
			if reply, err = roundTrip(c, request(t, "radsec", true)); err == nil {
				break
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pinned access point: %v", err)
		}
		<-time.After(50 * time.Millisecond)
	}
	defer c.Close()
	sent := request(t, "radsec", true)
	if reply, err = roundTrip(c, sent); err != nil || !layeh.IsAuthenticResponse(reply, sent, []byte("radsec")) ||
		layeh.Code(reply[0]) != layeh.CodeAccessAccept || reply[20] != 80 {
		t.Fatalf("Access-Request over RadSec: %v %x", err, reply)
	}
	p := must(layeh.Parse(reply, []byte("radsec")))
	if _, ok := p.Lookup(69); !ok { // Tunnel-Password
		t.Fatal("no Tunnel-Password in the Access-Accept")
	}
	if reply, err = roundTrip(c, request(t, "radsec", false)); err != nil || layeh.Code(reply[0]) != layeh.CodeAccessAccept {
		t.Fatalf("without Message-Authenticator (TLS authenticates it): %v %x", err, reply)
	}
	acct := layeh.New(layeh.CodeAccountingRequest, []byte("radsec"))
	for typ, v := range map[layeh.Type][]byte{40: {0, 0, 0, 1}, 31: []byte("AA-BB-CC-00-11-22"), 44: []byte("rs-1")} {
		acct.Add(typ, v)
	}
	ab := must(acct.Encode())
	if reply, err = roundTrip(c, ab); err != nil || layeh.Code(reply[0]) != layeh.CodeAccountingResponse {
		t.Fatalf("Accounting-Request over RadSec: %v %x", err, reply)
	}
	devices := dbtest.Must[[]model.Device](t)(s.store.DevicesByUnitIDs(context.Background(), []uuid.UUID{s.unit.Unit.ID}, nil))
	if len(devices) != 1 || !devices[0].Online {
		t.Fatalf("the device after Accounting Start: %+v", devices)
	}
}

// A certificate no access point has, TLS below 1.2, a client that
// connects and says nothing, and connections past the bound per address:
// each refused or cut off, none holding the server.
func TestRadSecRefusesWhatItShould(t *testing.T) {
	s, addr, server, pinned := radsecSite(t)
	stranger := selfSigned(t, "stranger", true)
	if c, err := dialRadSec(addr, server, stranger, 0); err == nil {
		_, err = roundTrip(c, request(t, "radsec", true))
		c.Close()
		if err == nil {
			t.Fatal("a certificate no access point has was served")
		}
	}
	if c, err := dialRadSec(addr, server, pinned, tls.VersionTLS11); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 was accepted")
	}
	// Silent clients: cut off after the handshake timeout; the bound per
	// address closes the one past it at once (once the refused ones above
	// are gone).
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(counterFrom(t, s.reg, "portal_radsec_connections", nil)) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("refused connections stayed open")
		}
		<-time.After(10 * time.Millisecond)
	}
	var silent []net.Conn
	for range 3 {
		c := must(net.Dial("tcp", addr))
		defer c.Close()
		silent = append(silent, c)
	}
	extra := must(net.Dial("tcp", addr))
	defer extra.Close()
	start := time.Now()
	_ = extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err != io.EOF || time.Since(start) > 200*time.Millisecond {
		t.Fatalf("the connection past the bound: %v after %v", err, time.Since(start))
	}
	for _, c := range silent {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("a silent client was not cut off: %v", err)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("silent clients held on for %v", took)
	}
	waitDropped(t, s, "radsec_connections", 1)
	waitDropped(t, s, "radsec_handshake", 3)
}
