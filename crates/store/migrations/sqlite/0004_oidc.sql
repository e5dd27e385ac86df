-- Gatehouse schema version 4 (SQLite): the OAuth 2.0 / OpenID Connect provider
-- and the signing keys every protocol shares.
-- UUIDs are TEXT, timestamps are INTEGER milliseconds since the epoch (UTC),
-- JSON is TEXT. Codes and tokens are stored as their SHA-256 only.

-- JWT signing keys. `private_key` is the PKCS#8 DER key, base64, in the clear
-- (every node must sign with it; encrypting it at rest under a key from the
-- environment is a later improvement). A key signs from `activates_at` until a
-- newer key of its algorithm activates, and is published in JWKS until
-- `publish_until` (NULL: still signing). (alg, generation) is unique, so two
-- nodes creating the first key, or two rotations at once, cannot both win.
CREATE TABLE signing_keys (
    kid           TEXT    NOT NULL PRIMARY KEY,
    alg           TEXT    NOT NULL,
    generation    INTEGER NOT NULL,
    private_key   TEXT    NOT NULL,
    public_jwk    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    activates_at  INTEGER NOT NULL,
    publish_until INTEGER NULL
);
CREATE UNIQUE INDEX signing_keys_alg_generation ON signing_keys (alg, generation);

-- Server-wide random secrets created at first use (the HMAC key for client
-- secrets), one row each; INSERT … ON CONFLICT DO NOTHING then re-read.
CREATE TABLE server_secrets (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- One authorization of an application by a user (a code exchange or a device
-- approval): the family its refresh tokens and access tokens belong to.
-- Revoking it (code replay, refresh-token reuse, revocation of a refresh
-- token, consent withdrawn) ends them all.
CREATE TABLE oauth_grants (
    id             TEXT    NOT NULL PRIMARY KEY,
    application_id TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT    NULL,
    scopes         TEXT    NOT NULL,
    auth_time      INTEGER NOT NULL,
    amr            TEXT    NOT NULL,
    nonce          TEXT    NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER NULL
);
CREATE INDEX oauth_grants_user ON oauth_grants (user_id, application_id);
CREATE INDEX oauth_grants_expires_at ON oauth_grants (expires_at);

CREATE TABLE oauth_codes (
    code_hash             TEXT    NOT NULL PRIMARY KEY,
    grant_id              TEXT    NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    redirect_uri          TEXT    NOT NULL,
    code_challenge        TEXT    NULL,
    code_challenge_method TEXT    NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    used_at               INTEGER NULL
);
CREATE INDEX oauth_codes_grant ON oauth_codes (grant_id);

CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NULL
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);
CREATE INDEX oauth_refresh_tokens_expires_at ON oauth_refresh_tokens (expires_at);

-- RFC 8628 device authorizations. status: pending, approved, denied, consumed.
CREATE TABLE oauth_device_codes (
    device_code_hash TEXT    NOT NULL PRIMARY KEY,
    user_code        TEXT    NOT NULL,
    application_id   TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    scopes           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    interval_secs    INTEGER NOT NULL,
    last_poll_at     INTEGER NULL,
    status           TEXT    NOT NULL,
    grant_id         TEXT    NULL REFERENCES oauth_grants (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX oauth_device_codes_user_code ON oauth_device_codes (user_code);

-- Revoked JWT access tokens (by jti) until they expire anyway. Access tokens
-- otherwise have no row: issuing one writes nothing.
CREATE TABLE oauth_revoked_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

-- Remembered explicit consent, per user and application.
CREATE TABLE oauth_consents (
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    application_id TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    scopes         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (user_id, application_id)
);
