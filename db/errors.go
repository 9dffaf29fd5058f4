package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/residentportal/bff/graph/model"
)

// constraintErrors maps a constraint (or the name a trigger raises under) to
// the domain error a violation means. It is the one table of its kind.
var constraintErrors = map[string]*model.Error{
	"units_property_number_key":           model.Errorf(model.CodeConflict, "a unit with this number already exists in the property"),
	"units_portal_secret_digest_key":      model.Errorf(model.CodeConflict, "portal secret collision"),
	"unit_users_passphrase_digest_key":    {Code: model.CodeConflict, Message: "passphrase is already used in this property", Fields: []model.FieldError{{Field: "passphrase", Message: "is already used in this property"}}},
	"unit_users_one_unit_identity":        model.Errorf(model.CodeConflict, "the unit already has its UNIT identity"),
	"unit_users_one_guest_identity":       model.Errorf(model.CodeConflict, "the unit already has its GUEST identity"),
	"unit_users_unit_identity_required":   model.Errorf(model.CodeBadUserInput, "a unit must keep exactly one UNIT identity"),
	"unit_users_guest_not_allowed":        model.Errorf(model.CodeForbidden, "this property has no separate guest secret"),
	"devices_unit_mac_key":                model.Errorf(model.CodeConflict, "a device with this MAC address already exists in the unit"),
	"manager_keys_key_digest_key":         model.Errorf(model.CodeConflict, "manager key collision"),
	"units_property_id_fkey":              model.ErrNotFound("property"),
	"unit_users_unit_id_property_id_fkey": model.ErrNotFound("unit"),
	"devices_unit_id_user_id_fkey":        model.ErrNotFound("unit user"),
	"property_files_property_id_fkey":     model.ErrNotFound("property"),
	"manager_keys_property_id_fkey":       model.ErrNotFound("property"),
	"nas_clients_property_id_fkey":        model.ErrNotFound("property"),
	"nas_clients_property_name_key":       model.Errorf(model.CodeConflict, "the property already has an access point of this name"),
	"nas_clients_address_excl":            model.Errorf(model.CodeConflict, "another access point already has this address (or a network that overlaps it)"),
	"nas_clients_radsec_cert_sha256_key":  model.Errorf(model.CodeConflict, "another access point already has this certificate"),
}

// errPassphraseTaken reports whether err is a violation of the per-property
// passphrase uniqueness (the case a generated passphrase retries).
func errPassphraseTaken(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "unit_users_passphrase_digest_key"
}

// inUseAs names field in the CONFLICT of a passphrase already used in the
// property (a unit's secret and guestSecret are its users' passphrases);
// other errors pass unchanged.
func inUseAs(field string, err error) error {
	if !errPassphraseTaken(err) {
		return err
	}
	return &model.Error{Code: model.CodeConflict, Message: "passphrase is already used in this property",
		Fields: []model.FieldError{{Field: field, Message: "is already used in this property"}}, Err: err}
}

// wrap maps err to a domain error (keeping it as the cause) and names op.
// Domain errors pass through unchanged apart from the op.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *model.Error
	if errors.As(err, &de) {
		return err
	}
	return &model.Error{Code: codeOf(err), Message: messageOf(err), Fields: fieldsOf(err), Err: fmt.Errorf("%s: %w", op, err)}
}

func lookupConstraint(err error) (*model.Error, *pgconn.PgError) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return nil, nil
	}
	return constraintErrors[pgErr.ConstraintName], pgErr
}

func codeOf(err error) model.Code {
	if known, _ := lookupConstraint(err); known != nil {
		return known.Code
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return model.CodeConflict
		case pgErr.Code == "23503":
			return model.CodeNotFound
		case strings.HasPrefix(pgErr.Code, "22"), pgErr.Code == "23514", pgErr.Code == "23502":
			return model.CodeBadUserInput
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "53"),
			strings.HasPrefix(pgErr.Code, "57"), pgErr.Code == "40001", pgErr.Code == "40P01":
			// connection failures, resources, shutdown/cancel, serialization
			return model.CodeUnavailable
		}
		return model.CodeInternal
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return model.CodeNotFound
	case errors.As(err, &connErr), errors.As(err, &netErr), pgconn.SafeToRetry(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		connectionLost(err):
		return model.CodeUnavailable
	}
	return model.CodeInternal
}

// connectionLost reports whether err says the connection went away under a
// statement: the server closed it or it broke mid-reply (pgx reports these
// as io errors, or as "conn closed" on a connection it had closed).
func connectionLost(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// pgconn's connLockError is unexported; its text is the contract.
	return strings.HasSuffix(err.Error(), "conn closed")
}

func messageOf(err error) string {
	if known, _ := lookupConstraint(err); known != nil {
		return known.Message
	}
	switch codeOf(err) {
	case model.CodeConflict:
		return "conflicts with an existing record"
	case model.CodeNotFound:
		return "not found"
	case model.CodeBadUserInput:
		return "invalid input"
	case model.CodeUnavailable:
		return "database unavailable"
	}
	return "internal error"
}

func fieldsOf(err error) []model.FieldError {
	if known, _ := lookupConstraint(err); known != nil {
		return known.Fields
	}
	return nil
}
