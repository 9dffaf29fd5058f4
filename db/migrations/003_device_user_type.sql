-- Devices carry their user's type (UNIT, GUEST or LINKED), so that reading
-- devices, with their type, is one table and no join: the join to unit_users
-- was a third of what PostgreSQL spent on a resident's nested read
-- (BENCHMARKS.md). A composite foreign key keeps the copy honest, following
-- a change of type; a trigger fills it in on insert, so writers need not.

ALTER TABLE unit_users ADD CONSTRAINT unit_users_id_type_key UNIQUE (id, type);

ALTER TABLE devices ADD COLUMN user_type unit_user_type;
UPDATE devices d SET user_type = uu.type FROM unit_users uu WHERE uu.id = d.user_id;
ALTER TABLE devices ALTER COLUMN user_type SET NOT NULL;
ALTER TABLE devices ADD CONSTRAINT devices_user_type_fkey FOREIGN KEY (user_id, user_type)
  REFERENCES unit_users (id, type) ON UPDATE CASCADE ON DELETE CASCADE;

CREATE FUNCTION devices_user_type() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT type INTO NEW.user_type FROM unit_users WHERE id = NEW.user_id;
  IF NOT FOUND THEN -- what the (unit_id, user_id) foreign key would say
    RAISE EXCEPTION 'unit user % not found', NEW.user_id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'devices_unit_id_user_id_fkey';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER devices_user_type
  BEFORE INSERT OR UPDATE OF user_id ON devices
  FOR EACH ROW EXECUTE FUNCTION devices_user_type();

---- create above / drop below ----

DROP TRIGGER IF EXISTS devices_user_type ON devices;
DROP FUNCTION IF EXISTS devices_user_type();
ALTER TABLE devices DROP COLUMN IF EXISTS user_type;
ALTER TABLE unit_users DROP CONSTRAINT IF EXISTS unit_users_id_type_key;
