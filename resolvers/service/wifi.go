package service

import (
	"context"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// The Wi-Fi side (SPEC §9): access points ask, over RADIUS, whether a
// device may join and with which passphrase. The RADIUS server is a
// transport like the others: it knows the protocol, the service knows the
// rules.

// Refusal reasons, as the Reply-Message of an Access-Reject says them:
// never a secret, and nothing an unknown device could learn a resident
// from.
const (
	RefusedUnknownDevice = "unknown device"
	RefusedAmbiguous     = "the device is in more than one unit"
	RefusedBlocked       = "identity blocked"
	RefusedUnitDisabled  = "unit disabled"
	RefusedSSID          = "SSID not this property's"
)

// classAAD binds a Class to its use.
var classAAD = []byte("radius class")

// Access is the answer to an access request: the device and its
// identity's passphrase when granted, the reason otherwise.
type Access struct {
	Granted bool
	Reason  string
	Device  model.WifiDevice
	// Class names the identity opaquely (sealed under the server's key),
	// for the access point to echo in accounting.
	Class []byte
	// Tried is how many identities a handshake was checked against.
	Tried int
	// PMK is the matched passphrase's PMK, for a handshake (an access
	// point such as Ruckus's takes it back); never stored.
	PMK []byte
}

// NASClients are every access point with its secret and its property's
// SSIDs, for the RADIUS server's table. UNAVAILABLE when the store is.
func (s *Service) NASClients(ctx context.Context) ([]model.NASClient, error) {
	return s.store.NASClients(ctx)
}

// AuthorizeMAC decides an identity-PSK request (SPEC §9.2): a device of an
// ACTIVE identity of an ENABLED unit of the access point's property, on
// one of the property's SSIDs. mac is any usual notation; ssid is the one
// the device asks to join. UNAVAILABLE when the store is.
func (s *Service) AuthorizeMAC(ctx context.Context, nas model.NASClient, mac, ssid string) (Access, error) {
	if !slices.Contains(nas.SSIDs, ssid) {
		return Access{Reason: RefusedSSID}, nil
	}
	m, err := model.ParseMAC(mac)
	if err != nil {
		return Access{Reason: RefusedUnknownDevice}, nil
	}
	found, err := s.devicesByMAC(ctx, nas.PropertyID, m)
	switch {
	case err != nil:
		return Access{}, err
	case len(found) == 0:
		return Access{Reason: RefusedUnknownDevice}, nil
	case len(found) > 1:
		return Access{Reason: RefusedAmbiguous}, nil
	}
	d := found[0]
	switch {
	case d.UnitStatus != model.UnitEnabled:
		return Access{Reason: RefusedUnitDisabled}, nil
	case d.UserStatus != model.UserActive:
		return Access{Reason: RefusedBlocked}, nil
	}
	return Access{Granted: true, Device: d, Class: s.keys.Encrypt(d.UserID.String(), classAAD)}, nil
}

// InterimInterval is how often an Access-Accept asks the access point to
// report a session (Acct-Interim-Interval), and OnlineWindow how long after
// its last report a device still counts as online: two reports and a half
// may be lost, or the access point may have died without a Stop.
const (
	InterimInterval = 10 * time.Minute
	OnlineWindow    = 25 * time.Minute
)

// Account records an accounting request (SPEC §9.4): Start and
// Interim-Update make the device with mac (any usual notation) seen and
// online with the session, Stop seen and offline; Accounting-On and -Off
// end every session of the access point. A MAC that is no device of the
// property is nothing to record. UNAVAILABLE when the store is (the
// access point is not answered, and sends it again).
//
// source is the address the report came from: where a Disconnect-Request
// for the session goes (§9.5).
func (s *Service) Account(ctx context.Context, nas model.NASClient, status model.AcctStatus, mac, sessionID string, source netip.Addr) error {
	switch status {
	case model.AcctAccountingOn, model.AcctAccountingOff:
		_, err := s.store.EndSessions(ctx, nas.ID)
		return err
	case model.AcctStart, model.AcctInterim, model.AcctStop:
	default:
		return nil // Failed, tunnel records…: nothing this server keeps
	}
	m, err := model.ParseMAC(mac)
	if err != nil || sessionID == "" {
		return nil
	}
	_, err = s.store.Accounting(ctx, model.Accounting{PropertyID: nas.PropertyID, NASID: nas.ID, Status: status, MAC: m,
		SessionID: sessionID, OnlineUntil: s.now().Add(OnlineWindow), Source: source})
	return err
}

// SetUnitVLAN sets the VLAN access points put the unit's devices on, or
// clears it (nil). UNAUTHENTICATED, FORBIDDEN for a resident,
// BAD_USER_INPUT, NOT_FOUND.
func (s *Service) SetUnitVLAN(ctx context.Context, propertyID, unitID uuid.UUID, vlan *int) (model.Unit, error) {
	// SECURITY: the network's segmentation is the building's, not a
	// resident's.
	if err := s.requireManager(ctx, propertyID, "setting a VLAN needs a manager key"); err != nil {
		return model.Unit{}, err
	}
	return s.store.SetUnitVLAN(ctx, &propertyID, unitID, vlan)
}

// AccessPoints are a property's access points by name, for its manager
// (never with their secrets). UNAUTHENTICATED, FORBIDDEN for a resident.
func (s *Service) AccessPoints(ctx context.Context, propertyID uuid.UUID) ([]model.NAS, error) {
	// SECURITY: residents do not see the building's network equipment.
	if err := s.requireManager(ctx, propertyID, "access points need a manager key"); err != nil {
		return nil, err
	}
	return s.store.NASList(ctx, propertyID)
}

// Dynamic PSK by handshake (SPEC §9.3).

// RefusedHandshake and RefusedNoMatch are the refusals a handshake can
// get besides those of AuthorizeMAC.
const (
	RefusedHandshake = "the handshake could not be read"
	RefusedNoMatch   = "no passphrase of this property made the handshake"
	// RefusedDeviceLimit: the matched identity has the property's
	// maximum of devices (maxDevicesPerIdentity).
	RefusedDeviceLimit = "device limit reached"
	// RefusedDeviceRemoved: the resident removed the device from the
	// matched identity and has not allowed it again (§9.5).
	RefusedDeviceRemoved = "device removed by the resident"
)

// Handshake is what an access point sends of a 4-way handshake: the
// device's MAC (SPA), the BSSID (AA), the SSID, the access point's
// ANonce and the device's EAPOL-Key message 2.
type Handshake struct {
	SPA, AA, SSID string
	ANonce, Frame []byte
	// MaySearch, when set, is asked before the search goes past the
	// device's own identities (the expensive path: up to every identity of
	// the property); false ends it with RATE_LIMITED.
	MaySearch func() bool
}

// ErrSearchBudget ends a handshake whose search the transport's budget
// did not allow.
var ErrSearchBudget = model.Errorf(model.CodeRateLimited, "too many handshakes of unknown devices; try again shortly")

// Bounds of one handshake's search: the identities tried, and the PMKs
// derived on its own time (about 3 ms of CPU each); the rest are derived
// in the background, once per property and SSID at a time, and the access
// point's retry finds them.
const (
	MaxCandidates    = 20000
	pmkComputeBudget = 4
)

// AuthorizeHandshake finds the identity whose passphrase made the
// handshake: first those the device (by MAC) belongs to, then every ACTIVE
// identity of an ENABLED unit of the property. A device matched for the
// first time becomes a device of its identity. Access.Tried says how many
// identities were tried. UNAVAILABLE when the store is, or ctx ends first.
func (s *Service) AuthorizeHandshake(ctx context.Context, nas model.NASClient, h Handshake) (Access, error) {
	if !slices.Contains(nas.SSIDs, h.SSID) {
		return Access{Reason: RefusedSSID}, nil
	}
	spa, err1 := model.ParseMAC(h.SPA)
	aa, err2 := model.ParseMAC(h.AA)
	k, err3 := parseEAPOLKey(h.Frame)
	if err1 != nil || err2 != nil || err3 != nil || len(h.ANonce) != 32 {
		return Access{Reason: RefusedHandshake}, nil
	}
	data := ptkData(macBytes(aa), macBytes(spa), h.ANonce, k.snonce)
	tbl := s.wifi.get(ctx, s.store, nas.PropertyID)
	var own []model.WifiDevice
	var err error
	if tbl != nil {
		own = tbl.byMAC[spa]
	} else if own, err = s.store.WifiDevicesByMAC(ctx, nas.PropertyID, spa); err != nil {
		return Access{}, err
	}
	var mine []model.WifiDevice // the identities the device belongs to, tried first
	for _, d := range own {
		if d.UserStatus == model.UserActive && d.UnitStatus == model.UnitEnabled {
			mine = append(mine, d)
		}
	}
	budget, tried, cold := pmkComputeBudget, 0, false
	var matched [32]byte
	// matches reports whether c's passphrase made the frame, deriving its
	// PMK if the request's budget allows (else it is left for the
	// background: cold); matched is the PMK that did.
	matches := func(c model.WifiDevice) bool {
		pmk, ok := s.pmks.get(c.UserID, h.SSID, c.Passphrase)
		if !ok {
			if budget == 0 {
				cold = true
				return false
			}
			budget--
			pmk = s.pmks.derive(c.UserID, h.SSID, c.Passphrase)
		}
		tried++
		if micMatches(pmk, data, k) {
			matched = pmk
			return true
		}
		return false
	}
	for _, c := range mine {
		if matches(c) {
			return s.handshakeMatched(ctx, nas, spa, c, tried, matched[:])
		}
	}
	// SECURITY: past the device's own identities the search costs up to
	// every identity's check: the transport bounds how often.
	if h.MaySearch != nil && !h.MaySearch() {
		return Access{Tried: tried}, ErrSearchBudget
	}
	var all []model.WifiDevice
	if tbl != nil {
		all = tbl.candidates
	} else if all, err = s.store.WifiCandidates(ctx, nas.PropertyID, MaxCandidates); err != nil {
		return Access{Tried: tried}, err
	}
	for i, c := range all {
		if i%256 == 255 && ctx.Err() != nil {
			return Access{Tried: tried}, model.Errorf(model.CodeUnavailable, "the handshake was not matched in time")
		}
		if slices.ContainsFunc(mine, func(m model.WifiDevice) bool { return m.UserID == c.UserID }) {
			continue // tried already
		}
		if matches(c) {
			return s.handshakeMatched(ctx, nas, spa, c, tried, matched[:])
		}
	}
	if cold {
		s.pmks.warm(nas.PropertyID, h.SSID, all)
	}
	return Access{Reason: RefusedNoMatch, Tried: tried}, nil
}

// handshakeMatched grants a handshake made with c's passphrase; a device
// not yet one of c's identity's becomes one (refused past the property's
// cap).
func (s *Service) handshakeMatched(ctx context.Context, nas model.NASClient, mac string, c model.WifiDevice, tried int, pmk []byte) (Access, error) {
	if c.DeviceID == uuid.Nil {
		d, err := s.store.AddDevice(ctx, model.UnitScope(nas.PropertyID, c.UnitID), model.NewDevice{UserID: c.UserID, MACAddress: mac,
			MaxPerIdentity: nas.MaxDevicesPerIdentity, Joining: true})
		switch {
		case err == nil:
			c.DeviceID = d.ID
		case errors.Is(err, model.ErrDeviceBlocked):
			return Access{Reason: RefusedDeviceRemoved, Tried: tried}, nil
		case model.ErrorCode(err) == model.CodeForbidden: // the identity's cap
			return Access{Reason: RefusedDeviceLimit, Tried: tried}, nil
		case model.ErrorCode(err) != model.CodeConflict: // CONFLICT: the unit has the MAC under another identity
			return Access{Tried: tried}, err
		}
	}
	return Access{Granted: true, Device: c, Class: s.keys.Encrypt(c.UserID.String(), classAAD), Tried: tried, PMK: pmk}, nil
}

// devicesByMAC are the property's devices with mac, from its in-memory
// table when one is kept (see wifiTables), else from the store.
func (s *Service) devicesByMAC(ctx context.Context, property uuid.UUID, mac string) ([]model.WifiDevice, error) {
	if tbl := s.wifi.get(ctx, s.store, property); tbl != nil {
		return tbl.byMAC[mac], nil
	}
	return s.store.WifiDevicesByMAC(ctx, property, mac)
}

// macBytes is AA:BB:CC:DD:EE:FF's 6 bytes.
func macBytes(mac string) []byte {
	b, _ := hex.DecodeString(strings.ReplaceAll(mac, ":", ""))
	return b
}
