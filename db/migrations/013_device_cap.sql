-- SPEC §9.3: a property may cap the devices of each identity (0: no cap);
-- a device joining by handshake past the cap is refused.
ALTER TABLE properties ADD COLUMN max_devices_per_identity integer NOT NULL DEFAULT 0
  CHECK (max_devices_per_identity BETWEEN 0 AND 1000);
