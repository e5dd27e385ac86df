-- Gatehouse schema version 12 (SQLite): operations. Versions 9-11 belong to
-- other features; the runner applies every migration a database has not
-- recorded, so the numbering gap is harmless.
--
-- backups: one row per finished backup (manual or scheduled), success or
-- failure, for `gatehouse status` and the metrics. Paths and sizes only,
-- never a passphrase.
CREATE TABLE backups (
    id          TEXT    NOT NULL PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    ok          INTEGER NOT NULL,
    location    TEXT    NOT NULL,
    bytes       INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    error       TEXT    NULL,
    host        TEXT    NOT NULL
);
CREATE INDEX backups_finished_at ON backups (finished_at);

-- database_facts: what Gatehouse last saw of the database server itself
-- (PostgreSQL's major version), so `status` can say when it changed. It
-- describes the server, not the directory: backups leave it out.
CREATE TABLE database_facts (
    name        TEXT    NOT NULL PRIMARY KEY,
    value       TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL
);
