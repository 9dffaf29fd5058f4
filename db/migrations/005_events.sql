-- Live updates (SPEC §8.2): every change to a unit, its users or its
-- devices, and every change request written or moved on, is announced on
-- the channel portal_events with ids only ("u:<unit id>", "c:<change
-- request id>:<unit id>"), whoever makes it: a replica, portalctl, plain
-- SQL. Identical notices of one transaction are delivered once.

CREATE FUNCTION notify_unit_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
  IF TG_TABLE_NAME = 'units' THEN
    PERFORM pg_notify('portal_events', 'u:' || row.id);
  ELSE
    PERFORM pg_notify('portal_events', 'u:' || row.unit_id);
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER units_event AFTER UPDATE OR DELETE ON units
  FOR EACH ROW EXECUTE FUNCTION notify_unit_event();
CREATE TRIGGER unit_users_event AFTER INSERT OR UPDATE OR DELETE ON unit_users
  FOR EACH ROW EXECUTE FUNCTION notify_unit_event();
CREATE TRIGGER devices_event AFTER INSERT OR UPDATE OR DELETE ON devices
  FOR EACH ROW EXECUTE FUNCTION notify_unit_event();

CREATE FUNCTION notify_change_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('portal_events', 'c:' || NEW.id || ':' || NEW.unit_id);
  RETURN NULL;
END;
$$;
CREATE TRIGGER change_requests_event AFTER INSERT OR UPDATE OF status ON change_requests
  FOR EACH ROW EXECUTE FUNCTION notify_change_event();

---- create above / drop below ----

DROP TRIGGER IF EXISTS change_requests_event ON change_requests;
DROP TRIGGER IF EXISTS devices_event ON devices;
DROP TRIGGER IF EXISTS unit_users_event ON unit_users;
DROP TRIGGER IF EXISTS units_event ON units;
DROP FUNCTION IF EXISTS notify_change_event(), notify_unit_event();
