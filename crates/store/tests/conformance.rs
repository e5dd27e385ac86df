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
use gatehouse_core::directory::{ADMIN_GROUP, NewUser, RECOVERY_ADMIN};
use gatehouse_core::events::{ChainReport, GENESIS_HASH, action};
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::{
    Actor, Application, Audit, ChainHead, Directory, Error, Event, EventFilter, FixedClock,
    NewEvent, ProviderKind, Store, StoreError, Timestamp,
};
use gatehouse_crypto::{HashParams, PasswordHasher, PasswordVerdict, sha256_hex};
use gatehouse_store::{ConnectOptions, KNOWN_SCHEMA_VERSION, MigrationReport, SqlStore};
use serde_json::json;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Connection};
use uuid::Uuid;

/// 2026-01-01T00:00:00Z.
const T0: Timestamp = Timestamp(1_767_225_600_000);
const DAY: i64 = 86_400;

// ---- harness ----------------------------------------------------------------

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
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin_url).await {
                            let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
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
        let store = SqlStore::connect(&url, ConnectOptions::default())
            .await
            .unwrap();
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
        let store = SqlStore::connect(&url, ConnectOptions::default())
            .await
            .unwrap();
        let raw = AnyPoolOptions::new()
            .max_connections(1)
            .connect_lazy(&url)
            .unwrap();
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
        SqlStore::connect(&self.url, ConnectOptions::default())
            .await
            .unwrap()
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
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| i + authority);
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
    check_dropped_transaction_leaves_nothing,
);

// ---- fixtures ---------------------------------------------------------------

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
    Directory::new(
        store.clone(),
        clock.clone(),
        hasher(),
        PasswordPolicy::default(),
    )
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
            .create_user(
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
            .create_group(&self.audit, name, false, parent)
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
        match self.dir.verify_events().await.unwrap() {
            ChainReport::Intact { events, .. } => events,
            broken => panic!("chain should be intact: {broken:?}"),
        }
    }

    async fn broken_at(&self) -> i64 {
        match self.dir.verify_events().await.unwrap() {
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

// ---- migrations -------------------------------------------------------------

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
        db.count("SELECT COUNT(*) FROM schema_migrations")
            .await
            .unwrap(),
        KNOWN_SCHEMA_VERSION
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
    assert_eq!(
        db.count("SELECT COUNT(*) FROM schema_migrations")
            .await
            .unwrap(),
        1
    );
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
        db.count("SELECT COUNT(*) FROM schema_migrations")
            .await
            .unwrap(),
        KNOWN_SCHEMA_VERSION
    );
    assert_eq!(db.store.chain_head().await.unwrap(), genesis());
    other.close().await;
}

// ---- users, groups, applications ------------------------------------------------

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
    assert_eq!(env.dir.user("ALICE").await.unwrap().id, alice.id);
    assert!(env.store.user_by_name("alicia").await.unwrap().is_none());

    // Same name in another case: refused, and no event written.
    let dup = env
        .dir
        .create_user(
            &env.audit,
            NewUser {
                username: "ALICE".into(),
                ..NewUser::default()
            },
        )
        .await;
    assert!(
        matches!(dup, Err(Error::AlreadyExists { kind: "user", .. })),
        "{dup:?}"
    );
    assert_eq!(env.actions().await, vec![action::MODEL_CREATED]);

    // The store itself enforces it (a racing writer past the service's check).
    let mut tx = env.store.begin().await.unwrap();
    let mut clash = alice.clone();
    clash.id = Uuid::new_v4();
    clash.username = "aLiCe".into();
    assert!(matches!(
        tx.insert_user(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);

    // Update.
    let updated = env
        .dir
        .set_active(&env.audit, "alice", false)
        .await
        .unwrap();
    assert!(!updated.is_active);
    assert!(
        !env.store
            .user_by_name("alice")
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    env.dir.set_active(&env.audit, "alice", true).await.unwrap();

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
        .set_password(&env.audit, "alice", password)
        .await
        .unwrap();
    let u = env.store.user_by_name("alice").await.unwrap().unwrap();
    let hash = u.password_hash.clone().unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert_eq!(u.password_changed_at, Some(T0.plus_seconds(60)));
    assert_eq!(
        hasher().verify(password, &hash).await.unwrap(),
        PasswordVerdict::Match
    );
    assert_eq!(
        hasher().verify("wrong password", &hash).await.unwrap(),
        PasswordVerdict::Mismatch
    );

    // Delete cascades memberships, recovery keys and API tokens.
    env.user("bob").await;
    env.group("staff", None).await;
    env.dir
        .add_member(&env.audit, "staff", "alice")
        .await
        .unwrap();
    env.dir
        .add_member(&env.audit, "staff", "bob")
        .await
        .unwrap();
    env.dir
        .create_recovery_key(&env.audit, "alice", 30)
        .await
        .unwrap();
    let mut tx = env.store.begin().await.unwrap();
    tx.insert_api_token(&gatehouse_core::ApiToken {
        id: Uuid::new_v4(),
        identifier: "alice-token".into(),
        user_id: u.id,
        intent: "api".into(),
        token_hash: sha256_hex(b"alice-secret"),
        created_at: T0,
        expires_at: Some(T0.plus_seconds(DAY)),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(env.store.memberships().await.unwrap().len(), 2);
    let tokens = env.store.api_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].expires_at, Some(T0.plus_seconds(DAY)));

    env.dir
        .delete_user(&env.audit, "ALICE", false)
        .await
        .unwrap();
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
    let dup = env.dir.create_group(&env.audit, "Staff", false, None).await;
    assert!(matches!(
        dup,
        Err(Error::AlreadyExists { kind: "group", .. })
    ));
    let missing_parent = env
        .dir
        .create_group(&env.audit, "qa", false, Some("nope"))
        .await;
    assert!(matches!(missing_parent, Err(Error::NotFound { .. })));

    for u in ["alice", "bob", "carol"] {
        env.user(u).await;
    }
    let before = env.event_count().await;
    assert!(
        env.dir
            .add_member(&env.audit, "devs", "alice")
            .await
            .unwrap()
    );
    assert!(
        !env.dir
            .add_member(&env.audit, "devs", "alice")
            .await
            .unwrap()
    );
    assert_eq!(
        env.event_count().await,
        before + 1,
        "a no-op writes no event"
    );
    assert!(
        env.dir
            .add_member(&env.audit, "staff", "bob")
            .await
            .unwrap()
    );

    let members = env.dir.members("staff").await.unwrap();
    let view: Vec<(String, Option<String>)> = members
        .iter()
        .map(|m| (m.username.clone(), m.via.clone()))
        .collect();
    assert_eq!(
        view,
        vec![
            ("bob".to_string(), None),
            ("alice".to_string(), Some("devs".to_string()))
        ]
    );
    assert!(
        env.dir
            .add_member(&env.audit, "staff", "alice")
            .await
            .unwrap()
    );
    assert!(
        env.dir
            .members("staff")
            .await
            .unwrap()
            .iter()
            .all(|m| m.via.is_none())
    );
    assert!(
        env.dir
            .remove_member(&env.audit, "staff", "alice")
            .await
            .unwrap()
    );
    assert!(
        !env.dir
            .remove_member(&env.audit, "staff", "alice")
            .await
            .unwrap()
    );
    let detail = env.dir.user_detail("alice").await.unwrap();
    assert_eq!(detail.groups, vec!["devs"]);
    assert_eq!(detail.inherited_groups, vec!["staff"]);

    // Cycles are refused and change nothing.
    let cycle = env
        .dir
        .set_group_parent(&env.audit, "staff", Some("devs"))
        .await;
    assert!(matches!(cycle, Err(Error::Refused(_))), "{cycle:?}");
    let self_parent = env
        .dir
        .set_group_parent(&env.audit, "devs", Some("DEVS"))
        .await;
    assert!(matches!(self_parent, Err(Error::Refused(_))));
    assert_eq!(
        env.store
            .group_by_name("staff")
            .await
            .unwrap()
            .unwrap()
            .parent_id,
        None
    );
    env.dir
        .set_group_parent(&env.audit, "ops", Some("staff"))
        .await
        .unwrap();
    assert_eq!(
        env.store
            .group_by_name("ops")
            .await
            .unwrap()
            .unwrap()
            .parent_id,
        Some(staff.id)
    );
    assert!(matches!(
        env.dir.delete_group(&env.audit, "staff").await,
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
    assert_eq!(
        ops.attributes,
        json!({"tags": ["a", "b"], "ldap": {"gid": 5001}})
    );

    // Deleting a parent (below the services, which refuse) detaches its children
    // and drops its memberships.
    let mut tx = env.store.begin().await.unwrap();
    tx.delete_group(staff.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        env.store
            .group_by_name("devs")
            .await
            .unwrap()
            .unwrap()
            .parent_id,
        None
    );
    assert_eq!(
        env.store
            .group_by_name("ops")
            .await
            .unwrap()
            .unwrap()
            .parent_id,
        None
    );
    assert!(
        env.store
            .memberships()
            .await
            .unwrap()
            .iter()
            .all(|m| m.group_id != staff.id)
    );
    env.dir.delete_group(&env.audit, "devs").await.unwrap();
    assert!(env.store.memberships().await.unwrap().is_empty());
    env.assert_intact().await;
}

async fn check_applications(db: &TestDb) {
    let env = env(db).await;
    let grafana = env
        .dir
        .create_application(
            &env.audit,
            "grafana",
            "Grafana",
            Some("https://grafana.example.com/"),
        )
        .await
        .unwrap();
    let stored = env
        .store
        .application_by_slug("grafana")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, grafana.id);
    assert_eq!(stored.name, "Grafana");
    assert_eq!(
        stored.launch_url.as_deref(),
        Some("https://grafana.example.com/")
    );
    assert_eq!(stored.provider, None);
    assert_eq!(stored.created_at, T0);
    let dup = env
        .dir
        .create_application(&env.audit, "grafana", "Other", None)
        .await;
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
    let app = env
        .store
        .application_by_slug("grafana")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.provider, Some(ProviderKind::Oidc));
    assert_eq!(app.launch_url, None);

    // The access rule on a small directory (core's access test, through storage).
    env.group("staff", None).await;
    env.group("devs", Some("staff")).await;
    env.group("ops", None).await;
    for (u, g) in [("alice", "devs"), ("bob", "ops"), ("carol", "staff")] {
        env.user(u).await;
        env.dir.add_member(&env.audit, g, u).await.unwrap();
    }
    env.dir
        .set_active(&env.audit, "carol", false)
        .await
        .unwrap();
    env.dir
        .create_application(&env.audit, "wiki", "Wiki", None)
        .await
        .unwrap();
    env.dir
        .create_application(&env.audit, "pager", "Pager", None)
        .await
        .unwrap();
    assert!(env.dir.bind(&env.audit, "grafana", "staff").await.unwrap());
    assert!(!env.dir.bind(&env.audit, "grafana", "STAFF").await.unwrap());
    assert!(env.dir.bind(&env.audit, "pager", "ops").await.unwrap());
    assert_eq!(env.store.bindings().await.unwrap().len(), 2);

    let matrix = env.dir.access_matrix().await.unwrap();
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

    assert!(env.dir.unbind(&env.audit, "pager", "ops").await.unwrap());
    assert!(!env.dir.unbind(&env.audit, "pager", "ops").await.unwrap());
    let matrix = env.dir.access_matrix().await.unwrap();
    assert_eq!(row(&matrix, "alice"), vec![true, true, true]);

    // Deleting an application or a group removes its bindings.
    env.dir.bind(&env.audit, "wiki", "ops").await.unwrap();
    env.dir
        .delete_application(&env.audit, "grafana")
        .await
        .unwrap();
    assert!(
        env.store
            .application_by_slug("grafana")
            .await
            .unwrap()
            .is_none()
    );
    let bindings = env.store.bindings().await.unwrap();
    assert_eq!(bindings.len(), 1);
    env.dir.delete_group(&env.audit, "ops").await.unwrap();
    assert!(env.store.bindings().await.unwrap().is_empty());
    assert_eq!(env.store.applications().await.unwrap().len(), 2);
    env.assert_intact().await;
}

// ---- the audit log --------------------------------------------------------------

async fn check_every_write_writes_its_event(db: &TestDb) {
    let env = env(db).await;
    env.user("alice").await;
    // Failures write nothing.
    let bad = env
        .dir
        .create_user(
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
        .create_user(
            &env.audit,
            NewUser {
                username: "Alice".into(),
                ..NewUser::default()
            },
        )
        .await;
    assert!(dup.is_err());
    assert!(matches!(
        env.dir.delete_user(&env.audit, "nobody", false).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        env.dir.set_password(&env.audit, "alice", "short").await,
        Err(Error::PasswordRejected(_))
    ));
    env.group("staff", None).await;
    env.dir
        .add_member(&env.audit, "staff", "alice")
        .await
        .unwrap();
    env.dir
        .add_member(&env.audit, "staff", "alice")
        .await
        .unwrap(); // no-op
    env.dir
        .set_active(&env.audit, "alice", false)
        .await
        .unwrap();
    env.dir
        .set_active(&env.audit, "alice", false)
        .await
        .unwrap(); // no-op
    env.dir
        .set_password(&env.audit, "alice", "another fine passphrase")
        .await
        .unwrap();
    env.dir
        .create_recovery_key(&env.audit, "alice", 10)
        .await
        .unwrap();
    env.dir
        .create_application(&env.audit, "wiki", "Wiki", None)
        .await
        .unwrap();
    env.dir.bind(&env.audit, "wiki", "staff").await.unwrap();
    env.dir.unbind(&env.audit, "wiki", "staff").await.unwrap();
    env.dir
        .delete_application(&env.audit, "wiki")
        .await
        .unwrap();
    env.dir
        .remove_member(&env.audit, "staff", "alice")
        .await
        .unwrap();
    env.dir.delete_group(&env.audit, "staff").await.unwrap();
    env.dir
        .delete_user(&env.audit, "alice", false)
        .await
        .unwrap();

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
    let by_alice = Audit {
        actor: Actor::User("Alice".into()),
        client_ip: Some("198.51.100.7".into()),
    };
    env.clock.advance_seconds(3600);
    env.dir
        .create_group(&by_alice, "staff", false, None)
        .await
        .unwrap(); // seq 3, done by alice
    env.dir
        .add_member(&env.audit, "staff", "bob")
        .await
        .unwrap(); // seq 4, about bob

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
    assert_eq!(
        seqs(env.store.events(&created).await.unwrap()),
        vec![3, 2, 1]
    );
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
        env.store
            .events(&EventFilter::default())
            .await
            .unwrap()
            .len(),
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
    db.exec("UPDATE events SET actor = 'cli:mallory' WHERE seq = 2")
        .await;
    assert_eq!(env.broken_at().await, 2);
    db.exec("UPDATE events SET actor = 'cli:tester' WHERE seq = 2")
        .await;
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

    assert_eq!(env.dir.prune_events(&env.audit, 5 * DAY).await.unwrap(), 3);
    let head = env.store.chain_head().await.unwrap();
    assert_eq!(head.anchor_seq, 3);
    assert_eq!(head.anchor_hash, third.hash);
    assert_eq!(head.head_seq, 6);
    let actions = env.actions().await;
    assert_eq!(
        actions,
        vec![
            action::MODEL_CREATED,
            action::MODEL_CREATED,
            action::EVENTS_PRUNED
        ]
    );
    assert_eq!(env.assert_intact().await, 3);
    assert_eq!(env.dir.prune_events(&env.audit, 5 * DAY).await.unwrap(), 0);
    assert_eq!(env.store.chain_head().await.unwrap().head_seq, 6);

    // Only a contiguous prefix goes: an old event behind newer ones stays.
    let mut tx = env.store.begin().await.unwrap();
    let late = tx.append_event(new_event("late"), T0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(late.seq, 7);
    assert_eq!(env.dir.prune_events(&env.audit, 5 * DAY).await.unwrap(), 0);
    assert!(env.events().await.iter().any(|e| e.seq == 7));
    assert_eq!(env.assert_intact().await, 4);

    // Everything old: the whole log goes, the anchor is its last link.
    env.clock.advance_seconds(30 * DAY);
    let last = env.events().await.pop().unwrap();
    assert_eq!(env.dir.prune_events(&env.audit, DAY).await.unwrap(), 4);
    let head = env.store.chain_head().await.unwrap();
    assert_eq!((head.anchor_seq, head.anchor_hash), (7, last.hash));
    assert_eq!(env.assert_intact().await, 1);
}

// ---- recovery keys, bootstrap -----------------------------------------------------

async fn check_recovery_keys(db: &TestDb) {
    let env = env(db).await;
    env.user("alice").await;
    let (key, record) = env
        .dir
        .create_recovery_key(&env.audit, "alice", 60)
        .await
        .unwrap();
    assert_ne!(record.token_hash, key);
    assert_eq!(record.token_hash, sha256_hex(key.as_bytes()));
    assert_eq!(record.expires_at, T0.plus_seconds(3600));
    let stored = env.store.recovery_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].token_hash, record.token_hash);
    assert_eq!(stored[0].used_at, None);
    assert_eq!(env.dir.recovery_keys().await.unwrap()[0].state, "valid");

    env.clock.advance_seconds(60);
    let user = env
        .dir
        .consume_recovery_key(&env.audit, &key)
        .await
        .unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(
        env.store.recovery_keys().await.unwrap()[0].used_at,
        Some(T0.plus_seconds(60))
    );
    let again = env.dir.consume_recovery_key(&env.audit, &key).await;
    assert!(matches!(again, Err(Error::Invalid { .. })), "{again:?}");
    assert!(
        env.dir
            .consume_recovery_key(&env.audit, "not-a-key")
            .await
            .is_err()
    );

    // Expired: refused and left unused.
    let (expiring, record) = env
        .dir
        .create_recovery_key(&env.audit, "alice", 1)
        .await
        .unwrap();
    env.clock.advance_seconds(61);
    assert!(
        env.dir
            .consume_recovery_key(&env.audit, &expiring)
            .await
            .is_err()
    );
    let keys = env.store.recovery_keys().await.unwrap();
    let stored = keys.iter().find(|k| k.id == record.id).unwrap();
    assert_eq!(stored.used_at, None);
    let listing = env.dir.recovery_keys().await.unwrap();
    assert_eq!(
        listing
            .iter()
            .find(|k| k.key.id == record.id)
            .unwrap()
            .state,
        "expired"
    );

    // Two consumers at once: exactly one wins.
    let (contested, _) = env
        .dir
        .create_recovery_key(&env.audit, "alice", 10)
        .await
        .unwrap();
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    let (a, b) = tokio::join!(
        env.dir.consume_recovery_key(&env.audit, &contested),
        other.consume_recovery_key(&env.audit, &contested)
    );
    assert_eq!(
        u8::from(a.is_ok()) + u8::from(b.is_ok()),
        1,
        "{a:?} / {b:?}"
    );

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
    let outcome = env.dir.bootstrap(&settings).await.unwrap();
    assert_eq!(
        outcome,
        BootstrapOutcome::Created {
            generated_password: None
        }
    );
    assert!(env.store.is_bootstrapped().await.unwrap());

    let admins = env.store.group_by_name(ADMIN_GROUP).await.unwrap().unwrap();
    assert!(admins.is_superuser);
    let detail = env.dir.user_detail(RECOVERY_ADMIN).await.unwrap();
    assert_eq!(detail.groups, vec![ADMIN_GROUP]);
    assert!(detail.is_superuser);
    assert_eq!(detail.user.email, "admin@example.com");
    let hash = detail.user.password_hash.clone().unwrap();
    assert_eq!(
        hasher().verify(password, &hash).await.unwrap(),
        PasswordVerdict::Match
    );
    let tokens = env.store.api_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].token_hash, sha256_hex(token.as_bytes()));
    assert_eq!(tokens[0].user_id, detail.user.id);
    assert_eq!(tokens[0].identifier, "authentik-bootstrap-token");
    assert_eq!(tokens[0].intent, "api");
    assert_eq!(tokens[0].expires_at, None);
    assert_eq!(
        env.actions().await,
        vec![
            action::MODEL_CREATED,
            action::MODEL_CREATED,
            action::BOOTSTRAP
        ]
    );

    // Second time: nothing.
    let (users, events) = (
        env.store.users().await.unwrap().len(),
        env.event_count().await,
    );
    assert_eq!(
        env.dir.bootstrap(&settings).await.unwrap(),
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
    let outcome = env
        .dir
        .bootstrap(&BootstrapSettings::default())
        .await
        .unwrap();
    let BootstrapOutcome::Created {
        generated_password: Some(password),
    } = outcome
    else {
        panic!("expected a generated password: {outcome:?}");
    };
    assert!(password.len() >= 20);
    let admin = env
        .store
        .user_by_name(RECOVERY_ADMIN)
        .await
        .unwrap()
        .unwrap();
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
    let (a, b) = tokio::join!(env.dir.bootstrap(&settings), other.bootstrap(&settings));
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

// ---- concurrency and crash safety ---------------------------------------------------

async fn check_concurrent_writers(db: &TestDb) {
    let env = env(db).await;
    // Two pools, as the CLI and the server have.
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    let create = |dir: &Directory, name: String| {
        let (dir, audit) = (dir.clone(), env.audit.clone());
        async move {
            dir.create_user(
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
    tx.append_event(new_event(action::MODEL_CREATED), T0)
        .await
        .unwrap();
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
        .create_group(&env.audit, "orphans", false, Some("missing"))
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

// ---- SQLite only --------------------------------------------------------------------

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
    dir.create_user(
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
    assert!(
        msg.contains("unsupported database URL scheme 'mysql'"),
        "{msg}"
    );
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
