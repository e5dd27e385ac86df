-- Gatehouse schema version 5: the SAML 2.0 identity provider.
-- Timestamps are BIGINT milliseconds since the epoch (UTC).

-- SAML signing keys with their self-signed certificates. `private_key` is the
-- PKCS#8 DER key, base64, in the clear like the JWT keys; `certificate` the
-- X.509 DER, base64. A key signs from `activates_at` until a newer key of its
-- family activates, and is published in metadata until `publish_until` (NULL:
-- still signing). (family, generation) is unique, so two nodes creating the
-- first key, or two rotations at once, cannot both win.
CREATE TABLE saml_keys (
    kid           TEXT   NOT NULL PRIMARY KEY,
    family        TEXT   NOT NULL,
    generation    BIGINT NOT NULL,
    private_key   TEXT   NOT NULL,
    certificate   TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    activates_at  BIGINT NOT NULL,
    publish_until BIGINT NULL
);
CREATE UNIQUE INDEX saml_keys_family_generation ON saml_keys (family, generation);

-- Request IDs already answered (replay protection), as SHA-256 of
-- (application, issuer, ID), kept until the request could no longer pass the
-- IssueInstant check anyway. The primary key makes the claim atomic on every node.
CREATE TABLE saml_request_ids (
    key_hash   TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX saml_request_ids_expires ON saml_request_ids (expires_at);
