package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"hash"
	"strconv"
	"sync"
	"time"

	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
	"layeh.com/radius"
	"layeh.com/radius/rfc2868"
	"layeh.com/radius/rfc3580"
)

// Attribute numbers and vendors, as FreeRADIUS's dictionaries define them
// (dictionary.rfc2865, .rfc2866, .rfc2868, .rfc2869, .cisco, .aruba,
// .ruckus).
const (
	attrUserName             = 1
	attrReplyMessage         = 18
	attrClass                = 25
	attrVendorSpecific       = 26
	attrCalledStationID      = 30
	attrCallingStationID     = 31
	attrAcctStatusType       = 40
	attrAcctSessionID        = 44
	attrMessageAuthenticator = 80
	attrAcctInterimInterval  = 85

	attrLongExtended1 = 245 // RFC 6929's Long-Extended-Type-1
	extendedVSA       = 26  // its Extended-Vendor-Specific type
	vendorFreeRADIUS  = 11344

	vendorCisco     = 9
	ciscoAVPair     = 1
	vendorAruba     = 14823
	arubaMPSKPhrase = 44

	vendorRuckus     = 25053
	ruckusSSID       = 3
	ruckusBSSID      = 14
	ruckusDpsk       = 142 // the reply's PMK
	ruckusDPSKParams = 153 // a TLV: AKM-Suite 1, Cipher 2, Anonce 3, EAPOL-Key-Frame 4
	ruckusDPSKAnonce = 3
	ruckusDPSKKeyMsg = 4
)

var (
	errNoAuthenticator  = errors.New("no Message-Authenticator")
	errBadAuthenticator = errors.New("Message-Authenticator does not verify")
)

// macs are HMAC-MD5 states keyed with one access point's secret, reused
// (Reset keeps the key): a request verifies and signs without allocating
// them again.
type macs struct {
	secret []byte
	pool   sync.Pool
}

func newMACs(secret []byte) *macs { return &macs{secret: secret} }

func (m *macs) get() hash.Hash {
	if h, ok := m.pool.Get().(hash.Hash); ok {
		h.Reset()
		return h
	}
	return hmac.New(md5.New, m.secret)
}

func (m *macs) put(h hash.Hash) { m.pool.Put(h) }

// verifyRequest checks a request's Message-Authenticator (RFC 3579 §3.2):
// HMAC-MD5 under the shared secret over the packet with the attribute's
// value zeroed. nil when it verifies.
func verifyRequest(b []byte, m *macs) error {
	at, ok := findAttribute(b, attrMessageAuthenticator)
	if !ok {
		return errNoAuthenticator
	}
	if b[at+1] != 18 {
		return errBadAuthenticator
	}
	var zero, sum [16]byte
	mac := m.get()
	defer m.put(mac)
	mac.Write(b[:at+2])
	mac.Write(zero[:])
	mac.Write(b[at+18:])
	if !hmac.Equal(mac.Sum(sum[:0]), b[at+2:at+18]) {
		return errBadAuthenticator
	}
	return nil
}

// findAttribute is the offset of the first attribute of type t in an
// encoded packet (whose attributes parsed already).
func findAttribute(b []byte, t byte) (int, bool) {
	for at := 20; at+2 <= len(b); at += int(b[at+1]) {
		if b[at+1] < 2 {
			return 0, false
		}
		if b[at] == t && at+int(b[at+1]) <= len(b) {
			return at, true
		}
	}
	return 0, false
}

// encodeReply encodes a reply to req: Message-Authenticator first (the
// Blast-RADIUS rule), then what add puts in, signed with the request's
// authenticator and the secret.
func encodeReply(req *radius.Packet, code radius.Code, m *macs, add func(*radius.Packet) error) ([]byte, error) {
	r := req.Response(code)
	r.Add(attrMessageAuthenticator, make(radius.Attribute, 16))
	if err := add(r); err != nil {
		return nil, err
	}
	// Message-Authenticator over the reply with the request's
	// authenticator in place (RFC 3579 §3.2), then the reply's own
	// authenticator.
	b, err := r.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if code == radius.CodeAccountingResponse {
		// As FreeRADIUS signs and checks it: over a zeroed authenticator,
		// like the accounting request's own.
		clear(b[4:20])
	}
	mac := m.get()
	mac.Write(b)
	mac.Sum(b[22:22]) // in place: the first attribute's 16 bytes
	m.put(mac)
	// The Response Authenticator (RFC 2865 §3): MD5 over the reply with
	// the request's authenticator, then the secret.
	copy(b[4:20], r.Authenticator[:])
	h := md5.New()
	h.Write(b)
	h.Write(r.Secret)
	h.Sum(b[4:4])
	return b, nil
}

// evs is the value of an Extended-Vendor-Specific-5 attribute (RFC 6929
// §2.2, long extended: fragments flagged More are joined), nil when the
// packet has none.
func evs(p *radius.Packet, vendor uint32, typ byte) []byte {
	var out []byte
	found, more := false, false
	for _, a := range p.Attributes {
		if a.Type != attrLongExtended1 {
			continue
		}
		v := a.Attribute
		if len(v) < 7 || v[0] != extendedVSA || uint32(v[2])<<24|uint32(v[3])<<16|uint32(v[4])<<8|uint32(v[5]) != vendor || v[6] != typ {
			if found && more {
				return nil // a fragment chain broken by another attribute
			}
			continue
		}
		if found && !more {
			continue // a second value: the first counts
		}
		found = true
		out = append(out, v[7:]...)
		more = v[1]&0x80 != 0
		if len(out) > 4096 {
			return nil
		}
	}
	if !found {
		return nil
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

// vendorAttr is the value of the first vendor attribute typ of vendor
// (RFC 2865 §5.26, one-byte type and length), nil when the packet has
// none.
func vendorAttr(p *radius.Packet, vendor uint32, typ byte) []byte {
	for _, a := range p.Attributes {
		if a.Type != attrVendorSpecific || len(a.Attribute) < 6 {
			continue
		}
		v := a.Attribute
		if uint32(v[0])<<24|uint32(v[1])<<16|uint32(v[2])<<8|uint32(v[3]) != vendor {
			continue
		}
		for in := v[4:]; len(in) >= 2 && int(in[1]) >= 2 && int(in[1]) <= len(in); in = in[in[1]:] {
			if in[0] == typ {
				return in[2:in[1]]
			}
		}
	}
	return nil
}

// subTLV is the value of the sub-attribute typ of a TLV attribute's value
// (one-byte type and length each), nil when it has none.
func subTLV(tlv []byte, typ byte) []byte {
	for in := tlv; len(in) >= 2 && int(in[1]) >= 2 && int(in[1]) <= len(in); in = in[in[1]:] {
		if in[0] == typ {
			return in[2:in[1]]
		}
	}
	return nil
}

func attrString(p *radius.Packet, t radius.Type) string {
	if a, ok := p.Lookup(t); ok {
		return string(a)
	}
	return ""
}

func addString(p *radius.Packet, t radius.Type, s string) error {
	a, err := radius.NewString(s)
	if err != nil {
		return err
	}
	p.Add(t, a)
	return nil
}

func addVendor(p *radius.Packet, vendor uint32, t byte, value []byte) error {
	if len(value) > 247 {
		return errors.New("a vendor attribute's value is at most 247 bytes")
	}
	inner := make([]byte, 0, 2+len(value))
	inner = append(inner, t, byte(2+len(value)))
	inner = append(inner, value...)
	vsa, err := radius.NewVendorSpecific(vendor, inner)
	if err != nil {
		return err
	}
	p.Add(attrVendorSpecific, vsa)
	return nil
}

// grant adds an Access-Accept's attributes for a profile (SPEC §9.2): the
// passphrase as the access point wants it, the unit's VLAN, and a Class
// naming the identity opaquely.
func grant(r *radius.Packet, profile model.NASProfile, a service.Access) error {
	pass := []byte(a.Device.Passphrase)
	switch profile {
	case model.NASCisco:
		for _, pair := range []string{"psk-mode=ascii", "psk=" + a.Device.Passphrase} {
			if err := addVendor(r, vendorCisco, ciscoAVPair, []byte(pair)); err != nil {
				return err
			}
		}
	case model.NASAruba:
		// octets encrypt=2: salted like Tunnel-Password, without a tag.
		var salt [2]byte
		if _, err := rand.Read(salt[:]); err != nil {
			return err
		}
		salt[0] |= 0x80
		enc, err := radius.NewTunnelPassword(pass, salt[:], r.Secret, r.Authenticator[:])
		if err != nil {
			return err
		}
		if err := addVendor(r, vendorAruba, arubaMPSKPhrase, enc); err != nil {
			return err
		}
	default: // hostapd, meraki, mist, ruckus: Tunnel-Password (RFC 2868)
		if err := rfc2868.TunnelPassword_Add(r, 0, pass); err != nil {
			return err
		}
	}
	if a.Device.VLAN != nil {
		// Tag 1 on all three (RFC 3580 §3.31): a tag of 0 on
		// Tunnel-Private-Group-Id would read as part of its value to
		// FreeRADIUS, which takes 1–31 only.
		if err := rfc2868.TunnelType_Add(r, 1, rfc3580.TunnelType_Value_VLAN); err != nil {
			return err
		}
		if err := rfc2868.TunnelMediumType_Add(r, 1, rfc2868.TunnelMediumType_Value_IEEE802); err != nil {
			return err
		}
		if err := rfc2868.TunnelPrivateGroupID_Add(r, 1, []byte(strconv.Itoa(*a.Device.VLAN))); err != nil {
			return err
		}
	}
	if profile == model.NASRuckus && len(a.PMK) == 32 {
		// Ruckus's external DPSK takes the matched PMK back (Ruckus-Dpsk,
		// octets), as FreeRADIUS's dpsk module and its Ruckus policy send it.
		if err := addVendor(r, vendorRuckus, ruckusDpsk, a.PMK); err != nil {
			return err
		}
	}
	if len(a.Class) > 0 {
		r.Add(attrClass, radius.Attribute(a.Class))
	}
	// Sessions are reported this often, so a device's online state holds
	// (service.OnlineWindow).
	r.Add(attrAcctInterimInterval, radius.NewInteger(uint32(service.InterimInterval/time.Second)))
	return nil
}
