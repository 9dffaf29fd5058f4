-- Resident portal schema: properties, units, unit users, devices, the
-- change-request outbox, manager keys and property files.
--
-- Secrets (passphrases, portal secrets) are never stored in clear: *_cipher
-- holds AES-GCM ciphertext, *_digest a keyed HMAC used for lookups and for
-- uniqueness. Manager keys are stored as digests only.

CREATE TYPE unit_status AS ENUM ('ENABLED', 'DISABLED');
CREATE TYPE unit_user_type AS ENUM ('UNIT', 'GUEST', 'LINKED');
CREATE TYPE unit_user_status AS ENUM ('ACTIVE', 'BLOCKED');
CREATE TYPE property_file_type AS ENUM ('logo', 'favIcon');
CREATE TYPE change_kind AS ENUM (
  'IDENTITY_CHANGED',   -- a unit user's name, email, phone or status changed
  'PASSPHRASE_CHANGED', -- a unit user's passphrase changed (or its status, which the DPSK side enforces)
  'DEVICE_REMOVED',     -- a device was removed from a unit user
  'PORTAL_ACCESS_RESET' -- the unit's portal secret was rotated (notify the resident)
);
CREATE TYPE change_status AS ENUM ('PENDING', 'DONE', 'FAILED');

CREATE TABLE properties (
  id                          uuid PRIMARY KEY,
  name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  address                     text NOT NULL DEFAULT '' CHECK (length(address) <= 1024),
  description                 text NOT NULL DEFAULT '' CHECK (length(description) <= 4096),
  management_name             text NOT NULL DEFAULT '' CHECK (length(management_name) <= 255),
  management_phone            text NOT NULL DEFAULT '' CHECK (length(management_phone) <= 32),
  management_email            text NOT NULL DEFAULT '' CHECK (length(management_email) <= 255),
  help_text                   text NOT NULL DEFAULT '' CHECK (length(help_text) <= 16384),
  announcements               text NOT NULL DEFAULT '' CHECK (length(announcements) <= 16384),
  allow_separate_guest_secret boolean NOT NULL DEFAULT false,
  enforce_max_units           boolean NOT NULL DEFAULT false,
  max_units                   integer NOT NULL DEFAULT 0 CHECK (max_units >= 0),
  send_email                  boolean NOT NULL DEFAULT false,
  send_sms                    boolean NOT NULL DEFAULT false,
  ssids                       text[] NOT NULL DEFAULT '{}',
  portal_allowed              boolean NOT NULL DEFAULT true,
  login_text                  text NOT NULL DEFAULT '' CHECK (length(login_text) <= 4096),
  title                       text NOT NULL DEFAULT '' CHECK (length(title) <= 255),
  subtitle                    text NOT NULL DEFAULT '' CHECK (length(subtitle) <= 255),
  main_color                  text NOT NULL DEFAULT '#1F4E79' CHECK (main_color ~ '^#[0-9A-Fa-f]{6}$'),
  accent_color                text NOT NULL DEFAULT '#F5A623' CHECK (accent_color ~ '^#[0-9A-Fa-f]{6}$'),
  separator_color             text NOT NULL DEFAULT '#D9D9D9' CHECK (separator_color ~ '^#[0-9A-Fa-f]{6}$'),
  text_color                  text NOT NULL DEFAULT '#222222' CHECK (text_color ~ '^#[0-9A-Fa-f]{6}$'),
  tenant_set_dpsk             boolean NOT NULL DEFAULT false,
  passphrase_length           integer NOT NULL DEFAULT 12 CHECK (passphrase_length BETWEEN 8 AND 63),
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE property_files (
  property_id  uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
  type         property_file_type NOT NULL,
  file_name    text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
  content_type text NOT NULL CHECK (length(content_type) BETWEEN 1 AND 255),
  data         bytea NOT NULL CHECK (length(data) BETWEEN 1 AND 1048576),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (property_id, type)
);

CREATE TABLE units (
  id               uuid PRIMARY KEY,
  property_id      uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
  number           text NOT NULL CHECK (length(number) BETWEEN 1 AND 64),
  description      text NOT NULL DEFAULT '' CHECK (length(description) <= 1024),
  contact_name     text NOT NULL DEFAULT '' CHECK (length(contact_name) <= 255),
  email            text NOT NULL DEFAULT '' CHECK (length(email) <= 255),
  phone_number     text NOT NULL DEFAULT '' CHECK (length(phone_number) <= 16),
  status           unit_status NOT NULL DEFAULT 'ENABLED',
  portal_secret_cipher bytea NOT NULL,
  portal_secret_digest bytea NOT NULL,
  -- Bumped on every portal-access reset: tokens carry the generation they
  -- were minted under and are refused once it moves on.
  token_generation bigint NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  -- Unit numbers are unique per property; this index also serves the
  -- keyset pagination of a property's units (number, then id).
  CONSTRAINT units_property_number_key UNIQUE (property_id, number),
  -- Login looks a unit up by property and secret digest.
  CONSTRAINT units_portal_secret_digest_key UNIQUE (property_id, portal_secret_digest),
  -- Target of the composite foreign key that keeps unit_users.property_id honest.
  CONSTRAINT units_id_property_key UNIQUE (id, property_id)
);

CREATE TABLE unit_users (
  id                uuid PRIMARY KEY,
  unit_id           uuid NOT NULL,
  property_id       uuid NOT NULL,
  type              unit_user_type NOT NULL,
  user_name         text NOT NULL DEFAULT '' CHECK (length(user_name) <= 255),
  email             text NOT NULL DEFAULT '' CHECK (length(email) <= 255),
  phone_number      text NOT NULL DEFAULT '' CHECK (length(phone_number) <= 16),
  status            unit_user_status NOT NULL DEFAULT 'ACTIVE',
  passphrase_cipher bytea NOT NULL,
  passphrase_digest bytea NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (unit_id, property_id) REFERENCES units (id, property_id) ON DELETE CASCADE,
  -- A passphrase identifies its holder on the property's network.
  CONSTRAINT unit_users_passphrase_digest_key UNIQUE (property_id, passphrase_digest),
  -- Target of the composite foreign key that keeps devices.unit_id honest;
  -- also the keyset index of a unit's users (unit_id, id).
  CONSTRAINT unit_users_unit_id_id_key UNIQUE (unit_id, id)
);
-- At most one UNIT and one GUEST identity per unit (at least one UNIT: see
-- the deferred trigger below).
CREATE UNIQUE INDEX unit_users_one_unit_identity ON unit_users (unit_id) WHERE type = 'UNIT';
CREATE UNIQUE INDEX unit_users_one_guest_identity ON unit_users (unit_id) WHERE type = 'GUEST';

CREATE TABLE devices (
  id           uuid PRIMARY KEY,
  unit_id      uuid NOT NULL,
  user_id      uuid NOT NULL,
  mac_address  text NOT NULL CHECK (mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'),
  display_name text NOT NULL DEFAULT '' CHECK (length(display_name) <= 255),
  description  text NOT NULL DEFAULT '' CHECK (length(description) <= 1024),
  os_type      text NOT NULL DEFAULT '' CHECK (length(os_type) <= 64),
  last_seen    timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (unit_id, user_id) REFERENCES unit_users (unit_id, id) ON DELETE CASCADE,
  CONSTRAINT devices_unit_mac_key UNIQUE (unit_id, mac_address)
);
CREATE INDEX devices_user_id_idx ON devices (user_id, mac_address);

-- Transactional outbox: every change the Wi-Fi side must learn about is
-- written here in the same transaction as the change itself. Rows hold ids
-- and the kind of change, never a secret.
CREATE TABLE change_requests (
  id           uuid PRIMARY KEY,
  kind         change_kind NOT NULL,
  property_id  uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
  unit_id      uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
  -- No foreign keys below: the request must outlive the user or device it names.
  user_id      uuid,
  device_id    uuid,
  mac_address  text,
  status       change_status NOT NULL DEFAULT 'PENDING',
  created_at   timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz
);
CREATE INDEX change_requests_pending_idx ON change_requests (created_at) WHERE status = 'PENDING';
CREATE INDEX change_requests_unit_idx ON change_requests (unit_id, created_at);

-- Property manager keys: only a digest is stored; the key itself is shown once.
CREATE TABLE manager_keys (
  id          uuid PRIMARY KEY,
  property_id uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
  key_digest  bytea NOT NULL UNIQUE,
  -- The first characters of the key, to recognise it in listings.
  hint        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX manager_keys_property_idx ON manager_keys (property_id, created_at);

-- Every unit keeps exactly one UNIT identity. Checked at commit so that a
-- unit and its identity can be inserted in either order in one transaction.
CREATE FUNCTION check_unit_identity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  target uuid;
BEGIN
  IF TG_TABLE_NAME = 'units' THEN
    target := NEW.id;
  ELSE
    target := OLD.unit_id;
  END IF;
  IF EXISTS (SELECT 1 FROM units WHERE id = target)
     AND NOT EXISTS (SELECT 1 FROM unit_users WHERE unit_id = target AND type = 'UNIT') THEN
    RAISE EXCEPTION 'unit % has no UNIT identity', target
      USING ERRCODE = '23514', CONSTRAINT = 'unit_users_unit_identity_required';
  END IF;
  RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER units_identity_required
  AFTER INSERT ON units DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION check_unit_identity();
CREATE CONSTRAINT TRIGGER unit_users_identity_required
  AFTER DELETE OR UPDATE OF type, unit_id ON unit_users DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION check_unit_identity();

-- A GUEST identity only exists where the property allows a separate guest secret.
CREATE FUNCTION check_guest_allowed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.type = 'GUEST' AND NOT EXISTS (
       SELECT 1 FROM properties WHERE id = NEW.property_id AND allow_separate_guest_secret) THEN
    RAISE EXCEPTION 'property % does not allow a separate guest secret', NEW.property_id
      USING ERRCODE = '23514', CONSTRAINT = 'unit_users_guest_not_allowed';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER unit_users_guest_allowed
  BEFORE INSERT OR UPDATE OF type ON unit_users
  FOR EACH ROW EXECUTE FUNCTION check_guest_allowed();

---- create above / drop below ----

DROP TABLE IF EXISTS manager_keys, change_requests, devices, unit_users, units, property_files, properties;
DROP FUNCTION IF EXISTS check_unit_identity(), check_guest_allowed();
DROP TYPE IF EXISTS change_status, change_kind, property_file_type, unit_user_status, unit_user_type, unit_status;
