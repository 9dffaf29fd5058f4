-- The auth epoch counts the statements that change what a token or manager
-- key check depends on (the same changes the 'portal_auth' notices name).
-- While a replica's revocation listener is away it cannot hear those
-- notices; instead of every live subscription checking its credential
-- against the database four times a second, the replica reads this one
-- row that often and has its subscriptions check again only when it moved.
-- One bump per statement, however many rows it changes: the changes are
-- rare (resets, disables, revocations), so the row is never contended.
CREATE TABLE auth_epoch (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  n bigint NOT NULL DEFAULT 0
);
INSERT INTO auth_epoch DEFAULT VALUES;

CREATE FUNCTION bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE auth_epoch SET n = n + 1;
  RETURN NULL;
END;
$$;

CREATE TRIGGER units_auth_epoch
  AFTER UPDATE OF status, token_generation OR DELETE ON units
  FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER properties_auth_epoch
  AFTER UPDATE OF portal_allowed OR DELETE ON properties
  FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER manager_keys_auth_epoch
  AFTER UPDATE OF revoked_at OR DELETE ON manager_keys
  FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();

---- create above / drop below ----

DROP TRIGGER IF EXISTS units_auth_epoch ON units;
DROP TRIGGER IF EXISTS properties_auth_epoch ON properties;
DROP TRIGGER IF EXISTS manager_keys_auth_epoch ON manager_keys;
DROP FUNCTION IF EXISTS bump_auth_epoch();
DROP TABLE IF EXISTS auth_epoch;
