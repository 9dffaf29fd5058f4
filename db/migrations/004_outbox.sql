-- The complete outbox (SPEC §8.1): identities that come into being or go,
-- a unit's status, and the lifecycle PENDING → PUBLISHED (the broker has
-- it) → APPLIED | FAILED (the Wi-Fi side says so), with the time of each
-- step. Rows written before keep their meaning: DONE was "applied".

ALTER TYPE change_kind ADD VALUE IF NOT EXISTS 'IDENTITY_CREATED' BEFORE 'IDENTITY_CHANGED';
ALTER TYPE change_kind ADD VALUE IF NOT EXISTS 'IDENTITY_REMOVED' AFTER 'IDENTITY_CHANGED';
ALTER TYPE change_kind ADD VALUE IF NOT EXISTS 'UNIT_STATUS_CHANGED';
ALTER TYPE change_status RENAME VALUE 'DONE' TO 'APPLIED';
ALTER TYPE change_status ADD VALUE IF NOT EXISTS 'PUBLISHED' BEFORE 'APPLIED';

ALTER TABLE change_requests RENAME COLUMN processed_at TO completed_at;
ALTER TABLE change_requests
  ADD COLUMN published_at timestamptz,
  ADD COLUMN detail text CHECK (length(detail) <= 1024),
  -- The order in which rows were written (created_at is the time of the
  -- transaction, shared by every row it writes): a unit's requests are
  -- published in this order.
  ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

-- The relay takes the oldest pending rows unit by unit.
DROP INDEX change_requests_pending_idx;
CREATE INDEX change_requests_pending_idx ON change_requests (unit_id, seq) WHERE status = 'PENDING';
CREATE INDEX change_requests_pending_age_idx ON change_requests (created_at) WHERE status = 'PENDING';
CREATE INDEX change_requests_property_idx ON change_requests (property_id, created_at);
-- A unit's requests, newest first, by the order of writes.
DROP INDEX change_requests_unit_idx;
CREATE INDEX change_requests_unit_idx ON change_requests (unit_id, seq);

-- New rows wake the relays (one notice per statement; ids are read from
-- the table, so a missed notice costs only the poll interval).
CREATE FUNCTION notify_change_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('portal_changes', '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER change_requests_notify AFTER INSERT ON change_requests
  FOR EACH STATEMENT EXECUTE FUNCTION notify_change_requests();

---- create above / drop below ----

DROP TRIGGER IF EXISTS change_requests_notify ON change_requests;
DROP FUNCTION IF EXISTS notify_change_requests();
DROP INDEX IF EXISTS change_requests_property_idx, change_requests_pending_age_idx, change_requests_pending_idx, change_requests_unit_idx;
CREATE INDEX change_requests_unit_idx ON change_requests (unit_id, created_at);
CREATE INDEX change_requests_pending_idx ON change_requests (created_at) WHERE status = 'PENDING';
ALTER TABLE change_requests DROP COLUMN IF EXISTS seq, DROP COLUMN IF EXISTS detail, DROP COLUMN IF EXISTS published_at;
ALTER TABLE change_requests RENAME COLUMN completed_at TO processed_at;
-- Enum values cannot be dropped; the new ones stay, unused.
