package model

import (
	"github.com/google/uuid"
)

// The read-modify-write update rules. Legacy clients send back what they
// read, so a nil field is unchanged, and a field equal to its current value
// is a no-op, never an error. Validate checks the shape of an update (400)
// before anything is read; Apply, run by the store inside the transaction
// that holds the row locked, decides permission (403) against the current
// state and says what really changes.

// PassphraseChange is a planned passphrase change: Generate a new one, or set
// Value (already validated).
type PassphraseChange struct {
	Generate bool
	Value    string
}

// planPassphrase turns a requested passphrase into a change, or nil when it
// equals the current one. A chosen value needs tenantSetDpsk (403).
func planPassphrase(requested *string, current string, tenantSetDpsk bool, field string) (*PassphraseChange, error) {
	switch {
	case requested == nil, *requested != "" && *requested == current:
		return nil, nil
	case *requested == "":
		return &PassphraseChange{Generate: true}, nil
	case !tenantSetDpsk:
		// SECURITY: residents may only regenerate unless the property lets them choose.
		return nil, Errorf(CodeForbidden, "%s: this property does not let residents choose a passphrase", field)
	default:
		return &PassphraseChange{Value: *requested}, nil
	}
}

// StatusTokenReset is the pseudo-status by which the vendor API asks to
// rotate a unit's portal secret.
const StatusTokenReset = "TOKEN_RESET"

// ContactUpdate changes a unit's contact; nil fields are unchanged.
type ContactUpdate struct {
	ContactName *string
	Email       *string
	PhoneNumber *string
}

// UnitUpdate is a resident's (or manager's) change to a unit.
type UnitUpdate struct {
	// ID, Number and Status are what a client read and sends back: an ID
	// other than the unit's is 400, a real change of Number or of Status to
	// ENABLED/DISABLED is 403, Status TOKEN_RESET resets portal access.
	ID          *uuid.UUID
	Number      *string
	Status      *string
	Description *string
	Contact     ContactUpdate
	// Secret and GuestSecret: "" regenerates, another value sets it.
	Secret      *string
	GuestSecret *string
	// ResetPortalAccess rotates the portal secret and revokes every token.
	ResetPortalAccess bool
}

// MaySetSecrets reports whether u may write a secret (a passphrase, or the
// portal secret through a reset), so that the store takes the key check
// before anything else.
func (u UnitUpdate) MaySetSecrets() bool {
	return u.Secret != nil || u.GuestSecret != nil || u.ResetPortalAccess || u.Status != nil
}

// Validate checks the shape of u (400, naming every bad field).
func (u UnitUpdate) Validate() error {
	var v Validator
	if u.Status != nil {
		s := *u.Status
		v.Check(s == StatusTokenReset || UnitStatus(s).Valid(), "status", "must be ENABLED, DISABLED or TOKEN_RESET")
	}
	if u.Description != nil {
		v.Add("description", ValidateText(*u.Description, MaxTextLength))
	}
	if u.Contact.ContactName != nil {
		v.Add("contact.contactName", ValidateText(*u.Contact.ContactName, MaxNameLength))
	}
	if u.Contact.Email != nil {
		v.Add("contact.email", ValidateEmail(*u.Contact.Email))
	}
	if u.Contact.PhoneNumber != nil {
		v.Add("contact.phoneNumber", ValidatePhone(*u.Contact.PhoneNumber))
	}
	if u.Secret != nil && *u.Secret != "" {
		v.Add("secret", ValidatePassphrase(*u.Secret))
	}
	if u.GuestSecret != nil && *u.GuestSecret != "" {
		v.Add("guestSecret", ValidatePassphrase(*u.GuestSecret))
	}
	return v.Err()
}

// UnitChanges is what an update of a unit really changes.
type UnitChanges struct {
	// Fields is true when description or contact changed.
	Fields            bool
	Secret            *PassphraseChange
	GuestSecret       *PassphraseChange
	ResetPortalAccess bool
}

// ApplyUnitUpdate applies u to cur under the property's rules and returns
// the unit's new plain fields and the changes to make. Errors: BAD_USER_INPUT
// for a foreign id, FORBIDDEN for a status or number change, a guest secret
// where none is allowed, or a chosen passphrase the property does not allow.
func ApplyUnitUpdate(cur Unit, p Property, u UnitUpdate) (Unit, UnitChanges, error) {
	var ch UnitChanges
	if u.ID != nil && *u.ID != cur.ID {
		return cur, ch, InvalidField("guid", "does not match the unit")
	}
	// SECURITY: residents cannot enable, disable or renumber their unit.
	if u.Status != nil && *u.Status != StatusTokenReset && UnitStatus(*u.Status) != cur.Status {
		return cur, ch, Errorf(CodeForbidden, "status: only TOKEN_RESET may be requested")
	}
	if u.Number != nil && *u.Number != cur.Number {
		return cur, ch, Errorf(CodeForbidden, "number: the unit number cannot be changed")
	}
	next := cur
	set := func(dst *string, v *string) {
		if v != nil && *v != *dst {
			*dst = *v
			ch.Fields = true
		}
	}
	set(&next.Description, u.Description)
	set(&next.Contact.ContactName, u.Contact.ContactName)
	set(&next.Contact.Email, u.Contact.Email)
	set(&next.Contact.PhoneNumber, u.Contact.PhoneNumber)

	var err error
	if ch.Secret, err = planPassphrase(u.Secret, cur.Secret, p.TenantSetDpsk, "secret"); err != nil {
		return cur, ch, err
	}
	if u.GuestSecret != nil {
		// SECURITY: no guest identity exists unless the property allows one.
		if !p.AllowSeparateGuestSecret || cur.GuestSecret == nil {
			return cur, ch, Errorf(CodeForbidden, "guestSecret: this property has no separate guest secret")
		}
		if ch.GuestSecret, err = planPassphrase(u.GuestSecret, *cur.GuestSecret, p.TenantSetDpsk, "guestSecret"); err != nil {
			return cur, ch, err
		}
	}
	ch.ResetPortalAccess = u.ResetPortalAccess || u.Status != nil && *u.Status == StatusTokenReset
	return next, ch, nil
}

// UnitUserUpdate is a change to a unit user; nil fields are unchanged.
type UnitUserUpdate struct {
	// ID and Type are what a client read and sends back: an ID other than
	// the user's is 400, and so is a real change of Type.
	ID          *uuid.UUID
	Type        *string
	UserName    *string
	Email       *string
	PhoneNumber *string
	Status      *string
	// Passphrase: "" regenerates, another value sets it.
	Passphrase *string
}

// Validate checks the shape of u (400, naming every bad field).
func (u UnitUserUpdate) Validate() error {
	var v Validator
	if u.Type != nil {
		v.Check(UnitUserType(*u.Type).Valid(), "type", "must be UNIT, GUEST or LINKED")
	}
	if u.Status != nil {
		v.Check(UnitUserStatus(*u.Status).Valid(), "status", "must be ACTIVE or BLOCKED")
	}
	if u.UserName != nil {
		v.Add("userName", ValidateText(*u.UserName, MaxNameLength))
	}
	if u.Email != nil {
		v.Add("email", ValidateEmail(*u.Email))
	}
	if u.PhoneNumber != nil {
		v.Add("phoneNumber", ValidatePhone(*u.PhoneNumber))
	}
	if u.Passphrase != nil && *u.Passphrase != "" {
		v.Add("passphrase", ValidatePassphrase(*u.Passphrase))
	}
	return v.Err()
}

// UnitUserChanges is what an update of a unit user really changes.
type UnitUserChanges struct {
	// Persona: name, e-mail, phone or status changed (an IDENTITY_CHANGED request).
	Persona bool
	// Dpsk: the passphrase or the status changed (a PASSPHRASE_CHANGED request).
	Dpsk       bool
	Passphrase *PassphraseChange
}

// ApplyUnitUserUpdate applies u to cur under the property's rules. Errors:
// BAD_USER_INPUT for a foreign id or a type change, FORBIDDEN for a chosen
// passphrase the property does not allow.
func ApplyUnitUserUpdate(cur UnitUser, p Property, u UnitUserUpdate) (UnitUser, UnitUserChanges, error) {
	var ch UnitUserChanges
	if u.ID != nil && *u.ID != cur.ID {
		return cur, ch, InvalidField("userId", "does not match the user in the path")
	}
	if u.Type != nil && UnitUserType(*u.Type) != cur.Type {
		return cur, ch, InvalidField("type", "the type of a unit user cannot be changed")
	}
	next := cur
	set := func(dst *string, v *string) {
		if v != nil && *v != *dst {
			*dst = *v
			ch.Persona = true
		}
	}
	set(&next.UserName, u.UserName)
	set(&next.Email, u.Email)
	set(&next.PhoneNumber, u.PhoneNumber)
	if u.Status != nil && UnitUserStatus(*u.Status) != cur.Status {
		next.Status = UnitUserStatus(*u.Status)
		ch.Persona, ch.Dpsk = true, true
	}
	var err error
	if ch.Passphrase, err = planPassphrase(u.Passphrase, cur.Passphrase, p.TenantSetDpsk, "passphrase"); err != nil {
		return cur, ch, err
	}
	if ch.Passphrase != nil {
		ch.Dpsk = true
	}
	return next, ch, nil
}
