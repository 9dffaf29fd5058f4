package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/radius/radiustest"
	"layeh.com/radius"
)

// RadSec beside UDP (SPEC §9.1, issue "changes on the air": RadSec within
// 1.2× of UDP's server CPU): the same Access-Requests to the same portald,
// over UDP and over TLS connections (one per worker, the access point's
// pinned certificate), in interleaved rounds, with portald's CPU (and its
// database backends') per accepted request.

// radsecClient pins a fresh client certificate to the access point and
// returns the TLS configuration to dial with (trusting the server's
// certificate file).
func radsecClient(ctx context.Context, store *db.DB, nas model.NAS, serverCert string) *tls.Config {
	cert, err := radiustest.SelfSigned("radbench", true)
	if err != nil {
		log.Fatal(err)
	}
	der := cert.Certificate[0]
	sum := sha256.Sum256(der)
	if _, err := store.SetNASCertificate(ctx, nas.ID, sum[:]); err != nil {
		log.Fatal(err)
	}
	pem, err := os.ReadFile(serverCert)
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: roots, ServerName: "portald", Certificates: []tls.Certificate{cert}}
}

func radsecRoundTrip(c *tls.Conn, b []byte, buf []byte) ([]byte, error) {
	if _, err := c.Write(b); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(c, buf[:4]); err != nil {
		return nil, err
	}
	n := int(buf[2])<<8 | int(buf[3])
	if n < 20 || n > len(buf) {
		return nil, fmt.Errorf("a reply of %d bytes", n)
	}
	_, err := io.ReadFull(c, buf[4:n])
	return buf[:n], err
}

// waitRadSec waits until portald accepts the pinned certificate (it reads
// its access points on the pin's notice).
func waitRadSec(addr string, cfg *tls.Config, mac string, within time.Duration) error {
	buf := make([]byte, 4096)
	var err error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var c *tls.Conn
		if c, err = tls.Dial("tcp", addr, cfg); err != nil {
			continue
		}
		var r []byte
		r, err = radsecRoundTrip(c, request("radsec", mac), buf)
		c.Close()
		if err == nil && radius.Code(r[0]) == radius.CodeAccessAccept {
			return nil
		}
	}
	return fmt.Errorf("no Access-Accept over RadSec: %v", err)
}

// radsecLoad is load over RadSec: workers connections, one request in
// flight on each.
func radsecLoad(ctx context.Context, store *db.DB, t target, cfg *tls.Config, macs []string, workers int, d time.Duration) round {
	return drive(ctx, store, t, macs, workers, d, func() asker {
		c, err := tls.Dial("tcp", t.addr, cfg)
		if err != nil {
			log.Fatal(err)
		}
		buf := make([]byte, 4096)
		return asker{secret: "radsec", close: func() { c.Close() }, ask: func(b []byte) bool {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			r, err := radsecRoundTrip(c, b, buf)
			if err != nil {
				log.Fatalf("radsec: %v", err)
			}
			return radius.Code(r[0]) == radius.CodeAccessAccept
		}}
	})
}

// radsecReport prints UDP and RadSec side by side.
func radsecReport(udp, tlsr []round, workers int, d time.Duration) string {
	var b strings.Builder
	b.WriteString("### RadSec beside UDP\n\n")
	fmt.Fprintf(&b, "The same Access-Requests to the same portald over UDP (%[1]d sockets) and over RadSec (TLS 1.3, %[1]d connections kept open — the bound per address —, the access point's certificate pinned), one request in flight on each, %[2]d interleaved rounds of %[3]v. CPU is portald's and its PostgreSQL backends' per accepted request (the issue's goal: RadSec within 1.2× of UDP's).\n\n",
		workers, len(udp), d)
	b.WriteString("| transport | requests/s | p50 ms | p99 ms | CPU µs per request |\n|---|---:|---:|---:|---:|\n")
	per := make([]float64, 2)
	for i, rs := range [][]round{udp, tlsr} {
		var acc int64
		var lat []time.Duration
		var cpu, wall time.Duration
		for _, r := range rs {
			acc, cpu, wall = acc+r.accepted, cpu+r.cpu, wall+r.wall
			lat = append(lat, r.lat...)
		}
		slices.Sort(lat)
		if acc > 0 {
			per[i] = float64(cpu.Microseconds()) / float64(acc)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.1f |\n", []string{"UDP", "RadSec"}[i], float64(acc)/wall.Seconds(),
			bench.Ms(bench.Pct(lat, 0.5)), bench.Ms(bench.Pct(lat, 0.99)), per[i])
	}
	if per[0] > 0 {
		fmt.Fprintf(&b, "\nRadSec costs %.2f× UDP's CPU per request.\n", per[1]/per[0])
	}
	b.WriteString("\n")
	return b.String()
}
