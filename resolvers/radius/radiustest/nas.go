package radiustest

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"

	"layeh.com/radius"
)

// NAS stands in for an access point's CoA port (RFC 5176): it checks each
// Disconnect-Request with layeh.com/radius and with a Message-Authenticator
// check written here (not the server's), records it, and answers as Answer
// says.
type NAS struct {
	Addr   *net.UDPAddr
	secret []byte
	conn   net.PacketConn

	mu       sync.Mutex
	answer   Answer
	received []Disconnect
	bad      []string
}

// Answer is how the stand-in answers: ACK, NAK with Cause (0: none), or
// Silent (nothing at all).
type Answer struct {
	NAK    bool
	Cause  uint32
	Silent bool
}

// Disconnect is a Disconnect-Request the stand-in received.
type Disconnect struct {
	Identifier       byte
	UserName         string
	CallingStationID string
	AcctSessionID    string
	// First is whether Message-Authenticator was the first attribute.
	First bool
}

// StartNAS listens on a free loopback port until the test ends; it
// answers once it knows its secret (SetSecret).
func StartNAS(tb testing.TB) *NAS {
	tb.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	n := &NAS{Addr: conn.LocalAddr().(*net.UDPAddr), conn: conn}
	done := make(chan struct{})
	tb.Cleanup(func() { conn.Close(); <-done })
	go func() { defer close(done); n.serve() }()
	return n
}

// Close stops it (the port then answers ICMP port unreachable).
func (n *NAS) Close() { _ = n.conn.Close() }

// SetSecret sets the secret it shares with the server.
func (n *NAS) SetSecret(secret string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.secret = []byte(secret)
}

// SetAnswer sets how the next requests are answered.
func (n *NAS) SetAnswer(a Answer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.answer = a
}

// Received is what it received so far, each retransmission included, and
// what it refused as malformed or unauthentic.
func (n *NAS) Received() (got []Disconnect, bad []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Disconnect(nil), n.received...), append([]string(nil), n.bad...)
}

func (n *NAS) serve() {
	buf := make([]byte, 4096)
	for {
		k, from, err := n.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:k]...)
		n.mu.Lock()
		d, p, err := n.check(b)
		if err != nil {
			n.bad = append(n.bad, err.Error())
			n.mu.Unlock()
			continue
		}
		n.received = append(n.received, d)
		a := n.answer
		n.mu.Unlock()
		if a.Silent {
			continue
		}
		code := radius.CodeDisconnectACK
		if a.NAK {
			code = radius.CodeDisconnectNAK
		}
		r := p.Response(code)
		if a.Cause != 0 {
			v := make([]byte, 4)
			binary.BigEndian.PutUint32(v, a.Cause)
			r.Add(101, v) // Error-Cause
		}
		out, err := r.Encode()
		if err == nil {
			_, _ = n.conn.WriteTo(out, from)
		}
	}
}

// check verifies a Disconnect-Request: its Request Authenticator (layeh),
// and its Message-Authenticator, HMAC-MD5 under the secret over the packet
// with the Request Authenticator and the attribute's value zeroed (RFC
// 5176 §3.1; FreeRADIUS's rad_verify), which it must carry.
func (n *NAS) check(b []byte) (Disconnect, *radius.Packet, error) {
	if len(b) < 20 || radius.Code(b[0]) != radius.CodeDisconnectRequest {
		return Disconnect{}, nil, errors.New("not a Disconnect-Request")
	}
	if !radius.IsAuthenticRequest(b, n.secret) {
		return Disconnect{}, nil, errors.New("bad Request Authenticator")
	}
	p, err := radius.Parse(b, n.secret)
	if err != nil {
		return Disconnect{}, nil, err
	}
	d := Disconnect{Identifier: p.Identifier, First: len(b) > 20 && b[20] == 80}
	found := false
	for at := 20; at+2 <= len(b) && b[at+1] >= 2; at += int(b[at+1]) {
		if b[at] != 80 {
			continue
		}
		if b[at+1] != 18 {
			return d, nil, errors.New("Message-Authenticator of the wrong length")
		}
		c := append([]byte(nil), b...)
		clear(c[4:20])
		clear(c[at+2 : at+18])
		mac := hmac.New(md5.New, n.secret)
		mac.Write(c)
		if !bytes.Equal(mac.Sum(nil), b[at+2:at+18]) {
			return d, nil, errors.New("bad Message-Authenticator")
		}
		found = true
		break
	}
	if !found {
		return d, nil, errors.New("no Message-Authenticator")
	}
	str := func(t radius.Type) string { v, _ := p.Lookup(t); return string(v) }
	d.UserName, d.CallingStationID, d.AcctSessionID = str(1), str(31), str(44)
	return d, p, nil
}
