package db

import (
	"context"
	"crypto/subtle"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

// keyCheckText is what the key check value is the keyed digest of.
const keyCheckText = "resident-portal key check v1"

// ErrOtherKey is returned by VerifyKey when the database's secrets are under
// another SECRET_KEY.
var ErrOtherKey = errors.New("the database's secrets are under another SECRET_KEY: run with the key they are under " +
	"(make run keeps its own in .data/secret_key), or move them to this key with portalctl rekey")

// VerifyKey checks that the database's secrets are under this handle's key,
// recording the key's check value if the database has none yet (the first
// process to start under a key claims the database). portald and portalctl
// call it at start, so that nothing is written under another key — a
// write that could never be read back. ErrOtherKey, UNAVAILABLE.
func (db *DB) VerifyKey(ctx context.Context) error {
	want := db.keys.Digest(keyCheckText)
	var have []byte
	err := db.pool.QueryRow(ctx, `SELECT check_value FROM key_check`).Scan(&have)
	if errors.Is(err, pgx.ErrNoRows) {
		// None recorded (a new database, or one from before the check):
		// claim it, unless a stored secret says it is under another key.
		var id uuid.UUID
		var sealed []byte
		err = db.pool.QueryRow(ctx, `SELECT id, portal_secret_cipher FROM units LIMIT 1`).Scan(&id, &sealed)
		if err == nil {
			if _, derr := db.keys.Decrypt(sealed, id[:]); derr != nil {
				return ErrOtherKey
			}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return wrap("db.VerifyKey", err)
		}
		err = db.pool.QueryRow(ctx, `INSERT INTO key_check (check_value) VALUES ($1)
		  ON CONFLICT (only_row) DO UPDATE SET only_row = true RETURNING check_value`, want).Scan(&have)
	}
	if err != nil {
		return wrap("db.VerifyKey", err)
	}
	if subtle.ConstantTimeCompare(have, want) != 1 {
		return ErrOtherKey
	}
	return nil
}

// setKeyCheck records next as the key the secrets are under (in the
// rekey's transaction).
// The servers still running are told at commit (a "rekey" notice on
// AuthChannel), so that one left under the old key stops writing.
func setKeyCheck(ctx context.Context, tx pgx.Tx, next *model.Keyring) error {
	_, err := tx.Exec(ctx, `INSERT INTO key_check (check_value) VALUES ($1)
	  ON CONFLICT (only_row) DO UPDATE SET check_value = EXCLUDED.check_value, updated_at = now()`, next.Digest(keyCheckText))
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'rekey:' || gen_random_uuid())`, AuthChannel)
	return err
}
