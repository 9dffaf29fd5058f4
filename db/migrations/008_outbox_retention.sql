---- tern: disable-tx ----
-- Outbox retention (OUTBOX_RETENTION): APPLIED and FAILED change requests
-- are deleted some time after they were completed, oldest first. Built
-- concurrently, so that an outbox grown large before retention existed
-- keeps taking writes while the index is built.
CREATE INDEX CONCURRENTLY IF NOT EXISTS change_requests_completed_idx ON change_requests (completed_at)
  WHERE status IN ('APPLIED', 'FAILED');

---- create above / drop below ----

---- tern: disable-tx ----
DROP INDEX CONCURRENTLY IF EXISTS change_requests_completed_idx;
