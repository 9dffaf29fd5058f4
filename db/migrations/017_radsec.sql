-- RadSec (RADIUS over TLS, RFC 6614; SPEC §9.1): an access point that
-- reaches portald across the internet is known by its client certificate,
-- pinned here by the SHA-256 of its DER encoding (portalctl nas
-- register-cert / issue-cert). One certificate names one access point.
ALTER TABLE nas_clients ADD COLUMN radsec_cert_sha256 bytea UNIQUE CHECK (length(radsec_cert_sha256) = 32);

---- create above / drop below ----

ALTER TABLE nas_clients DROP COLUMN IF EXISTS radsec_cert_sha256;
