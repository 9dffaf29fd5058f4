package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

// UnitTree reads a unit within scope, one page of its users and, as q
// asks, those users' devices, a page of the unit's change requests and its
// property: the statements UnitByID, UnitUserPages, a devices-of-that-page
// statement, ChangeRequestPages' and PropertiesByIDs', sent together in one
// pipeline, so that a resident's whole unit costs one wait on the database
// instead of one per level. NOT_FOUND when the unit is not within scope;
// then nothing read below it is returned.
func (db *DB) UnitTree(ctx context.Context, scope model.Scope, id uuid.UUID, q model.TreeQuery) (model.UnitTree, error) {
	page := q.Users
	var t model.UnitTree
	var pages map[uuid.UUID]model.Page[model.UnitUser]
	// A unit out of scope is not an error to pgx: an error from a
	// statement's function would make it forget the batch's prepared
	// statements. The children's functions then read nothing.
	found := false
	p, unit := scopeArgs(scope)
	unitIDs := []uuid.UUID{id}
	b := &pgx.Batch{}
	b.Queue(unitSelect+` WHERE u.id = $1 AND u.property_id = $2 AND ($3::uuid IS NULL OR u.id = $3)`, id, p, unit).
		QueryRow(func(row pgx.Row) (err error) {
			t.Unit, err = db.scanUnit(row)
			if err == pgx.ErrNoRows {
				return nil
			}
			found = err == nil
			return err
		})
	sql, args := userPages(unitIDs, page)
	b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) {
		if found {
			pages, err = db.scanUserPages(rows, unitIDs, page)
		}
		return err
	})
	if q.Devices {
		sql, args := devicesOfUserPage(id, page)
		b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) {
			if found {
				t.Devices, err = collectDevices(rows, nil)
			}
			return err
		})
	}
	var changes map[uuid.UUID]model.Page[model.ChangeRequest]
	if c := q.Changes; c != nil {
		sql, args := changePages(unitIDs, *c)
		b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) {
			if found {
				changes, err = scanChangePages(rows, unitIDs, c.Limit)
			}
			return err
		})
	}
	if q.Blocked {
		b.Queue(blockedSelect+` WHERE b.unit_id = ANY($1) ORDER BY b.unit_id, b.user_id, b.mac_address`, unitIDs).
			Query(func(rows pgx.Rows) (err error) {
				if found {
					t.Blocked, err = pgx.CollectRows(rows, pgx.RowToStructByPos[model.BlockedDevice])
				}
				return err
			})
	}
	if q.Property {
		b.Queue(`SELECT `+propertyColumns+` FROM properties p WHERE p.id = $1`, p).QueryRow(func(row pgx.Row) error {
			if !found {
				return nil
			}
			prop, err := scanProperty(row)
			if err == nil {
				t.Property = &prop
			}
			return err
		})
	}
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return model.UnitTree{}, wrap("db.UnitTree", err)
	}
	if !found {
		return model.UnitTree{}, model.ErrNotFound("unit")
	}
	if err := db.countPastEnd(ctx, pages, page); err != nil {
		return model.UnitTree{}, wrap("db.UnitTree", err)
	}
	t.Users, t.Changes = pages[id], changes[id]
	return t, nil
}

// devicesOfUserPage is the statement of the devices of the users that
// UnitUserPages' statement pages for one unit, ordered by user and MAC.
func devicesOfUserPage(unitID uuid.UUID, page model.UserPage) (string, []any) {
	cond, args := "", []any{unitID, page.Limit}
	if page.AfterID != nil {
		cond, args = ` AND uu.id > $3`, append(args, *page.AfterID)
	}
	return deviceSelect + `
	  WHERE d.user_id IN (SELECT uu.id FROM unit_users uu WHERE uu.unit_id = $1` + cond + ` ORDER BY uu.id LIMIT $2)
	  ORDER BY d.user_id, d.mac_address`, args
}
