-- RADIUS accounting (SPEC §9.4): a device is online while an access point
-- keeps its session open (Start, then Interim-Updates) and until a Stop;
-- online_until is when it counts as gone if nothing more is heard (an
-- access point that died sends no Stop). The session (its access point and
-- Acct-Session-Id) is what a Disconnect-Request names (§9.5).
ALTER TABLE devices
  ADD COLUMN online_until timestamptz,
  ADD COLUMN session_nas_id uuid REFERENCES nas_clients (id) ON DELETE SET NULL,
  ADD COLUMN session_id text CHECK (length(session_id) <= 253);
CREATE INDEX devices_session_nas_idx ON devices (session_nas_id) WHERE session_nas_id IS NOT NULL;
