//! Schema migrations: embedded SQL per backend, recorded in `schema_migrations`.
//!
//! Rules:
//! - each migration runs in a transaction together with its `schema_migrations`
//!   row, so a crash leaves it either applied or not;
//! - a database recording a version this binary does not know is refused with
//!   [`StoreError::SchemaTooNew`] before anything is written;
//! - every migration the database has not recorded is applied, in order, so a
//!   gap in the numbering (features reserve their versions ahead) is harmless;
//! - several processes may migrate one database at once: on PostgreSQL they queue
//!   on an advisory lock held for the whole run, on SQLite the whole run is
//!   one `BEGIN IMMEDIATE` transaction.

use gatehouse_core::{Clock, StoreError, SystemClock};
use sqlx::{AnyConnection, AnyPool, Connection};

use crate::error::Ctx;
use crate::url::Backend;

/// The newest schema version this binary knows.
pub const KNOWN_SCHEMA_VERSION: i64 = 16;

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "directory",
        sqlite: include_str!("../migrations/sqlite/0001_directory.sql"),
        postgres: include_str!("../migrations/postgres/0001_directory.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sqlite: include_str!("../migrations/sqlite/0002_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "providers",
        sqlite: include_str!("../migrations/sqlite/0003_providers.sql"),
        postgres: include_str!("../migrations/postgres/0003_providers.sql"),
    },
    Migration {
        version: 4,
        name: "oidc",
        sqlite: include_str!("../migrations/sqlite/0004_oidc.sql"),
        postgres: include_str!("../migrations/postgres/0004_oidc.sql"),
    },
    Migration {
        version: 5,
        name: "saml",
        sqlite: include_str!("../migrations/sqlite/0005_saml.sql"),
        postgres: include_str!("../migrations/postgres/0005_saml.sql"),
    },
    Migration {
        version: 6,
        name: "jobs",
        sqlite: include_str!("../migrations/sqlite/0006_jobs.sql"),
        postgres: include_str!("../migrations/postgres/0006_jobs.sql"),
    },
    Migration {
        version: 7,
        name: "mfa",
        sqlite: include_str!("../migrations/sqlite/0007_mfa.sql"),
        postgres: include_str!("../migrations/postgres/0007_mfa.sql"),
    },
    Migration {
        version: 8,
        name: "blueprints",
        sqlite: include_str!("../migrations/sqlite/0008_blueprints.sql"),
        postgres: include_str!("../migrations/postgres/0008_blueprints.sql"),
    },
    Migration {
        version: 9,
        name: "mfa_enrolment",
        sqlite: include_str!("../migrations/sqlite/0009_mfa_enrolment.sql"),
        postgres: include_str!("../migrations/postgres/0009_mfa_enrolment.sql"),
    },
    Migration {
        version: 10,
        name: "key_ring",
        sqlite: include_str!("../migrations/sqlite/0010_key_ring.sql"),
        postgres: include_str!("../migrations/postgres/0010_key_ring.sql"),
    },
    Migration {
        version: 11,
        name: "integer_ids",
        sqlite: include_str!("../migrations/sqlite/0011_integer_ids.sql"),
        postgres: include_str!("../migrations/postgres/0011_integer_ids.sql"),
    },
    Migration {
        version: 12,
        name: "operations",
        sqlite: include_str!("../migrations/sqlite/0012_operations.sql"),
        postgres: include_str!("../migrations/postgres/0012_operations.sql"),
    },
    Migration {
        version: 13,
        name: "api_tokens",
        sqlite: include_str!("../migrations/sqlite/0013_api_tokens.sql"),
        postgres: include_str!("../migrations/postgres/0013_api_tokens.sql"),
    },
    Migration {
        version: 14,
        name: "invitations",
        sqlite: include_str!("../migrations/sqlite/0014_invitations.sql"),
        postgres: include_str!("../migrations/postgres/0014_invitations.sql"),
    },
    Migration {
        version: 15,
        name: "event_user_index",
        sqlite: include_str!("../migrations/sqlite/0015_event_user_index.sql"),
        postgres: include_str!("../migrations/postgres/0015_event_user_index.sql"),
    },
    Migration {
        version: 16,
        name: "provider_objects",
        sqlite: include_str!("../migrations/sqlite/0016_provider_objects.sql"),
        postgres: include_str!("../migrations/postgres/0016_provider_objects.sql"),
    },
];

const _: () = assert!(MIGRATIONS[MIGRATIONS.len() - 1].version == KNOWN_SCHEMA_VERSION);

/// How many migrations this binary carries (rows a fully migrated database records).
pub const MIGRATION_COUNT: usize = MIGRATIONS.len();

/// Key of the PostgreSQL advisory lock migrations hold ("gatehous" in ASCII).
pub(crate) const PG_MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573;

/// What a migration run did: the schema version before and after.
/// `from == to` when there was nothing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationReport {
    pub from: i64,
    pub to: i64,
}

impl MigrationReport {
    pub fn applied_any(&self) -> bool {
        self.to != self.from
    }
}

/// The version recorded in the database; 0 when it has never been migrated.
pub(crate) async fn version(conn: &mut AnyConnection, backend: Backend) -> Result<i64, StoreError> {
    let exists_sql = match backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_catalog.pg_tables \
             WHERE schemaname = current_schema() AND tablename = 'schema_migrations'"
        }
    };
    let exists: i64 = sqlx::query_scalar(exists_sql)
        .fetch_one(&mut *conn)
        .await
        .ctx("read schema version")?;
    if exists == 0 {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await
        .ctx("read schema version")
}

/// The versions the database has recorded (empty when it was never migrated).
async fn applied(conn: &mut AnyConnection, backend: Backend) -> Result<Vec<i64>, StoreError> {
    if version(conn, backend).await? == 0 {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await
        .ctx("read schema version")
}

/// The migrations up to `through` that `done` does not list, in order.
fn pending(done: &[i64], through: i64) -> impl Iterator<Item = &'static Migration> + '_ {
    MIGRATIONS
        .iter()
        .filter(move |m| m.version <= through && !done.contains(&m.version))
}

/// Whether `version` is one this binary can build a schema at (a backup's).
pub fn is_known_version(version: i64) -> bool {
    MIGRATIONS.iter().any(|m| m.version == version)
}

/// Applies, inside the caller's transaction, every migration up to `through`
/// that the database has not recorded (restore builds the backup's schema so).
pub(crate) async fn apply_through(conn: &mut AnyConnection, backend: Backend, through: i64) -> Result<(), StoreError> {
    let done = applied(conn, backend).await?;
    for m in pending(&done, through) {
        apply(conn, backend, m).await?;
    }
    Ok(())
}

/// The SQLite text of every migration up to `through`, in order (the backup
/// catalog is built from it).
pub(crate) fn sqlite_scripts(through: i64) -> impl Iterator<Item = &'static str> {
    pending(&[], through).map(|m| m.sqlite)
}

fn check_known(found: i64) -> Result<(), StoreError> {
    if found > KNOWN_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: KNOWN_SCHEMA_VERSION,
        });
    }
    Ok(())
}

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<MigrationReport, StoreError> {
    match backend {
        Backend::Postgres => run_postgres(pool).await,
        Backend::Sqlite => run_sqlite(pool).await,
    }
}

async fn run_postgres(pool: &AnyPool) -> Result<MigrationReport, StoreError> {
    let mut conn = pool.acquire().await.ctx("migrate")?;
    // pg_advisory_lock returns void, which sqlx's Any driver cannot decode.
    sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_lock($1)) AS l")
        .bind(PG_MIGRATION_LOCK)
        .fetch_one(&mut *conn)
        .await
        .ctx("take the migration lock")?;
    let result = run_postgres_locked(&mut conn).await;
    let unlocked = sqlx::query("SELECT 1 AS unlocked WHERE pg_advisory_unlock($1)")
        .bind(PG_MIGRATION_LOCK)
        .fetch_optional(&mut *conn)
        .await;
    if !matches!(unlocked, Ok(Some(_))) {
        // Closing the session releases the lock whatever state it is in.
        let _ = conn.close().await;
    }
    result
}

async fn run_postgres_locked(conn: &mut AnyConnection) -> Result<MigrationReport, StoreError> {
    let from = version(conn, Backend::Postgres).await?;
    check_known(from)?;
    let done = applied(conn, Backend::Postgres).await?;
    let mut to = from;
    for m in pending(&done, KNOWN_SCHEMA_VERSION) {
        let mut tx = conn.begin().await.ctx("migrate")?;
        apply(&mut tx, Backend::Postgres, m).await?;
        tx.commit().await.ctx("commit migration")?;
        to = to.max(m.version);
    }
    Ok(MigrationReport { from, to })
}

async fn run_sqlite(pool: &AnyPool) -> Result<MigrationReport, StoreError> {
    // One `BEGIN IMMEDIATE` transaction for the whole run: SQLite's DDL is
    // transactional, and the write lock queues concurrent runs so exactly one
    // of them migrates while the others find the schema current.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.ctx("migrate")?;
    let from = version(&mut tx, Backend::Sqlite).await?;
    check_known(from)?;
    let done = applied(&mut tx, Backend::Sqlite).await?;
    let mut to = from;
    for m in pending(&done, KNOWN_SCHEMA_VERSION) {
        apply(&mut tx, Backend::Sqlite, m).await?;
        to = to.max(m.version);
    }
    tx.commit().await.ctx("commit migration")?;
    Ok(MigrationReport { from, to })
}

/// Applies one migration inside the caller's transaction.
async fn apply(conn: &mut AnyConnection, backend: Backend, m: &Migration) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
         version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .ctx("create schema_migrations")?;
    sqlx::raw_sql(m.sql(backend)).execute(&mut *conn).await.map_err(|e| {
        match crate::error::map(e, "apply migration") {
            StoreError::Query(msg) => StoreError::Query(format!("migration {} ({}): {msg}", m.version, m.name)),
            other => other,
        }
    })?;
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
        .bind(m.version)
        .bind(m.name)
        .bind(SystemClock.now().millis())
        .execute(&mut *conn)
        .await
        .ctx("record migration")?;
    tracing::info!(version = m.version, name = m.name, "applied database migration");
    Ok(())
}
