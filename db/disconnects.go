package db

import (
	"context"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

// Changes take effect on the air (SPEC §9.5). The change requests of a
// property whose access points ask portald (one with NAS clients) are
// portald's to deliver: not to NATS (RelayChanges passes them over), but as
// Disconnect-Requests to the access points holding the sessions they
// affect. ClaimDisconnects takes them (PENDING → PUBLISHED: portald is
// delivering it), CompleteChangeRequest records the result, and
// RepublishDisconnects puts back those a replica that died mid-way left
// PUBLISHED.

// radiusProperty is true of a change request c whose property has access
// points: portald delivers it.
const radiusProperty = `EXISTS (SELECT 1 FROM nas_clients n WHERE n.property_id = c.property_id)`

// ClaimDisconnects marks PUBLISHED at most limit pending change requests
// of properties with access points, oldest first, passing over rows another
// transaction holds, and returns each with the online sessions it affects
// (read in the same transaction):
//   - DEVICE_REMOVED: the session the device had when it was removed;
//   - PASSPHRASE_CHANGED: every session of the identity's devices;
//   - IDENTITY_CHANGED: the same, when the identity is no longer ACTIVE;
//   - UNIT_STATUS_CHANGED: every session of the unit's devices, when it is
//     no longer ENABLED;
//   - the others: none (the access points ask again at the next join).
func (db *DB) ClaimDisconnects(ctx context.Context, limit int) ([]model.Disconnect, error) {
	var out []model.Disconnect
	err := db.inWorkerTx(ctx, "db.ClaimDisconnects", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `UPDATE change_requests c SET status = 'PUBLISHED', published_at = clock_timestamp()
		  WHERE c.id IN (SELECT x.id FROM (SELECT DISTINCT property_id FROM nas_clients) AS p
		      CROSS JOIN LATERAL (SELECT id, seq FROM change_requests c
		        WHERE c.property_id = p.property_id AND c.status = 'PENDING' ORDER BY c.seq LIMIT $1) AS x
		      ORDER BY x.seq LIMIT $1)
		    AND c.status = 'PENDING'
		  RETURNING `+changeColumns, limit)
		if err != nil {
			return err
		}
		changes, err := pgx.CollectRows(rows, collectChange)
		if err != nil || len(changes) == 0 {
			return err
		}
		ids := make([]uuid.UUID, len(changes))
		at := make(map[uuid.UUID]int, len(changes))
		for i, c := range changes {
			ids[i], at[c.ID] = c.ID, i
			out = append(out, model.Disconnect{Change: c})
		}
		rows, err = tx.Query(ctx, `SELECT n.id, n.property_id, n.name, n.address, n.profile, n.coa_port, n.created_at,
		    n.updated_at, n.radsec_cert_sha256, n.secret_cipher, t.change_id, t.mac, t.session_id, t.addr
		  FROM (
		    SELECT c.id AS change_id, c.mac_address AS mac, c.session_nas_id AS nas_id, c.session_id, c.session_addr AS addr
		      FROM change_requests c
		      WHERE c.id = ANY($1) AND c.kind = 'DEVICE_REMOVED' AND c.session_id IS NOT NULL
		    UNION ALL
		    SELECT c.id, d.mac_address, d.session_nas_id, d.session_id, d.session_addr
		      FROM change_requests c
		      JOIN devices d ON (c.kind IN ('PASSPHRASE_CHANGED', 'IDENTITY_CHANGED') AND d.user_id = c.user_id)
		        OR (c.kind = 'UNIT_STATUS_CHANGED' AND d.unit_id = c.unit_id)
		      WHERE c.id = ANY($1) AND d.online_until > now() AND d.session_id IS NOT NULL
		        AND (c.kind <> 'IDENTITY_CHANGED' OR EXISTS (SELECT 1 FROM unit_users u WHERE u.id = c.user_id AND u.status <> 'ACTIVE'))
		        AND (c.kind <> 'UNIT_STATUS_CHANGED' OR EXISTS (SELECT 1 FROM units u WHERE u.id = c.unit_id AND u.status <> 'ENABLED'))
		  ) AS t JOIN nas_clients n ON n.id = t.nas_id
		  ORDER BY t.change_id, n.id, t.mac`, ids)
		if err != nil {
			return err
		}
		secrets := map[uuid.UUID]string{}
		_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
			var change uuid.UUID
			var t model.DisconnectTarget
			var addr *netip.Addr
			var sealed []byte
			n, err := scanNAS(r, &sealed, &change, &t.MAC, &t.Session.ID, &addr)
			if err != nil {
				return struct{}{}, err
			}
			secret, ok := secrets[n.ID]
			if !ok {
				if secret, err = db.keys.Decrypt(sealed, n.ID[:]); err != nil {
					return struct{}{}, err
				}
				secrets[n.ID] = secret
			}
			t.NAS, t.Secret, t.Session.NASID = n, secret, n.ID
			if addr != nil {
				t.Session.Addr = *addr
			}
			d := &out[at[change]]
			d.Targets = append(d.Targets, t)
			return struct{}{}, nil
		})
		return err
	})
	return out, wrap("db.ClaimDisconnects", err)
}

// RepublishDisconnects puts back to PENDING, at most limit at a time, the
// change requests of properties with access points that have been
// PUBLISHED (being delivered) longer than olderThan: the replica delivering
// them died mid-way, and a lost disconnect is not acceptable (at least once
// to the access point is). It returns how many it put back.
func (db *DB) RepublishDisconnects(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE change_requests SET status = 'PENDING', published_at = NULL
	  WHERE id IN (SELECT c.id FROM change_requests c WHERE c.status = 'PUBLISHED' AND c.published_at < now() - $1::interval
	    AND `+radiusProperty+` ORDER BY c.published_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, limit)
	return int(tag.RowsAffected()), wrap("db.RepublishDisconnects", err)
}

// EndDisconnected marks the given sessions (an access point's, by
// Acct-Session-Id) ended: their access point acknowledged the
// Disconnect-Request, so the page stops showing the device online without
// waiting for its Accounting-Stop. A device whose access point has since
// reported another session keeps it.
func (db *DB) EndDisconnected(ctx context.Context, sessions []model.Session) error {
	if len(sessions) == 0 {
		return nil
	}
	nas, ids := make([]uuid.UUID, len(sessions)), make([]string, len(sessions))
	for i, s := range sessions {
		nas[i], ids[i] = s.NASID, s.ID
	}
	_, err := db.pool.Exec(ctx, `UPDATE devices d SET online_until = NULL, session_nas_id = NULL, session_id = NULL, session_addr = NULL
	  FROM unnest($1::uuid[], $2::text[]) AS s(nas_id, id) WHERE d.session_nas_id = s.nas_id AND d.session_id = s.id`, nas, ids)
	return wrap("db.EndDisconnected", err)
}
