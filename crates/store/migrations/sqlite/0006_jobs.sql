-- Gatehouse schema version 6 (SQLite): the durable job queue, job side-effect records
-- (idempotency) and worker heartbeats.
-- UUIDs are TEXT, timestamps are BIGINT milliseconds since the epoch (UTC),
-- JSON is TEXT. Payloads never hold secrets.

CREATE TABLE jobs (
    id           TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    attempts     BIGINT  NOT NULL,
    max_attempts BIGINT  NOT NULL,
    run_at       BIGINT  NOT NULL,
    lease_until  BIGINT  NULL,
    worker_id    TEXT    NULL,
    last_error   TEXT    NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    finished_at  BIGINT  NULL
);
CREATE UNIQUE INDEX jobs_idem_key ON jobs (idem_key);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
CREATE INDEX jobs_finished_at ON jobs (finished_at);

CREATE TABLE job_effects (
    effect_key TEXT    NOT NULL PRIMARY KEY,
    job_id     TEXT    NOT NULL,
    done_at    BIGINT  NOT NULL,
    detail     TEXT    NOT NULL
);
CREATE INDEX job_effects_done_at ON job_effects (done_at);

CREATE TABLE workers (
    id           TEXT    NOT NULL PRIMARY KEY,
    host         TEXT    NOT NULL,
    pid          BIGINT  NOT NULL,
    version      TEXT    NOT NULL,
    started_at   BIGINT  NOT NULL,
    heartbeat_at BIGINT  NOT NULL,
    stopped_at   BIGINT  NULL
);
CREATE INDEX workers_heartbeat_at ON workers (heartbeat_at);
