package db

import (
	"context"
	"net/netip"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

const deviceSelect = `SELECT d.id, d.unit_id, d.user_id, d.user_type, d.mac_address, d.display_name,
  d.description, d.os_type, d.last_seen, coalesce(d.online_until > now(), false)
FROM devices d`

// deviceTargets are the scan targets of deviceSelect's columns.
func deviceTargets(d *model.Device) []any {
	return []any{&d.ID, &d.UnitID, &d.UserID, &d.UserType, &d.MACAddress, &d.DisplayName, &d.Description, &d.OSType, &d.LastSeen, &d.Online}
}

func scanDevice(row pgx.Row) (model.Device, error) {
	var d model.Device
	err := row.Scan(deviceTargets(&d)...)
	return d, err
}

// collectDevices scans every row into one set of targets, copied out per
// row (no scan-argument slice per row).
func collectDevices(rows pgx.Rows, err error) ([]model.Device, error) {
	if err != nil {
		return nil, err
	}
	out := []model.Device{}
	var d model.Device
	_, err = pgx.ForEachRow(rows, deviceTargets(&d), func() error {
		out = append(out, d)
		d.LastSeen = nil // the next row's NULL must not keep this row's time
		return nil
	})
	return out, err
}

// DevicesByUnitIDs returns the devices of the given units in one statement,
// ordered by unit and MAC; with userType set, only devices of users of that
// type.
func (db *DB) DevicesByUnitIDs(ctx context.Context, unitIDs []uuid.UUID, userType *model.UnitUserType) ([]model.Device, error) {
	var t *string
	if userType != nil {
		s := string(*userType)
		t = &s
	}
	devices, err := collectDevices(db.pool.Query(ctx, deviceSelect+`
	  WHERE d.unit_id = ANY($1) AND ($2::unit_user_type IS NULL OR d.user_type = $2)
	  ORDER BY d.unit_id, d.mac_address`, unitIDs, t))
	return devices, wrap("db.DevicesByUnitIDs", err)
}

// DevicesByUserIDs returns the devices of the given unit users in one
// statement, ordered by user and MAC.
func (db *DB) DevicesByUserIDs(ctx context.Context, userIDs []uuid.UUID) ([]model.Device, error) {
	devices, err := collectDevices(db.pool.Query(ctx, deviceSelect+`
	  WHERE d.user_id = ANY($1) ORDER BY d.user_id, d.mac_address`, userIDs))
	return devices, wrap("db.DevicesByUserIDs", err)
}

// NewDevice is what registering a device needs (model.NewDevice).
type NewDevice = model.NewDevice

// AddDevice registers a device of a unit user within scope.
// NOT_FOUND, BAD_USER_INPUT, CONFLICT (MAC already in the unit).
func (db *DB) AddDevice(ctx context.Context, scope model.Scope, n NewDevice) (model.Device, error) {
	mac, err := model.ParseMAC(n.MACAddress)
	var v model.Validator
	v.Add("mac", err)
	v.Add("name", model.ValidateText(n.DisplayName, model.MaxNameLength))
	v.Add("description", model.ValidateText(n.Description, model.MaxTextLength))
	v.Add("os", model.ValidateText(n.OSType, 64))
	if err := v.Err(); err != nil {
		return model.Device{}, err
	}
	var d model.Device
	err = db.inTx(ctx, "db.AddDevice", func(tx pgx.Tx) error {
		u, err := db.userByID(ctx, tx, scope, n.UserID, n.MaxPerIdentity > 0)
		if err != nil {
			return err
		}
		if n.MaxPerIdentity > 0 { // the identity's row is locked: concurrent joins count one after the other
			var count int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM devices WHERE user_id = $1`, u.ID).Scan(&count); err != nil {
				return err
			}
			if count >= n.MaxPerIdentity {
				return model.Errorf(model.CodeForbidden, "the identity has its maximum of %d devices", n.MaxPerIdentity)
			}
		}
		if n.Joining {
			var blocked bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM blocked_devices WHERE user_id = $1 AND mac_address = $2)`,
				u.ID, mac).Scan(&blocked); err != nil {
				return err
			}
			if blocked {
				return &model.Error{Code: model.CodeForbidden, Message: "the device was removed from this identity", Err: model.ErrDeviceBlocked}
			}
		} else if _, err := tx.Exec(ctx, `DELETE FROM blocked_devices WHERE user_id = $1 AND mac_address = $2`, u.ID, mac); err != nil {
			return err
		}
		id := uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO devices (id, unit_id, user_id, mac_address, display_name,
		    description, os_type, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			id, u.UnitID, u.ID, mac, n.DisplayName, n.Description, n.OSType, n.LastSeen); err != nil {
			return err
		}
		d, err = scanDevice(tx.QueryRow(ctx, deviceSelect+` WHERE d.id = $1`, id))
		return err
	})
	return d, err
}

// RemoveDevice deletes the device with the given (canonical) MAC from a
// unit within scope, and from userID's devices only when userID is set, and
// records a DEVICE_REMOVED request in the same transaction. NOT_FOUND when
// there is no such device.
func (db *DB) RemoveDevice(ctx context.Context, scope model.Scope, unitID uuid.UUID, userID *uuid.UUID, mac string) (model.ChangeRequest, error) {
	var c model.ChangeRequest
	err := db.inTx(ctx, "db.RemoveDevice", func(tx pgx.Tx) error {
		p, unit := scopeArgs(scope)
		var d model.Device
		var s model.Session
		var nas *uuid.UUID
		var session *string
		var addr *netip.Addr
		err := tx.QueryRow(ctx, `DELETE FROM devices d USING units u
		  WHERE d.unit_id = u.id AND d.unit_id = $1 AND d.mac_address = $2
		    AND ($3::uuid IS NULL OR d.user_id = $3)
		    AND u.property_id = $4 AND ($5::uuid IS NULL OR u.id = $5)
		  RETURNING d.id, d.unit_id, d.user_id, d.mac_address,
		    CASE WHEN d.online_until > now() THEN d.session_nas_id END, CASE WHEN d.online_until > now() THEN d.session_id END,
		    d.session_addr`,
			unitID, mac, userID, p, unit).
			Scan(&d.ID, &d.UnitID, &d.UserID, &d.MACAddress, &nas, &session, &addr)
		if err == pgx.ErrNoRows {
			return model.ErrNotFound("device")
		}
		if err != nil {
			return err
		}
		if nas != nil && session != nil {
			s = model.Session{NASID: *nas, ID: *session}
			if addr != nil {
				s.Addr = *addr
			}
		}
		// Refused with its identity until allowed again (§9.5).
		if _, err := tx.Exec(ctx, `INSERT INTO blocked_devices (user_id, unit_id, mac_address) VALUES ($1, $2, $3)
		    ON CONFLICT (user_id, mac_address) DO UPDATE SET blocked_at = now()`, d.UserID, d.UnitID, d.MACAddress); err != nil {
			return err
		}
		c, err = insertChangeSession(ctx, tx, model.ChangeDeviceRemoved, p, d.UnitID, &d.UserID, &d.ID, &d.MACAddress, s)
		return err
	})
	return c, err
}

// blockedSelect reads model.BlockedDevice's fields, in order.
const blockedSelect = `SELECT b.user_id, b.unit_id, b.mac_address, b.blocked_at FROM blocked_devices b`

// BlockedDevicesByUnitIDs returns the devices removed from the identities
// of the given units (refused until allowed again, SPEC §9.5), in one
// statement, ordered by unit, user and MAC.
func (db *DB) BlockedDevicesByUnitIDs(ctx context.Context, unitIDs []uuid.UUID) ([]model.BlockedDevice, error) {
	rows, err := db.pool.Query(ctx, blockedSelect+` WHERE b.unit_id = ANY($1) ORDER BY b.unit_id, b.user_id, b.mac_address`, unitIDs)
	if err != nil {
		return nil, wrap("db.BlockedDevicesByUnitIDs", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[model.BlockedDevice])
	return out, wrap("db.BlockedDevicesByUnitIDs", err)
}

// AllowDevice lets a device removed from a unit user within scope join
// with that user's passphrase again. NOT_FOUND when the user blocks no
// such device (or is not within scope).
func (db *DB) AllowDevice(ctx context.Context, scope model.Scope, userID uuid.UUID, mac string) error {
	p, unit := scopeArgs(scope)
	tag, err := db.pool.Exec(ctx, `DELETE FROM blocked_devices b USING unit_users uu
	  WHERE b.user_id = $1 AND b.mac_address = $2 AND uu.id = b.user_id
	    AND uu.property_id = $3 AND ($4::uuid IS NULL OR uu.unit_id = $4)`, userID, mac, p, unit)
	if err != nil {
		return wrap("db.AllowDevice", err)
	}
	if tag.RowsAffected() == 0 {
		return model.ErrNotFound("blocked device")
	}
	return nil
}
