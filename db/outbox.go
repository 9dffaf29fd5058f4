package db

import (
	"context"

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

// ChangeRequestsByUnit lists a unit's change requests, oldest first.
func (db *DB) ChangeRequestsByUnit(ctx context.Context, unitID uuid.UUID) ([]model.ChangeRequest, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, kind, property_id, unit_id, user_id, device_id, mac_address,
	    status, created_at FROM change_requests WHERE unit_id = $1 ORDER BY seq`, unitID)
	if err != nil {
		return nil, wrap("db.ChangeRequestsByUnit", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.ChangeRequest, error) {
		var c model.ChangeRequest
		return c, r.Scan(&c.ID, &c.Kind, &c.PropertyID, &c.UnitID, &c.UserID, &c.DeviceID, &c.MACAddress,
			&c.Status, &c.CreatedAt)
	})
	return out, wrap("db.ChangeRequestsByUnit", err)
}
