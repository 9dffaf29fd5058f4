package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

// CreatedManagerKey is a new manager key, shown this once.
type CreatedManagerKey struct {
	ManagerKey model.ManagerKey
	Key        string
}

// CreateManagerKey mints a manager key scoped to a property and stores its
// digest only. NOT_FOUND for an unknown property.
func (db *DB) CreateManagerKey(ctx context.Context, propertyID uuid.UUID) (CreatedManagerKey, error) {
	key := model.MintManagerKey()
	k := model.ManagerKey{ID: uuid.New(), PropertyID: propertyID, Hint: key[:len(model.ManagerKeyPrefix)+4]}
	err := db.pool.QueryRow(ctx, `INSERT INTO manager_keys (id, property_id, key_digest, hint)
	  VALUES ($1, $2, $3, $4) RETURNING created_at`, k.ID, propertyID, model.ManagerKeyDigest(key), k.Hint).Scan(&k.CreatedAt)
	return CreatedManagerKey{ManagerKey: k, Key: key}, wrap("db.CreateManagerKey", err)
}

const managerKeyColumns = `id, property_id, hint, created_at, revoked_at`

func scanManagerKey(row pgx.Row) (model.ManagerKey, error) {
	var k model.ManagerKey
	return k, row.Scan(&k.ID, &k.PropertyID, &k.Hint, &k.CreatedAt, &k.RevokedAt)
}

// ManagerKeys lists a property's manager keys, revoked ones included, oldest first.
func (db *DB) ManagerKeys(ctx context.Context, propertyID uuid.UUID) ([]model.ManagerKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+managerKeyColumns+` FROM manager_keys
	  WHERE property_id = $1 ORDER BY created_at, id`, propertyID)
	if err != nil {
		return nil, wrap("db.ManagerKeys", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.ManagerKey, error) { return scanManagerKey(r) })
	return keys, wrap("db.ManagerKeys", err)
}

// ManagerKeyByKey finds the live (unrevoked) manager key whose digest
// matches key. NOT_FOUND otherwise.
func (db *DB) ManagerKeyByKey(ctx context.Context, key string) (model.ManagerKey, error) {
	k, err := scanManagerKey(db.pool.QueryRow(ctx, `SELECT `+managerKeyColumns+` FROM manager_keys
	  WHERE key_digest = $1 AND revoked_at IS NULL`, model.ManagerKeyDigest(key)))
	if err == pgx.ErrNoRows {
		return k, model.ErrNotFound("manager key")
	}
	return k, wrap("db.ManagerKeyByKey", err)
}

// RevokeManagerKey revokes a key (idempotent: revoking twice keeps the first
// time). NOT_FOUND for an unknown key id.
func (db *DB) RevokeManagerKey(ctx context.Context, id uuid.UUID) (model.ManagerKey, error) {
	k, err := scanManagerKey(db.pool.QueryRow(ctx, `UPDATE manager_keys SET revoked_at = coalesce(revoked_at, now())
	  WHERE id = $1 RETURNING `+managerKeyColumns, id))
	if err == pgx.ErrNoRows {
		return k, model.ErrNotFound("manager key")
	}
	return k, wrap("db.RevokeManagerKey", err)
}
