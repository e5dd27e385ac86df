-- Gatehouse schema version 10 (PostgreSQL): one key ring for every signing key.
-- Timestamps are BIGINT milliseconds since the epoch (UTC).

-- Every signing key, whatever it signs: `kind` 'jwt' (OIDC and forward-auth
-- tokens; `alg` RS256, ES256 or EdDSA) or 'saml' (`alg` is the key family,
-- rsa or ec-p256, and `certificate` its self-signed X.509 DER, base64).
-- `private_key` is the PKCS#8 DER key, base64, in the clear (every node must
-- sign with it). A key signs from `activates_at` until a newer key of its
-- kind and alg activates, and is published (JWKS, SAML metadata) until
-- `publish_until` (NULL: still current). (kind, alg, generation) is unique,
-- so two nodes creating the first key, or two rotations at once, cannot both win.
CREATE TABLE key_ring (
    kid           TEXT    NOT NULL PRIMARY KEY,
    kind          TEXT    NOT NULL,
    alg           TEXT    NOT NULL,
    generation    BIGINT  NOT NULL,
    private_key   TEXT    NOT NULL,
    certificate   TEXT    NULL,
    created_at    BIGINT  NOT NULL,
    activates_at  BIGINT  NOT NULL,
    publish_until BIGINT  NULL
);
CREATE UNIQUE INDEX key_ring_kind_alg_generation ON key_ring (kind, alg, generation);

-- The keys of the two tables the ring replaces keep their kid, generation,
-- state and dates. The JWT keys' public JWK is derived from the private key.
INSERT INTO key_ring (kid, kind, alg, generation, private_key, certificate, created_at, activates_at, publish_until)
    SELECT kid, 'jwt', alg, generation, private_key, NULL, created_at, activates_at, publish_until
    FROM signing_keys;
INSERT INTO key_ring (kid, kind, alg, generation, private_key, certificate, created_at, activates_at, publish_until)
    SELECT kid, 'saml', family, generation, private_key, certificate, created_at, activates_at, publish_until
    FROM saml_keys;
DROP TABLE signing_keys;
DROP TABLE saml_keys;

-- One-time message ids (SAML request IDs so far), named for what they are.
ALTER TABLE saml_request_ids RENAME TO replay_ids;
ALTER TABLE replay_ids RENAME COLUMN key_hash TO id_hash;
DROP INDEX saml_request_ids_expires;
CREATE INDEX replay_ids_expires ON replay_ids (expires_at);
