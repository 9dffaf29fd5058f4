-- Revocation notices: whoever changes what a token or manager key check
-- depends on (the server, portalctl, plain SQL), every replica hears of it on
-- the 'portal_auth' channel when the transaction commits, and drops what it
-- had cached. Payloads are '<kind>:<uuid>' — ids only, never a secret.

CREATE FUNCTION notify_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'units' THEN
    PERFORM pg_notify('portal_auth', 'unit:' || COALESCE(NEW.id, OLD.id));
  ELSIF TG_TABLE_NAME = 'properties' THEN
    PERFORM pg_notify('portal_auth', 'property:' || COALESCE(NEW.id, OLD.id));
  ELSE
    PERFORM pg_notify('portal_auth', 'key:' || COALESCE(NEW.id, OLD.id));
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER units_auth_notify
  AFTER UPDATE OF status, token_generation OR DELETE ON units
  FOR EACH ROW EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER properties_auth_notify
  AFTER UPDATE OF portal_allowed OR DELETE ON properties
  FOR EACH ROW EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER manager_keys_auth_notify
  AFTER UPDATE OF revoked_at OR DELETE ON manager_keys
  FOR EACH ROW EXECUTE FUNCTION notify_auth_change();

---- create above / drop below ----

DROP TRIGGER IF EXISTS units_auth_notify ON units;
DROP TRIGGER IF EXISTS properties_auth_notify ON properties;
DROP TRIGGER IF EXISTS manager_keys_auth_notify ON manager_keys;
DROP FUNCTION IF EXISTS notify_auth_change();
