package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

// insertChange writes one change request (outbox row) in tx. It holds ids
// and the kind of change only, never a secret.
func insertChange(ctx context.Context, tx pgx.Tx, kind model.ChangeKind, propertyID, unitID uuid.UUID,
	userID, deviceID *uuid.UUID, mac *string) (model.ChangeRequest, error) {
	c := model.ChangeRequest{ID: uuid.New(), Kind: kind, PropertyID: propertyID, UnitID: unitID,
		UserID: userID, DeviceID: deviceID, MACAddress: mac, Status: "PENDING"}
	err := tx.QueryRow(ctx, `INSERT INTO change_requests (id, kind, property_id, unit_id, user_id, device_id, mac_address)
	  VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at`,
		c.ID, string(kind), propertyID, unitID, userID, deviceID, mac).Scan(&c.CreatedAt)
	return c, err
}

// ChangeRequestsByUnit lists a unit's change requests in the order they
// were written.
func (db *DB) ChangeRequestsByUnit(ctx context.Context, unitID uuid.UUID) ([]model.ChangeRequest, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+changeColumns+` FROM change_requests WHERE unit_id = $1 ORDER BY seq`, unitID)
	if err != nil {
		return nil, wrap("db.ChangeRequestsByUnit", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.ChangeRequest, error) { return scanChange(r) })
	return out, wrap("db.ChangeRequestsByUnit", err)
}

// ChangesChannel is the notification channel that new change requests
// wake relays on.
const ChangesChannel = "portal_changes"

const changeColumns = `id, kind, property_id, unit_id, user_id, device_id, mac_address, status, created_at, published_at, completed_at, detail`

func scanChange(r pgx.Row) (model.ChangeRequest, error) {
	var c model.ChangeRequest
	err := r.Scan(&c.ID, &c.Kind, &c.PropertyID, &c.UnitID, &c.UserID, &c.DeviceID, &c.MACAddress,
		&c.Status, &c.CreatedAt, &c.PublishedAt, &c.CompletedAt, &c.Detail)
	return c, err
}

// RelayChanges hands pending change requests to publish and marks those it
// reports published as PUBLISHED, all in one transaction. It takes the
// units whose pending requests are oldest (at most units of them), and of
// each unit its pending requests in write order (at most limit in all).
//
// Several relays may run at once: a unit being relayed is held by a
// transaction-scoped advisory lock, which other relays skip, and its rows
// are read only once the lock is held, so no two relays publish a row
// unless one of them failed to record it (the broker's de-duplication by
// id covers that). publish returns the ids it published; for each unit
// they must be a prefix of its requests, so that the rest are published
// later, after them. It returns how many rows it marked.
func (db *DB) RelayChanges(ctx context.Context, units, limit int,
	publish func(context.Context, []model.ChangeRequest) []uuid.UUID) (int, error) {
	marked := 0
	err := db.inTx(ctx, "db.RelayChanges", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH heads AS MATERIALIZED (
		    SELECT unit_id, min(seq) AS first FROM change_requests WHERE status = 'PENDING'
		    GROUP BY unit_id ORDER BY first LIMIT $1)
		  SELECT unit_id FROM heads WHERE pg_try_advisory_xact_lock(hashtextextended(unit_id::text, 0))`, units)
		if err != nil {
			return err
		}
		claimed, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil || len(claimed) == 0 {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+changeColumns+` FROM change_requests
		  WHERE unit_id = ANY($1) AND status = 'PENDING' ORDER BY seq LIMIT $2`, claimed, limit)
		if err != nil {
			return err
		}
		pending, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.ChangeRequest, error) { return scanChange(r) })
		if err != nil || len(pending) == 0 {
			return err
		}
		published := publish(ctx, pending)
		if len(published) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE change_requests SET status = 'PUBLISHED', published_at = now()
		  WHERE id = ANY($1) AND status = 'PENDING'`, published)
		marked = int(tag.RowsAffected())
		return err
	})
	return marked, err
}

// OutboxStats are the outbox's gauges: requests by status and the age of
// the oldest pending one (zero when none is).
type OutboxStats struct {
	ByStatus      map[model.ChangeStatus]int
	OldestPending time.Duration
}

// OutboxStats reads the outbox's gauges. UNAVAILABLE.
func (db *DB) OutboxStats(ctx context.Context) (OutboxStats, error) {
	s := OutboxStats{ByStatus: map[model.ChangeStatus]int{}}
	rows, err := db.pool.Query(ctx, `SELECT status, count(*) FROM change_requests GROUP BY status`)
	if err != nil {
		return s, wrap("db.OutboxStats", err)
	}
	for rows.Next() {
		var st model.ChangeStatus
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return s, wrap("db.OutboxStats", err)
		}
		s.ByStatus[st] = n
	}
	if err := rows.Err(); err != nil {
		return s, wrap("db.OutboxStats", err)
	}
	var age *time.Duration
	err = db.pool.QueryRow(ctx, `SELECT now() - min(created_at) FROM change_requests WHERE status = 'PENDING'`).Scan(&age)
	if age != nil {
		s.OldestPending = *age
	}
	return s, wrap("db.OutboxStats", err)
}
