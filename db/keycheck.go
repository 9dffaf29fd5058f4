package db

import (
	"context"
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
	"(make run keeps its own in .data/secret_key), or move them to this key with portalctl rekey; " +
	"while a rekey is being rolled out, servers run with SECRET_KEY_PREVIOUS set to the old key")

// VerifyKey checks that the database's secrets are under this handle's key
// (or, during a rekey's window, SECRET_KEY_PREVIOUS), recording the key's
// check value if the database has none yet (the first process to start
// under a key claims the database), and makes that key the one this
// process writes under. portald and portalctl call it at start, so that
// nothing is written under another key — a write that could never be read
// back. ErrOtherKey, UNAVAILABLE.
func (db *DB) VerifyKey(ctx context.Context) error {
	var have []byte
	err := db.pool.QueryRow(ctx, `SELECT check_value FROM key_check`).Scan(&have)
	if errors.Is(err, pgx.ErrNoRows) {
		// None recorded (a new database, or one from before the check):
		// claim it under the key a stored secret is under, unless that is
		// none of ours.
		claim := db.keys.Keys()[0]
		var id uuid.UUID
		var sealed []byte
		err = db.pool.QueryRow(ctx, `SELECT id, portal_secret_cipher FROM units LIMIT 1`).Scan(&id, &sealed)
		if err == nil {
			if claim = db.keys.KeyOf(sealed); claim == nil {
				return ErrOtherKey
			}
			if _, derr := claim.Decrypt(sealed, id[:]); derr != nil {
				return ErrOtherKey
			}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return wrap("db.VerifyKey", err)
		}
		err = db.pool.QueryRow(ctx, `INSERT INTO key_check (check_value) VALUES ($1)
		  ON CONFLICT (only_row) DO UPDATE SET only_row = true RETURNING check_value`, claim.Digest(keyCheckText)).Scan(&have)
	}
	if err != nil {
		return wrap("db.VerifyKey", err)
	}
	one := db.keys.Match(keyCheckText, have)
	if one == nil {
		return ErrOtherKey
	}
	db.keys.Use(one)
	return nil
}

// errKeyMoved is what a write answers when the database's secrets have
// moved to a key this process does not hold (a rekey ran): the server is
// about to stop answering until restarted with the new key.
var errKeyMoved = &model.Error{Code: model.CodeUnavailable,
	Message: "the service is restarting with a new key; try again shortly", Err: ErrOtherKey}

// sealingKey locks the key check for the rest of tx and returns the key the
// database's secrets are under, the one tx must seal new secrets with. A
// rekey waits for tx, and tx for a rekey, so no secret is written under a
// key the rekey has just moved away from. Call it before tx writes units or
// unit_users (the rekey takes the key check first, then those tables).
func (db *DB) sealingKey(ctx context.Context, tx pgx.Tx) (*model.Keyring, error) {
	var have []byte
	err := tx.QueryRow(ctx, `SELECT check_value FROM key_check FOR SHARE`).Scan(&have)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.keys, nil // unclaimed: every program claims it at start (VerifyKey)
	}
	if err != nil {
		return nil, err
	}
	one := db.keys.Match(keyCheckText, have)
	if one == nil {
		return nil, errKeyMoved
	}
	db.keys.Use(one)
	return one, nil
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
