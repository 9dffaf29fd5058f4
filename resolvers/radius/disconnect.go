package radius

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/residentportal/bff/graph/model"
	"layeh.com/radius"
)

// Disconnect-Requests (RFC 5176, SPEC §9.5): the change that ends a
// session reaches the access point holding it.

const (
	attrErrorCause = 101
	// errorCauseSessionNotFound (Session-Context-Not-Found): the access
	// point no longer holds the session. The device is off the air, which
	// is what the request was for.
	errorCauseSessionNotFound = 503
)

// DisconnectOptions shape a Disconnecter; the zero value of a field takes
// its default.
type DisconnectOptions struct {
	// Tries is how many times a request is sent without an answer
	// (default 4); First is the wait for the first answer, doubled for
	// each try after it (default 500 ms: 0.5 + 1 + 2 + 4 s in all).
	Tries int
	First time.Duration
}

// Disconnecter sends Disconnect-Requests.
type Disconnecter struct{ opts DisconnectOptions }

// NewDisconnecter returns a Disconnecter.
func NewDisconnecter(o DisconnectOptions) *Disconnecter {
	if o.Tries <= 0 {
		o.Tries = 4
	}
	if o.First <= 0 {
		o.First = 500 * time.Millisecond
	}
	return &Disconnecter{opts: o}
}

// NAKError is an access point's Disconnect-NAK.
type NAKError struct{ Cause uint32 }

func (e NAKError) Error() string {
	if e.Cause == 0 {
		return "the access point refused the disconnect (Disconnect-NAK)"
	}
	return fmt.Sprintf("the access point refused the disconnect: Error-Cause %d (%s)", e.Cause, errorCauseName(e.Cause))
}

// ErrNoAnswer is the error of a request no answer came to after every try.
var ErrNoAnswer = errors.New("no answer from the access point")

// Disconnect asks t's access point to end t's session, at its CoA port:
// at the session's source address, or the access point's when it is one
// address. nil when the access point acknowledged (or no longer has the
// session); a NAKError, ErrNoAnswer, or why it could not be sent
// otherwise. Retransmissions repeat the same packet (RFC 5080), so the
// access point sees one request.
func (d *Disconnecter) Disconnect(ctx context.Context, t model.DisconnectTarget) error {
	dst, err := destination(t)
	if err != nil {
		return err
	}
	req, b, err := disconnectRequest(t)
	if err != nil {
		return err
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return fmt.Errorf("the access point cannot be reached: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 4096)
	wait := d.opts.First
	refused := false
	for try := 0; try < d.opts.Tries && ctx.Err() == nil; try++ {
		if _, err := conn.Write(b); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("the access point cannot be reached: %w", err)
		}
		deadline := time.Now().Add(wait)
		wait *= 2
		_ = conn.SetReadDeadline(deadline)
		for {
			n, err := conn.Read(buf)
			if errors.Is(err, syscall.ECONNREFUSED) {
				// Nothing listens on the CoA port (ICMP port unreachable):
				// the access point may be restarting; wait the try out.
				refused = true
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(deadline)):
				}
				break
			}
			if err != nil {
				break // the wait is over: send again
			}
			switch resp, ok := answer(buf[:n], b, req); {
			case !ok: // not an answer to this request: keep waiting
			case resp.Code == radius.CodeDisconnectACK:
				return nil
			default:
				cause := errorCause(resp)
				if cause == errorCauseSessionNotFound {
					return nil
				}
				return NAKError{Cause: cause}
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				break
			}
			_ = conn.SetReadDeadline(deadline)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if refused {
		return fmt.Errorf("%w: nothing listens on its CoA port %d", ErrNoAnswer, t.NAS.CoAPort)
	}
	return ErrNoAnswer
}

// destination is where t's request goes.
func destination(t model.DisconnectTarget) (netip.AddrPort, error) {
	addr := t.Session.Addr
	if !addr.IsValid() {
		if !t.NAS.Address.IsSingleIP() {
			return netip.AddrPort{}, errors.New("the access point's address is a network and the session's is unknown")
		}
		addr = t.NAS.Address.Addr()
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(t.NAS.CoAPort)), nil
}

// disconnectRequest encodes t's Disconnect-Request: Message-Authenticator
// first, then User-Name and Calling-Station-Id (the MAC as MAC
// authentication sends them) and Acct-Session-Id. Its Message-Authenticator
// is computed over a zeroed Request Authenticator, which is then MD5 over
// the packet and the secret (RFC 5176 §3.1, §3.5, as FreeRADIUS does).
func disconnectRequest(t model.DisconnectTarget) (*radius.Packet, []byte, error) {
	p := radius.New(radius.CodeDisconnectRequest, []byte(t.Secret))
	var id [1]byte
	_, _ = rand.Read(id[:])
	p.Identifier = id[0]
	p.Add(attrMessageAuthenticator, make(radius.Attribute, 16))
	hex := strings.ToLower(strings.ReplaceAll(t.MAC, ":", ""))
	for _, a := range []struct {
		t radius.Type
		v string
	}{{attrUserName, hex}, {attrCallingStationID, strings.ReplaceAll(t.MAC, ":", "-")}, {attrAcctSessionID, t.Session.ID}} {
		if err := addString(p, a.t, a.v); err != nil {
			return nil, nil, err
		}
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	clear(b[4:20])
	mac := hmac.New(md5.New, p.Secret)
	mac.Write(b)
	mac.Sum(b[22:22])
	h := md5.New()
	h.Write(b)
	h.Write(p.Secret)
	h.Sum(b[4:4])
	copy(p.Authenticator[:], b[4:20])
	return p, b, nil
}

// answer parses b as the answer to the request encoded as sent: its
// identifier, a Disconnect-ACK or -NAK, its Response Authenticator, and its
// Message-Authenticator when it has one (over the answer with the
// request's authenticator in place).
func answer(b, sent []byte, req *radius.Packet) (*radius.Packet, bool) {
	if len(b) < 20 || b[1] != sent[1] || !radius.IsAuthenticResponse(b, sent, req.Secret) {
		return nil, false
	}
	resp, err := radius.Parse(b, req.Secret)
	if err != nil || (resp.Code != radius.CodeDisconnectACK && resp.Code != radius.CodeDisconnectNAK) {
		return nil, false
	}
	if at, ok := findAttribute(b, attrMessageAuthenticator); ok {
		if b[at+1] != 18 {
			return nil, false
		}
		c := append([]byte(nil), b...)
		copy(c[4:20], sent[4:20])
		clear(c[at+2 : at+18])
		mac := hmac.New(md5.New, req.Secret)
		mac.Write(c)
		if !hmac.Equal(mac.Sum(nil), b[at+2:at+18]) {
			return nil, false
		}
	}
	return resp, true
}

// errorCause is a NAK's Error-Cause (0: none).
func errorCause(p *radius.Packet) uint32 {
	if a, ok := p.Lookup(attrErrorCause); ok && len(a) == 4 {
		return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	}
	return 0
}

// errorCauseName is an Error-Cause's name in FreeRADIUS's dictionaries
// (dictionary.rfc3576, .rfc5176).
func errorCauseName(c uint32) string {
	switch c {
	case 201:
		return "Residual-Context-Removed"
	case 202:
		return "Invalid-EAP-Packet"
	case 401:
		return "Unsupported-Attribute"
	case 402:
		return "Missing-Attribute"
	case 403:
		return "NAS-Identification-Mismatch"
	case 404:
		return "Invalid-Request"
	case 405:
		return "Unsupported-Service"
	case 406:
		return "Unsupported-Extension"
	case 407:
		return "Invalid-Attribute-Value"
	case 501:
		return "Administratively-Prohibited"
	case 502:
		return "Proxy-Request-Not-Routable"
	case 503:
		return "Session-Context-Not-Found"
	case 504:
		return "Session-Context-Not-Removable"
	case 505:
		return "Proxy-Processing-Error"
	case 506:
		return "Resources-Unavailable"
	case 507:
		return "Request-Initiated"
	case 508:
		return "Multiple-Session-Selection-Unsupported"
	}
	return "unknown"
}
