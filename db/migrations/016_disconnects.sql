-- Changes take effect on the air (SPEC §9.5).
--
-- The address a session's accounting came from: where its
-- Disconnect-Request goes when the access point's NAS entry is a network.
ALTER TABLE devices ADD COLUMN session_addr inet;

-- A removed device's session goes with its row, yet is what the
-- Disconnect-Request names: its DEVICE_REMOVED request keeps the session
-- the device had open when it was removed (its access point and
-- Acct-Session-Id), nothing when it was offline.
ALTER TABLE change_requests
  ADD COLUMN session_nas_id uuid REFERENCES nas_clients (id) ON DELETE SET NULL,
  ADD COLUMN session_id text CHECK (length(session_id) <= 253),
  ADD COLUMN session_addr inet;

-- The pending requests of the properties whose access points ask portald
-- (they have NAS clients): portald delivers those itself, property by
-- property, as Disconnect-Requests (§9.5).
CREATE INDEX change_requests_property_pending_idx ON change_requests (property_id, seq) WHERE status = 'PENDING';

-- A removed device is refused with its identity until the resident allows
-- it again or the identity's passphrase changes: it would otherwise join
-- again by handshake with the passphrase it still knows (§9.3).
CREATE TABLE blocked_devices (
  user_id     uuid NOT NULL,
  unit_id     uuid NOT NULL,
  mac_address text NOT NULL CHECK (mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'),
  blocked_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, mac_address),
  FOREIGN KEY (unit_id, user_id) REFERENCES unit_users (unit_id, id) ON DELETE CASCADE
);
CREATE INDEX blocked_devices_unit_idx ON blocked_devices (unit_id);

-- Live subscribers and the RADIUS tables learn of a block or an allow like
-- any change to the unit.
CREATE TRIGGER blocked_devices_notify AFTER INSERT OR DELETE ON blocked_devices
  FOR EACH ROW EXECUTE FUNCTION notify_unit_event();

-- A session report's new column is a session report's like the others
-- (migration 014).
CREATE OR REPLACE FUNCTION notify_unit_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  session_only constant text[] := '{last_seen,online_until,session_nas_id,session_id,session_addr}';
BEGIN
  IF TG_TABLE_NAME = 'units' THEN
    PERFORM pg_notify('portal_events', 'u:' || row.id);
  ELSIF TG_TABLE_NAME = 'devices' AND TG_OP = 'UPDATE'
      AND to_jsonb(NEW) - session_only = to_jsonb(OLD) - session_only THEN
    PERFORM pg_notify('portal_events', 's:' || row.unit_id);
  ELSE
    PERFORM pg_notify('portal_events', 'u:' || row.unit_id);
  END IF;
  RETURN NULL;
END;
$$;

---- create above / drop below ----

DROP TABLE IF EXISTS blocked_devices;
DROP INDEX IF EXISTS change_requests_property_pending_idx;
ALTER TABLE change_requests DROP COLUMN IF EXISTS session_addr, DROP COLUMN IF EXISTS session_id,
  DROP COLUMN IF EXISTS session_nas_id;
ALTER TABLE devices DROP COLUMN IF EXISTS session_addr;
