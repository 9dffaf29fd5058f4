-- A device's session report (RADIUS accounting: last seen, online, its
-- session) is announced as "s:<unit id>" instead of "u:<unit id>": live
-- subscribers see it like any change to the unit, but the RADIUS server's
-- in-memory access tables, which nothing of it changes, are not dropped
-- by every Interim-Update of every device.
CREATE OR REPLACE FUNCTION notify_unit_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  session_only constant text[] := '{last_seen,online_until,session_nas_id,session_id}';
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
