//! Operations bookkeeping (schema version 12): the record of backups, what
//! Gatehouse last saw of the PostgreSQL server, and the database-derived
//! figures the metrics and `gatehouse status` report.
//!
//! Backup records and server facts are operational state like worker
//! heartbeats: they change nothing in the directory and write no audit event,
//! except acknowledging a PostgreSQL upgrade, which an operator does.

use gatehouse_core::{NewEvent, StoreError, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::SqlStore;
use crate::error::Ctx;
use crate::url::Backend;

type Result<T> = std::result::Result<T, StoreError>;

/// Schema version that has the tables of this module.
const OPS_SCHEMA: i64 = 12;
/// Backup records kept (older ones are deleted as new ones arrive).
const BACKUP_RECORDS_KEPT: i64 = 200;
const POSTGRES_MAJOR: &str = "postgres_major";

/// One finished backup, successful or not.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupRecord {
    pub id: Uuid,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// `manual` or `scheduled`.
    pub kind: String,
    pub ok: bool,
    /// Where the file went (a path, or `-` for standard output).
    pub location: String,
    pub bytes: i64,
    pub sha256: String,
    /// Rows per kind, JSON.
    pub summary: String,
    pub error: Option<String>,
    pub host: String,
}

/// PostgreSQL's major version now and as Gatehouse recorded it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PostgresVersion {
    pub server_version: String,
    pub major: i64,
    /// `None` before anything was recorded (schema older than 12).
    pub recorded_major: Option<i64>,
    pub recorded_at: Option<Timestamp>,
}

impl PostgresVersion {
    pub fn changed(&self) -> bool {
        self.recorded_major.is_some_and(|r| r != self.major)
    }
}

/// Database-wide figures for the metrics (the same on every node).
#[derive(Debug, Clone, Default)]
pub struct OpsFigures {
    /// Jobs per state.
    pub jobs: Vec<(String, i64)>,
    /// Newest heartbeat of a running worker.
    pub newest_heartbeat: Option<Timestamp>,
    pub last_backup_ok: Option<BackupRecord>,
    pub last_backup_failed: Option<BackupRecord>,
    /// Activation time of the newest active key of each signing family
    /// (`jwt:<alg>`, `saml:<family>`).
    pub signing_keys: Vec<(String, Timestamp)>,
}

impl SqlStore {
    async fn has_ops_schema(&self) -> Result<bool> {
        Ok(self.schema_version().await? >= OPS_SCHEMA)
    }

    /// Records a finished backup and trims old records. A database not yet
    /// at schema 12 has nowhere to keep it: skipped.
    pub async fn record_backup(&self, r: &BackupRecord) -> Result<()> {
        if !self.has_ops_schema().await? {
            return Ok(());
        }
        let mut tx = self.pool().begin().await.ctx("record a backup")?;
        sqlx::query(
            "INSERT INTO backups (id, started_at, finished_at, kind, ok, location, bytes, sha256, summary, error, host) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.id.to_string())
        .bind(r.started_at.millis())
        .bind(r.finished_at.millis())
        .bind(r.kind.clone())
        .bind(i64::from(r.ok))
        .bind(r.location.clone())
        .bind(r.bytes)
        .bind(r.sha256.clone())
        .bind(r.summary.clone())
        .bind(r.error.clone())
        .bind(r.host.clone())
        .execute(&mut *tx)
        .await
        .ctx("record a backup")?;
        sqlx::query(
            "DELETE FROM backups WHERE id NOT IN \
             (SELECT id FROM backups ORDER BY finished_at DESC LIMIT $1)",
        )
        .bind(BACKUP_RECORDS_KEPT)
        .execute(&mut *tx)
        .await
        .ctx("trim backup records")?;
        tx.commit().await.ctx("record a backup")?;
        Ok(())
    }

    /// The newest successful and the newest failed backup.
    pub async fn last_backups(&self) -> Result<(Option<BackupRecord>, Option<BackupRecord>)> {
        if !self.has_ops_schema().await? {
            return Ok((None, None));
        }
        let newest = |ok: i64| {
            sqlx::query(
                "SELECT id, started_at, finished_at, kind, ok, location, bytes, sha256, summary, error, host \
                 FROM backups WHERE ok = $1 ORDER BY finished_at DESC LIMIT 1",
            )
            .bind(ok)
            .fetch_optional(self.pool())
        };
        let ok = newest(1).await.ctx("read backup records")?;
        let failed = newest(0).await.ctx("read backup records")?;
        Ok((
            ok.map(|r| backup_row(&r)).transpose()?,
            failed.map(|r| backup_row(&r)).transpose()?,
        ))
    }

    /// PostgreSQL's version now and the major version recorded; `None` on SQLite.
    pub async fn postgres_version(&self) -> Result<Option<PostgresVersion>> {
        if self.backend() != Backend::Postgres {
            return Ok(None);
        }
        let (server_version, num): (String, String) =
            sqlx::query_as("SELECT current_setting('server_version'), current_setting('server_version_num')")
                .fetch_one(self.pool())
                .await
                .ctx("read the server version")?;
        let major = num.parse::<i64>().unwrap_or(0) / 10_000;
        let recorded = if self.has_ops_schema().await? {
            sqlx::query_as::<_, (String, i64)>("SELECT value, recorded_at FROM database_facts WHERE name = $1")
                .bind(POSTGRES_MAJOR)
                .fetch_optional(self.pool())
                .await
                .ctx("read database facts")?
        } else {
            None
        };
        Ok(Some(PostgresVersion {
            server_version,
            major,
            recorded_major: recorded.as_ref().and_then(|(v, _)| v.parse().ok()),
            recorded_at: recorded.map(|(_, at)| Timestamp(at)),
        }))
    }

    /// Records PostgreSQL's major version if none is (every migration run
    /// does this, so the first version Gatehouse ran on is the reference).
    pub(crate) async fn note_postgres_major(&self) -> Result<()> {
        self.write_postgres_major(false, None).await
    }

    /// Records the current major version as the reference (after a restore,
    /// whose indexes are new, or when an operator acknowledges an upgrade:
    /// `event` is then written in the same transaction).
    pub async fn write_postgres_major(&self, overwrite: bool, event: Option<NewEvent>) -> Result<()> {
        if self.backend() != Backend::Postgres || !self.has_ops_schema().await? {
            return Ok(());
        }
        let now = gatehouse_core::Clock::now(&gatehouse_core::SystemClock);
        let sql = if overwrite {
            "INSERT INTO database_facts (name, value, recorded_at) \
             VALUES ($1, (current_setting('server_version_num')::int / 10000)::text, $2) \
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, recorded_at = EXCLUDED.recorded_at"
        } else {
            "INSERT INTO database_facts (name, value, recorded_at) \
             VALUES ($1, (current_setting('server_version_num')::int / 10000)::text, $2) \
             ON CONFLICT (name) DO NOTHING"
        };
        let mut tx = self.pool().begin().await.ctx("record the server version")?;
        sqlx::query(sql)
            .bind(POSTGRES_MAJOR)
            .bind(now.millis())
            .execute(&mut *tx)
            .await
            .ctx("record the server version")?;
        if let Some(event) = event {
            let mut chain = crate::events::PendingChain::default();
            chain.append(&mut tx, self.backend(), event, now).await?;
            chain.flush(&mut tx, self.backend()).await?;
        }
        tx.commit().await.ctx("record the server version")?;
        Ok(())
    }

    /// Figures for the metrics, read in a few indexed queries.
    pub async fn ops_figures(&self, now: Timestamp) -> Result<OpsFigures> {
        let jobs: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .fetch_all(self.pool())
            .await
            .ctx("count jobs")?;
        let newest_heartbeat: Option<i64> =
            sqlx::query_scalar("SELECT MAX(heartbeat_at) FROM workers WHERE stopped_at IS NULL")
                .fetch_one(self.pool())
                .await
                .ctx("read worker heartbeats")?;
        let (last_backup_ok, last_backup_failed) = self.last_backups().await?;
        // The key that signs now, per kind and algorithm (`jwt:RS256`, `saml:rsa`).
        let active: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, alg, MAX(activates_at) FROM key_ring WHERE activates_at <= $1 GROUP BY kind, alg",
        )
        .bind(now.millis())
        .fetch_all(self.pool())
        .await
        .ctx("read signing keys")?;
        let signing_keys = active
            .into_iter()
            .map(|(kind, alg, t)| (format!("{kind}:{alg}"), Timestamp(t)))
            .collect();
        Ok(OpsFigures {
            jobs,
            newest_heartbeat: newest_heartbeat.map(Timestamp),
            last_backup_ok,
            last_backup_failed,
            signing_keys,
        })
    }
}

fn backup_row(r: &AnyRow) -> Result<BackupRecord> {
    let get_err = |e: sqlx::Error| StoreError::Corrupt(format!("backup record: {e}"));
    let id: String = r.try_get("id").map_err(get_err)?;
    Ok(BackupRecord {
        id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt("backup record id is not a UUID".into()))?,
        started_at: Timestamp(r.try_get("started_at").map_err(get_err)?),
        finished_at: Timestamp(r.try_get("finished_at").map_err(get_err)?),
        kind: r.try_get("kind").map_err(get_err)?,
        ok: r.try_get::<i64, _>("ok").map_err(get_err)? != 0,
        location: r.try_get("location").map_err(get_err)?,
        bytes: r.try_get("bytes").map_err(get_err)?,
        sha256: r.try_get("sha256").map_err(get_err)?,
        summary: r.try_get("summary").map_err(get_err)?,
        error: r.try_get("error").map_err(get_err)?,
        host: r.try_get("host").map_err(get_err)?,
    })
}
