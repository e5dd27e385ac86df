//! The job queue's tables (schema version 6): jobs, their side-effect records
//! and worker heartbeats.
//!
//! A claim is one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`: on
//! PostgreSQL the inner select takes `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers pass over each other's candidate rows instead of waiting or taking
//! the same one; on SQLite the statement runs under the single write lock.
//! Finishing or failing a job is fenced by (worker, attempt count): a worker
//! whose lease ran out and whose job was claimed again cannot overwrite the
//! newer claim's outcome.

use gatehouse_core::jobs::{Job, JobEffect, JobFilter, JobState, NewJob, WorkerRecord};
use gatehouse_core::{StoreError, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use uuid::Uuid;

use crate::error::Ctx;
use crate::url::Backend;

type Result<T> = std::result::Result<T, StoreError>;

/// Channel workers LISTEN on; an enqueue notifies it at commit.
pub const JOBS_CHANNEL: &str = "gatehouse_jobs";

macro_rules! job_columns {
    () => {
        "id, kind, idem_key, payload, state, attempts, max_attempts, run_at, lease_until, worker_id, \
         last_error, created_at, updated_at, finished_at"
    };
}

fn get<'r, T: sqlx::Decode<'r, Any> + sqlx::Type<Any>>(row: &'r AnyRow, col: &str) -> Result<T> {
    row.try_get(col)
        .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

fn uuid(row: &AnyRow, col: &str) -> Result<Uuid> {
    let text: String = get(row, col)?;
    Uuid::parse_str(&text).map_err(|_| StoreError::Corrupt(format!("column {col} is not a UUID")))
}

fn opt_ts(row: &AnyRow, col: &str) -> Result<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp))
}

fn job_row(row: &AnyRow) -> Result<Job> {
    let state: String = get(row, "state")?;
    let payload: String = get(row, "payload")?;
    Ok(Job {
        id: uuid(row, "id")?,
        kind: get(row, "kind")?,
        idem_key: get(row, "idem_key")?,
        payload: serde_json::from_str(&payload)
            .map_err(|_| StoreError::Corrupt("column payload is not valid JSON".into()))?,
        state: JobState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("unknown job state '{state}'")))?,
        attempts: get(row, "attempts")?,
        max_attempts: get(row, "max_attempts")?,
        run_at: Timestamp(get(row, "run_at")?),
        lease_until: opt_ts(row, "lease_until")?,
        worker_id: get(row, "worker_id")?,
        last_error: get(row, "last_error")?,
        created_at: Timestamp(get(row, "created_at")?),
        updated_at: Timestamp(get(row, "updated_at")?),
        finished_at: opt_ts(row, "finished_at")?,
    })
}

fn worker_row(row: &AnyRow) -> Result<WorkerRecord> {
    Ok(WorkerRecord {
        id: get(row, "id")?,
        host: get(row, "host")?,
        pid: get(row, "pid")?,
        version: get(row, "version")?,
        started_at: Timestamp(get(row, "started_at")?),
        heartbeat_at: Timestamp(get(row, "heartbeat_at")?),
        stopped_at: opt_ts(row, "stopped_at")?,
    })
}

/// Errors are stored for operators; long ones are cut (on a char boundary).
fn clip(text: &str) -> String {
    text.chars().take(2000).collect()
}

pub(crate) async fn claim(
    pool: &AnyPool,
    backend: Backend,
    worker_id: &str,
    now: Timestamp,
    lease_ms: i64,
) -> Result<Option<Job>> {
    macro_rules! claim_sql {
        ($lock:literal) => {
            concat!(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $2, worker_id = $3, \
                 updated_at = $1 WHERE id = (SELECT id FROM jobs \
                 WHERE (state = 'queued' AND run_at <= $1) OR (state = 'running' AND lease_until <= $1) \
                 ORDER BY run_at, created_at LIMIT 1",
                $lock,
                ") RETURNING ",
                job_columns!()
            )
        };
    }
    let sql = match backend {
        Backend::Postgres => claim_sql!(" FOR UPDATE SKIP LOCKED"),
        Backend::Sqlite => claim_sql!(""),
    };
    let mut tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
    .ctx("begin claim")?;
    let row = sqlx::query(sql)
        .bind(now.millis())
        .bind(now.millis().saturating_add(lease_ms))
        .bind(worker_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .ctx("claim job")?;
    tx.commit().await.ctx("commit claim")?;
    row.as_ref().map(job_row).transpose()
}

pub(crate) async fn extend_leases(pool: &AnyPool, worker_id: &str, until: Timestamp) -> Result<u64> {
    let r =
        sqlx::query("UPDATE jobs SET lease_until = $2 WHERE worker_id = $1 AND state = 'running' AND lease_until < $2")
            .bind(worker_id.to_string())
            .bind(until.millis())
            .execute(pool)
            .await
            .ctx("extend job leases")?;
    Ok(r.rows_affected())
}

pub(crate) async fn finish(pool: &AnyPool, id: Uuid, worker_id: &str, attempts: i64, now: Timestamp) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = $4, finished_at = $4, last_error = NULL \
         WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'running'",
    )
    .bind(id.to_string())
    .bind(worker_id.to_string())
    .bind(attempts)
    .bind(now.millis())
    .execute(pool)
    .await
    .ctx("finish job")?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn fail(
    pool: &AnyPool,
    id: Uuid,
    worker_id: &str,
    attempts: i64,
    error: &str,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool> {
    let q = match retry_at {
        Some(at) => sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at = $6, lease_until = NULL, last_error = $5, updated_at = $4 \
             WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'running'",
        )
        .bind(id.to_string())
        .bind(worker_id.to_string())
        .bind(attempts)
        .bind(now.millis())
        .bind(clip(error))
        .bind(at.millis()),
        None => sqlx::query(
            "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = $5, updated_at = $4, finished_at = $4 \
             WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'running'",
        )
        .bind(id.to_string())
        .bind(worker_id.to_string())
        .bind(attempts)
        .bind(now.millis())
        .bind(clip(error)),
    };
    let r = q.execute(pool).await.ctx("fail job")?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn list<'c, E: Executor<'c, Database = Any>>(e: E, filter: &JobFilter) -> Result<Vec<Job>> {
    let limit = if filter.limit == 0 {
        100
    } else {
        filter.limit.min(10_000)
    };
    let rows = sqlx::query(concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE ($1 = '' OR state = $1) AND ($2 = '' OR kind = $2) ORDER BY created_at DESC, id LIMIT $3"
    ))
    .bind(filter.state.map_or("", JobState::as_str).to_string())
    .bind(filter.kind.clone().unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(e)
    .await
    .ctx("list jobs")?;
    rows.iter().map(job_row).collect()
}

pub(crate) async fn by_id<'c, E: Executor<'c, Database = Any>>(e: E, id: Uuid) -> Result<Option<Job>> {
    let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(e)
        .await
        .ctx("read job")?;
    row.as_ref().map(job_row).transpose()
}

pub(crate) async fn effect<'c, E: Executor<'c, Database = Any>>(e: E, key: &str) -> Result<Option<JobEffect>> {
    let row = sqlx::query("SELECT effect_key, job_id, done_at, detail FROM job_effects WHERE effect_key = $1")
        .bind(key.to_string())
        .fetch_optional(e)
        .await
        .ctx("read job effect")?;
    row.map(|r| {
        Ok(JobEffect {
            effect_key: get(&r, "effect_key")?,
            job_id: uuid(&r, "job_id")?,
            done_at: Timestamp(get(&r, "done_at")?),
            detail: get(&r, "detail")?,
        })
    })
    .transpose()
}

pub(crate) async fn put_worker(pool: &AnyPool, w: &WorkerRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO workers (id, host, pid, version, started_at, heartbeat_at, stopped_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = EXCLUDED.stopped_at",
    )
    .bind(w.id.clone())
    .bind(w.host.clone())
    .bind(w.pid)
    .bind(w.version.clone())
    .bind(w.started_at.millis())
    .bind(w.heartbeat_at.millis())
    .bind(w.stopped_at.map(Timestamp::millis))
    .execute(pool)
    .await
    .ctx("record worker heartbeat")?;
    Ok(())
}

pub(crate) async fn workers(pool: &AnyPool) -> Result<Vec<WorkerRecord>> {
    let rows = sqlx::query(
        "SELECT id, host, pid, version, started_at, heartbeat_at, stopped_at FROM workers \
         ORDER BY heartbeat_at DESC, id",
    )
    .fetch_all(pool)
    .await
    .ctx("list workers")?;
    rows.iter().map(worker_row).collect()
}

pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    backend: Backend,
    job: &NewJob,
    now: Timestamp,
) -> Result<Option<Uuid>> {
    let id = Uuid::new_v4();
    let r = sqlx::query(
        "INSERT INTO jobs (id, kind, idem_key, payload, state, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $7) ON CONFLICT (idem_key) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(job.kind.clone())
    .bind(job.idem_key.clone())
    .bind(job.payload.to_string())
    .bind(job.max_attempts.max(1))
    .bind(job.run_at.millis())
    .bind(now.millis())
    .execute(&mut *conn)
    .await
    .ctx("enqueue job")?;
    if r.rows_affected() == 0 {
        return Ok(None);
    }
    if backend == Backend::Postgres {
        // Delivered at commit, to every worker listening on any node.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(JOBS_CHANNEL)
            .execute(&mut *conn)
            .await
            .ctx("notify workers")?;
    }
    Ok(Some(id))
}

pub(crate) async fn requeue(
    conn: &mut AnyConnection,
    backend: Backend,
    id: Uuid,
    now: Timestamp,
) -> Result<Option<Job>> {
    let row = sqlx::query(concat!(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, lease_until = NULL, worker_id = NULL, \
         updated_at = $2, finished_at = NULL WHERE id = $1 AND state IN ('dead', 'queued') RETURNING ",
        job_columns!()
    ))
    .bind(id.to_string())
    .bind(now.millis())
    .fetch_optional(&mut *conn)
    .await
    .ctx("requeue job")?;
    if row.is_some() && backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(JOBS_CHANNEL)
            .execute(&mut *conn)
            .await
            .ctx("notify workers")?;
    }
    row.as_ref().map(job_row).transpose()
}

pub(crate) async fn record_effect(
    conn: &mut AnyConnection,
    key: &str,
    job_id: Uuid,
    detail: &str,
    now: Timestamp,
) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO job_effects (effect_key, job_id, done_at, detail) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (effect_key) DO NOTHING",
    )
    .bind(key.to_string())
    .bind(job_id.to_string())
    .bind(now.millis())
    .bind(clip(detail))
    .execute(&mut *conn)
    .await
    .ctx("record job effect")?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn delete_finished(conn: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    let r = sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'dead') AND finished_at < $1")
        .bind(before.millis())
        .execute(&mut *conn)
        .await
        .ctx("delete finished jobs")?;
    sqlx::query("DELETE FROM job_effects WHERE done_at < $1")
        .bind(before.millis())
        .execute(&mut *conn)
        .await
        .ctx("delete job effects")?;
    Ok(r.rows_affected())
}

pub(crate) async fn delete_expired_recovery_keys(conn: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    let r = sqlx::query("DELETE FROM recovery_keys WHERE expires_at < $1")
        .bind(before.millis())
        .execute(&mut *conn)
        .await
        .ctx("delete expired recovery keys")?;
    Ok(r.rows_affected())
}

impl crate::SqlStore {
    /// Wakes workers when a job is enqueued: on PostgreSQL a task LISTENs on
    /// `gatehouse_jobs` (notified at the enqueue's commit, on any node) and
    /// reconnects when the connection drops; on SQLite nothing notifies and the
    /// worker polls. Workers poll in any case, so a lost notification only
    /// delays a job by one poll interval.
    pub fn job_wakeups(&self) -> std::sync::Arc<tokio::sync::Notify> {
        crate::changes::watch_jobs(self.clone())
    }
}
