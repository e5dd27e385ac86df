//! Gatehouse's storage: the one implementation of `gatehouse_core`'s [`Store`] and
//! [`WriteTx`] traits, for SQLite and PostgreSQL, over sqlx's `Any` driver.
//!
//! This crate owns every line of SQL in Gatehouse: the schema and its migrations,
//! the queries, the dialect differences (chosen by [`Backend`]), connection
//! settings, and the conversion of rows into the domain's models and of driver
//! errors into [`StoreError`].
//!
//! It must not hold domain rules (validation, access decisions, how events are
//! chained: those are `gatehouse_core`'s, called from here where needed), must
//! not read the clock for anything the domain records, and must never log or
//! echo bound values (they include password and token hashes) or a database
//! password.
//!
//! ```no_run
//! # async fn f() -> Result<(), gatehouse_core::StoreError> {
//! let store = gatehouse_store::SqlStore::open("sqlite:///var/lib/gatehouse/gatehouse.db").await?;
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod admin;
pub mod backup;
mod blueprints;
mod changes;
mod error;
mod events;
mod grants;
mod invitations;
mod jobs;
mod keys;
mod listing;
mod mfa;
mod mfa_enrolment;
mod migrate;
mod ops;
mod providers;
mod read;
mod rows;
mod url;
mod write;

use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::oauth::model as oauth;
use gatehouse_core::store::{StoreInfo, StoreResult};
use gatehouse_core::{
    ApiToken, Application, Binding, ChainHead, Event, EventFilter, FlowRecord, Group, Membership, ProviderKind,
    RecoveryKey, Session, Store, StoreError, ThrottleRecord, Timestamp, User, WriteTx,
};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool};
use uuid::Uuid;

use gatehouse_core::jobs::Job as JobRow;
use gatehouse_core::listing::{EventQuery, GroupQuery, Page, UserQuery};

use crate::error::Ctx;
pub use crate::events::DEFAULT_EVENT_LIMIT;
pub use crate::migrate::{KNOWN_SCHEMA_VERSION, MIGRATION_COUNT, MigrationReport};
pub use crate::ops::{BackupRecord, OpsFigures, PostgresVersion};
pub use crate::url::{Backend, ConnectOptions, redact_url};
use crate::write::SqlWriteTx;

/// How long SQLite waits for another writer before giving up (the
/// `busy_timeout` pragma in [`sqlite_session`] says the same).
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// A connection pool to one Gatehouse database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// The URL sqlx connects to (for the PostgreSQL change listener).
    url: String,
}

impl SqlStore {
    /// Connects (one connection is opened to check the URL and credentials) but
    /// does not migrate: call [`SqlStore::migrate`], so that a server can answer
    /// "not ready" while migrations run.
    pub async fn connect(url: &str, options: ConnectOptions) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let target = url::parse(url)?;
        let backend = target.backend;
        let max = options
            .max_connections
            .unwrap_or_else(|| backend.default_pool_size())
            .max(1);
        let mut pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(options.acquire_timeout.unwrap_or(Duration::from_secs(10)));
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _| Box::pin(sqlite_session(conn)));
        }
        if target.in_memory {
            // The database lives as long as one connection to it does.
            pool = pool.min_connections(1).idle_timeout(None).max_lifetime(None);
        }
        let pool = pool
            .connect(&target.sqlx_url)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to {}: {e}", redact_url(url))))?;
        Ok(SqlStore {
            pool,
            backend,
            url: target.sqlx_url,
        })
    }

    /// Connects with default options and migrates (for the command line).
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        let store = SqlStore::connect(url, ConnectOptions::default()).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Brings the schema to [`KNOWN_SCHEMA_VERSION`]. Safe to run from several
    /// processes at once; refuses a database from a newer Gatehouse.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let report = migrate::run(&self.pool, self.backend).await?;
        self.note_postgres_major().await?;
        Ok(report)
    }

    /// The schema version recorded in the database (0: never migrated).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("read schema version")?;
        migrate::version(&mut conn, self.backend).await
    }

    /// Follows [`gatehouse_core::Store::change_seq`] for in-process caches: the
    /// receiver sees a new value within about a second of any committed change,
    /// on this node or another. PostgreSQL pushes (`LISTEN gatehouse_changes`,
    /// notified in each event's transaction) with a slow poll as a safety net;
    /// SQLite is polled, which costs one indexed read per 250 ms.
    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<i64> {
        changes::watch(self.clone())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Per-connection SQLite settings: WAL (readers never block the writer, and
/// a crash loses nothing committed), `synchronous=NORMAL` (safe with WAL),
/// foreign keys (off by default in SQLite) and a busy timeout, so that a second
/// writer (the CLI beside the server) waits instead of failing.
async fn sqlite_session(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
        .execute(&mut *conn)
        .await?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *conn).await?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        // Switching to WAL needs an exclusive lock the busy timeout does not wait
        // for; it is a property of the file, so only the first connection to a
        // new database gets here, unless several start at once.
        let mut waited = 0;
        loop {
            match sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
                .fetch_one(&mut *conn)
                .await
            {
                Ok(_) => break,
                Err(e) if waited < SQLITE_BUSY_TIMEOUT_MS && error::is_busy(&e) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    waited += 20;
                }
                Err(e) => return Err(e),
            }
        }
    }
    sqlx::raw_sql("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    async fn info(&self) -> StoreResult<StoreInfo> {
        Ok(StoreInfo {
            backend: self.backend.name(),
            schema_version: self.schema_version().await?,
            known_schema_version: KNOWN_SCHEMA_VERSION,
            pool_size: self.pool.options().get_max_connections(),
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::raw_sql("SELECT 1").execute(&self.pool).await.ctx("ping")?;
        Ok(())
    }

    /// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction
    /// that reads before writing waits (busy timeout) for another writer instead
    /// of failing with SQLITE_BUSY when it upgrades its lock.
    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .ctx("begin transaction")?;
        Ok(Box::new(SqlWriteTx {
            tx,
            backend: self.backend,
            chain: Default::default(),
        }))
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        read::user_by_name(&self.pool, username, false).await
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        read::user_by_id(&self.pool, id, false).await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        read::users(&self.pool).await
    }

    async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>> {
        read::group_by_name(&self.pool, name, false).await
    }

    async fn groups(&self) -> StoreResult<Vec<Group>> {
        read::groups(&self.pool).await
    }

    async fn memberships(&self) -> StoreResult<Vec<Membership>> {
        read::memberships(&self.pool).await
    }

    async fn application_by_slug(&self, slug: &str) -> StoreResult<Option<Application>> {
        read::application_by_slug(&self.pool, slug, false).await
    }

    async fn applications(&self) -> StoreResult<Vec<Application>> {
        read::applications(&self.pool).await
    }

    async fn application_by_provider_key(&self, kind: ProviderKind, key: &str) -> StoreResult<Option<Application>> {
        read::application_by_provider_key(&self.pool, kind, key).await
    }

    async fn unattached_providers(&self) -> StoreResult<Vec<gatehouse_core::UnattachedProvider>> {
        providers::all(&self.pool).await
    }

    async fn change_seq(&self) -> StoreResult<i64> {
        Ok(read::chain_head(&self.pool, false).await?.head_seq)
    }

    async fn bindings(&self) -> StoreResult<Vec<Binding>> {
        read::bindings(&self.pool).await
    }

    async fn recovery_keys(&self) -> StoreResult<Vec<RecoveryKey>> {
        read::recovery_keys(&self.pool).await
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        read::api_tokens(&self.pool).await
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        listing::api_token_by_hash(&self.pool, token_hash).await
    }

    async fn touch_api_token(&self, id: Uuid, at: Timestamp) -> StoreResult<()> {
        listing::touch_api_token(&self.pool, id, at).await
    }

    async fn user_page(&self, q: &UserQuery) -> StoreResult<Page<User>> {
        listing::user_page(&self.pool, q).await
    }

    async fn user_page_with_groups(&self, q: &UserQuery) -> StoreResult<Page<(User, Vec<Uuid>)>> {
        listing::user_page_with_groups(&self.pool, self.backend, q).await
    }

    async fn user_by_pk(&self, pk: i64) -> StoreResult<Option<User>> {
        listing::user_by_pk(&self.pool, pk).await
    }

    async fn users_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<User>> {
        listing::users_by_ids(&self.pool, ids).await
    }

    async fn memberships_of_users(&self, users: &[Uuid]) -> StoreResult<Vec<Membership>> {
        listing::memberships_of(&self.pool, true, users).await
    }

    async fn group_page(&self, q: &GroupQuery) -> StoreResult<Page<Group>> {
        listing::group_page(&self.pool, q).await
    }

    async fn memberships_of_groups(&self, groups: &[Uuid]) -> StoreResult<Vec<Membership>> {
        listing::memberships_of(&self.pool, false, groups).await
    }

    async fn event_page(&self, q: &EventQuery) -> StoreResult<Page<Event>> {
        listing::event_page(&self.pool, q).await
    }

    async fn events(&self, filter: &EventFilter) -> StoreResult<Vec<Event>> {
        events::list(&self.pool, filter).await
    }

    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<Event>> {
        events::after(&self.pool, after, limit).await
    }

    async fn chain_head(&self) -> StoreResult<ChainHead> {
        read::chain_head(&self.pool, false).await
    }

    async fn is_bootstrapped(&self) -> StoreResult<bool> {
        read::is_bootstrapped(&self.pool).await
    }

    async fn recovery_key_by_hash(&self, token_hash: &str) -> StoreResult<Option<RecoveryKey>> {
        read::recovery_key_by_hash(&self.pool, token_hash).await
    }

    async fn session_by_hash(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        read::session_by_hash(&self.pool, token_hash).await
    }

    async fn sessions(&self, user_id: Option<Uuid>) -> StoreResult<Vec<Session>> {
        read::sessions(&self.pool, user_id).await
    }

    async fn touch_session(&self, id: Uuid, at: Timestamp) -> StoreResult<()> {
        write::touch_session(&self.pool, id, at).await
    }

    async fn flow_by_hash(&self, token_hash: &str) -> StoreResult<Option<FlowRecord>> {
        read::flow_by_hash(&self.pool, token_hash).await
    }

    async fn throttle_records(&self, keys: &[String]) -> StoreResult<Vec<ThrottleRecord>> {
        read::throttle_records(&self.pool, keys).await
    }

    async fn ended_locks(&self, now: Timestamp) -> StoreResult<Vec<ThrottleRecord>> {
        read::ended_locks(&self.pool, now).await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<gatehouse_core::keys::SigningKeyRecord>> {
        keys::signing_keys(&self.pool).await
    }

    async fn server_secret(&self, name: &str) -> StoreResult<Option<String>> {
        grants::server_secret(&self.pool, name).await
    }

    async fn oauth_grant(&self, id: Uuid) -> StoreResult<Option<oauth::Grant>> {
        grants::grant(&self.pool, id, false).await
    }

    async fn refresh_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<oauth::RefreshToken>> {
        grants::refresh_token_by_hash(&self.pool, token_hash).await
    }

    async fn device_code_by_user_code(&self, user_code: &str) -> StoreResult<Option<oauth::DeviceCode>> {
        grants::device_code_by_user_code(&self.pool, user_code, false).await
    }

    async fn is_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        grants::is_token_revoked(&self.pool, jti).await
    }

    async fn oauth_consents(&self, user_id: Uuid) -> StoreResult<Vec<oauth::Consent>> {
        grants::consents(&self.pool, user_id).await
    }
    async fn claim_job(&self, worker_id: &str, now: Timestamp, lease_ms: i64) -> StoreResult<Option<JobRow>> {
        jobs::claim(&self.pool, self.backend, worker_id, now, lease_ms).await
    }

    async fn extend_job_leases(&self, worker_id: &str, until: Timestamp) -> StoreResult<u64> {
        jobs::extend_leases(&self.pool, worker_id, until).await
    }

    async fn finish_job(&self, id: Uuid, worker_id: &str, attempts: i64, now: Timestamp) -> StoreResult<bool> {
        jobs::finish(&self.pool, id, worker_id, attempts, now).await
    }

    async fn fail_job(
        &self,
        id: Uuid,
        worker_id: &str,
        attempts: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        jobs::fail(&self.pool, id, worker_id, attempts, error, retry_at, now).await
    }

    async fn jobs(&self, filter: &gatehouse_core::jobs::JobFilter) -> StoreResult<Vec<JobRow>> {
        jobs::list(&self.pool, filter).await
    }

    async fn job(&self, id: Uuid) -> StoreResult<Option<JobRow>> {
        jobs::by_id(&self.pool, id).await
    }

    async fn job_effect(&self, effect_key: &str) -> StoreResult<Option<gatehouse_core::jobs::JobEffect>> {
        jobs::effect(&self.pool, effect_key).await
    }

    async fn put_worker(&self, worker: &gatehouse_core::jobs::WorkerRecord) -> StoreResult<()> {
        jobs::put_worker(&self.pool, worker).await
    }

    async fn workers(&self) -> StoreResult<Vec<gatehouse_core::jobs::WorkerRecord>> {
        jobs::workers(&self.pool).await
    }
    async fn mfa_authenticators(&self, user_id: Uuid) -> StoreResult<Vec<gatehouse_core::mfa::Authenticator>> {
        mfa::authenticators(&self.pool, user_id).await
    }

    async fn mfa_authenticator_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<gatehouse_core::mfa::Authenticator>> {
        mfa::authenticator_by_credential(&self.pool, credential_id).await
    }

    async fn mfa_recovery_codes_left(&self, user_id: Uuid) -> StoreResult<i64> {
        mfa::recovery_codes_left(&self.pool, user_id).await
    }

    async fn mfa_policy(&self) -> StoreResult<Option<String>> {
        mfa::policy(&self.pool).await
    }

    async fn mfa_enrolment(
        &self,
        user_id: Uuid,
    ) -> StoreResult<Option<gatehouse_core::mfa::enrolment::EnrolmentRecord>> {
        mfa_enrolment::read(&self.pool, user_id, false).await
    }
    async fn blueprint_instances(&self) -> StoreResult<Vec<gatehouse_core::blueprints::BlueprintInstance>> {
        blueprints::instances(&self.pool).await
    }
    async fn invitations(&self) -> StoreResult<Vec<gatehouse_core::invitations::Invitation>> {
        invitations::all(&self.pool).await
    }
    async fn invitation(&self, id: Uuid) -> StoreResult<Option<gatehouse_core::invitations::Invitation>> {
        invitations::one(&self.pool, id).await
    }

    async fn users_with_mfa(&self, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        admin::users_with_mfa(&self.pool, ids).await
    }

    async fn event_counts(
        &self,
        actions: &[String],
        since: Timestamp,
        bucket_ms: i64,
    ) -> StoreResult<Vec<gatehouse_core::audit::EventCount>> {
        admin::event_counts(&self.pool, actions, since, bucket_ms).await
    }

    async fn active_locks(&self, now: Timestamp) -> StoreResult<Vec<ThrottleRecord>> {
        admin::active_locks(&self.pool, now).await
    }

    async fn user_memberships(&self, user_id: Uuid) -> StoreResult<Vec<Membership>> {
        admin::user_memberships(&self.pool, user_id).await
    }

    async fn member_counts(&self) -> StoreResult<Vec<(Uuid, i64)>> {
        admin::member_counts(&self.pool).await
    }

    async fn members_of_groups(&self, groups: &[Uuid]) -> StoreResult<Vec<(Uuid, User)>> {
        admin::members_of_groups(&self.pool, groups).await
    }

    async fn user_grants(&self, user_id: Uuid) -> StoreResult<Vec<oauth::Grant>> {
        grants::user_grants(&self.pool, user_id).await
    }

    async fn live_session_count(&self, now: Timestamp, idle_before: Timestamp) -> StoreResult<i64> {
        admin::live_session_count(&self.pool, now, idle_before).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-connection settings are in force on every pooled connection.
    #[tokio::test]
    async fn sqlite_connections_are_configured() {
        let dir = std::env::temp_dir().join(format!("gatehouse-store-unit-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/new/../gh.db", dir.display());
        std::fs::create_dir_all(dir.join("new")).unwrap();
        let store = SqlStore::connect(&url, ConnectOptions::default()).await.unwrap();
        let mut conns = Vec::new();
        for _ in 0..store.backend().default_pool_size() {
            conns.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut conns {
            let pragma = |name: &'static str| sqlx::query_scalar::<_, String>(name);
            let mode = pragma("PRAGMA journal_mode").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(mode, "wal");
            let int = |name: &'static str| sqlx::query_scalar::<_, i64>(name);
            assert_eq!(int("PRAGMA synchronous").fetch_one(&mut **conn).await.unwrap(), 1);
            assert_eq!(int("PRAGMA foreign_keys").fetch_one(&mut **conn).await.unwrap(), 1);
            assert_eq!(int("PRAGMA busy_timeout").fetch_one(&mut **conn).await.unwrap(), 5000);
        }
        drop(conns);
        store.close().await;
        assert!(dir.join("gh.db").exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
