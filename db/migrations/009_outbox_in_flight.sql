---- tern: disable-tx ----
-- The outbox's gauges count the change requests in flight (PENDING and
-- PUBLISHED) at every scrape: through partial indexes, so that their cost
-- follows the rows in flight, not the table (completed rows are kept for
-- OUTBOX_RETENTION). PENDING rows have theirs already. Built concurrently,
-- so that a large outbox keeps taking writes while it is built.
CREATE INDEX CONCURRENTLY IF NOT EXISTS change_requests_published_idx ON change_requests (published_at)
  WHERE status = 'PUBLISHED';

---- create above / drop below ----

---- tern: disable-tx ----
DROP INDEX CONCURRENTLY IF EXISTS change_requests_published_idx;
