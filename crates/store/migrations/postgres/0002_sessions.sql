-- Gatehouse schema version 2 (PostgreSQL): browser sessions, sign-in flows and
-- sign-in throttling.
-- UUIDs are TEXT, timestamps are BIGINT milliseconds since the epoch (UTC),
-- JSON is TEXT. Tokens are stored as their SHA-256 only.

CREATE TABLE sessions (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL,
    csrf_token TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    last_seen  BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    client_ip  TEXT    NULL,
    user_agent TEXT    NULL,
    amr        TEXT    NOT NULL
);
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE flows (
    id         TEXT    NOT NULL PRIMARY KEY,
    token_hash TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE UNIQUE INDEX flows_token_hash ON flows (token_hash);
CREATE INDEX flows_expires_at ON flows (expires_at);

CREATE TABLE login_throttle (
    key          TEXT    NOT NULL PRIMARY KEY,
    failures     BIGINT  NOT NULL,
    window_start BIGINT  NOT NULL,
    last_failure BIGINT  NOT NULL,
    locked_until BIGINT  NULL
);
