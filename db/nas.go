package db

import (
	"context"
	"net/netip"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

// The access points (NAS clients) of the properties, and what an access
// request reads (SPEC §9).

const nasColumns = `id, property_id, name, address, profile, coa_port, created_at, updated_at, radsec_cert_sha256`

func scanNAS(row pgx.Row, extra ...any) (model.NAS, error) {
	var n model.NAS
	var profile string
	err := row.Scan(append([]any{&n.ID, &n.PropertyID, &n.Name, &n.Address, &profile, &n.CoAPort, &n.CreatedAt, &n.UpdatedAt, &n.CertSHA256}, extra...)...)
	n.Profile = model.NASProfile(profile)
	return n, err
}

// CreatedNAS is a new access point with its shared secret, shown this once.
type CreatedNAS struct {
	NAS    model.NAS
	Secret string
}

// CreateNAS adds an access point to a property with a generated shared
// secret, stored encrypted. NOT_FOUND for an unknown property; CONFLICT for
// a name the property has or an address another access point covers.
func (db *DB) CreateNAS(ctx context.Context, n model.NAS) (CreatedNAS, error) {
	n.ID = uuid.New()
	if n.CoAPort == 0 {
		n.CoAPort = 3799
	}
	secret := model.MintNASSecret()
	out, err := scanNAS(db.pool.QueryRow(ctx, `INSERT INTO nas_clients (id, property_id, name, address, profile, coa_port, secret_cipher)
	  VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+nasColumns,
		n.ID, n.PropertyID, n.Name, n.Address, string(n.Profile), n.CoAPort, db.keys.Encrypt(secret, n.ID[:])))
	return CreatedNAS{NAS: out, Secret: secret}, wrap("db.CreateNAS", err)
}

// NASList is a property's access points by name.
func (db *DB) NASList(ctx context.Context, propertyID uuid.UUID) ([]model.NAS, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+nasColumns+` FROM nas_clients WHERE property_id = $1 ORDER BY name, id`, propertyID)
	if err != nil {
		return nil, wrap("db.NASList", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.NAS, error) { return scanNAS(r) })
	return out, wrap("db.NASList", err)
}

// NASByID is one access point. NOT_FOUND otherwise.
func (db *DB) NASByID(ctx context.Context, id uuid.UUID) (model.NAS, error) {
	n, err := scanNAS(db.pool.QueryRow(ctx, `SELECT `+nasColumns+` FROM nas_clients WHERE id = $1`, id))
	if err == pgx.ErrNoRows {
		return n, model.ErrNotFound("access point")
	}
	return n, wrap("db.NASByID", err)
}

// RemoveNAS removes an access point. NOT_FOUND for an unknown one.
func (db *DB) RemoveNAS(ctx context.Context, id uuid.UUID) (model.NAS, error) {
	n, err := scanNAS(db.pool.QueryRow(ctx, `DELETE FROM nas_clients WHERE id = $1 RETURNING `+nasColumns, id))
	if err == pgx.ErrNoRows {
		return n, model.ErrNotFound("access point")
	}
	return n, wrap("db.RemoveNAS", err)
}

// RotateNASSecret gives an access point a new generated shared secret.
// NOT_FOUND for an unknown one.
func (db *DB) RotateNASSecret(ctx context.Context, id uuid.UUID) (CreatedNAS, error) {
	secret := model.MintNASSecret()
	n, err := scanNAS(db.pool.QueryRow(ctx, `UPDATE nas_clients SET secret_cipher = $2, updated_at = now()
	  WHERE id = $1 RETURNING `+nasColumns, id, db.keys.Encrypt(secret, id[:])))
	if err == pgx.ErrNoRows {
		return CreatedNAS{}, model.ErrNotFound("access point")
	}
	return CreatedNAS{NAS: n, Secret: secret}, wrap("db.RotateNASSecret", err)
}

// SetNASCertificate pins (or, with nil, unpins) an access point's RadSec
// client certificate by its SHA-256. NOT_FOUND for an unknown access point;
// CONFLICT when another has that certificate.
func (db *DB) SetNASCertificate(ctx context.Context, id uuid.UUID, sha256 []byte) (model.NAS, error) {
	if sha256 != nil && len(sha256) != 32 {
		return model.NAS{}, model.InvalidField("certificate", "must be a SHA-256 (32 bytes)")
	}
	n, err := scanNAS(db.pool.QueryRow(ctx, `UPDATE nas_clients SET radsec_cert_sha256 = $2, updated_at = now()
	  WHERE id = $1 RETURNING `+nasColumns, id, sha256))
	if err == pgx.ErrNoRows {
		return n, model.ErrNotFound("access point")
	}
	return n, wrap("db.SetNASCertificate", err)
}

// NASClients reads every access point with its secret (decrypted) and its
// property's SSIDs, for the RADIUS server's table.
func (db *DB) NASClients(ctx context.Context) ([]model.NASClient, error) {
	rows, err := db.pool.Query(ctx, `SELECT n.id, n.property_id, n.name, n.address, n.profile, n.coa_port, n.created_at, n.updated_at,
	    n.radsec_cert_sha256, n.secret_cipher, p.ssids, p.max_devices_per_identity
	  FROM nas_clients n JOIN properties p ON p.id = n.property_id ORDER BY n.id`)
	if err != nil {
		return nil, wrap("db.NASClients", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.NASClient, error) {
		var c model.NASClient
		var sealed []byte
		n, err := scanNAS(r, &sealed, &c.SSIDs, &c.MaxDevicesPerIdentity)
		if err != nil {
			return c, err
		}
		c.NAS = n
		c.Secret, err = db.keys.Decrypt(sealed, n.ID[:])
		return c, err
	})
	return out, wrap("db.NASClients", err)
}

// WifiDevicesByMAC finds the devices with a MAC among a property's units,
// with their identity's passphrase (decrypted): what an access request by
// MAC decides on. Normally one; a MAC entered in two units gives two.
func (db *DB) WifiDevicesByMAC(ctx context.Context, propertyID uuid.UUID, mac string) ([]model.WifiDevice, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.id, uu.id, n.id, uu.status, n.status, uu.passphrase_cipher, n.vlan_id
	  FROM devices d
	  JOIN unit_users uu ON uu.id = d.user_id
	  JOIN units n ON n.id = d.unit_id
	  WHERE d.mac_address = $2 AND uu.property_id = $1
	  ORDER BY d.created_at, d.id LIMIT 8`, propertyID, mac)
	if err != nil {
		return nil, wrap("db.WifiDevicesByMAC", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.WifiDevice, error) {
		var w model.WifiDevice
		var sealed []byte
		var userStatus, unitStatus string
		if err := r.Scan(&w.DeviceID, &w.UserID, &w.UnitID, &userStatus, &unitStatus, &sealed, &w.VLAN); err != nil {
			return w, err
		}
		w.UserStatus, w.UnitStatus = model.UnitUserStatus(userStatus), model.UnitStatus(unitStatus)
		var err error
		w.Passphrase, err = db.keys.Decrypt(sealed, w.UserID[:])
		return w, err
	})
	return out, wrap("db.WifiDevicesByMAC", err)
}

// Accounting records what an access point reports of a device's session
// (SPEC §9.4) for the devices with the MAC in the access point's property:
// Start and Interim-Update mark it seen and online until onlineUntil, with
// the session; Stop marks it seen and offline (unless a newer session has
// begun). It returns how many devices it updated.
func (db *DB) Accounting(ctx context.Context, a model.Accounting) (int, error) {
	var args []any
	var sql string
	switch a.Status {
	case model.AcctStart, model.AcctInterim:
		sql = `UPDATE devices d SET last_seen = now(), online_until = $5, session_nas_id = $3, session_id = $4, session_addr = $6
		  FROM unit_users uu WHERE uu.id = d.user_id AND uu.property_id = $1 AND d.mac_address = $2`
		var source *netip.Addr
		if a.Source.IsValid() {
			source = &a.Source
		}
		args = []any{a.PropertyID, a.MAC, a.NASID, a.SessionID, a.OnlineUntil, source}
	case model.AcctStop:
		sql = `UPDATE devices d SET last_seen = now(), online_until = NULL, session_nas_id = NULL, session_id = NULL, session_addr = NULL
		  FROM unit_users uu WHERE uu.id = d.user_id AND uu.property_id = $1 AND d.mac_address = $2
		    AND (d.session_id IS NULL OR (d.session_nas_id = $3 AND d.session_id = $4))`
		args = []any{a.PropertyID, a.MAC, a.NASID, a.SessionID}
	default:
		return 0, model.Errorf(model.CodeBadUserInput, "unknown accounting status")
	}
	tag, err := db.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, wrap("db.Accounting", err)
	}
	return int(tag.RowsAffected()), nil
}

// EndSessions ends every session an access point has open (it said
// Accounting-On or -Off: it restarted, and its sessions with it). It
// returns how many it ended.
func (db *DB) EndSessions(ctx context.Context, nasID uuid.UUID) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE devices SET online_until = NULL, session_nas_id = NULL, session_id = NULL, session_addr = NULL
	  WHERE session_nas_id = $1`, nasID)
	if err != nil {
		return 0, wrap("db.EndSessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// WifiCandidates are the identities a handshake may have been made with:
// every ACTIVE identity of an ENABLED unit of the property, with its
// passphrase (decrypted), at most limit of them.
func (db *DB) WifiCandidates(ctx context.Context, propertyID uuid.UUID, limit int) ([]model.WifiDevice, error) {
	rows, err := db.pool.Query(ctx, `SELECT uu.id, n.id, uu.status, n.status, uu.passphrase_cipher, n.vlan_id
	  FROM unit_users uu JOIN units n ON n.id = uu.unit_id
	  WHERE uu.property_id = $1 AND uu.status = 'ACTIVE' AND n.status = 'ENABLED'
	  ORDER BY uu.id LIMIT $2`, propertyID, limit)
	if err != nil {
		return nil, wrap("db.WifiCandidates", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.WifiDevice, error) {
		var w model.WifiDevice
		var sealed []byte
		var userStatus, unitStatus string
		if err := r.Scan(&w.UserID, &w.UnitID, &userStatus, &unitStatus, &sealed, &w.VLAN); err != nil {
			return w, err
		}
		w.UserStatus, w.UnitStatus = model.UnitUserStatus(userStatus), model.UnitStatus(unitStatus)
		var err error
		w.Passphrase, err = db.keys.Decrypt(sealed, w.UserID[:])
		return w, err
	})
	return out, wrap("db.WifiCandidates", err)
}

// WifiDevices are every device of the property with its identity's state
// and passphrase (decrypted), at most limit: the table a RADIUS server
// keeps in memory (service.wifiTables).
func (db *DB) WifiDevices(ctx context.Context, propertyID uuid.UUID, limit int) ([]model.WifiDevice, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.mac_address, d.id, uu.id, n.id, uu.status, n.status, uu.passphrase_cipher, n.vlan_id
	  FROM devices d
	  JOIN unit_users uu ON uu.id = d.user_id
	  JOIN units n ON n.id = d.unit_id
	  WHERE uu.property_id = $1
	  ORDER BY d.created_at, d.id LIMIT $2`, propertyID, limit)
	if err != nil {
		return nil, wrap("db.WifiDevices", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.WifiDevice, error) {
		var w model.WifiDevice
		var sealed []byte
		var userStatus, unitStatus string
		if err := r.Scan(&w.MAC, &w.DeviceID, &w.UserID, &w.UnitID, &userStatus, &unitStatus, &sealed, &w.VLAN); err != nil {
			return w, err
		}
		w.UserStatus, w.UnitStatus = model.UnitUserStatus(userStatus), model.UnitStatus(unitStatus)
		var err error
		w.Passphrase, err = db.keys.Decrypt(sealed, w.UserID[:])
		return w, err
	})
	return out, wrap("db.WifiDevices", err)
}
