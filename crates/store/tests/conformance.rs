//! The storage conformance suite: every check runs unchanged against SQLite (a
//! fresh temporary file per test) and PostgreSQL (a fresh database per test,
//! created through `GATEHOUSE_TEST_DATABASE_URL`).
//!
//! Without `GATEHOUSE_TEST_DATABASE_URL` the PostgreSQL half fails, unless
//! `GATEHOUSE_SKIP_POSTGRES=1` says to skip it: CI must not pass by skipping.
//!
//! Checks go through `gatehouse_core::Directory` where that is how the store is
//! used, and through `Store`/`WriteTx` directly for what the services cannot
//! reach (conflicts, rollback, pruning order). Tampering uses raw SQL on a
//! separate connection, as an attacker with database access would.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::bootstrap::{BootstrapOutcome, BootstrapSettings};
use gatehouse_core::events::{ChainReport, GENESIS_HASH, action};
use gatehouse_core::flow::{FLOW_LIFETIME_SECS, FlowKind, Stage};
use gatehouse_core::login::PasswordCheck;
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::session::ClientInfo;
use gatehouse_core::throttle::{Limits, ThrottlePolicy};
use gatehouse_core::{ADMIN_GROUP, NewUser, RECOVERY_ADMIN};
use gatehouse_core::{
    Actor, Application, Audit, ChainHead, Directory, Error, Event, EventFilter, FixedClock, FlowRecord, NewEvent,
    ProviderKind, Session, Store, StoreError, ThrottleRecord, Timestamp, User,
};
use gatehouse_crypto::{HashParams, PasswordHasher, PasswordVerdict, sha256_hex};
use gatehouse_store::{ConnectOptions, KNOWN_SCHEMA_VERSION, MIGRATION_COUNT, MigrationReport, SqlStore};
use serde_json::json;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Connection};
use uuid::Uuid;

/// 2026-01-01T00:00:00Z.
const T0: Timestamp = Timestamp(1_767_225_600_000);
const DAY: i64 = 86_400;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sqlite,
    Postgres,
}

/// A fresh, empty (unmigrated) database, dropped when the test ends.
struct TestDb {
    kind: Kind,
    url: String,
    /// Connected, not migrated.
    store: SqlStore,
    /// A separate pool for raw SQL (tampering, inspection).
    raw: AnyPool,
    _cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                // Best effort, also when the test panicked: a thread with its own
                // runtime, since Drop cannot await.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin_url).await {
                            let _ =
                                sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                                    .execute(&mut conn)
                                    .await;
                            let _ = conn.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

impl TestDb {
    async fn sqlite() -> TestDb {
        sqlx::any::install_default_drivers();
        let dir = std::env::temp_dir().join(format!("gatehouse-store-test-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gatehouse.db");
        let url = format!("sqlite://{}", path.display());
        let store = SqlStore::connect(&url, ConnectOptions::default()).await.unwrap();
        let raw = AnyPoolOptions::new()
            .max_connections(1)
            .connect_lazy(&format!("sqlite:{}", path.display()))
            .unwrap();
        TestDb {
            kind: Kind::Sqlite,
            url,
            store,
            raw,
            _cleanup: Cleanup::Dir(dir),
        }
    }

    /// `None` when PostgreSQL is explicitly skipped.
    async fn postgres() -> Option<TestDb> {
        sqlx::any::install_default_drivers();
        let admin_url = match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("GATEHOUSE_SKIP_POSTGRES").as_deref() == Ok("1") => {
                eprintln!("skipped: GATEHOUSE_SKIP_POSTGRES=1");
                return None;
            }
            _ => panic!(
                "GATEHOUSE_TEST_DATABASE_URL is not set: the PostgreSQL half of the storage \
                 conformance suite needs a server it may create databases on, e.g. \
                 GATEHOUSE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
                 (set GATEHOUSE_SKIP_POSTGRES=1 to skip it deliberately)"
            ),
        };
        let name = format!("gh_test_{}", Uuid::new_v4().simple());
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .expect("connect to GATEHOUSE_TEST_DATABASE_URL");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let cleanup = Cleanup::Postgres {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let url = with_database(&admin_url, &name);
        let store = SqlStore::connect(&url, ConnectOptions::default()).await.unwrap();
        let raw = AnyPoolOptions::new().max_connections(1).connect_lazy(&url).unwrap();
        Some(TestDb {
            kind: Kind::Postgres,
            url,
            store,
            raw,
            _cleanup: cleanup,
        })
    }

    /// Another pool on the same database, as a second process would have.
    async fn second_store(&self) -> SqlStore {
        SqlStore::connect(&self.url, ConnectOptions::default()).await.unwrap()
    }

    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&self.raw)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn count(&self, sql: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_string()))
            .fetch_one(&self.raw)
            .await
    }
}

/// `postgres://u@h:5432/postgres?x=y` with the database name replaced.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| i + authority);
    format!("{}/{db}{query}", &base[..path])
}

/// Generates `sqlite::check_x` and `postgres::check_x` for every check.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let db = super::TestDb::sqlite().await;
                    super::$check(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(db) = super::TestDb::postgres().await else {
                        return;
                    };
                    super::$check(&db).await;
                }
            )*
        }
    };
}

conformance!(
    check_migrations_apply_and_are_idempotent,
    check_schema_too_new_is_refused,
    check_concurrent_migrations,
    check_users,
    check_groups,
    check_applications,
    check_every_write_writes_its_event,
    check_event_listing,
    check_tamper_edited_event,
    check_tamper_deleted_middle_event,
    check_tamper_deleted_last_event,
    check_prune_keeps_chain_verifiable,
    check_recovery_keys,
    check_bootstrap,
    check_bootstrap_generates_password,
    check_concurrent_bootstrap,
    check_concurrent_writers,
    check_many_events_in_one_transaction,
    check_dropped_transaction_leaves_nothing,
    check_migration_from_version_1,
    check_session_storage,
    check_sessions,
    check_password_checks,
    check_sign_in_throttling,
    check_flows,
    check_purge_expired,
    check_recovery_flow,
    check_oauth_grants,
    check_signing_keys,
    check_forward_auth_handoff,
    // mail and worker (checks at the end of the file)
    check_job_queue_lifecycle,
    check_job_claims_are_exclusive,
    check_job_effects_and_workers,
    check_password_reset_requests,
    check_mfa_totp_and_replay,
    check_mfa_recovery_codes,
    check_mfa_policy_and_reset,
    check_throttle_bumps_are_atomic,
    check_blueprint_instances,
    check_api_token_deletion,
    check_known_device_throttle,
    check_signed_chain_head,
    check_signed_head_moved_anchor,
    check_signed_head_truncated_tail,
    check_mfa_first_enrolment,
    check_saml_keys,
    check_key_ring_holds_both_kinds,
    check_key_ring_migration_keeps_keys,
    check_replay_ids,
    check_parked_records,
    check_user_and_group_pages,
    check_api_tokens_authenticate,
    check_invitations_lifecycle,
    check_invitation_redeem,
    check_invitation_single_use_race,
    check_imported_password_hashes,
    check_admin_reads,
    check_group_members,
    check_provider_objects,
    check_sessionless_sign_in,
);

#[path = "conformance/key_ring.rs"]
mod key_ring;
use key_ring::*;
#[path = "conformance/admin.rs"]
mod admin;
use admin::*;
#[path = "conformance/security.rs"]
mod security;
use security::*;
#[path = "conformance/listing.rs"]
mod listing;
use listing::*;
#[path = "conformance/invitations.rs"]
mod invitations;
use invitations::*;
#[path = "conformance/providers.rs"]
mod providers;
use providers::*;

struct Env {
    store: Arc<SqlStore>,
    dir: Directory,
    clock: Arc<FixedClock>,
    audit: Audit,
}

fn hasher() -> PasswordHasher {
    PasswordHasher::new(
        HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        2,
    )
    .unwrap()
}

fn directory(store: &Arc<SqlStore>, clock: &Arc<FixedClock>) -> Directory {
    Directory::new(store.clone(), clock.clone(), hasher(), PasswordPolicy::default())
}

/// Migrates and builds the services over the test database.
async fn env(db: &TestDb) -> Env {
    db.store.migrate().await.unwrap();
    let store = Arc::new(db.store.clone());
    let clock = Arc::new(FixedClock::new(T0));
    Env {
        dir: directory(&store, &clock),
        store,
        clock,
        audit: Audit::cli("tester"),
    }
}

impl Env {
    async fn user(&self, name: &str) {
        self.dir
            .users()
            .create(
                &self.audit,
                NewUser {
                    username: name.into(),
                    email: format!("{}@example.com", name.to_lowercase()),
                    name: format!("{name} Example"),
                },
            )
            .await
            .unwrap();
    }

    async fn group(&self, name: &str, parent: Option<&str>) {
        self.dir
            .groups()
            .create(&self.audit, name, false, parent)
            .await
            .unwrap();
    }

    async fn events(&self) -> Vec<Event> {
        self.store.events_after(0, 100_000).await.unwrap()
    }

    async fn actions(&self) -> Vec<String> {
        self.events().await.into_iter().map(|e| e.action).collect()
    }

    async fn event_count(&self) -> usize {
        self.events().await.len()
    }

    /// Asserts the chain verifies and returns how many events it holds.
    async fn assert_intact(&self) -> u64 {
        match self.dir.events().verify().await.unwrap() {
            ChainReport::Intact { events, .. } => events,
            broken => panic!("chain should be intact: {broken:?}"),
        }
    }

    async fn broken_at(&self) -> i64 {
        match self.dir.events().verify().await.unwrap() {
            ChainReport::Broken { seq, .. } => seq,
            intact => panic!("chain should be broken: {intact:?}"),
        }
    }
}

fn genesis() -> ChainHead {
    ChainHead {
        head_seq: 0,
        head_hash: GENESIS_HASH.into(),
        anchor_seq: 0,
        anchor_hash: GENESIS_HASH.into(),
    }
}

fn new_event(action: &str) -> NewEvent {
    NewEvent {
        action: action.into(),
        actor: "cli:tester".into(),
        user: None,
        client_ip: Some("192.0.2.1".into()),
        context: json!({"n": 1}),
    }
}

async fn check_migrations_apply_and_are_idempotent(db: &TestDb) {
    assert_eq!(db.store.schema_version().await.unwrap(), 0);
    let first = db.store.migrate().await.unwrap();
    assert_eq!(
        first,
        MigrationReport {
            from: 0,
            to: KNOWN_SCHEMA_VERSION
        }
    );
    assert!(first.applied_any());
    let second = db.store.migrate().await.unwrap();
    assert_eq!(
        second,
        MigrationReport {
            from: KNOWN_SCHEMA_VERSION,
            to: KNOWN_SCHEMA_VERSION
        }
    );
    assert!(!second.applied_any());
    assert_eq!(
        db.count("SELECT COUNT(*) FROM schema_migrations").await.unwrap(),
        MIGRATION_COUNT as i64
    );

    let info = db.store.info().await.unwrap();
    let expected_backend = match db.kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgresql",
    };
    assert_eq!(info.backend, expected_backend);
    assert_eq!(info.schema_version, KNOWN_SCHEMA_VERSION);
    assert_eq!(info.known_schema_version, KNOWN_SCHEMA_VERSION);
    assert!(info.pool_size >= 1);
    db.store.ping().await.unwrap();
    assert_eq!(db.store.chain_head().await.unwrap(), genesis());
    assert!(!db.store.is_bootstrapped().await.unwrap());
    assert!(db.store.users().await.unwrap().is_empty());

    // `open` = connect + migrate, and finds nothing to do.
    let opened = SqlStore::open(&db.url).await.unwrap();
    assert_eq!(opened.schema_version().await.unwrap(), KNOWN_SCHEMA_VERSION);
    opened.close().await;
}

async fn check_schema_too_new_is_refused(db: &TestDb) {
    let future = KNOWN_SCHEMA_VERSION + 1;
    db.exec(
        "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await;
    db.exec(&format!(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({future}, 'from the future', 0)"
    ))
    .await;

    let refused = db.store.migrate().await;
    assert!(
        matches!(refused, Err(StoreError::SchemaTooNew { found, known }) if found == future && known == KNOWN_SCHEMA_VERSION),
        "{refused:?}"
    );
    assert!(matches!(
        SqlStore::open(&db.url).await,
        Err(StoreError::SchemaTooNew { .. })
    ));
    // Untouched: still one row, and no table of ours was created.
    assert_eq!(db.store.schema_version().await.unwrap(), future);
    assert_eq!(db.count("SELECT COUNT(*) FROM schema_migrations").await.unwrap(), 1);
    assert!(db.count("SELECT COUNT(*) FROM users").await.is_err());
    assert_eq!(db.store.info().await.unwrap().schema_version, future);
}

async fn check_concurrent_migrations(db: &TestDb) {
    let other = db.second_store().await;
    let (a, b) = tokio::join!(db.store.migrate(), other.migrate());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.to, KNOWN_SCHEMA_VERSION);
    assert_eq!(b.to, KNOWN_SCHEMA_VERSION);
    assert_eq!(
        u8::from(a.applied_any()) + u8::from(b.applied_any()),
        1,
        "exactly one run migrates: {a:?} {b:?}"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM schema_migrations").await.unwrap(),
        MIGRATION_COUNT as i64
    );
    assert_eq!(db.store.chain_head().await.unwrap(), genesis());
    other.close().await;
}

async fn check_users(db: &TestDb) {
    let env = env(db).await;
    env.user("Alice").await;

    let alice = env.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(alice.username, "Alice");
    assert_eq!(alice.email, "alice@example.com");
    assert_eq!(alice.name, "Alice Example");
    assert!(alice.is_active);
    assert!(alice.password_hash.is_none());
    assert_eq!(alice.attributes, json!({}));
    assert_eq!(alice.created_at, T0);
    assert_eq!(alice.last_login, None);
    let by_id = env.store.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(by_id.username, "Alice");
    assert_eq!(env.dir.users().get("ALICE").await.unwrap().id, alice.id);
    assert!(env.store.user_by_name("alicia").await.unwrap().is_none());

    // Same name in another case: refused, and no event written.
    let dup = env
        .dir
        .users()
        .create(
            &env.audit,
            NewUser {
                username: "ALICE".into(),
                ..NewUser::default()
            },
        )
        .await;
    assert!(matches!(dup, Err(Error::AlreadyExists { kind: "user", .. })), "{dup:?}");
    assert_eq!(env.actions().await, vec![action::MODEL_CREATED]);

    // The store itself enforces it (a racing writer past the service's check).
    let mut tx = env.store.begin().await.unwrap();
    let mut clash = alice.clone();
    clash.id = Uuid::new_v4();
    clash.username = "aLiCe".into();
    assert!(matches!(tx.insert_user(&clash).await, Err(StoreError::Conflict(_))));
    drop(tx);

    // Update.
    let updated = env.dir.users().set_active(&env.audit, "alice", false).await.unwrap();
    assert!(!updated.is_active);
    assert!(!env.store.user_by_name("alice").await.unwrap().unwrap().is_active);
    env.dir.users().set_active(&env.audit, "alice", true).await.unwrap();

    // JSON attributes and optional timestamps round-trip.
    let attributes = json!({
        "nested": {"list": [1, -2, 2.5, "x", null, true, {"k": []}]},
        "unicode": "Grüße ✓ 日本",
        "big": 9_007_199_254_740_993_i64,
        "quote": "it's \"quoted\"",
    });
    let mut tx = env.store.begin().await.unwrap();
    let mut u = tx.user_by_name("alice").await.unwrap().unwrap();
    u.attributes = attributes.clone();
    u.last_login = Some(T0.plus_seconds(5));
    u.email = "alice@corp.example.com".into();
    tx.update_user(&u).await.unwrap();
    tx.commit().await.unwrap();
    let u = env.store.user_by_name("Alice").await.unwrap().unwrap();
    assert_eq!(u.attributes, attributes);
    assert_eq!(u.last_login, Some(T0.plus_seconds(5)));
    assert_eq!(u.email, "alice@corp.example.com");

    // Password hash round-trips and verifies.
    env.clock.advance_seconds(60);
    let password = "a sturdy passphrase 42";
    env.dir
        .users()
        .set_password(&env.audit, "alice", password)
        .await
        .unwrap();
    let u = env.store.user_by_name("alice").await.unwrap().unwrap();
    let hash = u.password_hash.clone().unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert_eq!(u.password_changed_at, Some(T0.plus_seconds(60)));
    assert_eq!(hasher().verify(password, &hash).await.unwrap(), PasswordVerdict::Match);
    assert_eq!(
        hasher().verify("wrong password", &hash).await.unwrap(),
        PasswordVerdict::Mismatch
    );

    // Delete cascades memberships, recovery keys and API tokens.
    env.user("bob").await;
    env.group("staff", None).await;
    env.dir.groups().add_member(&env.audit, "staff", "alice").await.unwrap();
    env.dir.groups().add_member(&env.audit, "staff", "bob").await.unwrap();
    env.dir.recovery().create_key(&env.audit, "alice", 30).await.unwrap();
    let mut tx = env.store.begin().await.unwrap();
    tx.insert_api_token(&gatehouse_core::ApiToken {
        id: Uuid::new_v4(),
        identifier: "alice-token".into(),
        user_id: u.id,
        intent: "api".into(),
        token_hash: sha256_hex(b"alice-secret"),
        created_at: T0,
        expires_at: Some(T0.plus_seconds(DAY)),
        description: String::new(),
        last_used: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(env.store.memberships().await.unwrap().len(), 2);
    let tokens = env.store.api_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].expires_at, Some(T0.plus_seconds(DAY)));

    env.dir.users().delete(&env.audit, "ALICE", false).await.unwrap();
    assert!(env.store.user_by_name("alice").await.unwrap().is_none());
    let bob = env.store.user_by_name("bob").await.unwrap().unwrap();
    let memberships = env.store.memberships().await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].user_id, bob.id);
    assert!(env.store.recovery_keys().await.unwrap().is_empty());
    assert!(env.store.api_tokens().await.unwrap().is_empty());
    assert_eq!(env.store.users().await.unwrap().len(), 1);

    let deleted = env.events().await.pop().unwrap();
    assert_eq!(deleted.action, action::MODEL_DELETED);
    assert_eq!(deleted.user.as_deref(), Some("Alice"));
    env.assert_intact().await;
}

async fn check_groups(db: &TestDb) {
    let env = env(db).await;
    env.group("staff", None).await;
    env.group("devs", Some("staff")).await;
    env.group("ops", None).await;
    let staff = env.store.group_by_name("STAFF").await.unwrap().unwrap();
    let devs = env.store.group_by_name("Devs").await.unwrap().unwrap();
    assert_eq!(devs.parent_id, Some(staff.id));
    assert!(!staff.is_superuser);
    assert_eq!(env.store.groups().await.unwrap().len(), 3);
    let dup = env.dir.groups().create(&env.audit, "Staff", false, None).await;
    assert!(matches!(dup, Err(Error::AlreadyExists { kind: "group", .. })));
    let missing_parent = env.dir.groups().create(&env.audit, "qa", false, Some("nope")).await;
    assert!(matches!(missing_parent, Err(Error::NotFound { .. })));

    for u in ["alice", "bob", "carol"] {
        env.user(u).await;
    }
    let before = env.event_count().await;
    assert!(env.dir.groups().add_member(&env.audit, "devs", "alice").await.unwrap());
    assert!(!env.dir.groups().add_member(&env.audit, "devs", "alice").await.unwrap());
    assert_eq!(env.event_count().await, before + 1, "a no-op writes no event");
    assert!(env.dir.groups().add_member(&env.audit, "staff", "bob").await.unwrap());

    let members = env.dir.groups().members("staff").await.unwrap();
    let view: Vec<(String, Option<String>)> = members.iter().map(|m| (m.username.clone(), m.via.clone())).collect();
    assert_eq!(
        view,
        vec![
            ("bob".to_string(), None),
            ("alice".to_string(), Some("devs".to_string()))
        ]
    );
    assert!(env.dir.groups().add_member(&env.audit, "staff", "alice").await.unwrap());
    assert!(
        env.dir
            .groups()
            .members("staff")
            .await
            .unwrap()
            .iter()
            .all(|m| m.via.is_none())
    );
    assert!(
        env.dir
            .groups()
            .remove_member(&env.audit, "staff", "alice")
            .await
            .unwrap()
    );
    assert!(
        !env.dir
            .groups()
            .remove_member(&env.audit, "staff", "alice")
            .await
            .unwrap()
    );
    let detail = env.dir.users().detail("alice").await.unwrap();
    assert_eq!(detail.groups, vec!["devs"]);
    assert_eq!(detail.inherited_groups, vec!["staff"]);

    // Cycles are refused and change nothing.
    let cycle = env.dir.groups().set_parent(&env.audit, "staff", Some("devs")).await;
    assert!(matches!(cycle, Err(Error::Refused(_))), "{cycle:?}");
    let self_parent = env.dir.groups().set_parent(&env.audit, "devs", Some("DEVS")).await;
    assert!(matches!(self_parent, Err(Error::Refused(_))));
    assert_eq!(env.store.group_by_name("staff").await.unwrap().unwrap().parent_id, None);
    env.dir
        .groups()
        .set_parent(&env.audit, "ops", Some("staff"))
        .await
        .unwrap();
    assert_eq!(
        env.store.group_by_name("ops").await.unwrap().unwrap().parent_id,
        Some(staff.id)
    );
    assert!(matches!(
        env.dir.groups().delete(&env.audit, "staff").await,
        Err(Error::Refused(_))
    ));

    // Group fields round-trip.
    let mut tx = env.store.begin().await.unwrap();
    let mut ops = tx.group_by_name("ops").await.unwrap().unwrap();
    ops.is_superuser = true;
    ops.attributes = json!({"ldap": {"gid": 5001}, "tags": ["a", "b"]});
    tx.update_group(&ops).await.unwrap();
    tx.commit().await.unwrap();
    let ops = env.store.group_by_name("ops").await.unwrap().unwrap();
    assert!(ops.is_superuser);
    assert_eq!(ops.attributes, json!({"tags": ["a", "b"], "ldap": {"gid": 5001}}));

    // Deleting a parent (below the services, which refuse) detaches its children
    // and drops its memberships.
    let mut tx = env.store.begin().await.unwrap();
    tx.delete_group(staff.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(env.store.group_by_name("devs").await.unwrap().unwrap().parent_id, None);
    assert_eq!(env.store.group_by_name("ops").await.unwrap().unwrap().parent_id, None);
    assert!(
        env.store
            .memberships()
            .await
            .unwrap()
            .iter()
            .all(|m| m.group_id != staff.id)
    );
    env.dir.groups().delete(&env.audit, "devs").await.unwrap();
    assert!(env.store.memberships().await.unwrap().is_empty());
    env.assert_intact().await;
}

async fn check_applications(db: &TestDb) {
    let env = env(db).await;
    let grafana = env
        .dir
        .apps()
        .create(&env.audit, "grafana", "Grafana", Some("https://grafana.example.com/"))
        .await
        .unwrap();
    let stored = env.store.application_by_slug("grafana").await.unwrap().unwrap();
    assert_eq!(stored.id, grafana.id);
    assert_eq!(stored.name, "Grafana");
    assert_eq!(stored.launch_url.as_deref(), Some("https://grafana.example.com/"));
    assert_eq!(stored.provider, None);
    assert_eq!(stored.created_at, T0);
    let dup = env.dir.apps().create(&env.audit, "grafana", "Other", None).await;
    assert!(matches!(
        dup,
        Err(Error::AlreadyExists {
            kind: "application",
            ..
        })
    ));
    let mut tx = env.store.begin().await.unwrap();
    let clash = Application {
        id: Uuid::new_v4(),
        ..stored.clone()
    };
    assert!(matches!(
        tx.insert_application(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);

    // Provider kind round-trips.
    let mut tx = env.store.begin().await.unwrap();
    let mut app = tx.application_by_slug("grafana").await.unwrap().unwrap();
    app.provider = Some(ProviderKind::Oidc);
    app.launch_url = None;
    tx.update_application(&app).await.unwrap();
    tx.commit().await.unwrap();
    let app = env.store.application_by_slug("grafana").await.unwrap().unwrap();
    assert_eq!(app.provider, Some(ProviderKind::Oidc));
    assert_eq!(app.launch_url, None);

    // The access rule on a small directory (core's access test, through storage).
    env.group("staff", None).await;
    env.group("devs", Some("staff")).await;
    env.group("ops", None).await;
    for (u, g) in [("alice", "devs"), ("bob", "ops"), ("carol", "staff")] {
        env.user(u).await;
        env.dir.groups().add_member(&env.audit, g, u).await.unwrap();
    }
    env.dir.users().set_active(&env.audit, "carol", false).await.unwrap();
    env.dir.apps().create(&env.audit, "wiki", "Wiki", None).await.unwrap();
    env.dir.apps().create(&env.audit, "pager", "Pager", None).await.unwrap();
    assert!(env.dir.apps().bind(&env.audit, "grafana", "staff").await.unwrap());
    assert!(!env.dir.apps().bind(&env.audit, "grafana", "STAFF").await.unwrap());
    assert!(env.dir.apps().bind(&env.audit, "pager", "ops").await.unwrap());
    assert_eq!(env.store.bindings().await.unwrap().len(), 2);

    let matrix = env.dir.access().matrix().await.unwrap();
    assert_eq!(matrix.applications, vec!["grafana", "pager", "wiki"]);
    let row = |m: &gatehouse_core::access::AccessMatrix, n: &str| {
        m.rows
            .iter()
            .find(|r| r.username == n)
            .map(|r| r.access.clone())
            .unwrap()
    };
    assert_eq!(row(&matrix, "alice"), vec![true, false, true]);
    assert_eq!(row(&matrix, "bob"), vec![false, true, true]);
    assert_eq!(row(&matrix, "carol"), vec![false, false, false]);

    assert!(env.dir.apps().unbind(&env.audit, "pager", "ops").await.unwrap());
    assert!(!env.dir.apps().unbind(&env.audit, "pager", "ops").await.unwrap());
    let matrix = env.dir.access().matrix().await.unwrap();
    assert_eq!(row(&matrix, "alice"), vec![true, true, true]);

    // Deleting an application or a group removes its bindings.
    env.dir.apps().bind(&env.audit, "wiki", "ops").await.unwrap();
    env.dir.apps().delete(&env.audit, "grafana").await.unwrap();
    assert!(env.store.application_by_slug("grafana").await.unwrap().is_none());
    let bindings = env.store.bindings().await.unwrap();
    assert_eq!(bindings.len(), 1);
    env.dir.groups().delete(&env.audit, "ops").await.unwrap();
    assert!(env.store.bindings().await.unwrap().is_empty());
    assert_eq!(env.store.applications().await.unwrap().len(), 2);
    env.assert_intact().await;
}

async fn check_every_write_writes_its_event(db: &TestDb) {
    let env = env(db).await;
    env.user("alice").await;
    // Failures write nothing.
    let bad = env
        .dir
        .users()
        .create(
            &env.audit,
            NewUser {
                username: "al ice".into(),
                ..NewUser::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(Error::Invalid { .. })));
    let dup = env
        .dir
        .users()
        .create(
            &env.audit,
            NewUser {
                username: "Alice".into(),
                ..NewUser::default()
            },
        )
        .await;
    assert!(dup.is_err());
    assert!(matches!(
        env.dir.users().delete(&env.audit, "nobody", false).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        env.dir.users().set_password(&env.audit, "alice", "short").await,
        Err(Error::PasswordRejected(_))
    ));
    env.group("staff", None).await;
    env.dir.groups().add_member(&env.audit, "staff", "alice").await.unwrap();
    env.dir.groups().add_member(&env.audit, "staff", "alice").await.unwrap(); // no-op
    env.dir.users().set_active(&env.audit, "alice", false).await.unwrap();
    env.dir.users().set_active(&env.audit, "alice", false).await.unwrap(); // no-op
    env.dir
        .users()
        .set_password(&env.audit, "alice", "another fine passphrase")
        .await
        .unwrap();
    env.dir.recovery().create_key(&env.audit, "alice", 10).await.unwrap();
    env.dir.apps().create(&env.audit, "wiki", "Wiki", None).await.unwrap();
    env.dir.apps().bind(&env.audit, "wiki", "staff").await.unwrap();
    env.dir.apps().unbind(&env.audit, "wiki", "staff").await.unwrap();
    env.dir.apps().delete(&env.audit, "wiki").await.unwrap();
    env.dir
        .groups()
        .remove_member(&env.audit, "staff", "alice")
        .await
        .unwrap();
    env.dir.groups().delete(&env.audit, "staff").await.unwrap();
    env.dir.users().delete(&env.audit, "alice", false).await.unwrap();

    let events = env.events().await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            action::MODEL_CREATED, // user
            action::MODEL_CREATED, // group
            action::MODEL_UPDATED, // member added
            action::MODEL_UPDATED, // deactivated
            action::PASSWORD_SET,
            action::RECOVERY_KEY_CREATED,
            action::MODEL_CREATED, // application
            action::MODEL_CREATED, // binding
            action::MODEL_DELETED, // binding
            action::MODEL_DELETED, // application
            action::MODEL_UPDATED, // member removed
            action::MODEL_DELETED, // group
            action::MODEL_DELETED, // user
        ]
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
        assert_eq!(e.actor, "cli:tester");
        assert_eq!(e.at, T0);
        let prev = if i == 0 {
            GENESIS_HASH
        } else {
            events[i - 1].hash.as_str()
        };
        assert_eq!(e.prev_hash, prev);
    }
    assert_eq!(events[0].user.as_deref(), Some("alice"));
    assert_eq!(events[0].context["model"], "user");
    assert_eq!(events[1].user, None);
    let head = env.store.chain_head().await.unwrap();
    assert_eq!(head.head_seq, 13);
    assert_eq!(head.head_hash, events[12].hash);
    assert_eq!(env.assert_intact().await, 13);
}

async fn check_event_listing(db: &TestDb) {
    let env = env(db).await;
    env.user("alice").await; // seq 1, about alice
    env.user("bob").await; // seq 2, about bob
    let by_alice = Audit::new(Actor::User("Alice".into()), Some("198.51.100.7".into()));
    env.clock.advance_seconds(3600);
    env.dir.groups().create(&by_alice, "staff", false, None).await.unwrap(); // seq 3, done by alice
    env.dir.groups().add_member(&env.audit, "staff", "bob").await.unwrap(); // seq 4, about bob

    let all = env.store.events(&EventFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4, 3, 2, 1],
        "newest first"
    );
    assert_eq!(all[1].client_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(all[1].actor, "user:Alice");

    let seqs = |events: Vec<Event>| events.iter().map(|e| e.seq).collect::<Vec<_>>();
    let alice = EventFilter {
        user: Some("ALICE".into()),
        ..EventFilter::default()
    };
    assert_eq!(seqs(env.store.events(&alice).await.unwrap()), vec![3, 1]);
    let created = EventFilter {
        action: Some(action::MODEL_CREATED.into()),
        ..EventFilter::default()
    };
    assert_eq!(seqs(env.store.events(&created).await.unwrap()), vec![3, 2, 1]);
    let since = EventFilter {
        since: Some(T0.plus_seconds(3600)),
        ..EventFilter::default()
    };
    assert_eq!(seqs(env.store.events(&since).await.unwrap()), vec![4, 3]);
    let combined = EventFilter {
        user: Some("bob".into()),
        action: Some(action::MODEL_UPDATED.into()),
        since: Some(T0),
        limit: 10,
        client_ip: None,
    };
    assert_eq!(seqs(env.store.events(&combined).await.unwrap()), vec![4]);
    let limited = EventFilter {
        limit: 2,
        ..EventFilter::default()
    };
    assert_eq!(seqs(env.store.events(&limited).await.unwrap()), vec![4, 3]);

    // limit 0 means the default (100).
    let mut tx = env.store.begin().await.unwrap();
    for _ in 0..120 {
        tx.append_event(new_event("test"), T0).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(
        env.store.events(&EventFilter::default()).await.unwrap().len(),
        gatehouse_store::DEFAULT_EVENT_LIMIT as usize
    );
    let page = env.store.events_after(2, 3).await.unwrap();
    assert_eq!(seqs(page), vec![3, 4, 5]);
    assert_eq!(env.assert_intact().await, 124);
}

/// Four events (one per user created).
async fn four_events(db: &TestDb) -> Env {
    let env = env(db).await;
    for u in ["u1", "u2", "u3", "u4"] {
        env.user(u).await;
    }
    assert_eq!(env.assert_intact().await, 4);
    env
}

async fn check_tamper_edited_event(db: &TestDb) {
    let env = four_events(db).await;
    db.exec("UPDATE events SET actor = 'cli:mallory' WHERE seq = 2").await;
    assert_eq!(env.broken_at().await, 2);
    db.exec("UPDATE events SET actor = 'cli:tester' WHERE seq = 2").await;
    assert_eq!(env.assert_intact().await, 4);
    db.exec("UPDATE events SET context = '{\"model\":\"user\",\"forged\":true}' WHERE seq = 3")
        .await;
    assert_eq!(env.broken_at().await, 3);
}

async fn check_tamper_deleted_middle_event(db: &TestDb) {
    let env = four_events(db).await;
    db.exec("DELETE FROM events WHERE seq = 2").await;
    assert_eq!(env.broken_at().await, 2);
}

async fn check_tamper_deleted_last_event(db: &TestDb) {
    let env = four_events(db).await;
    db.exec("DELETE FROM events WHERE seq = 4").await;
    assert_eq!(env.broken_at().await, 4);
}

async fn check_prune_keeps_chain_verifiable(db: &TestDb) {
    let env = env(db).await;
    for u in ["u1", "u2", "u3"] {
        env.user(u).await; // seq 1–3 at T0
    }
    env.clock.advance_seconds(10 * DAY);
    env.user("u4").await; // seq 4
    env.user("u5").await; // seq 5
    let third = env.events().await[2].clone();

    assert_eq!(env.dir.events().prune(&env.audit, 5 * DAY).await.unwrap(), 3);
    let head = env.store.chain_head().await.unwrap();
    assert_eq!(head.anchor_seq, 3);
    assert_eq!(head.anchor_hash, third.hash);
    assert_eq!(head.head_seq, 6);
    let actions = env.actions().await;
    assert_eq!(
        actions,
        vec![action::MODEL_CREATED, action::MODEL_CREATED, action::EVENTS_PRUNED]
    );
    assert_eq!(env.assert_intact().await, 3);
    assert_eq!(env.dir.events().prune(&env.audit, 5 * DAY).await.unwrap(), 0);
    assert_eq!(env.store.chain_head().await.unwrap().head_seq, 6);

    // Only a contiguous prefix goes: an old event behind newer ones stays.
    let mut tx = env.store.begin().await.unwrap();
    let late = tx.append_event(new_event("late"), T0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(late.seq, 7);
    assert_eq!(env.dir.events().prune(&env.audit, 5 * DAY).await.unwrap(), 0);
    assert!(env.events().await.iter().any(|e| e.seq == 7));
    assert_eq!(env.assert_intact().await, 4);

    // Everything old: the whole log goes, the anchor is its last link.
    env.clock.advance_seconds(30 * DAY);
    let last = env.events().await.pop().unwrap();
    assert_eq!(env.dir.events().prune(&env.audit, DAY).await.unwrap(), 4);
    let head = env.store.chain_head().await.unwrap();
    assert_eq!((head.anchor_seq, head.anchor_hash), (7, last.hash));
    assert_eq!(env.assert_intact().await, 1);
}

async fn check_recovery_keys(db: &TestDb) {
    let env = env(db).await;
    env.user("alice").await;
    let (key, record) = env.dir.recovery().create_key(&env.audit, "alice", 60).await.unwrap();
    assert_ne!(record.token_hash, key);
    assert_eq!(record.token_hash, sha256_hex(key.as_bytes()));
    assert_eq!(record.expires_at, T0.plus_seconds(3600));
    let stored = env.store.recovery_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].token_hash, record.token_hash);
    assert_eq!(stored[0].used_at, None);
    assert_eq!(env.dir.recovery().list().await.unwrap()[0].state, "valid");

    env.clock.advance_seconds(60);
    let user = env.dir.recovery().consume_key(&env.audit, &key).await.unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(
        env.store.recovery_keys().await.unwrap()[0].used_at,
        Some(T0.plus_seconds(60))
    );
    let again = env.dir.recovery().consume_key(&env.audit, &key).await;
    assert!(matches!(again, Err(Error::Invalid { .. })), "{again:?}");
    assert!(env.dir.recovery().consume_key(&env.audit, "not-a-key").await.is_err());

    // Expired: refused and left unused.
    let (expiring, record) = env.dir.recovery().create_key(&env.audit, "alice", 1).await.unwrap();
    env.clock.advance_seconds(61);
    assert!(env.dir.recovery().consume_key(&env.audit, &expiring).await.is_err());
    let keys = env.store.recovery_keys().await.unwrap();
    let stored = keys.iter().find(|k| k.id == record.id).unwrap();
    assert_eq!(stored.used_at, None);
    let listing = env.dir.recovery().list().await.unwrap();
    assert_eq!(listing.iter().find(|k| k.key.id == record.id).unwrap().state, "expired");

    // Two consumers at once: exactly one wins.
    let (contested, _) = env.dir.recovery().create_key(&env.audit, "alice", 10).await.unwrap();
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    let (a, b) = tokio::join!(
        env.dir.recovery().consume_key(&env.audit, &contested),
        other.recovery().consume_key(&env.audit, &contested)
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} / {b:?}");

    let actions = env.actions().await;
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(count(action::RECOVERY_KEY_CREATED), 3);
    assert_eq!(count(action::RECOVERY_KEY_USED), 2);
    env.assert_intact().await;
    other_store.close().await;
}

async fn check_bootstrap(db: &TestDb) {
    let env = env(db).await;
    let password = "correct horse battery staple 1";
    let token = "bootstrap-token-0123456789";
    let settings = BootstrapSettings {
        password: Some(password.into()),
        email: Some("admin@example.com".into()),
        token: Some(token.into()),
    };
    let outcome = gatehouse_blueprint::bootstrap::bootstrap(&env.dir, &settings)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        BootstrapOutcome::Created {
            generated_password: None
        }
    );
    assert!(env.store.is_bootstrapped().await.unwrap());

    let admins = env.store.group_by_name(ADMIN_GROUP).await.unwrap().unwrap();
    assert!(admins.is_superuser);
    let detail = env.dir.users().detail(RECOVERY_ADMIN).await.unwrap();
    assert_eq!(detail.groups, vec![ADMIN_GROUP]);
    assert!(detail.is_superuser);
    assert_eq!(detail.user.email, "admin@example.com");
    let hash = detail.user.password_hash.clone().unwrap();
    assert_eq!(hasher().verify(password, &hash).await.unwrap(), PasswordVerdict::Match);
    let tokens = env.store.api_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].token_hash, sha256_hex(token.as_bytes()));
    assert_eq!(tokens[0].user_id, detail.user.id);
    assert_eq!(tokens[0].identifier, "authentik-bootstrap-token");
    assert_eq!(tokens[0].intent, "api");
    assert_eq!(tokens[0].expires_at, None);
    assert_eq!(
        env.actions().await,
        vec![action::MODEL_CREATED, action::MODEL_CREATED, action::BOOTSTRAP]
    );

    // Second time: nothing.
    let (users, events) = (env.store.users().await.unwrap().len(), env.event_count().await);
    assert_eq!(
        gatehouse_blueprint::bootstrap::bootstrap(&env.dir, &settings)
            .await
            .unwrap(),
        BootstrapOutcome::AlreadyDone
    );
    assert_eq!(env.store.users().await.unwrap().len(), users);
    assert_eq!(env.event_count().await, events);
    assert_eq!(env.store.api_tokens().await.unwrap().len(), 1);
    // The claim itself is once per database.
    let mut tx = env.store.begin().await.unwrap();
    assert!(!tx.claim_bootstrap(T0).await.unwrap());
    drop(tx);
    env.assert_intact().await;
}

async fn check_bootstrap_generates_password(db: &TestDb) {
    let env = env(db).await;
    let outcome = gatehouse_blueprint::bootstrap::bootstrap(&env.dir, &BootstrapSettings::default())
        .await
        .unwrap();
    let BootstrapOutcome::Created {
        generated_password: Some(password),
    } = outcome
    else {
        panic!("expected a generated password: {outcome:?}");
    };
    assert!(password.len() >= 20);
    let admin = env.store.user_by_name(RECOVERY_ADMIN).await.unwrap().unwrap();
    assert_eq!(
        hasher()
            .verify(&password, admin.password_hash.as_deref().unwrap())
            .await
            .unwrap(),
        PasswordVerdict::Match
    );
    assert!(env.store.api_tokens().await.unwrap().is_empty());
}

async fn check_concurrent_bootstrap(db: &TestDb) {
    let env = env(db).await;
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    let settings = BootstrapSettings {
        password: Some("correct horse battery staple 2".into()),
        ..BootstrapSettings::default()
    };
    let (a, b) = tokio::join!(
        gatehouse_blueprint::bootstrap::bootstrap(&env.dir, &settings),
        gatehouse_blueprint::bootstrap::bootstrap(&other, &settings)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, BootstrapOutcome::Created { .. }))
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    assert!(outcomes.contains(&BootstrapOutcome::AlreadyDone));
    let users = env.store.users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].username, RECOVERY_ADMIN);
    assert_eq!(env.store.groups().await.unwrap().len(), 1);
    assert_eq!(env.store.memberships().await.unwrap().len(), 1);
    let bootstraps = env
        .actions()
        .await
        .into_iter()
        .filter(|a| a == action::BOOTSTRAP)
        .count();
    assert_eq!(bootstraps, 1);
    env.assert_intact().await;
    other_store.close().await;
}

/// A transaction's events are sealed at once but written in batches at
/// commit: what the caller was told (seq, hash) is what is stored, a dropped
/// transaction leaves none of them, and two pools writing batches at once
/// still make one chain.
async fn check_many_events_in_one_transaction(db: &TestDb) {
    let env = env(db).await;
    let mut tx = env.store.begin().await.unwrap();
    for _ in 0..250 {
        tx.append_event(new_event("dropped"), T0).await.unwrap();
    }
    drop(tx);
    assert_eq!(env.store.chain_head().await.unwrap().head_seq, 0);
    assert!(env.events().await.is_empty());

    let mut tx = env.store.begin().await.unwrap();
    let mut told = Vec::new();
    for _ in 0..250 {
        told.push(tx.append_event(new_event("kept"), T0).await.unwrap());
    }
    tx.commit().await.unwrap();
    let mut stored = env.events().await;
    stored.sort_by_key(|e| e.seq);
    assert_eq!(
        stored.iter().map(|e| (e.seq, e.hash.clone())).collect::<Vec<_>>(),
        told.iter().map(|e| (e.seq, e.hash.clone())).collect::<Vec<_>>()
    );

    let other = Arc::new(db.second_store().await);
    let batch = |store: Arc<dyn Store>| async move {
        let mut tx = store.begin().await.unwrap();
        for _ in 0..150 {
            tx.append_event(new_event("race"), T0).await.unwrap();
        }
        tx.commit().await.unwrap();
    };
    tokio::join!(batch(env.store.clone()), batch(other.clone()));
    assert_eq!(env.assert_intact().await, 550);
}

async fn check_concurrent_writers(db: &TestDb) {
    let env = env(db).await;
    // Two pools, as the CLI and the server have.
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    let create = |dir: &Directory, name: String| {
        let (dir, audit) = (dir.clone(), env.audit.clone());
        async move {
            dir.users()
                .create(
                    &audit,
                    NewUser {
                        username: name,
                        ..NewUser::default()
                    },
                )
                .await
        }
    };
    let (a, b) = tokio::join!(
        async {
            for i in 0..50 {
                create(&env.dir, format!("a{i}")).await.unwrap();
            }
        },
        async {
            for i in 0..50 {
                create(&other, format!("b{i}")).await.unwrap();
            }
        }
    );
    let ((), ()) = (a, b);
    assert_eq!(env.store.users().await.unwrap().len(), 100);

    // Racing for the same names: one wins each, the other hears "already exists".
    for i in 0..10 {
        let name = format!("same{i}");
        let (a, b) = tokio::join!(create(&env.dir, name.clone()), create(&other, name));
        let won = u8::from(a.is_ok()) + u8::from(b.is_ok());
        assert_eq!(won, 1, "{a:?} / {b:?}");
        let lost = if a.is_ok() { b } else { a };
        assert!(matches!(lost, Err(Error::AlreadyExists { .. })), "{lost:?}");
    }
    assert_eq!(env.store.users().await.unwrap().len(), 110);
    assert_eq!(env.assert_intact().await, 110);
    other_store.close().await;
}

async fn check_dropped_transaction_leaves_nothing(db: &TestDb) {
    let env = env(db).await;
    let mut tx = env.store.begin().await.unwrap();
    let mut user = gatehouse_core::User {
        id: Uuid::new_v4(),
        pk: 0,
        username: "ghost".into(),
        email: String::new(),
        name: String::new(),
        is_active: true,
        password_hash: Some("$argon2id$not-a-real-hash".into()),
        attributes: json!({}),
        created_at: T0,
        last_login: None,
        password_changed_at: None,
    };
    tx.insert_user(&user).await.unwrap();
    tx.append_event(new_event(action::MODEL_CREATED), T0).await.unwrap();
    assert!(tx.claim_bootstrap(T0).await.unwrap());
    assert!(tx.user_by_name("GHOST").await.unwrap().is_some());
    drop(tx);

    assert!(env.store.user_by_name("ghost").await.unwrap().is_none());
    assert!(env.events().await.is_empty());
    assert_eq!(env.store.chain_head().await.unwrap(), genesis());
    assert!(!env.store.is_bootstrapped().await.unwrap());

    // A failing service call rolls back what it did before failing.
    let failed = env
        .dir
        .groups()
        .create(&env.audit, "orphans", false, Some("missing"))
        .await;
    assert!(failed.is_err());
    assert!(env.store.groups().await.unwrap().is_empty());

    // The write lock was released: the next writer proceeds at once.
    let next = tokio::time::timeout(Duration::from_secs(3), env.user("alive"));
    next.await.expect("a write after a dropped transaction");
    user.username = "ghost2".into();
    let mut tx = env.store.begin().await.unwrap();
    tx.insert_user(&user).await.unwrap();
    tx.commit().await.unwrap();
    assert!(env.store.user_by_id(user.id).await.unwrap().is_some());
    assert_eq!(env.assert_intact().await, 1);
}

const PW: &str = "a sturdy passphrase 42";

/// A browser that is not signed in yet, as the web layer builds it.
fn anonymous(ip: Option<&str>) -> Audit {
    Audit::new(Actor::System, ip.map(str::to_string))
}

fn browser() -> ClientInfo {
    ClientInfo {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("Mozilla/5.0 (conformance)".into()),
    }
}

impl Env {
    async fn user_with_password(&self, name: &str, password: &str) -> User {
        self.user(name).await;
        self.dir
            .users()
            .set_password(&self.audit, name, password)
            .await
            .unwrap();
        self.store.user_by_name(name).await.unwrap().unwrap()
    }

    /// A password sign-in from [`browser`]: the cookie token and its session.
    async fn sign_in(&self, name: &str, password: &str) -> (String, Session) {
        let audit = anonymous(Some("192.0.2.7"));
        let check = self.dir.sign_in().check_password(&audit, name, password).await.unwrap();
        assert!(matches!(check, PasswordCheck::Accepted { .. }), "{check:?}");
        let (token, session, user) = self
            .dir
            .sign_in()
            .start_password_session(&audit, check, &browser())
            .await
            .unwrap()
            .expect("a session for an accepted password");
        assert_eq!(session.user_id, user.id);
        (token, session)
    }

    async fn events_of(&self, action: &str) -> Vec<Event> {
        self.events().await.into_iter().filter(|e| e.action == action).collect()
    }

    async fn session_count(&self, user_id: Uuid) -> usize {
        self.store.sessions(Some(user_id)).await.unwrap().len()
    }

    fn now(&self) -> Timestamp {
        self.dir.now()
    }
}

fn a_session(user_id: Uuid, token: &str, created_at: Timestamp) -> Session {
    Session {
        id: Uuid::new_v4(),
        user_id,
        token_hash: sha256_hex(token.as_bytes()),
        csrf_token: format!("csrf-{token}"),
        created_at,
        last_seen: created_at,
        expires_at: created_at.plus_seconds(DAY),
        client_ip: None,
        user_agent: None,
        amr: vec!["pwd".into()],
    }
}

fn a_throttle(key: &str, failures: i64, at: Timestamp, locked_until: Option<Timestamp>) -> ThrottleRecord {
    ThrottleRecord {
        key: key.into(),
        failures,
        window_start: at,
        last_failure: at,
        locked_until,
    }
}

async fn check_migration_from_version_1(db: &TestDb) {
    // A database as the previous binary left it: schema version 1, with data.
    let v1 = match db.kind {
        Kind::Sqlite => include_str!("../migrations/sqlite/0001_directory.sql"),
        Kind::Postgres => include_str!("../migrations/postgres/0001_directory.sql"),
    };
    db.exec(
        "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await;
    db.exec(v1).await;
    db.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'directory', 0)")
        .await;
    assert_eq!(db.store.schema_version().await.unwrap(), 1);
    assert!(db.count("SELECT COUNT(*) FROM sessions").await.is_err());
    let store = Arc::new(db.store.clone());
    let clock = Arc::new(FixedClock::new(T0));
    let old = directory(&store, &clock);
    let audit = Audit::cli("tester");
    // A user and its event, as the version-1 binary wrote them (no integer id).
    db.exec("INSERT INTO users (id, username, username_key, created_at) VALUES ('00000000-0000-4000-8000-000000000001', 'alice', 'alice', 5)")
        .await;
    db.exec("INSERT INTO groups (id, name, name_key, created_at) VALUES ('00000000-0000-4000-8000-000000000002', 'staff', 'staff', 5)")
        .await;
    let mut tx = store.begin().await.unwrap();
    tx.append_event(
        NewEvent {
            action: "model_created".into(),
            actor: "cli:tester".into(),
            user: Some("alice".into()),
            client_ip: None,
            context: serde_json::json!({"model": "user", "username": "alice"}),
        },
        T0,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let report = db.store.migrate().await.unwrap();
    assert_eq!(
        report,
        MigrationReport {
            from: 1,
            to: KNOWN_SCHEMA_VERSION
        }
    );
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&db.raw)
        .await
        .unwrap();
    // Every migration, in order; numbers may have gaps while feature branches are apart.
    assert_eq!(versions.len(), MIGRATION_COUNT);
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    assert_eq!((versions[0], versions[versions.len() - 1]), (1, KNOWN_SCHEMA_VERSION));
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM schema_migrations ORDER BY version")
        .fetch_all(&db.raw)
        .await
        .unwrap();
    assert_eq!(&names[..3], &["directory", "sessions", "providers"]);
    assert_eq!(db.store.schema_version().await.unwrap(), KNOWN_SCHEMA_VERSION);
    assert_eq!(
        db.store.migrate().await.unwrap(),
        MigrationReport {
            from: KNOWN_SCHEMA_VERSION,
            to: KNOWN_SCHEMA_VERSION
        }
    );

    // The old data is there and works with the new tables.
    let env = Env {
        dir: old,
        store,
        clock,
        audit,
    };
    // Schema 11: existing rows numbered in creation order, new ones continue.
    assert_eq!(env.dir.users().get("alice").await.unwrap().pk, 1);
    let bob = env
        .dir
        .users()
        .create(
            &env.audit,
            NewUser {
                username: "bob".into(),
                ..NewUser::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(bob.pk, 2);
    assert_eq!(env.store.user_by_name("bob").await.unwrap().unwrap().pk, 2);
    let group = env.dir.groups().create(&env.audit, "devs", false, None).await.unwrap();
    assert_eq!(group.pk, 2);
    env.dir.users().delete(&env.audit, "bob", false).await.unwrap();
    let carol = env
        .dir
        .users()
        .create(
            &env.audit,
            NewUser {
                username: "carol".into(),
                ..NewUser::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(carol.pk, 3, "a deleted user's number is never given again");
    env.dir.users().set_password(&env.audit, "alice", PW).await.unwrap();
    let (token, _) = env.sign_in("alice", PW).await;
    let (_, user) = env.dir.sessions().get(&token).await.unwrap().unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(env.assert_intact().await, 7);
}

async fn check_session_storage(db: &TestDb) {
    let env = env(db).await;
    let alice = env.user_with_password("alice", PW).await;
    let bob = env.user_with_password("bob", PW).await;

    // Round trip, with every optional field set and unset.
    let mut full = a_session(alice.id, "tok-a1", T0);
    full.client_ip = Some("2001:db8::1".into());
    full.user_agent = Some("Agent \"quoted\" ✓".into());
    full.amr = vec!["pwd".into(), "otp".into()];
    let bare = a_session(alice.id, "tok-a2", T0.plus_seconds(1));
    let bobs = a_session(bob.id, "tok-b1", T0.plus_seconds(2));
    let mut tx = env.store.begin().await.unwrap();
    for s in [&full, &bare, &bobs] {
        tx.insert_session(s).await.unwrap();
    }
    tx.commit().await.unwrap();
    let got = env.store.session_by_hash(&full.token_hash).await.unwrap().unwrap();
    assert_eq!(got.id, full.id);
    assert_eq!(got.user_id, alice.id);
    assert_eq!(got.token_hash, full.token_hash);
    assert_eq!(got.csrf_token, "csrf-tok-a1");
    assert_eq!(got.created_at, T0);
    assert_eq!(got.last_seen, T0);
    assert_eq!(got.expires_at, T0.plus_seconds(DAY));
    assert_eq!(got.client_ip.as_deref(), Some("2001:db8::1"));
    assert_eq!(got.user_agent.as_deref(), Some("Agent \"quoted\" ✓"));
    assert_eq!(got.amr, vec!["pwd", "otp"]);
    let got = env.store.session_by_hash(&bare.token_hash).await.unwrap().unwrap();
    assert_eq!((got.client_ip, got.user_agent), (None, None));
    assert!(
        env.store
            .session_by_hash(&sha256_hex(b"unknown"))
            .await
            .unwrap()
            .is_none()
    );

    // Newest first, all or one user's.
    let ids = |v: Vec<Session>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(env.store.sessions(None).await.unwrap()),
        vec![bobs.id, bare.id, full.id]
    );
    assert_eq!(
        ids(env.store.sessions(Some(alice.id)).await.unwrap()),
        vec![bare.id, full.id]
    );
    assert!(env.store.sessions(Some(Uuid::new_v4())).await.unwrap().is_empty());

    // A token hash is unique; a session needs its user.
    let mut tx = env.store.begin().await.unwrap();
    let mut clash = a_session(bob.id, "tok-a1", T0);
    assert!(matches!(tx.insert_session(&clash).await, Err(StoreError::Conflict(_))));
    drop(tx);
    let mut tx = env.store.begin().await.unwrap();
    clash = a_session(Uuid::new_v4(), "tok-orphan", T0);
    assert!(matches!(tx.insert_session(&clash).await, Err(StoreError::Conflict(_))));
    drop(tx);

    // Touching moves last_seen forward only.
    env.store.touch_session(full.id, T0.plus_seconds(90)).await.unwrap();
    env.store.touch_session(full.id, T0.plus_seconds(30)).await.unwrap();
    env.store
        .touch_session(Uuid::new_v4(), T0.plus_seconds(30))
        .await
        .unwrap();
    let got = env.store.session_by_hash(&full.token_hash).await.unwrap().unwrap();
    assert_eq!(got.last_seen, T0.plus_seconds(90));

    // Deleting: one, then a user's but one.
    let extra = a_session(alice.id, "tok-a3", T0.plus_seconds(3));
    let mut tx = env.store.begin().await.unwrap();
    tx.insert_session(&extra).await.unwrap();
    assert!(tx.delete_session(bare.id).await.unwrap());
    assert!(!tx.delete_session(bare.id).await.unwrap());
    assert_eq!(tx.delete_user_sessions(alice.id, Some(extra.id)).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(ids(env.store.sessions(Some(alice.id)).await.unwrap()), vec![extra.id]);
    let mut tx = env.store.begin().await.unwrap();
    assert_eq!(tx.delete_user_sessions(alice.id, None).await.unwrap(), 1);
    assert_eq!(tx.delete_user_sessions(alice.id, None).await.unwrap(), 0);
    drop(tx);
    // Rolled back with the transaction.
    assert_eq!(env.session_count(alice.id).await, 1);
    assert_eq!(env.session_count(bob.id).await, 1);

    // Flows: round trip, update, delete.
    let flow = FlowRecord {
        id: Uuid::new_v4(),
        token_hash: sha256_hex(b"flow-1"),
        state: json!({"stage": "identify", "nested": {"list": [1, "x", null]}}),
        created_at: T0,
        expires_at: T0.plus_seconds(1800),
    };
    let mut tx = env.store.begin().await.unwrap();
    tx.insert_flow(&flow).await.unwrap();
    tx.commit().await.unwrap();
    let got = env.store.flow_by_hash(&flow.token_hash).await.unwrap().unwrap();
    assert_eq!(got.id, flow.id);
    assert_eq!(got.state, flow.state);
    assert_eq!((got.created_at, got.expires_at), (T0, T0.plus_seconds(1800)));
    let mut changed = flow.clone();
    changed.state = json!({"stage": "password"});
    let mut tx = env.store.begin().await.unwrap();
    tx.update_flow(&changed).await.unwrap();
    tx.commit().await.unwrap();
    let got = env.store.flow_by_hash(&flow.token_hash).await.unwrap().unwrap();
    assert_eq!(got.state, json!({"stage": "password"}));
    let mut tx = env.store.begin().await.unwrap();
    tx.delete_flow(flow.id).await.unwrap();
    assert!(matches!(tx.update_flow(&changed).await, Err(StoreError::Conflict(_))));
    drop(tx);
    let mut tx = env.store.begin().await.unwrap();
    tx.delete_flow(flow.id).await.unwrap();
    tx.delete_flow(flow.id).await.unwrap();
    tx.commit().await.unwrap();
    assert!(env.store.flow_by_hash(&flow.token_hash).await.unwrap().is_none());

    // Throttle records: upsert by key, read by one or two keys, locks, staleness.
    let t = T0.plus_seconds(100);
    let (a, b, c) = ("acct:a", "ip:192.0.2.1", "acct:c");
    let mut tx = env.store.begin().await.unwrap();
    tx.put_throttle(&a_throttle(a, 1, T0, None)).await.unwrap();
    tx.put_throttle(&a_throttle(b, 2, T0, None)).await.unwrap();
    let mut locked = a_throttle(c, 10, T0, Some(t));
    locked.last_failure = T0.plus_seconds(5);
    tx.put_throttle(&locked).await.unwrap();
    let mut a2 = a_throttle(a, 2, T0, None);
    a2.last_failure = T0.plus_seconds(7);
    tx.put_throttle(&a2).await.unwrap();
    tx.commit().await.unwrap();
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(env.store.throttle_records(&keys(&[a])).await.unwrap(), vec![a2.clone()]);
    let two = env.store.throttle_records(&keys(&[b, a])).await.unwrap();
    assert_eq!(two.len(), 2);
    assert!(two.contains(&a2));
    assert!(two.contains(&a_throttle(b, 2, T0, None)));
    assert_eq!(
        env.store.throttle_records(&keys(&["acct:nobody", c])).await.unwrap(),
        vec![locked.clone()]
    );
    assert!(env.store.throttle_records(&[]).await.unwrap().is_empty());
    // Values are bound, never spliced into the SQL.
    assert!(
        env.store
            .throttle_records(&keys(&["x') OR ('1' = '1"]))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(env.store.ended_locks(t.minus_seconds(1)).await.unwrap().is_empty());
    assert_eq!(env.store.ended_locks(t).await.unwrap(), vec![locked.clone()]);

    let mut tx = env.store.begin().await.unwrap();
    assert_eq!(tx.delete_stale_throttles(T0).await.unwrap(), 0);
    // Both unlocked records started at T0; the locked one stays whatever its age.
    assert_eq!(tx.delete_stale_throttles(T0.plus_seconds(1)).await.unwrap(), 2);
    tx.delete_throttle(c).await.unwrap();
    tx.delete_throttle("acct:nobody").await.unwrap();
    tx.commit().await.unwrap();
    assert!(env.store.throttle_records(&keys(&[a, b, c])).await.unwrap().is_empty());
}

async fn check_sessions(db: &TestDb) {
    let env = env(db).await;
    let policy = env.dir.session_policy().clone();
    let alice = env.user_with_password("alice", PW).await;
    let bob = env.user_with_password("bob", PW).await;

    // Signing in.
    let start = env.now();
    let (token, session) = env.sign_in("alice", PW).await;
    assert_eq!(session.token_hash, sha256_hex(token.as_bytes()));
    assert_ne!(session.token_hash, token);
    let stored = env.store.session_by_hash(&session.token_hash).await.unwrap().unwrap();
    assert_eq!(stored.id, session.id);
    assert_eq!(stored.csrf_token, session.csrf_token);
    assert_eq!(stored.created_at, start);
    assert_eq!(stored.expires_at, start.plus_seconds(policy.absolute_secs));
    assert_eq!(stored.amr, vec!["pwd"]);
    assert_eq!(stored.client_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(stored.user_agent.as_deref(), Some("Mozilla/5.0 (conformance)"));
    assert_eq!(
        env.store.user_by_id(alice.id).await.unwrap().unwrap().last_login,
        Some(start)
    );
    let (s, u) = env.dir.sessions().get(&token).await.unwrap().unwrap();
    assert_eq!((s.id, u.username.as_str()), (session.id, "alice"));
    assert!(env.dir.sessions().get("not-the-token").await.unwrap().is_none());
    assert!(env.dir.sessions().get("").await.unwrap().is_none());
    assert!(env.dir.sessions().get(&"x".repeat(500)).await.unwrap().is_none());
    let logins = env.events_of(action::LOGIN).await;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].user.as_deref(), Some("alice"));
    assert_eq!(logins[0].client_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(logins[0].context["session"], json!(session.id));

    // Activity keeps a session alive; within a minute it is not written back.
    env.clock.advance_seconds(30);
    env.dir.sessions().get(&token).await.unwrap().unwrap();
    let last_seen = |id: Uuid| {
        let store = env.store.clone();
        async move {
            store
                .sessions(None)
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.id == id)
                .map(|s| s.last_seen)
        }
    };
    assert_eq!(last_seen(session.id).await, Some(start));
    env.clock.advance_seconds(31);
    let (s, _) = env.dir.sessions().get(&token).await.unwrap().unwrap();
    assert_eq!(s.last_seen, start.plus_seconds(61));
    assert_eq!(last_seen(session.id).await, Some(start.plus_seconds(61)));
    for _ in 0..2 {
        env.clock.advance_seconds(policy.idle_secs - 3600);
        assert!(env.dir.sessions().get(&token).await.unwrap().is_some());
    }
    assert!(env.now() > start.plus_seconds(policy.idle_secs));
    // Idle past the limit: gone for good, even if used again.
    env.clock.advance_seconds(policy.idle_secs);
    assert!(env.dir.sessions().get(&token).await.unwrap().is_none());
    assert!(env.dir.sessions().list(Some("alice")).await.unwrap().is_empty());
    assert_eq!(env.session_count(alice.id).await, 1, "until purged");

    // Past the absolute end, however active.
    let start = env.now();
    let (token, _) = env.sign_in("alice", PW).await;
    let step = policy.idle_secs - 60;
    while env.now().plus_seconds(step) < start.plus_seconds(policy.absolute_secs) {
        env.clock.advance_seconds(step);
        assert!(env.dir.sessions().get(&token).await.unwrap().is_some());
    }
    env.clock.set(start.plus_seconds(policy.absolute_secs).minus_seconds(1));
    assert!(env.dir.sessions().get(&token).await.unwrap().is_some());
    env.clock.advance_seconds(1);
    assert!(env.dir.sessions().get(&token).await.unwrap().is_none());
    let (purged_sessions, _) = env.dir.sessions().purge_expired().await.unwrap();
    assert_eq!(purged_sessions, 2);
    assert_eq!(env.session_count(alice.id).await, 0);

    // Listing: live sessions with their owner's name, newest first.
    let (a1, s_a1) = env.sign_in("alice", PW).await;
    env.clock.advance_seconds(5);
    let (_, s_b1) = env.sign_in("bob", PW).await;
    env.clock.advance_seconds(5);
    let (a2, s_a2) = env.sign_in("alice", PW).await;
    let listed: Vec<(Uuid, String)> = env
        .dir
        .sessions()
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.session.id, l.username))
        .collect();
    assert_eq!(
        listed,
        vec![
            (s_a2.id, "alice".to_string()),
            (s_b1.id, "bob".to_string()),
            (s_a1.id, "alice".to_string())
        ]
    );
    assert_eq!(env.dir.sessions().list(Some("ALICE")).await.unwrap().len(), 2);

    // Revoking someone else's session as its "owner": not found, nothing ends.
    let web = Audit::new(Actor::User("bob".into()), Some("192.0.2.8".into()));
    let refused = env.dir.sessions().revoke(&web, s_a1.id, Some(bob.id)).await;
    assert!(matches!(refused, Err(Error::NotFound { .. })), "{refused:?}");
    assert_eq!(env.session_count(alice.id).await, 2);
    assert!(env.events_of(action::SESSION_REVOKED).await.is_empty());
    let missing = env.dir.sessions().revoke(&env.audit, Uuid::new_v4(), None).await;
    assert!(matches!(missing, Err(Error::NotFound { .. })), "{missing:?}");
    // By its owner: ends.
    let own = Audit::new(Actor::User("alice".into()), None);
    env.dir.sessions().revoke(&own, s_a1.id, Some(alice.id)).await.unwrap();
    assert!(env.dir.sessions().get(&a1).await.unwrap().is_none());
    assert!(env.dir.sessions().get(&a2).await.unwrap().is_some());
    let revoked = env.events_of(action::SESSION_REVOKED).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].user.as_deref(), Some("alice"));
    assert_eq!(revoked[0].actor, "user:alice");

    // Signing out.
    env.dir.sessions().end(&own, &s_a2, "alice").await.unwrap();
    assert!(env.dir.sessions().get(&a2).await.unwrap().is_none());
    env.dir.sessions().end(&own, &s_a2, "alice").await.unwrap();
    let logouts = env.events_of(action::LOGOUT).await;
    assert_eq!(logouts.len(), 1, "a second sign-out writes nothing");
    assert_eq!(logouts[0].user.as_deref(), Some("alice"));
    assert_eq!(logouts[0].context["session"], json!(s_a2.id));

    // An operator ends every session of a user.
    env.sign_in("bob", PW).await;
    assert_eq!(env.dir.sessions().revoke_user(&env.audit, "bob").await.unwrap(), 2);
    assert_eq!(env.session_count(bob.id).await, 0);
    assert_eq!(env.dir.sessions().revoke_user(&env.audit, "bob").await.unwrap(), 0);
    let revoked = env.events_of(action::SESSION_REVOKED).await;
    assert_eq!(revoked.len(), 2);
    assert_eq!(revoked[1].user.as_deref(), Some("bob"));
    assert_eq!(revoked[1].context["sessions"], json!(2));
    assert!(matches!(
        env.dir.sessions().revoke_user(&env.audit, "nobody").await,
        Err(Error::NotFound { .. })
    ));

    // Disabling a user ends their sessions.
    let (b1, _) = env.sign_in("bob", PW).await;
    let (b2, _) = env.sign_in("bob", PW).await;
    let (a3, _) = env.sign_in("alice", PW).await;
    env.dir.users().set_active(&env.audit, "bob", false).await.unwrap();
    assert!(env.dir.sessions().get(&b1).await.unwrap().is_none());
    assert!(env.dir.sessions().get(&b2).await.unwrap().is_none());
    assert_eq!(env.session_count(bob.id).await, 0);
    assert!(env.dir.sessions().get(&a3).await.unwrap().is_some());
    let disabled = env.events_of(action::MODEL_UPDATED).await.pop().unwrap();
    assert_eq!(disabled.user.as_deref(), Some("bob"));
    assert_eq!(disabled.context["sessions_ended"], json!(2));
    env.dir.users().set_active(&env.audit, "bob", true).await.unwrap();

    // An operator setting a password ends every session.
    env.sign_in("alice", PW).await;
    assert_eq!(env.session_count(alice.id).await, 2);
    let new_pw = "another sturdy passphrase 43";
    env.dir.users().set_password(&env.audit, "alice", new_pw).await.unwrap();
    assert_eq!(env.session_count(alice.id).await, 0);
    assert!(env.dir.sessions().get(&a3).await.unwrap().is_none());
    let set = env.events_of(action::PASSWORD_SET).await.pop().unwrap();
    assert_eq!(set.user.as_deref(), Some("alice"));
    assert_eq!(set.context["sessions_ended"], json!(2));

    // Changing one's own password keeps this session and ends the others.
    let (mine, my_session) = env.sign_in("alice", new_pw).await;
    let (other, _) = env.sign_in("alice", new_pw).await;
    let (bobs, _) = env.sign_in("bob", PW).await;
    let wrong = env
        .dir
        .users()
        .change_own_password(&own, &my_session, "not my password", PW)
        .await;
    assert!(matches!(wrong, Err(Error::Invalid { .. })), "{wrong:?}");
    assert_eq!(env.session_count(alice.id).await, 2);
    env.dir
        .users()
        .change_own_password(&own, &my_session, new_pw, PW)
        .await
        .unwrap();
    assert!(env.dir.sessions().get(&mine).await.unwrap().is_some());
    assert!(env.dir.sessions().get(&other).await.unwrap().is_none());
    assert!(env.dir.sessions().get(&bobs).await.unwrap().is_some());
    let set = env.events_of(action::PASSWORD_SET).await.pop().unwrap();
    assert_eq!(set.user.as_deref(), Some("alice"));
    assert_eq!(set.actor, "user:alice");
    assert_eq!(set.context["sessions_ended"], json!(1));
    let hash = env
        .store
        .user_by_id(alice.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert_eq!(hasher().verify(PW, &hash).await.unwrap(), PasswordVerdict::Match);

    // Deleting a user deletes their sessions.
    assert_eq!(env.session_count(bob.id).await, 1);
    env.dir.users().delete(&env.audit, "bob", false).await.unwrap();
    assert!(env.dir.sessions().get(&bobs).await.unwrap().is_none());
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(bob.id.to_string())
            .fetch_one(&db.raw)
            .await
            .unwrap(),
        0
    );

    let actions = env.actions().await;
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(count(action::LOGIN), 13);
    assert!(
        env.events_of(action::LOGIN)
            .await
            .iter()
            .all(|e| e.actor == "system" && e.user.is_some())
    );
    env.assert_intact().await;
}

async fn check_password_checks(db: &TestDb) {
    let env = env(db).await;
    let alice = env.user_with_password("alice", PW).await;
    env.user_with_password("dave", PW).await;
    env.dir.users().set_active(&env.audit, "dave", false).await.unwrap();
    env.user("nopass").await;
    let audit = anonymous(None);

    let attempts = [
        ("mallory", "guess-unknown-1", "unknown_user", None),
        ("dave", PW, "user_disabled", Some("dave")),
        ("alice", "guess-wrong-2", "wrong_password", Some("alice")),
        ("nopass", "guess-nopass-3", "no_password", Some("nopass")),
    ];
    for (identifier, password, reason, user) in attempts {
        let before = env.events_of(action::LOGIN_FAILED).await.len();
        let check = env
            .dir
            .sign_in()
            .check_password(&audit, identifier, password)
            .await
            .unwrap();
        assert!(matches!(check, PasswordCheck::Rejected), "{check:?}");
        let failed = env.events_of(action::LOGIN_FAILED).await;
        assert_eq!(failed.len(), before + 1, "{identifier}");
        let e = failed.last().unwrap();
        assert_eq!(e.context["reason"], json!(reason));
        assert_eq!(e.context["identifier"], json!(identifier));
        assert_eq!(e.user.as_deref(), user);
        assert_eq!(e.actor, "system");
        // A rejected attempt starts no session.
        let none = env
            .dir
            .sign_in()
            .start_password_session(&audit, check, &browser())
            .await
            .unwrap();
        assert!(none.is_none());
    }
    let everything = serde_json::to_string(&env.events().await).unwrap();
    for secret in ["guess-unknown-1", "guess-wrong-2", "guess-nopass-3", PW] {
        assert!(!everything.contains(secret), "an event holds a password");
    }
    assert!(env.events_of(action::LOGIN).await.is_empty());
    assert!(env.store.sessions(None).await.unwrap().is_empty());
    // Each failure counted against its account.
    let acct = format!("acct:{}", alice.id);
    let rec = env.store.throttle_records(&[acct]).await.unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].failures, 1);
    let unknown = env
        .store
        .throttle_records(&[gatehouse_core::throttle::unknown_account_key("mallory")])
        .await
        .unwrap();
    assert_eq!(unknown.len(), 1);

    // An email address finds its user; the right password is accepted.
    let check = env
        .dir
        .sign_in()
        .check_password(&audit, "ALICE@example.com", PW)
        .await
        .unwrap();
    let PasswordCheck::Accepted { user, rehash, .. } = check else {
        panic!("expected acceptance: {check:?}");
    };
    assert_eq!(user.id, alice.id);
    assert!(rehash.is_none());

    // A hash made with other parameters is upgraded when the session starts.
    let erin = env.user_with_password("erin", PW).await;
    let old_hasher = PasswordHasher::new(
        HashParams {
            m_cost_kib: 128,
            t_cost: 1,
            p_cost: 1,
        },
        1,
    )
    .unwrap();
    let old_hash = old_hasher.hash(PW).await.unwrap();
    assert!(old_hash.contains("m=128,"));
    let mut tx = env.store.begin().await.unwrap();
    let mut u = tx.user_by_id(erin.id).await.unwrap().unwrap();
    u.password_hash = Some(old_hash.clone());
    tx.update_user(&u).await.unwrap();
    tx.commit().await.unwrap();
    let changed_at = u.password_changed_at;
    let check = env.dir.sign_in().check_password(&audit, "erin", PW).await.unwrap();
    let PasswordCheck::Accepted {
        rehash: Some(ref fresh),
        ..
    } = check
    else {
        panic!("expected acceptance with a new hash: {check:?}");
    };
    assert!(fresh.contains("m=64,t=1,p=1$"), "{fresh}");
    // Not stored until the session starts.
    assert_eq!(
        env.store.user_by_id(erin.id).await.unwrap().unwrap().password_hash,
        Some(old_hash)
    );
    env.dir
        .sign_in()
        .start_password_session(&audit, check, &browser())
        .await
        .unwrap()
        .unwrap();
    let stored = env.store.user_by_id(erin.id).await.unwrap().unwrap();
    let hash = stored.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
    assert_eq!(hasher().verify(PW, &hash).await.unwrap(), PasswordVerdict::Match);
    assert_eq!(stored.password_changed_at, changed_at);
    assert_eq!(stored.last_login, Some(env.now()));
    env.assert_intact().await;
}

async fn check_sign_in_throttling(db: &TestDb) {
    let env = env(db).await;
    let policy = env.dir.throttle_policy().clone();
    let alice = env.user_with_password("alice", PW).await;
    let ip = "198.51.100.9";
    let audit = anonymous(Some(ip));
    let acct = format!("acct:{}", alice.id);
    let ip_key = format!("ip:{ip}");
    let failed = || async { env.events_of(action::LOGIN_FAILED).await.len() };
    let attempt = |password: &'static str| {
        let (dir, audit) = (env.dir.clone(), audit.clone());
        async move { dir.sign_in().check_password(&audit, "alice", password).await.unwrap() }
    };

    for _ in 0..policy.account.delay_after {
        assert!(matches!(attempt("wrong").await, PasswordCheck::Rejected));
    }
    let before = failed().await;
    let throttled = attempt("wrong").await;
    assert!(
        matches!(throttled, PasswordCheck::Throttled { retry_after_secs: 1 }),
        "{throttled:?}"
    );
    assert!(matches!(
        attempt(PW).await,
        PasswordCheck::Throttled { retry_after_secs: 1 }
    ));
    assert_eq!(failed().await, before, "a throttled attempt is not a failure");
    let records = env
        .store
        .throttle_records(&[acct.clone(), ip_key.clone()])
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.failures == 3));

    // Waiting out each delay, up to the lock.
    for n in (policy.account.delay_after + 1)..=policy.account.lock_after {
        env.clock.advance_seconds(policy.max_delay_secs + 1);
        assert!(matches!(attempt("wrong").await, PasswordCheck::Rejected), "failure {n}");
    }
    let locked_at = env.now();
    let locks = env.events_of(action::LOGIN_LOCKED).await;
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0].user.as_deref(), Some("alice"));
    assert_eq!(locks[0].context["key"], json!(acct));
    assert_eq!(locks[0].client_ip.as_deref(), Some(ip));
    let rec = &env.store.throttle_records(std::slice::from_ref(&acct)).await.unwrap()[0];
    assert_eq!(rec.failures, policy.account.lock_after);
    assert_eq!(rec.locked_until, Some(locked_at.plus_seconds(policy.lock_secs)));

    // Locked: even the right password waits, and costs no event.
    let before = failed().await;
    let check = attempt(PW).await;
    assert!(
        matches!(check, PasswordCheck::Throttled { retry_after_secs } if retry_after_secs == policy.lock_secs),
        "{check:?}"
    );
    env.clock.advance_seconds(policy.lock_secs - 1);
    assert!(matches!(
        attempt(PW).await,
        PasswordCheck::Throttled { retry_after_secs: 1 }
    ));
    assert_eq!(failed().await, before);
    assert!(env.events_of(action::LOGIN_UNLOCKED).await.is_empty());

    // The lock ends: announced once, and the right password works.
    env.clock.advance_seconds(1);
    let check = attempt(PW).await;
    assert!(matches!(check, PasswordCheck::Accepted { .. }), "{check:?}");
    let unlocked = env.events_of(action::LOGIN_UNLOCKED).await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(unlocked[0].context["key"], json!(acct));
    assert!(
        env.store
            .throttle_records(std::slice::from_ref(&acct))
            .await
            .unwrap()
            .is_empty()
    );
    env.dir
        .sign_in()
        .start_password_session(&audit, check, &browser())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(attempt(PW).await, PasswordCheck::Accepted { .. }));
    assert_eq!(env.events_of(action::LOGIN_UNLOCKED).await.len(), 1);
    // The address keeps its (now stale) count until housekeeping drops it.
    let ip_rec = env.store.throttle_records(std::slice::from_ref(&ip_key)).await.unwrap();
    assert_eq!(ip_rec[0].failures, policy.account.lock_after);
    let mut tx = env.store.begin().await.unwrap();
    let stale = tx
        .delete_stale_throttles(env.now().minus_seconds(policy.window_secs))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stale, 1);

    // A lock that ended unnoticed is announced by housekeeping.
    let mut tx = env.store.begin().await.unwrap();
    tx.put_throttle(&a_throttle(
        "acct:someone",
        policy.account.lock_after,
        env.now(),
        Some(env.now().plus_seconds(10)),
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    env.dir.sessions().purge_expired().await.unwrap();
    assert_eq!(env.events_of(action::LOGIN_UNLOCKED).await.len(), 1);
    env.clock.advance_seconds(10);
    env.dir.sessions().purge_expired().await.unwrap();
    let unlocked = env.events_of(action::LOGIN_UNLOCKED).await;
    assert_eq!(unlocked.len(), 2);
    assert_eq!(unlocked[1].context["key"], json!("acct:someone"));
    assert!(env.store.ended_locks(env.now()).await.unwrap().is_empty());

    // Per address: failures against many accounts add up on the address key.
    let strict = env.dir.clone().with_auth_policies(
        env.dir.session_policy().clone(),
        ThrottlePolicy {
            client: Limits {
                delay_after: 2,
                lock_after: 4,
            },
            ..ThrottlePolicy::default()
        },
    );
    let elsewhere = anonymous(Some("203.0.113.5"));
    for name in ["u1", "u2"] {
        let check = strict.sign_in().check_password(&elsewhere, name, "x").await.unwrap();
        assert!(matches!(check, PasswordCheck::Rejected), "{check:?}");
    }
    let check = strict.sign_in().check_password(&elsewhere, "u3", "x").await.unwrap();
    assert!(
        matches!(check, PasswordCheck::Throttled { retry_after_secs: 1 }),
        "{check:?}"
    );
    // Another address is not affected.
    let check = strict
        .sign_in()
        .check_password(&anonymous(Some("203.0.113.6")), "alice", PW)
        .await
        .unwrap();
    assert!(matches!(check, PasswordCheck::Accepted { .. }), "{check:?}");
    let rec = env
        .store
        .throttle_records(&["ip:203.0.113.5".to_string()])
        .await
        .unwrap();
    assert_eq!(rec[0].failures, 2);
    env.assert_intact().await;
}

async fn check_flows(db: &TestDb) {
    let env = env(db).await;
    let (token, flow) = env
        .dir
        .sign_in()
        .begin_flow(FlowKind::Login, Some("/application/o/authorize/?client_id=x"))
        .await
        .unwrap();
    assert_eq!(flow.record.token_hash, sha256_hex(token.as_bytes()));
    assert_eq!(flow.record.created_at, T0);
    assert_eq!(flow.record.expires_at, T0.plus_seconds(FLOW_LIFETIME_SECS));
    let mut loaded = env.dir.sign_in().flow(&token).await.unwrap().unwrap();
    assert_eq!(loaded.record.id, flow.record.id);
    assert_eq!(loaded.state.kind, FlowKind::Login);
    assert_eq!(loaded.state.stage, Stage::Identify);
    assert_eq!(loaded.state.next, "/application/o/authorize/?client_id=x");
    assert_eq!(loaded.state.csrf, flow.state.csrf);
    assert!(env.dir.sign_in().flow("not-the-token").await.unwrap().is_none());
    assert!(env.dir.sign_in().flow("").await.unwrap().is_none());
    let (_, elsewhere) = env
        .dir
        .sign_in()
        .begin_flow(FlowKind::Login, Some("https://evil.example/"))
        .await
        .unwrap();
    assert_eq!(elsewhere.state.next, "/if/user/");
    let (_, recovery) = env.dir.sign_in().begin_flow(FlowKind::Recovery, None).await.unwrap();
    assert_eq!(recovery.state.stage, Stage::SetPassword);

    // A stage change persists.
    env.clock.advance_seconds(60);
    loaded.state.stage = Stage::Password;
    loaded.state.identifier = "alice".into();
    env.dir.sign_in().save_flow(&mut loaded).await.unwrap();
    let again = env.dir.sign_in().flow(&token).await.unwrap().unwrap();
    assert_eq!(again.state.stage, Stage::Password);
    assert_eq!(again.state.identifier, "alice");
    assert_eq!(again.record.expires_at, flow.record.expires_at);

    // Ending it.
    env.dir.sign_in().end_flow(&again).await.unwrap();
    assert!(env.dir.sign_in().flow(&token).await.unwrap().is_none());
    assert!(env.store.flow_by_hash(&flow.record.token_hash).await.unwrap().is_none());
    assert!(
        env.dir.sign_in().save_flow(&mut loaded).await.is_err(),
        "a flow ended meanwhile cannot be saved"
    );

    // Expiry.
    let (late, late_flow) = env.dir.sign_in().begin_flow(FlowKind::Login, None).await.unwrap();
    env.clock.advance_seconds(FLOW_LIFETIME_SECS - 1);
    assert!(env.dir.sign_in().flow(&late).await.unwrap().is_some());
    env.clock.advance_seconds(1);
    assert!(env.dir.sign_in().flow(&late).await.unwrap().is_none());
    assert!(
        env.store
            .flow_by_hash(&late_flow.record.token_hash)
            .await
            .unwrap()
            .is_some(),
        "until purged"
    );
    assert!(env.events().await.is_empty(), "flows are not audited");
}

async fn check_purge_expired(db: &TestDb) {
    let env = env(db).await;
    let policy = env.dir.session_policy().clone();
    let alice = env.user_with_password("alice", PW).await;
    let a = env.now();
    let (idle, _) = env.sign_in("alice", PW).await;
    env.clock.advance_seconds(policy.idle_secs - 3600);
    let (live, _) = env.sign_in("alice", PW).await;
    let (old_flow, old) = env.dir.sign_in().begin_flow(FlowKind::Login, None).await.unwrap();
    env.clock.set(a.plus_seconds(policy.idle_secs));
    let (new_flow, _) = env.dir.sign_in().begin_flow(FlowKind::Login, None).await.unwrap();
    // Active, but at its absolute end.
    let mut ending = a_session(alice.id, "ending", a);
    ending.last_seen = env.now();
    ending.expires_at = env.now();
    let mut tx = env.store.begin().await.unwrap();
    tx.insert_session(&ending).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(env.session_count(alice.id).await, 3);

    let events = env.event_count().await;
    assert_eq!(env.dir.sessions().purge_expired().await.unwrap(), (2, 1));
    assert_eq!(env.event_count().await, events, "purging is housekeeping");
    let left = env.store.sessions(Some(alice.id)).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].token_hash, sha256_hex(live.as_bytes()));
    assert!(env.dir.sessions().get(&idle).await.unwrap().is_none());
    assert!(env.dir.sessions().get(&live).await.unwrap().is_some());
    assert!(env.store.flow_by_hash(&old.record.token_hash).await.unwrap().is_none());
    assert!(env.dir.sign_in().flow(&old_flow).await.unwrap().is_none());
    assert!(env.dir.sign_in().flow(&new_flow).await.unwrap().is_some());
    assert_eq!(env.dir.sessions().purge_expired().await.unwrap(), (0, 0));
}

async fn check_recovery_flow(db: &TestDb) {
    let env = env(db).await;
    let alice = env.user_with_password("alice", PW).await;
    let (old_token, _) = env.sign_in("alice", PW).await;
    // A failure on record, cleared by the recovery.
    assert!(matches!(
        env.dir
            .sign_in()
            .check_password(&anonymous(None), "alice", "wrong")
            .await
            .unwrap(),
        PasswordCheck::Rejected
    ));
    let acct = format!("acct:{}", alice.id);
    assert_eq!(
        env.store
            .throttle_records(std::slice::from_ref(&acct))
            .await
            .unwrap()
            .len(),
        1
    );
    let (key, record) = env.dir.recovery().create_key(&env.audit, "alice", 60).await.unwrap();
    let by_hash = env
        .store
        .recovery_key_by_hash(&record.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((by_hash.id, by_hash.user_id), (record.id, alice.id));
    assert!(
        env.store
            .recovery_key_by_hash(&sha256_hex(b"nope"))
            .await
            .unwrap()
            .is_none()
    );

    // Previewing does not spend the key.
    for _ in 0..2 {
        let (hash, user) = env.dir.recovery().key_user(&key).await.unwrap().unwrap();
        assert_eq!(hash, record.token_hash);
        assert_eq!(user.id, alice.id);
    }
    assert!(env.dir.recovery().key_user("not-a-key").await.unwrap().is_none());
    assert!(env.dir.recovery().key_user("").await.unwrap().is_none());
    assert_eq!(
        env.store
            .recovery_key_by_hash(&record.token_hash)
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );

    // Completing it: key spent, password set, other sessions ended, signed in.
    env.clock.advance_seconds(120);
    let new_pw = "a recovered passphrase 44";
    let recover = Audit::new(Actor::System, Some("192.0.2.9".into()));
    let (token, session, user) = env
        .dir
        .recovery()
        .complete(&recover, &record.token_hash, new_pw, &browser())
        .await
        .unwrap();
    assert_eq!(user.id, alice.id);
    assert_eq!(session.user_id, alice.id);
    assert_eq!(
        env.store
            .recovery_key_by_hash(&record.token_hash)
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(env.now())
    );
    let stored = env.store.user_by_id(alice.id).await.unwrap().unwrap();
    let hash = stored.password_hash.clone().unwrap();
    assert_eq!(hasher().verify(new_pw, &hash).await.unwrap(), PasswordVerdict::Match);
    assert_eq!(stored.password_changed_at, Some(env.now()));
    assert!(env.dir.sessions().get(&old_token).await.unwrap().is_none());
    let (s, u) = env.dir.sessions().get(&token).await.unwrap().unwrap();
    assert_eq!((s.id, u.id), (session.id, alice.id));
    assert_eq!(env.session_count(alice.id).await, 1);
    assert!(env.store.throttle_records(&[acct]).await.unwrap().is_empty());
    assert!(env.dir.recovery().key_user(&key).await.unwrap().is_none());
    let tail: Vec<String> = env.actions().await.into_iter().rev().take(3).collect();
    assert_eq!(
        tail,
        vec![action::LOGIN, action::PASSWORD_SET, action::RECOVERY_KEY_USED]
    );
    assert_eq!(
        env.events_of(action::PASSWORD_SET).await.pop().unwrap().user.as_deref(),
        Some("alice")
    );

    // The same key again: refused, nothing changes.
    let events = env.event_count().await;
    let again = env
        .dir
        .recovery()
        .complete(&recover, &record.token_hash, "yet another passphrase 45", &browser())
        .await;
    assert!(matches!(again, Err(Error::Invalid { .. })), "{again:?}");
    assert_eq!(env.event_count().await, events);
    assert_eq!(
        env.store.user_by_id(alice.id).await.unwrap().unwrap().password_hash,
        Some(hash.clone())
    );
    assert_eq!(env.session_count(alice.id).await, 1);
    let unknown = env
        .dir
        .recovery()
        .complete(&recover, &sha256_hex(b"nope"), "yet another passphrase 45", &browser())
        .await;
    assert!(matches!(unknown, Err(Error::Invalid { .. })), "{unknown:?}");

    // An expired key: refused, left unused, nothing changes.
    let (expiring, expiring_record) = env.dir.recovery().create_key(&env.audit, "alice", 1).await.unwrap();
    env.clock.advance_seconds(60);
    assert!(env.dir.recovery().key_user(&expiring).await.unwrap().is_none());
    let events = env.event_count().await;
    let expired = env
        .dir
        .recovery()
        .complete(
            &recover,
            &expiring_record.token_hash,
            "yet another passphrase 45",
            &browser(),
        )
        .await;
    assert!(matches!(expired, Err(Error::Invalid { .. })), "{expired:?}");
    assert_eq!(env.event_count().await, events);
    assert_eq!(
        env.store
            .recovery_key_by_hash(&expiring_record.token_hash)
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );
    assert_eq!(
        env.store.user_by_id(alice.id).await.unwrap().unwrap().password_hash,
        Some(hash)
    );
    assert_eq!(env.session_count(alice.id).await, 1);
    env.assert_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_in_wal_mode() {
    let db = TestDb::sqlite().await;
    db.store.migrate().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&db.raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_database_is_shared_by_the_pool() {
    let store = Arc::new(
        SqlStore::connect(
            "sqlite::memory:",
            ConnectOptions {
                max_connections: Some(4),
                ..ConnectOptions::default()
            },
        )
        .await
        .unwrap(),
    );
    store.migrate().await.unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    let dir = directory(&store, &clock);
    dir.users()
        .create(
            &Audit::cli("tester"),
            NewUser {
                username: "alice".into(),
                ..NewUser::default()
            },
        )
        .await
        .unwrap();
    // Several reads at once use several connections; all see the same database.
    let (a, b, c, d) = tokio::join!(store.users(), store.users(), store.users(), store.users());
    for users in [a, b, c, d] {
        assert_eq!(users.unwrap().len(), 1);
    }
    assert_eq!(store.info().await.unwrap().pool_size, 4);
    // A second in-memory store is a different database.
    let other = SqlStore::open("sqlite::memory:").await.unwrap();
    assert!(other.users().await.unwrap().is_empty());
}

#[tokio::test]
async fn unsupported_and_unreachable_databases_are_reported_without_secrets() {
    let e = SqlStore::connect("mysql://root:hunter2@db/gh", ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)));
    let msg = e.to_string();
    assert!(msg.contains("unsupported database URL scheme 'mysql'"), "{msg}");
    assert!(!msg.contains("hunter2"));

    let e = SqlStore::connect(
        "postgres://gh:hunter2@127.0.0.1:1/gh",
        ConnectOptions {
            acquire_timeout: Some(Duration::from_secs(2)),
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn test_database_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "gh_x"),
        "postgres://postgres@127.0.0.1:5432/gh_x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "gh_x"),
        "postgres://u:p@h/gh_x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "gh_x"), "postgres://h/gh_x");
}

async fn check_forward_auth_handoff(db: &TestDb) {
    use gatehouse_core::ProviderSpec;
    use gatehouse_core::forward_auth::{CODE_LIFETIME_SECS, ProxyGrant};

    let env = env(db).await;
    env.user_with_password("alice", PW).await;
    env.user_with_password("bob", PW).await;
    let (token, _) = env.sign_in("alice", PW).await;
    let (session, alice) = env.dir.sessions().get(&token).await.unwrap().unwrap();
    let spec = ProviderSpec {
        kind: ProviderKind::Proxy,
        key: Some("wiki.test".into()),
        config: json!({"mode": "forward_single", "external_host": "http://wiki.test"}),
        shown: json!(null),
    };
    let app = env
        .dir
        .apps()
        .create_with(&env.audit, "wiki", "Wiki", None, Some(spec))
        .await
        .unwrap();
    let events_before = env.event_count().await;

    // The state, then a code for it; two concurrent redemptions: one wins.
    let state = env
        .dir
        .forward_auth()
        .begin_sign_in(app.id, "http://wiki.test/x", "http://wiki.test")
        .await
        .unwrap();
    let ProxyGrant::Granted { code, callback_origin } = env
        .dir
        .forward_auth()
        .grant_code(&session, &alice, &state)
        .await
        .unwrap()
    else {
        panic!("alice may use wiki");
    };
    assert_eq!(callback_origin, "http://wiki.test");
    let redeem = |code: String, state: String| {
        let dir = env.dir.clone();
        let audit = env.audit.clone();
        tokio::spawn(async move {
            dir.forward_auth()
                .redeem_code(&audit, &code, &state, app.id)
                .await
                .unwrap()
        })
    };
    let (a, b) = (redeem(code.clone(), state.clone()), redeem(code.clone(), state.clone()));
    let wins: Vec<_> = [a.await.unwrap(), b.await.unwrap()].into_iter().flatten().collect();
    assert_eq!(wins.len(), 1, "a code opens one session");
    let signed_in = &wins[0];
    assert_eq!(signed_in.rd, "http://wiki.test/x");
    assert_eq!(signed_in.expires_at, session.expires_at);
    assert_eq!(env.event_count().await, events_before + 1);
    assert_eq!(env.actions().await.last().unwrap(), "authorize_application");
    let last = env.events().await.pop().unwrap();
    assert_eq!(last.actor, "user:alice");
    assert!(
        !last.context.to_string().contains(&signed_in.token),
        "no token in the log"
    );

    // The proxy session lives on its parent, for its application only.
    let live = env
        .dir
        .forward_auth()
        .session(&signed_in.token, app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((live.session_id, live.user.id), (session.id, alice.id));
    assert!(
        env.dir
            .forward_auth()
            .session(&signed_in.token, Uuid::new_v4())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.dir.sessions().get(&signed_in.token).await.unwrap().is_none(),
        "not a Gatehouse session"
    );
    assert!(
        env.dir.sign_in().flow(&signed_in.token).await.unwrap().is_none(),
        "not a sign-in flow"
    );

    // A code for another browser's state, an unknown code, an expired code.
    let state2 = env
        .dir
        .forward_auth()
        .begin_sign_in(app.id, "http://wiki.test/", "http://wiki.test")
        .await
        .unwrap();
    let ProxyGrant::Granted { code: code2, .. } = env
        .dir
        .forward_auth()
        .grant_code(&session, &alice, &state2)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(
        env.dir
            .forward_auth()
            .redeem_code(&env.audit, &code2, &state, app.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.dir
            .forward_auth()
            .redeem_code(&env.audit, &code2, &state2, app.id)
            .await
            .unwrap()
            .is_none(),
        "spent by the mismatch"
    );
    let state3 = env
        .dir
        .forward_auth()
        .begin_sign_in(app.id, "http://wiki.test/", "http://wiki.test")
        .await
        .unwrap();
    let ProxyGrant::Granted { code: code3, .. } = env
        .dir
        .forward_auth()
        .grant_code(&session, &alice, &state3)
        .await
        .unwrap()
    else {
        panic!()
    };
    env.clock.advance_seconds(CODE_LIFETIME_SECS);
    assert!(
        env.dir
            .forward_auth()
            .redeem_code(&env.audit, &code3, &state3, app.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        env.dir
            .forward_auth()
            .grant_code(&session, &alice, "not-a-state")
            .await
            .unwrap(),
        ProxyGrant::Expired
    ));

    // Bob, outside the bound group, gets no code.
    env.group("staff", None).await;
    env.dir.groups().add_member(&env.audit, "staff", "alice").await.unwrap();
    env.dir.apps().bind(&env.audit, "wiki", "staff").await.unwrap();
    let (bob_token, _) = env.sign_in("bob", PW).await;
    let (bob_session, bob) = env.dir.sessions().get(&bob_token).await.unwrap().unwrap();
    let state4 = env
        .dir
        .forward_auth()
        .begin_sign_in(app.id, "http://wiki.test/", "http://wiki.test")
        .await
        .unwrap();
    assert!(matches!(
        env.dir
            .forward_auth()
            .grant_code(&bob_session, &bob, &state4)
            .await
            .unwrap(),
        ProxyGrant::Denied { .. }
    ));

    // Signing out of Gatehouse (where the outpost's sign_out leads) ends every
    // proxy session made from that session, and only those.
    let (parent, parent_user) = env.dir.sessions().get(&token).await.unwrap().unwrap();
    env.dir
        .sessions()
        .end(&env.audit, &parent, &parent_user.username)
        .await
        .unwrap();
    assert_eq!(env.actions().await.last().unwrap(), "logout");
    assert!(
        env.dir
            .forward_auth()
            .session(&signed_in.token, app.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(env.dir.sessions().get(&bob_token).await.unwrap().is_some());

    // consume_flow: once, and never an expired record.
    let mut tx = env.store.begin().await.unwrap();
    let flow = FlowRecord {
        id: Uuid::new_v4(),
        token_hash: "h".repeat(64),
        state: json!({}),
        created_at: env.now(),
        expires_at: env.now().plus_seconds(10),
    };
    tx.insert_flow(&flow).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = env.store.begin().await.unwrap();
    assert!(
        tx.consume_flow(&flow.token_hash, env.now().plus_seconds(10))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        tx.consume_flow(&flow.token_hash, env.now()).await.unwrap().unwrap().id,
        flow.id
    );
    assert!(tx.consume_flow(&flow.token_hash, env.now()).await.unwrap().is_none());
    tx.commit().await.unwrap();
    env.assert_intact().await;
}

fn oidc_app_spec(client_id: &str) -> gatehouse_core::ProviderSpec {
    gatehouse_core::ProviderSpec {
        kind: ProviderKind::Oidc,
        key: Some(client_id.into()),
        config: json!({"client_id": client_id, "client_type": "public"}),
        shown: json!(null),
    }
}

fn a_grant(app: &Application, user: &User, now: Timestamp) -> gatehouse_core::oauth::model::Grant {
    gatehouse_core::oauth::model::Grant {
        id: Uuid::new_v4(),
        application_id: app.id,
        user_id: user.id,
        session_id: None,
        scopes: vec!["openid".into(), "offline_access".into()],
        auth_time: now,
        amr: vec!["pwd".into()],
        nonce: Some("n".into()),
        created_at: now,
        expires_at: now.plus_seconds(DAY),
        revoked_at: None,
    }
}

async fn check_oauth_grants(db: &TestDb) {
    use gatehouse_core::oauth::grants::{CodeRedemption, RefreshRotation};
    use gatehouse_core::oauth::model::{AuthCode, DeviceCode, DeviceStatus, RefreshToken};

    let env = env(db).await;
    env.user("alice").await;
    let alice = env.store.user_by_name("alice").await.unwrap().unwrap();
    let app = env
        .dir
        .apps()
        .create_with(&env.audit, "grafana", "Grafana", None, Some(oidc_app_spec("grafana")))
        .await
        .unwrap();
    assert_eq!(
        env.dir.oauth().client("grafana").await.unwrap().map(|a| a.id),
        Some(app.id)
    );
    let now = gatehouse_core::Clock::now(&*env.clock);

    // A code: spent once; the second spend is a replay that revokes the grant.
    let grant = a_grant(&app, &alice, now);
    let code = AuthCode {
        code_hash: sha256_hex(b"code-1"),
        grant_id: grant.id,
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: Some("c".repeat(43)),
        code_challenge_method: Some("S256".into()),
        created_at: now,
        expires_at: now.plus_seconds(60),
        used_at: None,
    };
    env.dir
        .oauth()
        .record_authorization(&env.audit, &app, &alice, &grant, &code)
        .await
        .unwrap();
    assert_eq!(env.actions().await.last().unwrap(), "authorize_application");
    let CodeRedemption::Redeemed { code: spent, grant: g } =
        env.dir.oauth().redeem_code(&env.audit, &code.code_hash).await.unwrap()
    else {
        panic!("fresh code")
    };
    assert_eq!(*g, grant);
    assert_eq!(spent.code_challenge, code.code_challenge);
    assert_eq!(spent.used_at, Some(now));
    assert_eq!(
        env.dir.oauth().redeem_code(&env.audit, &code.code_hash).await.unwrap(),
        CodeRedemption::Replayed
    );
    assert!(
        env.dir
            .oauth()
            .grant(grant.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let last = env.events().await.pop().unwrap();
    assert_eq!(last.action, "suspicious_request");
    assert_eq!(last.context["reason"], "authorization code replay");
    assert_eq!(
        env.dir.oauth().redeem_code(&env.audit, "unknown").await.unwrap(),
        CodeRedemption::Unknown
    );

    // Two concurrent spenders of one code (two connection pools): one wins.
    let grant2 = a_grant(&app, &alice, now);
    let code2 = AuthCode {
        code_hash: sha256_hex(b"code-2"),
        grant_id: grant2.id,
        ..code.clone()
    };
    env.dir
        .oauth()
        .record_authorization(&env.audit, &app, &alice, &grant2, &code2)
        .await
        .unwrap();
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    let (a, b) = tokio::join!(
        env.dir.oauth().redeem_code(&env.audit, &code2.code_hash),
        other.oauth().redeem_code(&env.audit, &code2.code_hash)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, CodeRedemption::Redeemed { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );

    // Refresh tokens rotate; reusing a spent one revokes the family.
    let grant3 = a_grant(&app, &alice, now);
    let code3 = AuthCode {
        code_hash: sha256_hex(b"code-3"),
        grant_id: grant3.id,
        ..code.clone()
    };
    env.dir
        .oauth()
        .record_authorization(&env.audit, &app, &alice, &grant3, &code3)
        .await
        .unwrap();
    let rt = |hash: &str| RefreshToken {
        token_hash: hash.into(),
        grant_id: grant3.id,
        scopes: grant3.scopes.clone(),
        created_at: now,
        expires_at: now.plus_seconds(3600),
        used_at: None,
    };
    env.dir.oauth().store_refresh_token(&rt("r1")).await.unwrap();
    let rotated = env
        .dir
        .oauth()
        .rotate_refresh_token(&env.audit, "r1", |old, g, user| {
            assert_eq!(old.grant_id, g.id);
            assert_eq!(user.map(|u| u.username.as_str()), Some("alice"));
            Ok::<_, ()>(rt("r2"))
        })
        .await
        .unwrap();
    assert!(matches!(rotated, RefreshRotation::Rotated { .. }));
    assert_eq!(
        env.dir.oauth().refresh_token("r2").await.unwrap().unwrap().used_at,
        None
    );
    assert!(
        env.dir
            .oauth()
            .refresh_token("r1")
            .await
            .unwrap()
            .unwrap()
            .used_at
            .is_some()
    );
    let refused = env
        .dir
        .oauth()
        .rotate_refresh_token(&env.audit, "r2", |_, _, _| Err::<RefreshToken, _>("no"))
        .await
        .unwrap();
    assert!(matches!(refused, RefreshRotation::Refused("no")));
    let reused = env
        .dir
        .oauth()
        .rotate_refresh_token(&env.audit, "r1", |_, _, _| Ok::<_, ()>(rt("r3")))
        .await
        .unwrap();
    assert!(matches!(reused, RefreshRotation::Reused));
    assert!(env.dir.oauth().refresh_token("r3").await.unwrap().is_none());
    assert!(!env.dir.oauth().grant(grant3.id).await.unwrap().unwrap().is_live(now));

    // Access-token revocation list.
    assert!(!env.dir.oauth().is_access_token_revoked("jti-1").await.unwrap());
    env.dir
        .oauth()
        .revoke_access_token("jti-1", now.plus_seconds(60))
        .await
        .unwrap();
    env.dir
        .oauth()
        .revoke_access_token("jti-1", now.plus_seconds(60))
        .await
        .unwrap();
    assert!(env.dir.oauth().is_access_token_revoked("jti-1").await.unwrap());

    // Device codes: pending → approved (with a grant) → consumed by one poll.
    let device = DeviceCode {
        device_code_hash: sha256_hex(b"device-1"),
        user_code: "BCDFGHJK".into(),
        application_id: app.id,
        scopes: vec!["openid".into()],
        created_at: now,
        expires_at: now.plus_seconds(600),
        interval_secs: 5,
        last_poll_at: None,
        status: DeviceStatus::Pending,
        grant_id: None,
    };
    env.dir.oauth().start_device(&device).await.unwrap();
    assert!(matches!(
        env.dir.oauth().start_device(&device).await,
        Err(Error::Store(StoreError::Conflict(_)))
    ));
    assert!(env.dir.oauth().pending_device_code("BCDFGHJK").await.unwrap().is_some());
    let g4 = a_grant(&app, &alice, now);
    assert!(
        env.dir
            .oauth()
            .decide_device_code(&env.audit, "BCDFGHJK", &alice, &app, Some(g4.clone()))
            .await
            .unwrap()
    );
    assert!(
        !env.dir
            .oauth()
            .decide_device_code(&env.audit, "BCDFGHJK", &alice, &app, None)
            .await
            .unwrap(),
        "decided once"
    );
    let polled = env
        .dir
        .oauth()
        .poll_device_code(&device.device_code_hash, |d, g| {
            assert_eq!(g.map(|g| g.id), Some(g4.id));
            d.status = DeviceStatus::Consumed;
            d.last_poll_at = Some(now);
            d.status
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(polled.0, DeviceStatus::Consumed);
    assert!(env.dir.oauth().pending_device_code("BCDFGHJK").await.unwrap().is_none());

    // Consent: remembered, listed, withdrawn (revoking the user's grants).
    let g5 = a_grant(&app, &alice, now);
    let code5 = AuthCode {
        code_hash: sha256_hex(b"code-5"),
        grant_id: g5.id,
        ..code.clone()
    };
    env.dir
        .oauth()
        .record_authorization(&env.audit, &app, &alice, &g5, &code5)
        .await
        .unwrap();
    env.dir
        .oauth()
        .remember_consent(&env.audit, &alice, &app, &["openid".into()])
        .await
        .unwrap();
    assert_eq!(env.dir.oauth().consents_of(&alice).await.unwrap().len(), 1);
    assert!(env.dir.oauth().consent(&alice, &app).await.unwrap().is_some());
    assert!(
        env.dir
            .oauth()
            .withdraw_consent(&env.audit, &alice, "grafana")
            .await
            .unwrap()
    );
    assert!(
        !env.dir
            .oauth()
            .withdraw_consent(&env.audit, &alice, "grafana")
            .await
            .unwrap()
    );
    assert!(
        env.dir
            .oauth()
            .grant(g5.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    // Housekeeping, then deleting the application takes its records along.
    env.clock.advance_seconds(2 * DAY);
    assert!(env.dir.oauth().purge_expired().await.unwrap() > 0);
    assert!(!env.dir.oauth().is_access_token_revoked("jti-1").await.unwrap());
    env.dir.apps().delete(&env.audit, "grafana").await.unwrap();
    env.assert_intact().await;
    other_store.close().await;
}

async fn check_signing_keys(db: &TestDb) {
    use gatehouse_core::keys::{KeyKind, KeyPurpose};
    use gatehouse_crypto::signing::{SigningAlg, UnverifiedJwt};

    let env = env(db).await;
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    // Two nodes creating the first key at once end up with the same key.
    let (a, b) = tokio::join!(
        env.dir.keys().signing_key(SigningAlg::EdDsa),
        other.keys().signing_key(SigningAlg::EdDsa)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.kid(), b.kid());
    assert_eq!(env.store.signing_keys().await.unwrap().len(), 1);
    let token = a.sign_jwt(&json!({"sub": "x"})).unwrap();
    let jwt = UnverifiedJwt::parse(&token).unwrap();
    jwt.verify_with(&token, &env.dir.keys().verifying_key(a.kid()).await.unwrap().unwrap())
        .unwrap();
    // The same client-secret key on both nodes.
    let h1 = env.dir.oauth().hash_client_secret("s").await.unwrap();
    let h2 = other.oauth().hash_client_secret("s").await.unwrap();
    assert_eq!(h1, h2);
    assert!(other.oauth().client_secret_matches("s", &h1).await.unwrap());

    // Rotation: published now, signs after the delay; the old key stays
    // published until every token it signed has expired.
    let rotated = env
        .dir
        .keys()
        .rotate(&env.audit, &[KeyPurpose::Jwt(SigningAlg::EdDsa)], 600)
        .await
        .unwrap();
    assert_eq!(rotated[0].generation, 2);
    let jwks = env.dir.keys().published_jwks().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        env.dir.keys().signing_key(SigningAlg::EdDsa).await.unwrap().kid(),
        a.kid()
    );
    env.clock.advance_seconds(601);
    let new = env.dir.keys().signing_key(SigningAlg::EdDsa).await.unwrap();
    assert_eq!(new.kid(), rotated[0].kid);
    assert!(
        env.dir.keys().verifying_key(a.kid()).await.unwrap().is_some(),
        "still published"
    );
    let statuses: Vec<&str> = env
        .dir
        .keys()
        .list(KeyKind::Jwt)
        .await
        .unwrap()
        .iter()
        .map(|k| k.status)
        .collect();
    assert!(
        statuses.contains(&"signing") && statuses.contains(&"retiring"),
        "{statuses:?}"
    );
    env.clock
        .advance_seconds(gatehouse_core::keys::MAX_SIGNED_TOKEN_LIFETIME_SECS + 600);
    assert!(env.dir.keys().verifying_key(a.kid()).await.unwrap().is_none());
    assert_eq!(
        env.dir.keys().published_jwks().await.unwrap()["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(env.dir.keys().purge_retired().await.unwrap(), 1);
    // A key row that does not parse is reported, not used.
    db.exec("UPDATE key_ring SET private_key = 'AAAA'").await;
    assert!(env.dir.keys().signing_key(SigningAlg::EdDsa).await.is_err());
    other_store.close().await;
}

use gatehouse_core::jobs::{self as jobs, JobFilter, JobState, NewJob, ResetRequest, WorkerRecord};

async fn check_job_queue_lifecycle(db: &TestDb) {
    let env = env(db).await;
    let store = &env.store;
    let job = NewJob::new("test.kind", json!({"n": 1}), T0);
    let id = env.dir.jobs().enqueue(&job).await.unwrap().expect("enqueued");
    assert_eq!(
        env.dir.jobs().enqueue(&job).await.unwrap(),
        None,
        "same idempotency key: one job"
    );
    // Not due yet: nothing to claim.
    let later = NewJob {
        run_at: T0.plus_seconds(60),
        ..NewJob::new("test.kind", json!({}), T0)
    };
    let later_id = env.dir.jobs().enqueue(&later).await.unwrap().unwrap();

    let claimed = store.claim_job("w-a", T0, 10_000).await.unwrap().expect("claim");
    assert_eq!(claimed.id, id);
    assert_eq!(claimed.state, JobState::Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.worker_id.as_deref(), Some("w-a"));
    assert_eq!(claimed.lease_until, Some(T0.plus_seconds(10)));
    assert_eq!(claimed.payload, json!({"n": 1}));
    assert!(
        store
            .claim_job("w-b", T0.plus_seconds(5), 10_000)
            .await
            .unwrap()
            .is_none(),
        "leased, and the other is not due"
    );

    // A heartbeat extends the lease; when it lapses another worker takes over.
    assert_eq!(store.extend_job_leases("w-a", T0.plus_seconds(20)).await.unwrap(), 1);
    assert!(
        store
            .claim_job("w-b", T0.plus_seconds(15), 10_000)
            .await
            .unwrap()
            .is_none()
    );
    let again = store
        .claim_job("w-b", T0.plus_seconds(21), 10_000)
        .await
        .unwrap()
        .expect("lease lapsed");
    assert_eq!((again.id, again.attempts), (id, 2));
    // The first worker's late outcome is fenced off.
    assert!(!store.finish_job(id, "w-a", 1, T0.plus_seconds(22)).await.unwrap());
    assert!(
        !store
            .fail_job(id, "w-a", 1, "late", None, T0.plus_seconds(22))
            .await
            .unwrap()
    );

    // Failure with a retry time: queued again, not claimable before it.
    let retry_at = T0.plus_seconds(40);
    assert!(
        store
            .fail_job(id, "w-b", 2, "smtp down", Some(retry_at), T0.plus_seconds(22))
            .await
            .unwrap()
    );
    let stored = store.job(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Queued);
    assert_eq!(stored.last_error.as_deref(), Some("smtp down"));
    assert_eq!(stored.lease_until, None);
    assert!(
        store
            .claim_job("w-b", T0.plus_seconds(39), 10_000)
            .await
            .unwrap()
            .is_none()
    );
    let third = store.claim_job("w-b", retry_at, 10_000).await.unwrap().unwrap();
    assert_eq!((third.id, third.attempts), (id, 3));
    // Out of attempts: dead, kept, listed by state.
    assert!(
        store
            .fail_job(id, "w-b", 3, "smtp still down", None, T0.plus_seconds(41))
            .await
            .unwrap()
    );
    let dead = env
        .dir
        .jobs()
        .list(&JobFilter {
            state: Some(JobState::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].finished_at, Some(T0.plus_seconds(41)));
    assert_eq!(env.dir.jobs().list(&JobFilter::default()).await.unwrap().len(), 2);
    let kind = env
        .dir
        .jobs()
        .list(&JobFilter {
            kind: Some("other".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(kind.is_empty());

    // Retry by an operator: queued, attempts reset, audited.
    env.clock.set(T0.plus_seconds(50));
    let retried = env.dir.jobs().retry(&env.audit, id).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (JobState::Queued, 0));
    let events = env
        .dir
        .events()
        .list(&EventFilter {
            action: Some(jobs::action::JOB_RETRIED.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    // Running and done jobs cannot be retried; unknown ids are not found.
    let c = store
        .claim_job("w-c", T0.plus_seconds(60), 10_000)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        env.dir.jobs().retry(&env.audit, c.id).await,
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        env.dir.jobs().retry(&env.audit, Uuid::new_v4()).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        store
            .finish_job(c.id, "w-c", c.attempts, T0.plus_seconds(61))
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_job(c.id, "w-c", c.attempts, T0.plus_seconds(61))
            .await
            .unwrap(),
        "done once"
    );
    let c2 = store
        .claim_job("w-c", T0.plus_seconds(62), 10_000)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(c2.id, c.id);
    assert!(
        store
            .finish_job(c2.id, "w-c", c2.attempts, T0.plus_seconds(62))
            .await
            .unwrap()
    );
    assert_eq!(store.job(later_id).await.unwrap().unwrap().state, JobState::Done);

    // Housekeeping removes finished jobs after the retention only.
    env.clock.set(T0.plus_seconds(100));
    assert_eq!(env.dir.jobs().purge_finished(3600).await.unwrap().0, 0);
    env.clock.set(T0.plus_seconds(4000));
    assert_eq!(env.dir.jobs().purge_finished(3600).await.unwrap().0, 2);
    assert!(store.job(id).await.unwrap().is_none());
}

/// Many jobs, several workers on separate pools claiming at once: every job is
/// claimed exactly once.
async fn check_job_claims_are_exclusive(db: &TestDb) {
    let env = env(db).await;
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..40 {
        let id = env
            .dir
            .jobs()
            .enqueue(&NewJob::new("test.kind", json!({"i": i}), T0))
            .await
            .unwrap()
            .unwrap();
        ids.insert(id);
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = db.second_store().await;
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let worker = format!("w-{w}");
            while let Some(job) = store.claim_job(&worker, T0, 60_000).await.unwrap() {
                got.push(job.id);
                assert!(store.finish_job(job.id, &worker, job.attempts, T0).await.unwrap());
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    let unique: std::collections::BTreeSet<Uuid> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 40, "no job claimed twice");
    assert_eq!(unique, ids);
}

async fn check_job_effects_and_workers(db: &TestDb) {
    let env = env(db).await;
    let job = Uuid::new_v4();
    assert!(env.dir.jobs().effect("mail:k1").await.unwrap().is_none());
    assert!(env.dir.jobs().record_effect("mail:k1", job, "250 OK").await.unwrap());
    assert!(
        !env.dir.jobs().record_effect("mail:k1", job, "250 again").await.unwrap(),
        "recorded once"
    );
    let effect = env.dir.jobs().effect("mail:k1").await.unwrap().unwrap();
    assert_eq!(
        (effect.job_id, effect.detail.as_str(), effect.done_at),
        (job, "250 OK", T0)
    );

    let mut w = WorkerRecord {
        id: "worker-1".into(),
        host: "node-a".into(),
        pid: 42,
        version: "0.1.0".into(),
        started_at: T0,
        heartbeat_at: T0,
        stopped_at: None,
    };
    env.store.put_worker(&w).await.unwrap();
    w.heartbeat_at = T0.plus_seconds(10);
    env.store.put_worker(&w).await.unwrap();
    let other = WorkerRecord {
        id: "worker-2".into(),
        heartbeat_at: T0.plus_seconds(5),
        ..w.clone()
    };
    env.store.put_worker(&other).await.unwrap();
    let workers = env.dir.jobs().workers().await.unwrap();
    assert_eq!(workers.len(), 2);
    assert_eq!(workers[0].id, "worker-1");
    assert_eq!(workers[0].heartbeat_at, T0.plus_seconds(10));
    assert_eq!(workers[0].started_at, T0);
    w.stopped_at = Some(T0.plus_seconds(11));
    env.store.put_worker(&w).await.unwrap();
    assert_eq!(
        env.dir.jobs().workers().await.unwrap()[0].stopped_at,
        Some(T0.plus_seconds(11))
    );
}

async fn check_password_reset_requests(db: &TestDb) {
    let env = env(db).await;
    env.user("alice").await;
    let web = Audit::new(Actor::System, Some("192.0.2.7".into()));
    let recovery_jobs = || async {
        env.dir
            .jobs()
            .list(&JobFilter {
                kind: Some(jobs::kinds::RECOVERY_MAIL.into()),
                ..Default::default()
            })
            .await
            .unwrap()
    };
    // By username and by email: one job each; unknown names and empty input: none.
    assert_eq!(
        env.dir.jobs().request_password_reset(&web, "alice", 30).await.unwrap(),
        ResetRequest::Accepted
    );
    assert_eq!(recovery_jobs().await.len(), 1);
    env.clock.advance_seconds(1);
    assert_eq!(
        env.dir
            .jobs()
            .request_password_reset(&web, "Alice@Example.com", 30)
            .await
            .unwrap(),
        ResetRequest::Accepted
    );
    assert_eq!(recovery_jobs().await.len(), 2);
    assert_eq!(
        env.dir
            .jobs()
            .request_password_reset(&web, "nobody@example.com", 30)
            .await
            .unwrap(),
        ResetRequest::Accepted
    );
    assert_eq!(
        env.dir.jobs().request_password_reset(&web, "  ", 30).await.unwrap(),
        ResetRequest::Accepted
    );
    assert_eq!(recovery_jobs().await.len(), 2);
    let payload: jobs::RecoveryMailPayload = serde_json::from_value(recovery_jobs().await[0].payload.clone()).unwrap();
    assert_eq!(payload.minutes, 30);
    assert!(
        !recovery_jobs().await[0].payload.to_string().contains("token"),
        "no secret in the queue"
    );
    // The account's third request in a row is accepted; the next one is silently dropped.
    env.clock.advance_seconds(2);
    env.dir.jobs().request_password_reset(&web, "alice", 30).await.unwrap();
    assert_eq!(recovery_jobs().await.len(), 3);
    assert_eq!(
        env.dir.jobs().request_password_reset(&web, "alice", 30).await.unwrap(),
        ResetRequest::Accepted
    );
    assert_eq!(
        recovery_jobs().await.len(),
        3,
        "throttled per account, answer unchanged"
    );
    // A disabled user gets nothing.
    env.user("bob").await;
    env.dir.users().set_active(&env.audit, "bob", false).await.unwrap();
    let other_ip = Audit::new(Actor::System, Some("192.0.2.8".into()));
    env.dir
        .jobs()
        .request_password_reset(&other_ip, "bob", 30)
        .await
        .unwrap();
    assert_eq!(recovery_jobs().await.len(), 3);
    // Per address: many requests for different names end in a wait.
    let mut too_many = false;
    for i in 0..12 {
        if let ResetRequest::TooMany { retry_after_secs } = env
            .dir
            .jobs()
            .request_password_reset(&other_ip, &format!("user{i}"), 30)
            .await
            .unwrap()
        {
            assert!(retry_after_secs > 0);
            too_many = true;
        }
    }
    assert!(too_many, "the address is throttled");
    // The worker's side: a key for the user, usable once, stored hashed, with its event.
    let alice = env.store.user_by_name("alice").await.unwrap().unwrap();
    let (key, user, expires) = env
        .dir
        .jobs()
        .create_mailed_recovery_key(alice.id, 30, Uuid::new_v4())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(expires, env.dir.now().plus_seconds(1800));
    assert!(
        env.store
            .recovery_key_by_hash(&sha256_hex(key.as_bytes()))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        env.dir.recovery().consume_key(&env.audit, &key).await.unwrap().username,
        "alice"
    );
    let bob = env.store.user_by_name("bob").await.unwrap().unwrap();
    assert!(
        env.dir
            .jobs()
            .create_mailed_recovery_key(bob.id, 30, Uuid::new_v4())
            .await
            .unwrap()
            .is_none(),
        "disabled"
    );
    // Admin-driven: refused without an email address.
    let q = env
        .dir
        .jobs()
        .queue_recovery_mail(&env.audit, "alice", 60)
        .await
        .unwrap();
    assert_eq!(q.1.username, "alice");
    assert!(matches!(
        env.dir.jobs().queue_recovery_mail(&env.audit, "bob", 60).await,
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        env.dir.jobs().queue_recovery_mail(&env.audit, "ghost", 60).await,
        Err(Error::NotFound { .. })
    ));
}

fn mfa_directory(store: &Arc<SqlStore>, clock: &Arc<FixedClock>) -> Directory {
    directory(store, clock).with_mfa(gatehouse_core::mfa::MfaConfig {
        cipher: gatehouse_core::mfa::SecretCipher::from_secret_key("conformance-secret-key-0123456789").unwrap(),
        webauthn: gatehouse_core::mfa::webauthn::relying_party("https://auth.example.com", "Example"),
        issuer: "Example".into(),
    })
}

fn totp_now(secret_b32: &str, clock: &FixedClock, steps_later: i64) -> String {
    use gatehouse_core::Clock;
    use gatehouse_core::mfa::totp;
    let seed = totp::base32_decode(secret_b32).unwrap();
    totp::format_code(totp::code_at_step(
        &seed,
        totp::step_at(clock.now().millis() / 1000) + steps_later,
    ))
}

async fn check_mfa_totp_and_replay(db: &TestDb) {
    use gatehouse_core::mfa::{FactorCheck, SecondFactor};
    let e = env(db).await;
    let dir = mfa_directory(&e.store, &e.clock);
    e.user("alice").await;
    let alice = dir.users().get("alice").await.unwrap();
    assert!(dir.sign_in().stages_after_password(&alice).await.unwrap().is_empty());

    let en = dir.mfa().begin_totp(&alice).unwrap();
    // Another user's pending enrolment does not verify for alice.
    e.user("bob").await;
    let bob = dir.users().get("bob").await.unwrap();
    let code = totp_now(&en.secret_base32, &e.clock, 0);
    assert!(
        dir.mfa()
            .finish_totp(&e.audit, &bob, "x", &en.pending, &code)
            .await
            .is_err()
    );
    assert!(
        dir.mfa()
            .finish_totp(&e.audit, &alice, "Phone", &en.pending, "000000")
            .await
            .is_err()
            || code == "000000"
    );
    let (auth, codes) = dir
        .mfa()
        .finish_totp(&e.audit, &alice, "Phone", &en.pending, &code)
        .await
        .unwrap();
    assert_eq!(codes.unwrap().len(), 10);
    let stored = e.store.mfa_authenticators(alice.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, auth.id);
    assert!(stored[0].secret.starts_with("v1.") && !stored[0].secret.contains(&en.secret_base32));
    assert_eq!(
        dir.sign_in().stages_after_password(&alice).await.unwrap(),
        vec![Stage::Mfa]
    );

    // The enrolment's code is spent; so is its step.
    let audit = Audit::new(Actor::System, Some("192.0.2.1".into()));
    assert_eq!(
        dir.mfa()
            .check_second_factor(&audit, &alice, SecondFactor::Totp(&code))
            .await
            .unwrap(),
        FactorCheck::Rejected
    );
    let next = totp_now(&en.secret_base32, &e.clock, 1);
    assert_eq!(
        dir.mfa()
            .check_second_factor(&audit, &alice, SecondFactor::Totp(&next))
            .await
            .unwrap(),
        FactorCheck::Passed("otp")
    );
    assert_eq!(
        dir.mfa()
            .check_second_factor(&audit, &alice, SecondFactor::Totp(&next))
            .await
            .unwrap(),
        FactorCheck::Rejected
    );
    // Two steps ahead is outside the window even later on; after 60 s it is current.
    e.clock.advance_seconds(60);
    let now_code = totp_now(&en.secret_base32, &e.clock, 0);
    assert_eq!(
        dir.mfa()
            .check_second_factor(&audit, &alice, SecondFactor::Totp(&now_code))
            .await
            .unwrap(),
        FactorCheck::Passed("otp")
    );

    // Of two concurrent uses of one step, exactly one wins.
    let id = auth.id;
    let step = 10_000_000_000i64;
    let second = Arc::new(db.second_store().await);
    let (a, b) = tokio::join!(
        async {
            let mut tx = e.store.begin().await.unwrap();
            let won = tx.use_totp_step(id, step, T0).await.unwrap();
            tx.commit().await.unwrap();
            won
        },
        async {
            let mut tx = second.begin().await.unwrap();
            let won = tx.use_totp_step(id, step, T0).await.unwrap();
            tx.commit().await.unwrap();
            won
        }
    );
    assert!(a ^ b, "exactly one use of a step wins: {a} {b}");

    // Failures count towards the throttle, like passwords.
    for _ in 0..12 {
        let _ = dir
            .mfa()
            .check_second_factor(&audit, &alice, SecondFactor::Totp("123456"))
            .await
            .unwrap();
    }
    assert!(matches!(
        dir.mfa()
            .check_second_factor(&audit, &alice, SecondFactor::Totp("123456"))
            .await
            .unwrap(),
        FactorCheck::Throttled { .. }
    ));
    let actions = e.actions().await;
    assert!(actions.iter().any(|a| a == "mfa_authenticator_added"));
    assert!(actions.iter().any(|a| a == "mfa_failed"));

    // A credential id is unique.
    let mut dup = stored[0].clone();
    dup.id = Uuid::new_v4();
    dup.credential_id = Some("cred-1".into());
    let mut tx = e.store.begin().await.unwrap();
    tx.insert_mfa_authenticator(&dup).await.unwrap();
    let mut dup2 = dup.clone();
    dup2.id = Uuid::new_v4();
    assert!(matches!(
        tx.insert_mfa_authenticator(&dup2).await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);
    assert!(
        e.store
            .mfa_authenticator_by_credential("cred-1")
            .await
            .unwrap()
            .is_none()
    );
    e.assert_intact().await;
}

async fn check_mfa_recovery_codes(db: &TestDb) {
    use gatehouse_core::mfa::{FactorCheck, SecondFactor};
    let e = env(db).await;
    let dir = mfa_directory(&e.store, &e.clock);
    e.user("alice").await;
    let alice = dir.users().get("alice").await.unwrap();
    // No codes without an authenticator.
    assert!(dir.mfa().regenerate_recovery_codes(&e.audit, &alice).await.is_err());
    let en = dir.mfa().begin_totp(&alice).unwrap();
    let code = totp_now(&en.secret_base32, &e.clock, 0);
    let (auth, codes) = dir
        .mfa()
        .finish_totp(&e.audit, &alice, "Phone", &en.pending, &code)
        .await
        .unwrap();
    let codes = codes.unwrap();
    assert_eq!(e.store.mfa_recovery_codes_left(alice.id).await.unwrap(), 10);
    let used = codes[3].clone();
    assert_eq!(
        dir.mfa()
            .check_second_factor(&e.audit, &alice, SecondFactor::RecoveryCode(&used))
            .await
            .unwrap(),
        FactorCheck::Passed("otp")
    );
    assert_eq!(
        dir.mfa()
            .check_second_factor(&e.audit, &alice, SecondFactor::RecoveryCode(&used))
            .await
            .unwrap(),
        FactorCheck::Rejected
    );
    assert_eq!(e.store.mfa_recovery_codes_left(alice.id).await.unwrap(), 9);
    assert!(e.actions().await.iter().any(|a| a == "mfa_recovery_code_used"));
    // Codes are stored hashed.
    let plain = db
        .count(&format!(
            "SELECT COUNT(*) FROM mfa_recovery_codes WHERE code_hash = '{}'",
            codes[0]
        ))
        .await
        .unwrap();
    assert_eq!(plain, 0);

    // Concurrent spending of one code: one winner.
    let hash_of = |c: &str| {
        let normal: String = c.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        sha256_hex(format!("{}:{normal}", alice.id).as_bytes())
    };
    let h = hash_of(&codes[5]);
    let second = Arc::new(db.second_store().await);
    let (a, b) = tokio::join!(
        async {
            let mut tx = e.store.begin().await.unwrap();
            let won = tx.consume_mfa_recovery_code(alice.id, &h, T0).await.unwrap();
            tx.commit().await.unwrap();
            won
        },
        async {
            let mut tx = second.begin().await.unwrap();
            let won = tx.consume_mfa_recovery_code(alice.id, &h, T0).await.unwrap();
            tx.commit().await.unwrap();
            won
        }
    );
    assert!(a ^ b, "exactly one spend wins: {a} {b}");

    // New codes replace the old ones.
    let fresh = dir.mfa().regenerate_recovery_codes(&e.audit, &alice).await.unwrap();
    assert_eq!(e.store.mfa_recovery_codes_left(alice.id).await.unwrap(), 10);
    assert_eq!(
        dir.mfa()
            .check_second_factor(&e.audit, &alice, SecondFactor::RecoveryCode(&codes[0]))
            .await
            .unwrap(),
        FactorCheck::Rejected
    );
    // Removing the last authenticator takes the codes with it.
    dir.mfa().remove_authenticator(&e.audit, &alice, auth.id).await.unwrap();
    assert_eq!(e.store.mfa_recovery_codes_left(alice.id).await.unwrap(), 0);
    assert!(dir.mfa().remove_authenticator(&e.audit, &alice, auth.id).await.is_err());
    assert_eq!(
        dir.mfa()
            .check_second_factor(&e.audit, &alice, SecondFactor::RecoveryCode(&fresh[0]))
            .await
            .unwrap(),
        FactorCheck::Rejected
    );
    e.assert_intact().await;
}

async fn check_mfa_policy_and_reset(db: &TestDb) {
    use gatehouse_core::mfa::{MfaMode, MfaPolicy};
    let e = env(db).await;
    let dir = mfa_directory(&e.store, &e.clock);
    // Default: admins, before the group even exists.
    assert_eq!(dir.mfa().policy().await.unwrap(), MfaPolicy::default());
    e.user("root").await;
    e.user("alice").await;
    dir.groups().create(&e.audit, ADMIN_GROUP, true, None).await.unwrap();
    e.group("ops", Some(ADMIN_GROUP)).await;
    dir.groups().add_member(&e.audit, "ops", "root").await.unwrap();
    let root = dir.users().get("root").await.unwrap();
    let alice = dir.users().get("alice").await.unwrap();
    assert!(dir.mfa().required_for(&root).await.unwrap(), "nested admins member");
    assert!(!dir.mfa().required_for(&alice).await.unwrap());
    assert_eq!(
        dir.sign_in().stages_after_password(&root).await.unwrap(),
        vec![Stage::MfaEnrol]
    );

    // Unknown groups and applications are refused, and nothing changes.
    let bad = MfaPolicy {
        mode: MfaMode::Groups,
        groups: vec!["nope".into()],
        apps: vec![],
    };
    assert!(matches!(
        dir.mfa().set_policy(&e.audit, bad).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(dir.mfa().policy().await.unwrap(), MfaPolicy::default());
    let everyone = MfaPolicy {
        mode: MfaMode::Everyone,
        groups: vec![ADMIN_GROUP.into()],
        apps: vec![],
    };
    dir.mfa().set_policy(&e.audit, everyone.clone()).await.unwrap();
    assert_eq!(dir.mfa().policy().await.unwrap(), everyone);
    assert!(dir.mfa().required_for(&alice).await.unwrap());
    let off = MfaPolicy {
        mode: MfaMode::Off,
        ..everyone
    };
    dir.mfa().set_policy(&e.audit, off).await.unwrap();
    assert!(!dir.mfa().required_for(&root).await.unwrap());
    assert_eq!(
        e.actions().await.iter().filter(|a| *a == "mfa_policy_changed").count(),
        2
    );

    // Reset: authenticators and codes gone, sessions ended, an event.
    let en = dir.mfa().begin_totp(&root).unwrap();
    let code = totp_now(&en.secret_base32, &e.clock, 0);
    dir.mfa()
        .finish_totp(&e.audit, &root, "Phone", &en.pending, &code)
        .await
        .unwrap();
    assert_eq!(dir.mfa().reset(&e.audit, "root").await.unwrap(), 1);
    assert!(e.store.mfa_authenticators(root.id).await.unwrap().is_empty());
    assert_eq!(e.store.mfa_recovery_codes_left(root.id).await.unwrap(), 0);
    assert!(e.actions().await.iter().any(|a| a == "mfa_reset"));
    assert!(matches!(
        dir.mfa().reset(&e.audit, "nobody").await,
        Err(Error::NotFound { .. })
    ));

    // Deleting a user deletes their MFA rows.
    let en = dir.mfa().begin_totp(&alice).unwrap();
    let code = totp_now(&en.secret_base32, &e.clock, 0);
    dir.mfa()
        .finish_totp(&e.audit, &alice, "Phone", &en.pending, &code)
        .await
        .unwrap();
    dir.users().delete(&e.audit, "alice", false).await.unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM mfa_authenticators").await.unwrap(), 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM mfa_recovery_codes").await.unwrap(), 0);
    e.assert_intact().await;
}

async fn check_blueprint_instances(db: &TestDb) {
    use gatehouse_core::blueprints::BlueprintInstance;
    let env = env(db).await;
    assert!(env.store.blueprint_instances().await.unwrap().is_empty());
    let mut i = BlueprintInstance {
        path: "/etc/gatehouse/blueprints/b.yaml".into(),
        name: "b".into(),
        hash: "ab".repeat(32),
        applied_at: T0,
        result: "applied".into(),
        message: String::new(),
        changes: 3,
    };
    let mut tx = env.store.begin().await.unwrap();
    tx.put_blueprint_instance(&i).await.unwrap();
    let mut a = i.clone();
    a.path = "/a.yaml".into();
    tx.put_blueprint_instance(&a).await.unwrap();
    tx.commit().await.unwrap();
    // Replaced by path; listed by path.
    i.result = "failed".into();
    i.message = "x.yaml:3:5: unknown field".into();
    i.changes = 0;
    i.applied_at = T0.plus_seconds(60);
    let mut tx = env.store.begin().await.unwrap();
    tx.put_blueprint_instance(&i).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        env.store.blueprint_instances().await.unwrap(),
        vec![a.clone(), i.clone()]
    );
    // A dropped transaction records nothing.
    let mut tx = env.store.begin().await.unwrap();
    let mut c = a.clone();
    c.path = "/c.yaml".into();
    tx.put_blueprint_instance(&c).await.unwrap();
    drop(tx);
    assert_eq!(env.store.blueprint_instances().await.unwrap().len(), 2);
}

async fn check_api_token_deletion(db: &TestDb) {
    use gatehouse_core::ApiToken;
    let env = env(db).await;
    let user = env
        .dir
        .users()
        .create(
            &env.audit,
            NewUser {
                username: "svc".into(),
                ..NewUser::default()
            },
        )
        .await
        .unwrap();
    let t = ApiToken {
        id: Uuid::new_v4(),
        identifier: "ci".into(),
        user_id: user.id,
        intent: "api".into(),
        token_hash: sha256_hex(b"ci-token"),
        created_at: T0,
        expires_at: None,
        description: "ci runner".into(),
        last_used: None,
    };
    let mut tx = env.store.begin().await.unwrap();
    tx.insert_api_token(&t).await.unwrap();
    assert_eq!(tx.api_tokens().await.unwrap().len(), 1);
    tx.commit().await.unwrap();
    let mut tx = env.store.begin().await.unwrap();
    assert!(tx.delete_api_token(t.id).await.unwrap());
    assert!(!tx.delete_api_token(t.id).await.unwrap());
    assert!(tx.api_tokens().await.unwrap().is_empty());
    tx.commit().await.unwrap();
    assert!(env.store.api_tokens().await.unwrap().is_empty());
}

async fn check_throttle_bumps_are_atomic(db: &TestDb) {
    let env = env(db).await;
    let policy = ThrottlePolicy::default();
    let bump = |key: &'static str, now: Timestamp| {
        let store = env.store.clone();
        let policy = policy.clone();
        async move {
            let (floor, lock_after, until) = policy.bump_args(key, now);
            let mut tx = store.begin().await.unwrap();
            let r = tx.bump_throttle(key, now, floor, lock_after, until).await.unwrap();
            tx.commit().await.unwrap();
            r
        }
    };
    // Same rules as ThrottlePolicy::after_failure, step by step.
    let k = "mfa:seq";
    let mut expected: Option<ThrottleRecord> = None;
    let mut now = T0;
    for i in 0..14 {
        let got = bump(k, now).await;
        let (want, locked) = policy.after_failure(k, expected.as_ref(), now);
        // An active lock keeps counting instead of starting over.
        if expected
            .as_ref()
            .is_some_and(|e| e.locked_until.is_some_and(|u| now < u))
        {
            let e = expected.clone().unwrap();
            assert_eq!(got.failures, e.failures + 1, "step {i}");
            assert_eq!(got.locked_until, e.locked_until, "step {i}");
            assert!(!policy.just_locked(&got));
        } else {
            assert_eq!(got, want, "step {i}");
            assert_eq!(policy.just_locked(&got), locked, "step {i}");
        }
        assert_eq!(
            env.store.throttle_records(&[k.to_string()]).await.unwrap(),
            vec![got.clone()]
        );
        expected = Some(got);
        now = now.plus_seconds(1);
    }
    // After the lock ends: starts over at 1.
    let after = expected.unwrap().locked_until.unwrap().plus_seconds(1);
    let r = bump(k, after).await;
    assert_eq!((r.failures, r.window_start, r.locked_until), (1, after, None));
    // An expired window starts over too.
    let later = after.plus_seconds(policy.window_secs + 1);
    let r = bump(k, later).await;
    assert_eq!((r.failures, r.window_start), (1, later));

    // Concurrent bumps from separate connections all count.
    let key = "ip:198.51.100.7";
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = db.second_store().await;
        let policy = policy.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                let (floor, lock_after, until) = policy.bump_args(key, T0);
                let mut tx = store.begin().await.unwrap();
                tx.bump_throttle(key, T0, floor, lock_after, until).await.unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = env.store.throttle_records(&[key.to_string()]).await.unwrap();
    assert_eq!(r[0].failures, 20, "every concurrent failure counted");

    // A burst of parallel wrong second-factor codes counts in full.
    use gatehouse_core::mfa::{FactorCheck, SecondFactor};
    let dir = mfa_directory(&env.store, &env.clock);
    env.user("carol").await;
    let carol = dir.users().get("carol").await.unwrap();
    let en = dir.mfa().begin_totp(&carol).unwrap();
    let code = totp_now(&en.secret_base32, &env.clock, 0);
    dir.mfa()
        .finish_totp(&env.audit, &carol, "Phone", &en.pending, &code)
        .await
        .unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let dir = dir.clone();
        let audit = env.audit.clone();
        let carol = carol.clone();
        tasks.push(tokio::spawn(async move {
            dir.mfa()
                .check_second_factor(&audit, &carol, SecondFactor::Totp(wrong))
                .await
                .unwrap()
        }));
    }
    // (Guesses that arrive after the first few may be told to wait instead.)
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            FactorCheck::Rejected => checked += 1,
            FactorCheck::Throttled { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(checked >= 1);
    let key = gatehouse_core::throttle::account_key(&format!("mfa:{}", carol.id));
    let r = env.store.throttle_records(&[key]).await.unwrap();
    assert_eq!(r[0].failures, checked, "every checked guess counted");
}
