-- Which SECRET_KEY the database's secrets are under: a keyed check value
-- (an HMAC of a fixed text under the key's digest key), never the key.
-- The first process to start under a key records it; a process started
-- under another key refuses to start; portalctl rekey moves it.
CREATE TABLE key_check (
  only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  check_value bytea NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE IF EXISTS key_check;
