package model

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"
)

// NASProfile is how an access point wants a passphrase and a VLAN in an
// Access-Accept (SPEC §9.2).
type NASProfile string

const (
	NASHostapd NASProfile = "hostapd"
	NASCisco   NASProfile = "cisco"
	NASMeraki  NASProfile = "meraki"
	NASMist    NASProfile = "mist"
	NASAruba   NASProfile = "aruba"
	NASRuckus  NASProfile = "ruckus"
)

// NASProfiles are every profile, in the order help texts list them.
var NASProfiles = []NASProfile{NASHostapd, NASCisco, NASMeraki, NASMist, NASAruba, NASRuckus}

// ParseNASProfile returns BAD_USER_INPUT for a profile that is not one of
// NASProfiles.
func ParseNASProfile(s string) (NASProfile, error) {
	for _, p := range NASProfiles {
		if string(p) == s {
			return p, nil
		}
	}
	return "", Errorf(CodeBadUserInput, "must be one of hostapd, cisco, meraki, mist, aruba, ruckus")
}

// NAS is an access point (a RADIUS client) of a property: packets from its
// address are answered with its shared secret.
type NAS struct {
	ID         uuid.UUID
	PropertyID uuid.UUID
	Name       string
	Address    netip.Prefix
	Profile    NASProfile
	CoAPort    int
	// CertSHA256 pins its RadSec client certificate (nil: none).
	CertSHA256 []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// NASClient is an access point as the RADIUS server holds it: with its
// shared secret and its property's SSIDs.
type NASClient struct {
	NAS
	Secret string
	SSIDs  []string
	// MaxDevicesPerIdentity is the property's cap (0: none).
	MaxDevicesPerIdentity int
}

// NASSecretBytes is the entropy of a generated shared secret (39
// characters once encoded: well past RFC 2865's advice of 16 octets).
const NASSecretBytes = 24

// MintNASSecret returns a new random shared secret, in letters and digits
// only (base32): access points' consoles and command lines take it as it
// is — a secret starting with "-" reads as an option to radclient.
func MintNASSecret() string {
	b := make([]byte, NASSecretBytes)
	_, _ = rand.Read(b)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// ParseNASAddress takes an address or a network (CIDR) and returns it as a
// prefix (a single address is a /32 or /128). BAD_USER_INPUT otherwise.
func ParseNASAddress(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, Errorf(CodeBadUserInput, "must be an IP address or a network such as 192.0.2.0/24")
	}
	return p.Masked(), nil
}

// WifiDevice is what an access request needs to know of a device found by
// its MAC: whose it is, whether that identity and unit may connect, and
// the identity's passphrase.
type WifiDevice struct {
	MAC        string // set where a list of devices needs it (AA:BB:CC:DD:EE:FF)
	DeviceID   uuid.UUID
	UserID     uuid.UUID
	UnitID     uuid.UUID
	UserStatus UnitUserStatus
	UnitStatus UnitStatus
	Passphrase string
	VLAN       *int
}

// AcctStatus is an accounting request's Acct-Status-Type (RFC 2866).
type AcctStatus int

const (
	AcctStart         AcctStatus = 1
	AcctStop          AcctStatus = 2
	AcctInterim       AcctStatus = 3
	AcctAccountingOn  AcctStatus = 7
	AcctAccountingOff AcctStatus = 8
)

// Accounting is what an access point reports of a device's session.
type Accounting struct {
	PropertyID  uuid.UUID
	NASID       uuid.UUID
	Status      AcctStatus
	MAC         string // AA:BB:CC:DD:EE:FF
	SessionID   string
	OnlineUntil time.Time
	Source      netip.Addr // the access point's address the report came from
}

// NewDevice is what registering a device needs. MACAddress may be in any
// usual notation.
type NewDevice struct {
	UserID      uuid.UUID
	MACAddress  string
	DisplayName string
	Description string
	OSType      string
	LastSeen    *time.Time
	// MaxPerIdentity, when not 0, refuses the device (FORBIDDEN) if its
	// identity has that many already.
	MaxPerIdentity int
	// Joining is a device that joins by itself (a handshake): refused
	// (FORBIDDEN, ErrDeviceBlocked) while its identity blocks the MAC.
	// Anyone else adding it allows it again.
	Joining bool
}

// ErrDeviceBlocked is in the chain of the error that refuses a device
// joining an identity it was removed from (SPEC §9.5).
var ErrDeviceBlocked = errors.New("the device was removed from this identity")

// Session is an access point's session of a device (RADIUS accounting):
// what a Disconnect-Request names (SPEC §9.5). The zero value is none.
type Session struct {
	NASID uuid.UUID
	ID    string     // Acct-Session-Id
	Addr  netip.Addr // where its accounting came from (zero: unknown)
}

// BlockedDevice is a device removed from an identity: refused with it
// until the resident allows it again or the passphrase changes.
type BlockedDevice struct {
	UserID     uuid.UUID
	UnitID     uuid.UUID
	MACAddress string
	BlockedAt  time.Time
}

// Disconnect is a change request portald delivers to access points itself
// (SPEC §9.5), with the online sessions it affects.
type Disconnect struct {
	Change  ChangeRequest
	Targets []DisconnectTarget
}

// DisconnectTarget is one session to end: the access point holding it
// (with its secret), the device's MAC and the session.
type DisconnectTarget struct {
	NAS     NAS
	Secret  string
	MAC     string // AA:BB:CC:DD:EE:FF
	Session Session
}
