//! Everything an LDAP client can send reaches these functions: the framing
//! codec (as the listener runs it, with its size bound), then a real session
//! over a small directory snapshot, so decoded messages go on into bind,
//! search (the whole filter evaluator, scopes, paging, attribute selection),
//! compare and the extended operations. The text parsers (DNs, filter
//! strings, `password;code`) get the raw input too.
#![no_main]

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use gatehouse_core::{Application, Group, Membership, ProviderKind, Timestamp, User};
use gatehouse_ldap::backend::{Backend, BackendError, DirectoryData};
use gatehouse_ldap::bind::{BindAttempt, BindVerdict};
use gatehouse_ldap::listener::BoundedCodec;
use gatehouse_ldap::session::{Next, Session, Shared};
use gatehouse_ldap::snapshot::{Snapshot, SnapshotCell};
use gatehouse_ldap::{LdapConfig, SearchLimits};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// Accepts the password "pw" for everyone; nothing else.
struct Stub;

#[async_trait]
impl Backend for Stub {
    async fn load(&self) -> Result<DirectoryData, BackendError> {
        Ok(directory())
    }
    async fn directory_changed_since(&self, _: i64) -> Result<bool, BackendError> {
        Ok(false)
    }
    async fn bind(&self, attempt: BindAttempt<'_>) -> Result<BindVerdict, BackendError> {
        Ok(if attempt.password == "pw" {
            BindVerdict::Accepted {
                username: attempt.username.to_string(),
            }
        } else {
            BindVerdict::Rejected
        })
    }
    async fn stored_tls_pem(&self, _: &(dyn Fn() -> Result<String, String> + Sync)) -> Result<String, BackendError> {
        Err(BackendError::Internal("no TLS here".into()))
    }
}

fn user(name: &str, pk: i64) -> User {
    User {
        id: uuid::Uuid::new_v4(),
        pk,
        username: name.into(),
        email: format!("{name}@example.com"),
        name: format!("{name} Example"),
        is_active: pk % 5 != 0,
        password_hash: None,
        attributes: serde_json::json!({"department": "ops", "level": pk}),
        created_at: Timestamp(1_790_000_000_000),
        last_login: None,
        password_changed_at: None,
    }
}

fn directory() -> DirectoryData {
    let users: Vec<User> = (1..=40)
        .map(|i| user(&format!("user{i:02}"), i))
        .chain([user("alice", 41)])
        .collect();
    let mut groups: Vec<Group> = Vec::new();
    for i in 0..8 {
        groups.push(Group {
            id: uuid::Uuid::new_v4(),
            pk: i + 1,
            name: format!("group{i}"),
            is_superuser: i == 0,
            parent_id: (i > 0).then(|| groups[(i as usize - 1) / 2].id),
            attributes: serde_json::json!({}),
            created_at: Timestamp(1_790_000_000_000),
        });
    }
    let memberships = users
        .iter()
        .enumerate()
        .map(|(i, u)| Membership {
            user_id: u.id,
            group_id: groups[i % groups.len()].id,
        })
        .collect();
    let app = |slug: &str, base: &str, search_group: Option<&str>| {
        let mut cfg = LdapConfig::new(base).unwrap_or_else(|_| unreachable!());
        cfg.search_group = search_group.map(str::to_string);
        let app = Application {
            id: uuid::Uuid::new_v4(),
            slug: slug.into(),
            name: slug.into(),
            launch_url: None,
            provider: Some(ProviderKind::Ldap),
            provider_config: cfg.to_value(),
            provider_key: cfg.provider_key().ok(),
            provider_pk: None,
            provider_name: None,
            created_at: Timestamp(0),
        };
        (app, cfg)
    };
    DirectoryData {
        seq: 1,
        users,
        groups,
        memberships,
        bindings: Vec::new(),
        apps: vec![
            app("dir", "DC=ldap,DC=goauthentik,DC=io", None),
            app("other", "ou=other,dc=example,dc=com", Some("group1")),
        ],
    }
}

struct World {
    runtime: tokio::runtime::Runtime,
    shared: Shared,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let snapshots = Arc::new(SnapshotCell::default());
        snapshots.store(Snapshot::build(directory()));
        World {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap_or_else(|_| unreachable!()),
            shared: Shared {
                backend: Arc::new(Stub),
                snapshots,
                limits: SearchLimits {
                    max_results: 25,
                    time_limit: std::time::Duration::from_secs(5),
                },
                binds: Arc::new(tokio::sync::Semaphore::new(4)),
                tls_available: true,
            },
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gatehouse_ldap::dn::Dn::parse(text);
        if let Ok(f) = gatehouse_ldap::filter::parse(text) {
            let snapshot = world().shared.snapshots.load();
            for id in 0..snapshot.apps[0].len() as u32 {
                if let Some(e) = snapshot.apps[0].entry(id) {
                    let _ = gatehouse_ldap::filter::evaluate(&f, e);
                }
            }
        }
        let _ = gatehouse_ldap::bind::split_code(text);
    }
    let w = world();
    let mut codec = BoundedCodec::new(64 * 1024);
    let mut buf = bytes::BytesMut::from(data);
    let mut session = Session::new(None, false);
    w.runtime.block_on(async {
        for _ in 0..64 {
            match codec.decode(&mut buf) {
                Ok(Some(msg)) => {
                    let reply = session.handle(&w.shared, msg).await;
                    if reply.next != Next::Continue {
                        break;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
    });
});
