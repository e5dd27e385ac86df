-- Gatehouse schema version 1 (SQLite): the directory, recovery credentials,
-- the bootstrap claim and the audit log's hash chain.
-- UUIDs are TEXT, timestamps are INTEGER milliseconds since the epoch (UTC),
-- booleans are INTEGER 0/1, JSON is TEXT.

CREATE TABLE users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    username            TEXT    NOT NULL,
    username_key        TEXT    NOT NULL,
    email               TEXT    NOT NULL DEFAULT '',
    name                TEXT    NOT NULL DEFAULT '',
    is_active           INTEGER NOT NULL DEFAULT 1,
    password_hash       TEXT    NULL,
    attributes          TEXT    NOT NULL DEFAULT '{}',
    created_at          INTEGER NOT NULL,
    last_login          INTEGER NULL,
    password_changed_at INTEGER NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE INDEX users_email ON users (email);

CREATE TABLE groups (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL,
    is_superuser INTEGER NOT NULL DEFAULT 0,
    parent_id    TEXT    NULL REFERENCES groups (id) ON DELETE SET NULL,
    attributes   TEXT    NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_name_key ON groups (name_key);
CREATE INDEX groups_parent_id ON groups (parent_id);

CREATE TABLE memberships (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX memberships_group_id ON memberships (group_id);

CREATE TABLE applications (
    id         TEXT    NOT NULL PRIMARY KEY,
    slug       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    launch_url TEXT    NULL,
    provider   TEXT    NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX applications_slug ON applications (slug);

CREATE TABLE bindings (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    group_id       TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (application_id, group_id)
);
CREATE INDEX bindings_group_id ON bindings (group_id);

CREATE TABLE recovery_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NULL
);
CREATE UNIQUE INDEX recovery_keys_token_hash ON recovery_keys (token_hash);
CREATE INDEX recovery_keys_user_id ON recovery_keys (user_id);

CREATE TABLE api_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    identifier TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    intent     TEXT    NOT NULL,
    token_hash TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NULL
);
CREATE UNIQUE INDEX api_tokens_identifier ON api_tokens (identifier);
CREATE UNIQUE INDEX api_tokens_token_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE bootstrap (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    done_at INTEGER NOT NULL
);

CREATE TABLE events (
    seq       INTEGER NOT NULL PRIMARY KEY,
    id        TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    action    TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    username  TEXT    NULL,
    client_ip TEXT    NULL,
    context   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_action ON events (action);

CREATE TABLE event_chain (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    head_seq    INTEGER NOT NULL,
    head_hash   TEXT    NOT NULL,
    anchor_seq  INTEGER NOT NULL,
    anchor_hash TEXT    NOT NULL
);
INSERT INTO event_chain (id, head_seq, head_hash, anchor_seq, anchor_hash) VALUES (
    1,
    0, '0000000000000000000000000000000000000000000000000000000000000000',
    0, '0000000000000000000000000000000000000000000000000000000000000000'
);
