-- RADIUS (SPEC §9): the access points (NAS clients) of a property, the
-- unit's VLAN, and the lookup of a device by its MAC within a property.

CREATE TYPE nas_profile AS ENUM ('hostapd', 'cisco', 'meraki', 'mist', 'aruba', 'ruckus');

CREATE TABLE nas_clients (
  id            uuid PRIMARY KEY,
  property_id   uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  -- The source address (or network) its packets come from.
  address       cidr NOT NULL,
  profile       nas_profile NOT NULL,
  coa_port      integer NOT NULL DEFAULT 3799 CHECK (coa_port BETWEEN 1 AND 65535),
  -- The shared secret, encrypted like passphrases (bound to the row's id).
  secret_cipher bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT nas_clients_property_name_key UNIQUE (property_id, name),
  -- A packet's source names one NAS, so one property: no two overlap.
  CONSTRAINT nas_clients_address_excl EXCLUDE USING gist (address inet_ops WITH &&)
);
CREATE INDEX nas_clients_property_idx ON nas_clients (property_id);

ALTER TABLE units ADD COLUMN vlan_id integer CHECK (vlan_id BETWEEN 1 AND 4094);

-- An access request names a device by its MAC only.
CREATE INDEX devices_mac_address_idx ON devices (mac_address);
