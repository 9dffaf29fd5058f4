package model

import (
	"encoding/hex"
	"time"

	"github.com/google/uuid"
)

// AppendUUID appends id to b as id.String() spells it, for strings built
// in one allocation (keys, links).
func AppendUUID(b []byte, id uuid.UUID) []byte {
	var s [36]byte
	hex.Encode(s[0:8], id[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], id[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], id[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], id[8:10])
	s[23] = '-'
	hex.Encode(s[24:], id[10:])
	return append(b, s[:]...)
}

// UnitStatus is whether a unit's portal and identities are in service.
type UnitStatus string

// Unit statuses.
const (
	UnitEnabled  UnitStatus = "ENABLED"
	UnitDisabled UnitStatus = "DISABLED"
)

// Valid reports whether s is a known unit status.
func (s UnitStatus) Valid() bool { return s == UnitEnabled || s == UnitDisabled }

// UnitUserType says which identity of a unit a user is.
type UnitUserType string

// Unit user types: the unit's own identity, its guest identity, extra ones.
const (
	UserTypeUnit   UnitUserType = "UNIT"
	UserTypeGuest  UnitUserType = "GUEST"
	UserTypeLinked UnitUserType = "LINKED"
)

// Valid reports whether t is a known unit user type.
func (t UnitUserType) Valid() bool {
	return t == UserTypeUnit || t == UserTypeGuest || t == UserTypeLinked
}

// UnitUserStatus says whether a unit user's passphrase admits devices.
type UnitUserStatus string

// Unit user statuses.
const (
	UserActive  UnitUserStatus = "ACTIVE"
	UserBlocked UnitUserStatus = "BLOCKED"
)

// Valid reports whether s is a known unit user status.
func (s UnitUserStatus) Valid() bool { return s == UserActive || s == UserBlocked }

// FileType names one of a property's portal files.
type FileType string

// Portal file types, spelled as the vendor's API spells them.
const (
	FileLogo    FileType = "logo"
	FileFavIcon FileType = "favIcon"
)

// Valid reports whether t is a known file type.
func (t FileType) Valid() bool { return t == FileLogo || t == FileFavIcon }

// ChangeKind is the kind of a change request (outbox row).
type ChangeKind string

// Change kinds: what the Wi-Fi side must learn about.
const (
	ChangeIdentityCreated   ChangeKind = "IDENTITY_CREATED"
	ChangeIdentity          ChangeKind = "IDENTITY_CHANGED"
	ChangeIdentityRemoved   ChangeKind = "IDENTITY_REMOVED"
	ChangePassphrase        ChangeKind = "PASSPHRASE_CHANGED"
	ChangeDeviceRemoved     ChangeKind = "DEVICE_REMOVED"
	ChangePortalAccessReset ChangeKind = "PORTAL_ACCESS_RESET"
	ChangeUnitStatus        ChangeKind = "UNIT_STATUS_CHANGED"
)

// Valid reports whether k is a known kind.
func (k ChangeKind) Valid() bool {
	switch k {
	case ChangeIdentityCreated, ChangeIdentity, ChangeIdentityRemoved, ChangePassphrase, ChangeDeviceRemoved,
		ChangePortalAccessReset, ChangeUnitStatus:
		return true
	}
	return false
}

// ChangeStatus is where a change request is in its lifecycle: PENDING →
// PUBLISHED (the broker has it) → APPLIED or FAILED (the Wi-Fi side says).
type ChangeStatus string

// Change request statuses.
const (
	ChangePending   ChangeStatus = "PENDING"
	ChangePublished ChangeStatus = "PUBLISHED"
	ChangeApplied   ChangeStatus = "APPLIED"
	ChangeFailed    ChangeStatus = "FAILED"
)

// Valid reports whether s is a known status.
func (s ChangeStatus) Valid() bool {
	switch s {
	case ChangePending, ChangePublished, ChangeApplied, ChangeFailed:
		return true
	}
	return false
}

// Property is an apartment building with its portal settings.
type Property struct {
	ID                       uuid.UUID
	Name                     string
	Address                  string
	Description              string
	ManagementName           string
	ManagementPhone          string
	ManagementEmail          string
	HelpText                 string
	Announcements            string
	AllowSeparateGuestSecret bool
	EnforceMaxUnits          bool
	MaxUnits                 int
	// MaxDevicesPerIdentity caps the devices of each identity that join
	// by handshake (0: no cap, SPEC §9.3).
	MaxDevicesPerIdentity int
	SendEmail             bool
	SendSms               bool
	SSIDs                 []string
	PortalAllowed         bool
	LoginText             string
	Title                 string
	Subtitle              string
	MainColor             string
	AccentColor           string
	SeparatorColor        string
	TextColor             string
	TenantSetDpsk         bool
	PassphraseLength      int
	// LogoFileName and FavIconFileName are empty when no file is uploaded.
	LogoFileName    string
	FavIconFileName string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// PropertyFile is a logo or favicon uploaded for a property's portal.
type PropertyFile struct {
	PropertyID  uuid.UUID
	Type        FileType
	FileName    string
	ContentType string
	Data        []byte
}

// Contact is how a unit's resident is reached.
type Contact struct {
	ContactName string
	Email       string
	PhoneNumber string
}

// Unit is a flat. Secret and GuestSecret are the passphrases of its UNIT and
// GUEST users (one stored value each); GuestSecret is nil when the property
// allows no separate guest secret.
type Unit struct {
	ID              uuid.UUID
	PropertyID      uuid.UUID
	Number          string
	Description     string
	Contact         Contact
	Status          UnitStatus
	UnitUserID      uuid.UUID
	Secret          string
	GuestUserID     *uuid.UUID
	GuestSecret     *string
	TokenGeneration int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// VLAN is the VLAN access points put the unit's devices on (nil: the
	// SSID's own).
	VLAN *int
}

// UnitUser is one Wi-Fi identity of a unit with its passphrase.
type UnitUser struct {
	ID          uuid.UUID
	UnitID      uuid.UUID
	PropertyID  uuid.UUID
	Type        UnitUserType
	UserName    string
	Email       string
	PhoneNumber string
	Status      UnitUserStatus
	Passphrase  string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Device is a client that joined with one of a unit's passphrases.
// MACAddress is always in canonical form (AA:BB:CC:DD:EE:FF).
type Device struct {
	ID          uuid.UUID
	UnitID      uuid.UUID
	UserID      uuid.UUID
	UserType    UnitUserType
	MACAddress  string
	DisplayName string
	Description string
	OSType      string
	LastSeen    *time.Time
	// Online: an access point has the device's session open (RADIUS
	// accounting, SPEC §9.4).
	Online bool
}

// ChangeRequest is one outbox row: what changed, for the Wi-Fi side.
type ChangeRequest struct {
	ID         uuid.UUID
	Kind       ChangeKind
	PropertyID uuid.UUID
	UnitID     uuid.UUID
	UserID     *uuid.UUID
	DeviceID   *uuid.UUID
	MACAddress *string
	Status     ChangeStatus
	CreatedAt  time.Time
	// PublishedAt and CompletedAt are the times of the later steps; Detail
	// is what the Wi-Fi side said with its result.
	PublishedAt, CompletedAt *time.Time
	Detail                   *string
	// Seq is the row's place in the order of writes (cursors hold it).
	Seq int64
	// TraceParent is the W3C traceparent of the traced request that wrote
	// it ("" when none was traced): the relay's publish continues it.
	TraceParent string
}

// MaxChangeDetail bounds the detail the Wi-Fi side reports with a result.
const MaxChangeDetail = 1024

// ManagerKey is a property manager's API key as stored: never the key itself.
type ManagerKey struct {
	ID         uuid.UUID
	PropertyID uuid.UUID
	Hint       string
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// Scope is what a caller may touch: one property, and within it one unit
// when UnitID is set (a resident) or every unit (a manager, an admin).
// Stores apply it in the same statement that reads or writes, so that a
// foreign id is indistinguishable from a missing one.
type Scope struct {
	PropertyID uuid.UUID
	UnitID     *uuid.UUID
}

// UnitScope is the scope of one unit of a property.
func UnitScope(propertyID, unitID uuid.UUID) Scope {
	return Scope{PropertyID: propertyID, UnitID: &unitID}
}

// PropertyScope is the scope of every unit of a property.
func PropertyScope(propertyID uuid.UUID) Scope {
	return Scope{PropertyID: propertyID}
}
