-- A change to an access point (added, removed, its secret rotated) or to
-- what the RADIUS server keeps of its property (its SSIDs, the device cap)
-- is announced as "n:<property id>": every replica reads its access points
-- again at once, instead of on its next periodic read.
CREATE FUNCTION notify_nas_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
  IF TG_TABLE_NAME = 'properties' THEN
    PERFORM pg_notify('portal_events', 'n:' || row.id);
  ELSE
    PERFORM pg_notify('portal_events', 'n:' || row.property_id);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER nas_clients_notify AFTER INSERT OR UPDATE OR DELETE ON nas_clients
  FOR EACH ROW EXECUTE FUNCTION notify_nas_event();
CREATE TRIGGER properties_nas_notify AFTER UPDATE OF ssids, max_devices_per_identity ON properties
  FOR EACH ROW EXECUTE FUNCTION notify_nas_event();
