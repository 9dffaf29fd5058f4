package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

const userColumns = `uu.id, uu.unit_id, uu.property_id, uu.type, uu.user_name, uu.email, uu.phone_number,
  uu.status, uu.passphrase_cipher, uu.created_at, uu.updated_at`

// userTargets are the scan targets of userColumns (the passphrase into
// sealed, to be decrypted), then extra.
func userTargets(u *model.UnitUser, sealed *[]byte, extra ...any) []any {
	return append([]any{&u.ID, &u.UnitID, &u.PropertyID, &u.Type, &u.UserName, &u.Email, &u.PhoneNumber,
		&u.Status, sealed, &u.CreatedAt, &u.UpdatedAt}, extra...)
}

// scanUser scans a row of userColumns, then extra columns into extra.
func (db *DB) scanUser(row pgx.Row, extra ...any) (model.UnitUser, error) {
	var u model.UnitUser
	var sealed []byte
	err := row.Scan(userTargets(&u, &sealed, extra...)...)
	if err != nil {
		return u, err
	}
	u.Passphrase, err = db.keys.Decrypt(sealed, u.ID[:])
	return u, err
}

func (db *DB) collectUsers(rows pgx.Rows, err error) ([]model.UnitUser, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.UnitUser, error) { return db.scanUser(r) })
}

// UnitUserByID returns a unit user within scope. NOT_FOUND otherwise.
func (db *DB) UnitUserByID(ctx context.Context, scope model.Scope, id uuid.UUID) (model.UnitUser, error) {
	u, err := db.userByID(ctx, db.pool, scope, id, false)
	return u, wrap("db.UnitUserByID", err)
}

func (db *DB) userByID(ctx context.Context, q querier, scope model.Scope, id uuid.UUID, lock bool) (model.UnitUser, error) {
	p, unit := scopeArgs(scope)
	sql := `SELECT ` + userColumns + ` FROM unit_users uu
	  WHERE uu.id = $1 AND uu.property_id = $2 AND ($3::uuid IS NULL OR uu.unit_id = $3)`
	if lock {
		sql += ` FOR UPDATE`
	}
	u, err := db.scanUser(q.QueryRow(ctx, sql, id, p, unit))
	if err == pgx.ErrNoRows {
		return u, model.ErrNotFound("unit user")
	}
	return u, err
}

// UnitUsersByIDs returns the unit users with the given ids in one
// statement, in no particular order (dataloaders order them).
func (db *DB) UnitUsersByIDs(ctx context.Context, ids []uuid.UUID) ([]model.UnitUser, error) {
	users, err := db.collectUsers(db.pool.Query(ctx, `SELECT `+userColumns+` FROM unit_users uu WHERE uu.id = ANY($1)`, ids))
	return users, wrap("db.UnitUsersByIDs", err)
}

// UnitUserPages returns, for each unit, one keyset page of its users
// ordered by id, with the unit's user count, in one statement. Units
// without users (or past the end) get an empty page.
func (db *DB) UnitUserPages(ctx context.Context, unitIDs []uuid.UUID, page model.UserPage) (map[uuid.UUID]model.Page[model.UnitUser], error) {
	sql, args := userPages(unitIDs, page)
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap("db.UnitUserPages", err)
	}
	out, err := db.scanUserPages(rows, unitIDs, page)
	if err == nil {
		err = db.countPastEnd(ctx, out, page)
	}
	return out, wrap("db.UnitUserPages", err)
}

// userPages is UnitUserPages' statement.
func userPages(unitIDs []uuid.UUID, page model.UserPage) (string, []any) {
	var after any
	if page.AfterID != nil {
		after = *page.AfterID
	}
	return keysetPages(userColumns+" FROM unit_users uu", "unit_users", "uu.unit_id", "uu.id", unitIDs, page.Limit, after, page.SkipTotal)
}

// scanUserPages reads the rows of userPages' statement into a page per
// unit (an empty one for a unit without rows).
func (db *DB) scanUserPages(rows pgx.Rows, unitIDs []uuid.UUID, page model.UserPage) (map[uuid.UUID]model.Page[model.UnitUser], error) {
	out := make(map[uuid.UUID]model.Page[model.UnitUser], len(unitIDs))
	for _, id := range unitIDs {
		out[id] = model.Page[model.UnitUser]{}
	}
	// One set of scan targets for every row (the hot path of nested reads).
	var u model.UnitUser
	var sealed []byte
	var total int
	_, err := pgx.ForEachRow(rows, userTargets(&u, &sealed, &total), func() error {
		var err error
		if u.Passphrase, err = db.keys.Decrypt(sealed, u.ID[:]); err != nil {
			return err
		}
		p := out[u.UnitID]
		if len(p.Items) == page.Limit {
			p.HasNext = true
		} else {
			p.Items = append(p.Items, u)
		}
		p.Total = total
		out[u.UnitID] = p
		return nil
	})
	return out, err
}

// countPastEnd counts the users of each unit whose page came back empty
// past a cursor: the page has no row to carry its unit's count.
func (db *DB) countPastEnd(ctx context.Context, out map[uuid.UUID]model.Page[model.UnitUser], page model.UserPage) error {
	if page.AfterID == nil || page.SkipTotal {
		return nil
	}
	for id, p := range out {
		if len(p.Items) == 0 {
			if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM unit_users WHERE unit_id = $1`, id).Scan(&p.Total); err != nil {
				return err
			}
			out[id] = p
		}
	}
	return nil
}

// UnitUsersPage returns one keyset page of a unit's users that match the
// filter, in the requested order (ties broken by id), with their count.
func (db *DB) UnitUsersPage(ctx context.Context, q model.UserKeysetQuery) (model.Page[model.UnitUser], error) {
	col, ok := userSortColumns[q.Order.Field]
	if !ok {
		col = "uu.id"
	}
	cmp, dir := ">", "ASC"
	if q.Order.Desc {
		cmp, dir = "<", "DESC"
	}
	var afterValue *string
	var afterID *uuid.UUID
	if q.After != nil {
		afterValue, afterID = &q.After.Value, &q.After.ID
	}
	filter := `uu.unit_id = $1 AND ($2::uuid IS NULL OR uu.id = $2)
	    AND ($3::unit_user_type IS NULL OR uu.type = $3) AND ($4::unit_user_status IS NULL OR uu.status = $4)`
	sql := `SELECT ` + userColumns + `, (SELECT count(*) FROM unit_users uu WHERE ` + filter + `)
	  FROM unit_users uu WHERE ` + filter + `
	    AND ($5::uuid IS NULL OR (` + col + `::text, uu.id) ` + cmp + ` ($6::text, $5))
	  ORDER BY ` + col + `::text ` + dir + `, uu.id ` + dir + ` LIMIT $7`
	if q.Order.Field == model.SortUserID || !ok {
		sql = `SELECT ` + userColumns + `, (SELECT count(*) FROM unit_users uu WHERE ` + filter + `)
	  FROM unit_users uu WHERE ` + filter + ` AND ($5::uuid IS NULL OR uu.id ` + cmp + ` $5) AND ($6::text IS NULL OR true)
	  ORDER BY uu.id ` + dir + ` LIMIT $7`
	}
	var typ, status *string
	if q.Filter.Type != nil {
		typ = (*string)(q.Filter.Type)
	}
	if q.Filter.Status != nil {
		status = (*string)(q.Filter.Status)
	}
	rows, err := db.pool.Query(ctx, sql, q.UnitID, q.Filter.UserID, typ, status, afterID, afterValue, q.Limit+1)
	if err != nil {
		return model.Page[model.UnitUser]{}, wrap("db.UnitUsersPage", err)
	}
	var p model.Page[model.UnitUser]
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		u, err := db.scanUser(r, &p.Total)
		if err == nil {
			if len(p.Items) == q.Limit {
				p.HasNext = true
			} else {
				p.Items = append(p.Items, u)
			}
		}
		return struct{}{}, err
	})
	if err == nil && len(p.Items) == 0 && q.After != nil {
		err = db.pool.QueryRow(ctx, `SELECT count(*) FROM unit_users uu WHERE `+filter, q.UnitID, q.Filter.UserID, typ, status).Scan(&p.Total)
	}
	return p, wrap("db.UnitUsersPage", err)
}

var userSortColumns = map[model.UserSortField]string{
	model.SortUserID: "uu.id", model.SortUserName: "uu.user_name", model.SortEmail: "uu.email", model.SortType: "uu.type::text", model.SortStatus: "uu.status::text",
}

// QueryUnitUsers returns one page of a unit's users and their total count.
// Ties are broken by id so pages never overlap. BAD_USER_INPUT for an
// unknown sort field.
func (db *DB) QueryUnitUsers(ctx context.Context, q model.UserQuery) ([]model.UnitUser, int, error) {
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	var order []string
	for _, f := range q.Sort {
		col, ok := userSortColumns[f]
		if !ok {
			return nil, 0, model.InvalidField("sortFields", fmt.Sprintf("cannot sort by %q", f))
		}
		order = append(order, col+" "+dir)
	}
	order = append(order, "uu.id "+dir)
	sql := `SELECT ` + userColumns + `, count(*) OVER () FROM unit_users uu
	  WHERE uu.unit_id = $1 AND ($2::uuid IS NULL OR uu.id = $2)
	  ORDER BY ` + strings.Join(order, ", ") + ` OFFSET $3 LIMIT $4`
	rows, err := db.pool.Query(ctx, sql, q.UnitID, q.UserID, q.Offset, q.Limit)
	if err != nil {
		return nil, 0, wrap("db.QueryUnitUsers", err)
	}
	total := -1
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.UnitUser, error) {
		var u model.UnitUser
		var sealed []byte
		if err := r.Scan(&u.ID, &u.UnitID, &u.PropertyID, &u.Type, &u.UserName, &u.Email, &u.PhoneNumber,
			&u.Status, &sealed, &u.CreatedAt, &u.UpdatedAt, &total); err != nil {
			return u, err
		}
		var err error
		u.Passphrase, err = db.keys.Decrypt(sealed, u.ID[:])
		return u, err
	})
	if err != nil {
		return nil, 0, wrap("db.QueryUnitUsers", err)
	}
	if total < 0 {
		// An empty page (past the end or no match) still needs the total.
		err = db.pool.QueryRow(ctx, `SELECT count(*) FROM unit_users WHERE unit_id = $1 AND ($2::uuid IS NULL OR id = $2)`,
			q.UnitID, q.UserID).Scan(&total)
	}
	return users, total, wrap("db.QueryUnitUsers", err)
}

// newUserFields are the plain fields of a new unit user.
type newUserFields struct {
	UserName    string
	Email       string
	PhoneNumber string
}

// insertUnitUser inserts a user with a generated passphrase, retrying on a
// digest collision within the property.
func (db *DB) insertUnitUser(ctx context.Context, tx pgx.Tx, keys *model.Keyring, p model.Property, unitID uuid.UUID, t model.UnitUserType, f newUserFields) (model.UnitUser, error) {
	id := uuid.New()
	err := db.withGenerated(ctx, tx, p, func(tx pgx.Tx, pass string) error {
		_, err := tx.Exec(ctx, `INSERT INTO unit_users (id, unit_id, property_id, type, user_name, email,
		    phone_number, passphrase_cipher, passphrase_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			id, unitID, p.ID, string(t), f.UserName, f.Email, f.PhoneNumber, keys.Encrypt(pass, id[:]), keys.Digest(pass))
		return err
	})
	if err != nil {
		return model.UnitUser{}, err
	}
	return db.userByID(ctx, tx, model.PropertyScope(p.ID), id, false)
}

// withGenerated calls write with fresh passphrases of the property's length,
// each attempt in a savepoint, until one does not collide with another
// passphrase of the property.
func (db *DB) withGenerated(ctx context.Context, tx pgx.Tx, p model.Property, write func(pgx.Tx, string) error) error {
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			return write(sp, db.generate(p.PassphraseLength))
		})
		if err == nil || !errPassphraseTaken(err) || attempt+1 >= db.maxRetries {
			return err
		}
	}
}

// setPassphrase stores a user's new passphrase: the chosen value, or a
// generated one (retried on collision).
func (db *DB) setPassphrase(ctx context.Context, tx pgx.Tx, keys *model.Keyring, p model.Property, userID uuid.UUID, c model.PassphraseChange) error {
	write := func(tx pgx.Tx, pass string) error {
		_, err := tx.Exec(ctx, `UPDATE unit_users SET passphrase_cipher = $2, passphrase_digest = $3,
		    updated_at = now() WHERE id = $1`, userID, keys.Encrypt(pass, userID[:]), keys.Digest(pass))
		if err == nil { // a removed device that knew the old passphrase does not know this one
			_, err = tx.Exec(ctx, `DELETE FROM blocked_devices WHERE user_id = $1`, userID)
		}
		return err
	}
	if c.Generate {
		return db.withGenerated(ctx, tx, p, write)
	}
	return write(tx, c.Value)
}

// CreateUnitUser adds a LINKED identity with a generated passphrase to a
// unit within scope. NOT_FOUND, BAD_USER_INPUT.
func (db *DB) CreateUnitUser(ctx context.Context, scope model.Scope, unitID uuid.UUID, userName, email, phone string) (model.UnitUser, error) {
	var v model.Validator
	v.Add("name", model.ValidateText(userName, model.MaxNameLength))
	v.Add("email", model.ValidateEmail(email))
	v.Add("phone", model.ValidatePhone(phone))
	if err := v.Err(); err != nil {
		return model.UnitUser{}, err
	}
	var u model.UnitUser
	err := db.inTx(ctx, "db.CreateUnitUser", func(tx pgx.Tx) error {
		keys, err := db.sealingKey(ctx, tx)
		if err != nil {
			return err
		}
		unit, err := db.unitByID(ctx, tx, scope, unitID, true)
		if err != nil {
			return err
		}
		p, err := propertyByID(ctx, tx, unit.PropertyID, false)
		if err != nil {
			return err
		}
		u, err = db.insertUnitUser(ctx, tx, keys, p, unit.ID, model.UserTypeLinked, newUserFields{userName, email, phone})
		if err != nil {
			return err
		}
		_, err = insertChange(ctx, tx, model.ChangeIdentityCreated, p.ID, unit.ID, &u.ID, nil, nil)
		return err
	})
	return u, err
}

// UpdateUnitUser applies a read-modify-write update (model.ApplyUnitUserUpdate)
// to a unit user within scope, in one transaction that holds the user locked
// and writes an IDENTITY_CHANGED and/or PASSPHRASE_CHANGED request.
// Errors: NOT_FOUND, BAD_USER_INPUT, FORBIDDEN, CONFLICT (passphrase in use).
func (db *DB) UpdateUnitUser(ctx context.Context, scope model.Scope, id uuid.UUID, upd model.UnitUserUpdate) (model.UnitUserUpdateResult, error) {
	if err := upd.Validate(); err != nil {
		return model.UnitUserUpdateResult{}, err
	}
	var res model.UnitUserUpdateResult
	err := db.inTx(ctx, "db.UpdateUnitUser", func(tx pgx.Tx) error {
		res = model.UnitUserUpdateResult{}
		keys := db.keys
		if upd.Passphrase != nil {
			var err error
			if keys, err = db.sealingKey(ctx, tx); err != nil {
				return err
			}
		}
		cur, err := db.userByID(ctx, tx, scope, id, true)
		if err != nil {
			return err
		}
		p, err := propertyByID(ctx, tx, cur.PropertyID, false)
		if err != nil {
			return err
		}
		next, ch, err := model.ApplyUnitUserUpdate(cur, p, upd)
		if err != nil {
			return err
		}
		if ch.Persona {
			if _, err := tx.Exec(ctx, `UPDATE unit_users SET user_name = $2, email = $3, phone_number = $4,
			    status = $5, updated_at = now() WHERE id = $1`,
				id, next.UserName, next.Email, next.PhoneNumber, string(next.Status)); err != nil {
				return err
			}
			c, err := insertChange(ctx, tx, model.ChangeIdentity, cur.PropertyID, cur.UnitID, &cur.ID, nil, nil)
			if err != nil {
				return err
			}
			res.PersonaUpdateID = &c.ID
		}
		if ch.Passphrase != nil {
			if err := db.setPassphrase(ctx, tx, keys, p, id, *ch.Passphrase); err != nil {
				return err
			}
		}
		if ch.Dpsk {
			c, err := insertChange(ctx, tx, model.ChangePassphrase, cur.PropertyID, cur.UnitID, &cur.ID, nil, nil)
			if err != nil {
				return err
			}
			res.DpskUpdateID = &c.ID
		}
		res.User, err = db.userByID(ctx, tx, scope, id, false)
		return err
	})
	return res, err
}

// PropertyOfUser returns the property a unit user belongs to (for admin
// commands that name only the user). NOT_FOUND.
func (db *DB) PropertyOfUser(ctx context.Context, userID uuid.UUID) (uuid.UUID, error) {
	var p uuid.UUID
	err := db.pool.QueryRow(ctx, `SELECT property_id FROM unit_users WHERE id = $1`, userID).Scan(&p)
	if err == pgx.ErrNoRows {
		return p, model.ErrNotFound("unit user")
	}
	return p, wrap("db.PropertyOfUser", err)
}
