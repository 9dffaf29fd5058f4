-- The W3C traceparent of the traced request that wrote a change request,
-- so that the relay's publish and the Wi-Fi side's consumer continue that
-- trace. Null when the write was not traced.
ALTER TABLE change_requests ADD COLUMN traceparent text
  CHECK (traceparent IS NULL OR traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');

---- create above / drop below ----

ALTER TABLE change_requests DROP COLUMN IF EXISTS traceparent;
