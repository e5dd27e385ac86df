-- Gatehouse schema version 7 (sqlite): MFA authenticators, recovery codes and the
-- enforcement policy. TOTP seeds are stored sealed (AES-256-GCM); recovery
-- codes as SHA-256 only.

CREATE TABLE mfa_authenticators (
    id             TEXT     NOT NULL PRIMARY KEY,
    user_id        TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT     NOT NULL,
    name           TEXT     NOT NULL,
    secret         TEXT     NOT NULL,
    credential_id  TEXT     NULL,
    last_used_step INTEGER   NULL,
    created_at     INTEGER   NOT NULL,
    last_used_at   INTEGER   NULL
);
CREATE INDEX mfa_authenticators_user_id ON mfa_authenticators (user_id);
CREATE UNIQUE INDEX mfa_authenticators_credential_id ON mfa_authenticators (credential_id);

CREATE TABLE mfa_recovery_codes (
    user_id    TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT     NOT NULL,
    created_at INTEGER   NOT NULL,
    used_at    INTEGER   NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_policy (
    id         SMALLINT NOT NULL PRIMARY KEY,
    policy     TEXT     NOT NULL,
    updated_at INTEGER   NOT NULL
);
