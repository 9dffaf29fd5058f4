package radius_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/radius"
	"github.com/residentportal/bff/resolvers/radius/radiustest"
	layeh "layeh.com/radius"
)

// BenchmarkIdentityPSK is one Access-Request by MAC answered over loopback
// by a server like portald's (its table in memory): what to profile for
// the RADIUS section of BENCHMARKS.md. Its allocations are the server's and
// the client's.
func BenchmarkIdentityPSK(b *testing.B) {
	s := newSiteWith(b, radius.Options{PerNAS: 1e9, PerNASBurst: 1e9, Global: 1e9, GlobalBurst: 1e9},
		map[string]model.NASProfile{"127.0.0.1": model.NASHostapd}, true)
	conn, err := net.Dial("udp", s.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	req := func(id byte) []byte {
		b.Helper()
		p, err := radiustest.MACRequest(s.secrets["127.0.0.1"], s.mac, "00-11-22-33-44-55:Residents", id)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	// Each request new (a repeated one is a retransmission, answered from
	// the reply cache), made before the clock starts.
	packets := make([][]byte, 100_000)
	for i := range packets {
		packets[i] = req(byte(i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := packets[i%len(packets)]
		i++
		if _, err := conn.Write(p); err != nil {
			b.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil || n < 20 || layeh.Code(buf[0]) != layeh.CodeAccessAccept {
			b.Fatalf("%d bytes, %v", n, err)
		}
	}
}

// BenchmarkIdentityPSKRadSec is BenchmarkIdentityPSK over one RadSec
// connection (TLS 1.3, the access point's pinned certificate): the same
// request and decision, framed on a stream and encrypted both ways. Both
// ends run in this process, so ns/op holds the client's TLS work too.
func BenchmarkIdentityPSKRadSec(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	server, client := selfSigned(b, "portald.test", false), selfSigned(b, "lobby", true)
	s := newSiteWith(b, radius.Options{PerNAS: 1e9, PerNASBurst: 1e9, Global: 1e9, GlobalBurst: 1e9,
		RadSec: &radius.RadSec{Listener: ln, Certificate: server}}, map[string]model.NASProfile{"127.0.0.1": model.NASHostapd}, true)
	nas := dbtest.Must[[]model.NAS](b)(s.store.NASList(context.Background(), s.property.ID))[0]
	sum := sha256.Sum256(client.Certificate[0])
	dbtest.Must[model.NAS](b)(s.store.SetNASCertificate(context.Background(), nas.ID, sum[:]))
	var c *tls.Conn
	for deadline := time.Now().Add(10 * time.Second); ; { // the pin is read on its notice
		if c, err = dialRadSec(ln.Addr().String(), server, client, 0); err == nil {
			if _, err = roundTrip(c, must(radiustest.MACRequest("radsec", s.mac, "00-11-22-33-44-55:Residents", 0))); err == nil {
				break
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer c.Close()
	packets := make([][]byte, 100_000)
	for i := range packets {
		packets[i] = must(radiustest.MACRequest("radsec", s.mac, "00-11-22-33-44-55:Residents", byte(i)))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		reply, err := roundTrip(c, packets[i%len(packets)])
		i++
		if err != nil || layeh.Code(reply[0]) != layeh.CodeAccessAccept {
			b.Fatalf("%x, %v", reply, err)
		}
	}
}
