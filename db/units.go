package db

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/residentportal/bff/graph/model"
)

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// unitSelect reads a unit with the passphrases of its UNIT and GUEST users.
const (
	unitColumns = `u.id, u.property_id, u.number, u.description, u.contact_name, u.email,
  u.phone_number, u.status, u.token_generation, u.created_at, u.updated_at, u.vlan_id,
  uu.id, uu.passphrase_cipher, gu.id, gu.passphrase_cipher`
	unitFrom = ` FROM units u
JOIN unit_users uu ON uu.unit_id = u.id AND uu.type = 'UNIT'
LEFT JOIN unit_users gu ON gu.unit_id = u.id AND gu.type = 'GUEST'`
	unitSelect = `SELECT ` + unitColumns + unitFrom
)

// scanUnit scans a row of unitSelect, then extra columns into extra.
func (db *DB) scanUnit(row pgx.Row, extra ...any) (model.Unit, error) {
	var u model.Unit
	var secret, guestSecret []byte
	err := row.Scan(append([]any{&u.ID, &u.PropertyID, &u.Number, &u.Description, &u.Contact.ContactName, &u.Contact.Email,
		&u.Contact.PhoneNumber, &u.Status, &u.TokenGeneration, &u.CreatedAt, &u.UpdatedAt, &u.VLAN,
		&u.UnitUserID, &secret, &u.GuestUserID, &guestSecret}, extra...)...)
	if err != nil {
		return u, err
	}
	if u.Secret, err = db.keys.Decrypt(secret, u.UnitUserID[:]); err != nil {
		return u, err
	}
	if u.GuestUserID != nil {
		g, err := db.keys.Decrypt(guestSecret, u.GuestUserID[:])
		if err != nil {
			return u, err
		}
		u.GuestSecret = &g
	}
	return u, nil
}

func (db *DB) collectUnits(rows pgx.Rows, err error) ([]model.Unit, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Unit, error) { return db.scanUnit(r) })
}

// scopeArgs spreads a scope into the query arguments the scoped statements
// take: the property, and the unit or NULL (every unit).
func scopeArgs(s model.Scope) (uuid.UUID, *uuid.UUID) { return s.PropertyID, s.UnitID }

// UnitByID returns a unit within scope. NOT_FOUND otherwise.
func (db *DB) UnitByID(ctx context.Context, scope model.Scope, id uuid.UUID) (model.Unit, error) {
	u, err := db.unitByID(ctx, db.pool, scope, id, false)
	return u, wrap("db.UnitByID", err)
}

func (db *DB) unitByID(ctx context.Context, q querier, scope model.Scope, id uuid.UUID, lock bool) (model.Unit, error) {
	p, unit := scopeArgs(scope)
	sql := unitSelect + ` WHERE u.id = $1 AND u.property_id = $2 AND ($3::uuid IS NULL OR u.id = $3)`
	if lock {
		sql += ` FOR UPDATE OF u`
	}
	u, err := db.scanUnit(q.QueryRow(ctx, sql, id, p, unit))
	if err == pgx.ErrNoRows {
		return u, model.ErrNotFound("unit")
	}
	return u, err
}

// UnitsByIDs returns the units with the given ids in one statement, in no
// particular order (dataloaders order them).
func (db *DB) UnitsByIDs(ctx context.Context, ids []uuid.UUID) ([]model.Unit, error) {
	units, err := db.collectUnits(db.pool.Query(ctx, unitSelect+` WHERE u.id = ANY($1)`, ids))
	return units, wrap("db.UnitsByIDs", err)
}

// UnitAuthBySecret finds the unit of a property whose portal secret is
// secret, by its keyed digest (an index lookup: the secret itself is never
// compared byte by byte; during a rekey's window, by its digest under
// either key). NOT_FOUND when none matches.
func (db *DB) UnitAuthBySecret(ctx context.Context, propertyID uuid.UUID, secret string) (model.UnitAuth, error) {
	var a model.UnitAuth
	err := db.pool.QueryRow(ctx, `SELECT u.id, u.property_id, u.status, u.token_generation, p.portal_allowed
	  FROM units u JOIN properties p ON p.id = u.property_id
	  WHERE u.property_id = $1 AND u.portal_secret_digest = ANY($2)`, propertyID, db.keys.Digests(secret)).
		Scan(&a.UnitID, &a.PropertyID, &a.Status, &a.TokenGeneration, &a.PortalAllowed)
	if err == pgx.ErrNoRows {
		return a, model.ErrNotFound("unit")
	}
	return a, wrap("db.UnitAuthBySecret", err)
}

// UnitAuthByIDs returns the auth state of the given units (for revocation
// caches), in one statement.
func (db *DB) UnitAuthByIDs(ctx context.Context, ids []uuid.UUID) ([]model.UnitAuth, error) {
	rows, err := db.pool.Query(ctx, `SELECT u.id, u.property_id, u.status, u.token_generation, p.portal_allowed
	  FROM units u JOIN properties p ON p.id = u.property_id WHERE u.id = ANY($1)`, ids)
	if err != nil {
		return nil, wrap("db.UnitAuthByIDs", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.UnitAuth, error) {
		var a model.UnitAuth
		return a, r.Scan(&a.UnitID, &a.PropertyID, &a.Status, &a.TokenGeneration, &a.PortalAllowed)
	})
	return out, wrap("db.UnitAuthByIDs", err)
}

// AuthEpoch reads the auth epoch: a count that moves on with every
// statement that changes what a token or manager key check depends on
// (see migration 010). UNAVAILABLE.
func (db *DB) AuthEpoch(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT n FROM auth_epoch`).Scan(&n)
	return n, wrap("db.AuthEpoch", err)
}

// keysetPages is the statement (and its arguments) that reads one keyset
// page per parent id in one go: the rows of selectFrom whose parent column
// is the id, past after (a value of orderBy; nil for the first page), at
// most limit+1 of them (the extra row tells that more follow), each with
// its parent's row count in countTable — or 0 when skipTotal. With and
// without a cursor they are two statements rather than one with
// "$3 IS NULL OR …", so that each has a generic plan that seeks the index.
func keysetPages(selectFrom, countTable, parent, orderBy string, ids []uuid.UUID, limit int, after any, skipTotal bool) (string, []any) {
	_, col, _ := strings.Cut(parent, ".")
	count := `CROSS JOIN LATERAL (SELECT count(*) AS total FROM ` + countTable + ` c WHERE c.` + col + ` = k.id) AS t`
	if skipTotal {
		count = `CROSS JOIN (SELECT 0::bigint AS total) AS t`
	}
	cond, args := "", []any{ids, limit + 1}
	if after != nil {
		cond, args = ` AND `+orderBy+` > $3`, append(args, after)
	}
	return `SELECT x.*, t.total FROM unnest($1::uuid[]) AS k(id) ` + count + `
	  CROSS JOIN LATERAL (SELECT ` + selectFrom + `
	    WHERE ` + parent + ` = k.id` + cond + `
	    ORDER BY ` + orderBy + ` LIMIT $2) AS x`, args
}

// UnitPages returns, for each property, one keyset page of its units
// ordered by number, with the property's unit count, in one statement.
// Properties without units get an empty page.
func (db *DB) UnitPages(ctx context.Context, propertyIDs []uuid.UUID, page model.UnitPage) (map[uuid.UUID]model.Page[model.Unit], error) {
	var after any
	if page.AfterNumber != nil {
		after = *page.AfterNumber
	}
	sql, args := keysetPages(unitColumns+unitFrom, "units", "u.property_id", "u.number", propertyIDs, page.Limit, after, page.SkipTotal)
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap("db.UnitPages", err)
	}
	out := make(map[uuid.UUID]model.Page[model.Unit], len(propertyIDs))
	for _, id := range propertyIDs {
		out[id] = model.Page[model.Unit]{}
	}
	var total int
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		u, err := db.scanUnit(r, &total)
		if err != nil {
			return struct{}{}, err
		}
		p := out[u.PropertyID]
		if len(p.Items) == page.Limit {
			p.HasNext = true
		} else {
			p.Items = append(p.Items, u)
		}
		p.Total = total
		out[u.PropertyID] = p
		return struct{}{}, nil
	})
	if err != nil {
		return nil, wrap("db.UnitPages", err)
	}
	return db.fillUnitTotals(ctx, out, page)
}

// fillUnitTotals counts the units of properties whose page came back empty
// (only a page past the end needs this second statement).
func (db *DB) fillUnitTotals(ctx context.Context, pages map[uuid.UUID]model.Page[model.Unit], page model.UnitPage) (map[uuid.UUID]model.Page[model.Unit], error) {
	if page.AfterNumber == nil || page.SkipTotal {
		return pages, nil // without a cursor, an empty page means no units
	}
	var missing []uuid.UUID
	for id, p := range pages {
		if len(p.Items) == 0 {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return pages, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT property_id, count(*) FROM units WHERE property_id = ANY($1) GROUP BY property_id`, missing)
	if err != nil {
		return nil, wrap("db.UnitPages", err)
	}
	var id uuid.UUID
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		p := pages[id]
		p.Total = n
		pages[id] = p
		return nil
	})
	return pages, wrap("db.UnitPages", err)
}

// NewUnit is what creating a unit needs.
type NewUnit struct {
	PropertyID  uuid.UUID
	Number      string
	Description string
	Contact     model.Contact
}

// Validate checks the fields of a new unit (BAD_USER_INPUT naming each).
func (n NewUnit) Validate() error {
	var v model.Validator
	v.Check(n.Number != "", "number", "must not be empty")
	v.Add("number", model.ValidateText(n.Number, 64))
	v.Add("description", model.ValidateText(n.Description, model.MaxTextLength))
	v.Add("contact-name", model.ValidateText(n.Contact.ContactName, model.MaxNameLength))
	v.Add("email", model.ValidateEmail(n.Contact.Email))
	v.Add("phone", model.ValidatePhone(n.Contact.PhoneNumber))
	return v.Err()
}

// CreatedUnit is a new unit with its portal secret, shown this once.
type CreatedUnit struct {
	Unit         model.Unit
	PortalSecret string
}

// CreateUnit inserts a unit with a freshly minted portal secret, its UNIT
// identity and (where the property allows it) its GUEST identity, each with
// a generated passphrase and an IDENTITY_CREATED change request. With enforceMaxUnits the property row is locked so
// that concurrent creations cannot exceed maxUnits (FORBIDDEN past it).
// NOT_FOUND for an unknown property, CONFLICT for a duplicate number.
func (db *DB) CreateUnit(ctx context.Context, n NewUnit) (CreatedUnit, error) {
	if err := n.Validate(); err != nil {
		return CreatedUnit{}, err
	}
	var out CreatedUnit
	err := db.inTx(ctx, "db.CreateUnit", func(tx pgx.Tx) error {
		keys, err := db.sealingKey(ctx, tx)
		if err != nil {
			return err
		}
		p, err := propertyByID(ctx, tx, n.PropertyID, true)
		if err != nil {
			return err
		}
		if p.EnforceMaxUnits {
			var count int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM units WHERE property_id = $1`, p.ID).Scan(&count); err != nil {
				return err
			}
			if count >= p.MaxUnits {
				return model.Errorf(model.CodeForbidden, "the property already has its maximum of %d units", p.MaxUnits)
			}
		}
		id := uuid.New()
		secret := model.MintPortalSecret()
		if _, err := tx.Exec(ctx, `INSERT INTO units (id, property_id, number, description, contact_name, email,
		    phone_number, portal_secret_cipher, portal_secret_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			id, p.ID, n.Number, n.Description, n.Contact.ContactName, n.Contact.Email, n.Contact.PhoneNumber,
			keys.Encrypt(secret, id[:]), keys.Digest(secret)); err != nil {
			return err
		}
		identities := []struct {
			t      model.UnitUserType
			fields newUserFields
		}{{model.UserTypeUnit, newUserFields{UserName: n.Contact.ContactName, Email: n.Contact.Email, PhoneNumber: n.Contact.PhoneNumber}}}
		if p.AllowSeparateGuestSecret {
			identities = append(identities, struct {
				t      model.UnitUserType
				fields newUserFields
			}{model.UserTypeGuest, newUserFields{UserName: "Guest"}})
		}
		for _, ident := range identities {
			u, err := db.insertUnitUser(ctx, tx, keys, p, id, ident.t, ident.fields)
			if err != nil {
				return err
			}
			if _, err := insertChange(ctx, tx, model.ChangeIdentityCreated, p.ID, id, &u.ID, nil, nil); err != nil {
				return err
			}
		}
		out.PortalSecret = secret
		out.Unit, err = db.unitByID(ctx, tx, model.PropertyScope(p.ID), id, false)
		return err
	})
	return out, err
}

// SetUnitStatus enables or disables a unit (UNIT_STATUS_CHANGED in the
// outbox when it changes). Disabling also moves the token generation on,
// so tokens minted before stay revoked after re-enabling.
// NOT_FOUND, BAD_USER_INPUT.
func (db *DB) SetUnitStatus(ctx context.Context, scope model.Scope, id uuid.UUID, status model.UnitStatus) (model.Unit, error) {
	if !status.Valid() {
		return model.Unit{}, model.InvalidField("status", "must be ENABLED or DISABLED")
	}
	var u model.Unit
	err := db.inTx(ctx, "db.SetUnitStatus", func(tx pgx.Tx) error {
		cur, err := db.unitByID(ctx, tx, scope, id, true)
		if err != nil {
			return err
		}
		if cur.Status != status {
			if _, err := tx.Exec(ctx, `UPDATE units SET status = $2::unit_status, updated_at = now(),
			    token_generation = token_generation + CASE WHEN $2::unit_status = 'DISABLED' THEN 1 ELSE 0 END
			  WHERE id = $1`, id, string(status)); err != nil {
				return err
			}
			if _, err := insertChange(ctx, tx, model.ChangeUnitStatus, cur.PropertyID, id, nil, nil, nil); err != nil {
				return err
			}
		}
		u, err = db.unitByID(ctx, tx, scope, id, false)
		return err
	})
	return u, err
}

// UpdateUnit applies a read-modify-write update (model.ApplyUnitUpdate) to a
// unit within scope, in one transaction that holds the unit locked and
// writes a change request for each change the Wi-Fi side must learn about.
// Errors: NOT_FOUND, BAD_USER_INPUT, FORBIDDEN, CONFLICT (passphrase in use).
func (db *DB) UpdateUnit(ctx context.Context, scope model.Scope, id uuid.UUID, upd model.UnitUpdate) (model.UnitUpdateResult, error) {
	if err := upd.Validate(); err != nil {
		return model.UnitUpdateResult{}, err
	}
	var res model.UnitUpdateResult
	err := db.inTx(ctx, "db.UpdateUnit", func(tx pgx.Tx) error {
		res = model.UnitUpdateResult{}
		keys := db.keys
		if upd.MaySetSecrets() {
			var err error
			if keys, err = db.sealingKey(ctx, tx); err != nil {
				return err
			}
		}
		cur, err := db.unitByID(ctx, tx, scope, id, true)
		if err != nil {
			return err
		}
		p, err := propertyByID(ctx, tx, cur.PropertyID, false)
		if err != nil {
			return err
		}
		next, ch, err := model.ApplyUnitUpdate(cur, p, upd)
		if err != nil {
			return err
		}
		change := func(kind model.ChangeKind, userID *uuid.UUID) error {
			c, err := insertChange(ctx, tx, kind, cur.PropertyID, cur.ID, userID, nil, nil)
			res.Changes = append(res.Changes, c)
			return err
		}
		if ch.Fields {
			if _, err := tx.Exec(ctx, `UPDATE units SET description = $2, contact_name = $3, email = $4,
			    phone_number = $5, updated_at = now() WHERE id = $1`, id, next.Description,
				next.Contact.ContactName, next.Contact.Email, next.Contact.PhoneNumber); err != nil {
				return err
			}
			if err := change(model.ChangeIdentity, &cur.UnitUserID); err != nil {
				return err
			}
		}
		if ch.Secret != nil {
			if err := db.setPassphrase(ctx, tx, keys, p, cur.UnitUserID, *ch.Secret); err != nil {
				return inUseAs("secret", err)
			}
			if err := change(model.ChangePassphrase, &cur.UnitUserID); err != nil {
				return err
			}
		}
		if ch.GuestSecret != nil {
			if err := db.setPassphrase(ctx, tx, keys, p, *cur.GuestUserID, *ch.GuestSecret); err != nil {
				return inUseAs("guestSecret", err)
			}
			if err := change(model.ChangePassphrase, cur.GuestUserID); err != nil {
				return err
			}
		}
		if ch.ResetPortalAccess {
			secret := model.MintPortalSecret()
			if _, err := tx.Exec(ctx, `UPDATE units SET portal_secret_cipher = $2, portal_secret_digest = $3,
			    token_generation = token_generation + 1, updated_at = now() WHERE id = $1`,
				id, keys.Encrypt(secret, id[:]), keys.Digest(secret)); err != nil {
				return err
			}
			res.PortalSecret = secret
			if err := change(model.ChangePortalAccessReset, nil); err != nil {
				return err
			}
		}
		res.Unit, err = db.unitByID(ctx, tx, scope, id, false)
		return err
	})
	return res, err
}

// PortalSecret decrypts a unit's current portal secret (the admin tool
// prints portal links with it). NOT_FOUND.
func (db *DB) PortalSecret(ctx context.Context, scope model.Scope, id uuid.UUID) (string, error) {
	var sealed []byte
	p, unit := scopeArgs(scope)
	err := db.pool.QueryRow(ctx, `SELECT portal_secret_cipher FROM units
	  WHERE id = $1 AND property_id = $2 AND ($3::uuid IS NULL OR id = $3)`, id, p, unit).Scan(&sealed)
	if err == pgx.ErrNoRows {
		return "", model.ErrNotFound("unit")
	}
	if err != nil {
		return "", wrap("db.PortalSecret", err)
	}
	s, err := db.keys.Decrypt(sealed, id[:])
	return s, wrap("db.PortalSecret", err)
}

// PropertyOfUnit returns the property a unit belongs to (for admin commands
// that name only the unit). NOT_FOUND.
func (db *DB) PropertyOfUnit(ctx context.Context, unitID uuid.UUID) (uuid.UUID, error) {
	var p uuid.UUID
	err := db.pool.QueryRow(ctx, `SELECT property_id FROM units WHERE id = $1`, unitID).Scan(&p)
	if err == pgx.ErrNoRows {
		return p, model.ErrNotFound("unit")
	}
	return p, wrap("db.PropertyOfUnit", err)
}

// UnitByNumber returns the unit of a property with the given number. NOT_FOUND.
func (db *DB) UnitByNumber(ctx context.Context, propertyID uuid.UUID, number string) (model.Unit, error) {
	u, err := db.scanUnit(db.pool.QueryRow(ctx, unitSelect+` WHERE u.property_id = $1 AND u.number = $2`, propertyID, number))
	if err == pgx.ErrNoRows {
		return u, model.ErrNotFound("unit")
	}
	return u, wrap("db.UnitByNumber", err)
}

// SetUnitVLAN sets a unit's VLAN (1–4094), or clears it (nil): the VLAN an
// access point puts the unit's devices on (SPEC §9.2); within property
// unless it is nil (the admin tool's). NOT_FOUND for an unknown unit (or
// one of another property); BAD_USER_INPUT for a VLAN out of range.
func (db *DB) SetUnitVLAN(ctx context.Context, property *uuid.UUID, id uuid.UUID, vlan *int) (model.Unit, error) {
	if vlan != nil && (*vlan < 1 || *vlan > 4094) {
		return model.Unit{}, model.InvalidField("vlanId", "must be between 1 and 4094")
	}
	var found bool
	err := db.pool.QueryRow(ctx, `UPDATE units SET vlan_id = $2, updated_at = now()
	  WHERE id = $1 AND ($3::uuid IS NULL OR property_id = $3) RETURNING true`, id, vlan, property).Scan(&found)
	if err == pgx.ErrNoRows {
		return model.Unit{}, model.ErrNotFound("unit")
	}
	if err != nil {
		return model.Unit{}, wrap("db.SetUnitVLAN", err)
	}
	return db.scanUnit(db.pool.QueryRow(ctx, unitSelect+` WHERE u.id = $1`, id))
}
