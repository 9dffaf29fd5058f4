package db

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
	"go.opentelemetry.io/otel/trace"
)

// insertChange writes one change request (outbox row) in tx. It holds ids
// and the kind of change only, never a secret.
func insertChange(ctx context.Context, tx pgx.Tx, kind model.ChangeKind, propertyID, unitID uuid.UUID,
	userID, deviceID *uuid.UUID, mac *string) (model.ChangeRequest, error) {
	return insertChangeSession(ctx, tx, kind, propertyID, unitID, userID, deviceID, mac, model.Session{})
}

// insertChangeSession is insertChange with the session a removed device
// had open (its zero value: none), for the Disconnect-Request (§9.5).
func insertChangeSession(ctx context.Context, tx pgx.Tx, kind model.ChangeKind, propertyID, unitID uuid.UUID,
	userID, deviceID *uuid.UUID, mac *string, s model.Session) (model.ChangeRequest, error) {
	c := model.ChangeRequest{ID: uuid.New(), Kind: kind, PropertyID: propertyID, UnitID: unitID,
		UserID: userID, DeviceID: deviceID, MACAddress: mac, Status: "PENDING"}
	c.TraceParent = traceParent(ctx)
	var nas *uuid.UUID
	var id *string
	var addr *netip.Addr
	if s.ID != "" {
		nas, id = &s.NASID, &s.ID
	}
	if s.Addr.IsValid() {
		addr = &s.Addr
	}
	err := tx.QueryRow(ctx, `INSERT INTO change_requests (id, kind, property_id, unit_id, user_id, device_id, mac_address, traceparent,
	    session_nas_id, session_id, session_addr)
	  VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9, $10, $11) RETURNING created_at`,
		c.ID, string(kind), propertyID, unitID, userID, deviceID, mac, c.TraceParent, nas, id, addr).Scan(&c.CreatedAt)
	return c, err
}

// ChangeRequestsByUnit lists a unit's change requests in the order they
// were written.
func (db *DB) ChangeRequestsByUnit(ctx context.Context, unitID uuid.UUID) ([]model.ChangeRequest, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+changeColumns+` FROM change_requests c WHERE c.unit_id = $1 ORDER BY c.seq`, unitID)
	if err != nil {
		return nil, wrap("db.ChangeRequestsByUnit", err)
	}
	out, err := pgx.CollectRows(rows, collectChange)
	return out, wrap("db.ChangeRequestsByUnit", err)
}

// ChangesChannel is the notification channel that new change requests
// wake relays on.
const ChangesChannel = "portal_changes"

// EventsChannel carries live-update notices: "u:<unit id>" for a change to
// a unit, its users or devices, "s:<unit id>" for a device's session report
// alone (migration 014), "c:<change request id>:<unit id>" for a change
// request written or moved on (migration 005).
const EventsChannel = "portal_events"

const changeColumns = `c.id, c.kind, c.property_id, c.unit_id, c.user_id, c.device_id, c.mac_address, c.status,
  c.created_at, c.published_at, c.completed_at, c.detail, c.seq, coalesce(c.traceparent, '')`

func scanChange(r pgx.Row, extra ...any) (model.ChangeRequest, error) {
	var c model.ChangeRequest
	err := r.Scan(append([]any{&c.ID, &c.Kind, &c.PropertyID, &c.UnitID, &c.UserID, &c.DeviceID, &c.MACAddress,
		&c.Status, &c.CreatedAt, &c.PublishedAt, &c.CompletedAt, &c.Detail, &c.Seq, &c.TraceParent}, extra...)...)
	return c, err
}

func collectChange(r pgx.CollectableRow) (model.ChangeRequest, error) { return scanChange(r) }

// ChangeRequestByID returns a change request within scope (a unit scope
// sees its own unit's only). NOT_FOUND otherwise.
func (db *DB) ChangeRequestByID(ctx context.Context, scope model.Scope, id uuid.UUID) (model.ChangeRequest, error) {
	c, err := scanChange(db.pool.QueryRow(ctx, `SELECT `+changeColumns+` FROM change_requests c
	  WHERE c.id = $1 AND c.property_id = $2 AND ($3::uuid IS NULL OR c.unit_id = $3)`, id, scope.PropertyID, scope.UnitID))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, model.ErrNotFound("change request")
	}
	return c, wrap("db.ChangeRequestByID", err)
}

// ChangeRequestPages returns, for each unit, one page of its change
// requests, newest first (by write order), those before the one at seq
// before (nil: from the newest), with status when it is set, at most limit,
// each page with its count unless skipTotal — in one statement.
func (db *DB) ChangeRequestPages(ctx context.Context, unitIDs []uuid.UUID, limit int, before *int64,
	status *model.ChangeStatus, skipTotal bool) (map[uuid.UUID]model.Page[model.ChangeRequest], error) {
	sql, args := changePages(unitIDs, model.ChangePage{Limit: limit, Before: before, Status: status, SkipTotal: skipTotal})
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap("db.ChangeRequestPages", err)
	}
	out, err := scanChangePages(rows, unitIDs, limit)
	return out, wrap("db.ChangeRequestPages", err)
}

// changePages is ChangeRequestPages' statement.
func changePages(unitIDs []uuid.UUID, page model.ChangePage) (string, []any) {
	count := `CROSS JOIN LATERAL (SELECT count(*) AS total FROM change_requests n
	    WHERE n.unit_id = k.id AND ($4::change_status IS NULL OR n.status = $4)) AS t`
	if page.SkipTotal {
		count = `CROSS JOIN (SELECT 0::bigint AS total) AS t`
	}
	return `SELECT x.*, t.total FROM unnest($1::uuid[]) AS k(id) ` + count + `
	  CROSS JOIN LATERAL (SELECT ` + changeColumns + ` FROM change_requests c
	    WHERE c.unit_id = k.id AND ($3::bigint IS NULL OR c.seq < $3) AND ($4::change_status IS NULL OR c.status = $4)
	    ORDER BY c.seq DESC LIMIT $2) AS x`, []any{unitIDs, page.Limit + 1, page.Before, page.Status}
}

// scanChangePages reads changePages' rows: each unit's page (an empty one
// for a unit without).
func scanChangePages(rows pgx.Rows, unitIDs []uuid.UUID, limit int) (map[uuid.UUID]model.Page[model.ChangeRequest], error) {
	out := make(map[uuid.UUID]model.Page[model.ChangeRequest], len(unitIDs))
	for _, id := range unitIDs {
		out[id] = model.Page[model.ChangeRequest]{}
	}
	var total int
	_, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		c, err := scanChange(r, &total)
		if err != nil {
			return struct{}{}, err
		}
		p := out[c.UnitID]
		if len(p.Items) == limit {
			p.HasNext = true
		} else {
			p.Items = append(p.Items, c)
		}
		p.Total = total
		out[c.UnitID] = p
		return struct{}{}, nil
	})
	return out, err
}

// CompleteChangeRequest records the Wi-Fi side's result (APPLIED or
// FAILED, with an optional detail) of a change request of the property.
// Reporting the result a request already has is a no-op (consumers deliver
// at least once); another result after it is CONFLICT. A request not yet
// marked PUBLISHED may be completed (the relay's mark can come after the
// consumer's answer). completed reports whether this call completed it
// (false for the no-op). NOT_FOUND, BAD_USER_INPUT, CONFLICT.
func (db *DB) CompleteChangeRequest(ctx context.Context, propertyID, id uuid.UUID, result model.ChangeStatus,
	detail *string) (c model.ChangeRequest, completed bool, err error) {
	var v model.Validator
	v.Check(result == model.ChangeApplied || result == model.ChangeFailed, "result", "must be APPLIED or FAILED")
	if detail != nil {
		v.Add("detail", model.ValidateText(*detail, model.MaxChangeDetail))
	}
	if err := v.Err(); err != nil {
		return model.ChangeRequest{}, false, err
	}
	err = db.inTx(ctx, "db.CompleteChangeRequest", func(tx pgx.Tx) error {
		var err error
		c, err = scanChange(tx.QueryRow(ctx, `SELECT `+changeColumns+` FROM change_requests c
		  WHERE c.id = $1 AND c.property_id = $2 FOR UPDATE`, id, propertyID))
		if errors.Is(err, pgx.ErrNoRows) {
			return model.ErrNotFound("change request")
		}
		if err != nil {
			return err
		}
		switch c.Status {
		case result:
			return nil
		case model.ChangeApplied, model.ChangeFailed:
			return model.Errorf(model.CodeConflict, "the change request was already reported %s", c.Status)
		}
		c, err = scanChange(tx.QueryRow(ctx, `UPDATE change_requests c SET status = $2, detail = $3,
		    completed_at = now(), published_at = coalesce(published_at, now())
		  WHERE c.id = $1 RETURNING `+changeColumns, id, result, detail))
		completed = err == nil
		return err
	})
	return c, completed && err == nil, err
}

// RetryChangeRequest puts a FAILED or PUBLISHED change request of the
// property back to PENDING, so that it is published again (portalctl
// changes retry). NOT_FOUND; CONFLICT for one that is PENDING or APPLIED.
func (db *DB) RetryChangeRequest(ctx context.Context, id uuid.UUID) (model.ChangeRequest, error) {
	var c model.ChangeRequest
	err := db.inTx(ctx, "db.RetryChangeRequest", func(tx pgx.Tx) error {
		var err error
		c, err = scanChange(tx.QueryRow(ctx, `SELECT `+changeColumns+` FROM change_requests c WHERE c.id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return model.ErrNotFound("change request")
		}
		if err != nil {
			return err
		}
		if c.Status != model.ChangeFailed && c.Status != model.ChangePublished {
			return model.Errorf(model.CodeConflict, "only a FAILED or PUBLISHED change request can be retried; this one is %s", c.Status)
		}
		c, err = scanChange(tx.QueryRow(ctx, `UPDATE change_requests c SET status = 'PENDING', published_at = NULL,
		    completed_at = NULL, detail = NULL WHERE c.id = $1 RETURNING `+changeColumns, id))
		return err
	})
	return c, err
}

// RepublishUnanswered puts back to PENDING, at most limit at a time, the
// change requests published longer than olderThan ago that the Wi-Fi side
// never answered (its consumer died mid-way, or gave up after its last
// delivery), so that the relay publishes them again: nothing stays
// PUBLISHED for ever. Rows another transaction holds are passed over. It
// returns how many it put back.
func (db *DB) RepublishUnanswered(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE change_requests SET status = 'PENDING', published_at = NULL
	  WHERE id IN (SELECT id FROM change_requests WHERE status = 'PUBLISHED' AND published_at < now() - $1::interval
	    ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, limit)
	return int(tag.RowsAffected()), wrap("db.RepublishUnanswered", err)
}

// ListChangeRequests lists a property's change requests, newest first,
// optionally of one unit and one status, at most limit (portalctl changes
// list).
func (db *DB) ListChangeRequests(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID, status *model.ChangeStatus, limit int) ([]model.ChangeRequest, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+changeColumns+` FROM change_requests c WHERE c.property_id = $1
	  AND ($2::uuid IS NULL OR c.unit_id = $2) AND ($3::change_status IS NULL OR c.status = $3)
	  ORDER BY c.seq DESC LIMIT $4`, propertyID, unitID, status, limit)
	if err != nil {
		return nil, wrap("db.ListChangeRequests", err)
	}
	out, err := pgx.CollectRows(rows, collectChange)
	return out, wrap("db.ListChangeRequests", err)
}

// relayCandidates bounds how far past the oldest units (and rows) a relay
// looks for units no other relay holds: ten relays can share a backlog.
const relayCandidates = 10

// RelayChanges hands pending change requests to publish and marks those it
// reports published as PUBLISHED, all in one transaction. Those of a
// property with access points are portald's to deliver (ClaimDisconnects),
// not the relay's. It takes the
// units whose pending requests are oldest (at most units of them, found
// among the relayCandidates × limit oldest rows), and of each unit its
// pending requests in write order (at most limit in all).
//
// Several relays may run at once: a unit being relayed is held by a
// transaction-scoped advisory lock, which other relays skip, and its rows
// are read only once the lock is held, so no two relays publish a row
// unless one of them failed to record it (the broker's de-duplication by
// id covers that). A relay that finds the oldest units held takes the next
// ones, so that replicas share a backlog instead of waiting for one
// another. publish returns the ids it published; for each unit they must
// be a prefix of its requests, so that the rest are published later,
// after them. It returns how many rows it marked.
func (db *DB) RelayChanges(ctx context.Context, units, limit int,
	publish func(context.Context, []model.ChangeRequest) []uuid.UUID) (int, error) {
	marked := 0
	err := db.inWorkerTx(ctx, "db.RelayChanges", func(tx pgx.Tx) error {
		// The candidates are the units of the oldest pending rows (by
		// the index on their age: a bounded read however long the
		// backlog, where grouping every pending row cost a scan of them
		// all per batch), oldest first. The last limit stops at the
		// units-th lock taken: a unit another relay holds is passed over
		// and stays unlocked here.
		rows, err := tx.Query(ctx, `WITH oldest AS MATERIALIZED (
		    SELECT unit_id, seq FROM change_requests c WHERE status = 'PENDING' AND NOT `+radiusProperty+`
		    ORDER BY created_at LIMIT $3),
		  heads AS MATERIALIZED (
		    SELECT unit_id, min(seq) AS first FROM oldest GROUP BY unit_id ORDER BY first LIMIT $2)
		  SELECT unit_id FROM heads WHERE pg_try_advisory_xact_lock(hashtextextended(unit_id::text, 0)) LIMIT $1`,
			units, units*relayCandidates, limit*relayCandidates)
		if err != nil {
			return err
		}
		claimed, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil || len(claimed) == 0 {
			return err
		}
		// The claimed units' pending rows in write order, then those of
		// them no other transaction holds, locked: a row someone holds (a
		// report, a retry, an operator's session) is not waited for — its
		// unit's rows up to it are published, it and the ones after it
		// wait for a later batch, so a unit's order holds and no other
		// unit waits behind it.
		rows, err = tx.Query(ctx, `SELECT c.id, c.unit_id FROM change_requests c
		  WHERE c.unit_id = ANY($1) AND c.status = 'PENDING' ORDER BY c.seq LIMIT $2`, claimed, limit)
		if err != nil {
			return err
		}
		order, err := pgx.CollectRows(rows, pgx.RowToStructByPos[candidate])
		if err != nil || len(order) == 0 {
			return err
		}
		ids := make([]uuid.UUID, len(order))
		for i, c := range order {
			ids[i] = c.ID
		}
		rows, err = tx.Query(ctx, `SELECT `+changeColumns+` FROM change_requests c
		  WHERE c.id = ANY($1) AND c.status = 'PENDING' ORDER BY c.seq FOR UPDATE OF c SKIP LOCKED`, ids)
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, collectChange)
		if err != nil || len(locked) == 0 {
			return err
		}
		pending := heldBack(order, locked)
		if len(pending) == 0 {
			return nil
		}
		published := publish(ctx, pending)
		if len(published) == 0 {
			return nil
		}
		// clock_timestamp: when they were published, not when the
		// transaction began.
		tag, err := tx.Exec(ctx, `UPDATE change_requests SET status = 'PUBLISHED', published_at = clock_timestamp()
		  WHERE id = ANY($1) AND status = 'PENDING'`, published)
		marked = int(tag.RowsAffected())
		return err
	})
	return marked, err
}

// candidate is a pending row's place: its id and unit.
type candidate struct{ ID, UnitID uuid.UUID }

// heldBack returns the rows of locked, in write order, that come before
// any row of their unit another transaction held (order holds every
// candidate in write order): what can be published without a unit's row
// overtaking an earlier one.
func heldBack(order []candidate, locked []model.ChangeRequest) []model.ChangeRequest {
	byID := make(map[uuid.UUID]*model.ChangeRequest, len(locked))
	for i := range locked {
		byID[locked[i].ID] = &locked[i]
	}
	blocked := map[uuid.UUID]bool{}
	out := make([]model.ChangeRequest, 0, len(locked))
	for _, c := range order {
		switch r := byID[c.ID]; {
		case blocked[c.UnitID]:
		case r == nil: // held elsewhere (or no longer pending): the unit waits
			blocked[c.UnitID] = true
		default:
			out = append(out, *r)
		}
	}
	return out
}

// PruneChanges deletes at most limit APPLIED or FAILED change requests
// completed before before, oldest first, and returns how many it deleted.
// Rows another transaction holds (a report or a retry under way) are
// skipped, so replicas pruning at once share the work and never wait. A
// pruned request's id is NOT_FOUND afterwards; PENDING and PUBLISHED ones
// are never pruned, however old.
func (db *DB) PruneChanges(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := db.pool.Exec(ctx, `WITH doomed AS (
	    SELECT id FROM change_requests WHERE status IN ('APPLIED', 'FAILED') AND completed_at < $1
	    ORDER BY completed_at LIMIT $2 FOR UPDATE SKIP LOCKED)
	  DELETE FROM change_requests c USING doomed WHERE c.id = doomed.id`, before, limit)
	return int(tag.RowsAffected()), wrap("db.PruneChanges", err)
}

// OutboxStats are the outbox's gauges: the requests in flight by status
// (PENDING and PUBLISHED; how many were completed is counted as they
// complete, by the service's ChangeCompleted), the age of the oldest
// pending one and the time since the oldest published one was published
// (each zero when none is): a request the Wi-Fi side never completes stays
// PUBLISHED, and this is how it shows.
type OutboxStats struct {
	Pending, Published             int
	OldestPending, OldestPublished time.Duration
}

// OutboxStats reads the outbox's gauges, through the partial indexes of
// the rows in flight: the completed rows kept for retention cost nothing.
// UNAVAILABLE.
func (db *DB) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	var pending, published *time.Duration
	err := db.pool.QueryRow(ctx, `SELECT
	    (SELECT count(*) FROM change_requests WHERE status = 'PENDING'),
	    (SELECT count(*) FROM change_requests WHERE status = 'PUBLISHED'),
	    (SELECT now() - min(created_at) FROM change_requests WHERE status = 'PENDING'),
	    (SELECT now() - min(published_at) FROM change_requests WHERE status = 'PUBLISHED')`).Scan(&s.Pending, &s.Published, &pending, &published)
	if pending != nil {
		s.OldestPending = *pending
	}
	if published != nil {
		s.OldestPublished = *published
	}
	return s, wrap("db.OutboxStats", err)
}

// traceParent is the W3C traceparent of ctx's span if it is sampled ("" if
// there is none), kept with a change request.
func traceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
}
