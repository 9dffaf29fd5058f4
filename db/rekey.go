package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

// Rekey re-encrypts every secret (portal secrets, passphrases) under next
// and recomputes every lookup digest, in one transaction that locks out
// concurrent writers, and returns how many rows it moved. The handle reads
// the rows under any of its keys (SECRET_KEY, SECRET_KEY_PREVIOUS). Until
// it commits the rows stay readable under their old key; after it, only
// under next.
// Manager keys are stored as unkeyed digests and need no rekey. The key
// check (VerifyKey) moves to next in the same transaction.
func (db *DB) Rekey(ctx context.Context, next *model.Keyring) (int, error) {
	moved := 0
	err := db.inTx(ctx, "db.Rekey", func(tx pgx.Tx) error {
		moved = 0
		// The key check first, then the tables: the order every secret
		// write takes them in (sealingKey), so the two cannot deadlock.
		if _, err := tx.Exec(ctx, `SELECT FROM key_check FOR UPDATE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE units, unit_users, nas_clients IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		for _, t := range []struct{ table, cipher, digest string }{
			{"units", "portal_secret_cipher", "portal_secret_digest"},
			{"unit_users", "passphrase_cipher", "passphrase_digest"},
			{"nas_clients", "secret_cipher", ""}, // no lookup by secret: no digest
		} {
			rows, err := tx.Query(ctx, `SELECT id, `+t.cipher+` FROM `+t.table)
			if err != nil {
				return err
			}
			type sealed struct {
				id  uuid.UUID
				box []byte
			}
			all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealed, error) {
				var s sealed
				return s, r.Scan(&s.id, &s.box)
			})
			if err != nil {
				return err
			}
			batch := &pgx.Batch{}
			for _, s := range all {
				plain, err := db.keys.Decrypt(s.box, s.id[:])
				if err != nil {
					return err
				}
				if t.digest == "" {
					batch.Queue(`UPDATE `+t.table+` SET `+t.cipher+` = $2 WHERE id = $1`, s.id, next.Encrypt(plain, s.id[:]))
					continue
				}
				batch.Queue(`UPDATE `+t.table+` SET `+t.cipher+` = $2, `+t.digest+` = $3 WHERE id = $1`,
					s.id, next.Encrypt(plain, s.id[:]), next.Digest(plain))
			}
			if err := tx.SendBatch(ctx, batch).Close(); err != nil {
				return err
			}
			moved += len(all)
		}
		return setKeyCheck(ctx, tx, next)
	})
	return moved, err
}
