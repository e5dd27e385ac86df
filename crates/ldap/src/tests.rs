//! Session-level tests over a small snapshot and a stub backend: paging,
//! visibility, limits, refusals. (Black-box tests with real clients are in
//! tests/e2e/test_ldap_*.py.)

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::{Application, Binding, Group, Membership, ProviderKind, Timestamp, User};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::*;

use crate::backend::{Backend, BackendError, DirectoryData};
use crate::bind::{BindAttempt, BindVerdict};
use crate::config::LdapConfig;
use crate::search::SearchLimits;
use crate::session::{Next, Session, Shared};
use crate::snapshot::{Snapshot, SnapshotCell};

const BASE: &str = "DC=ldap,DC=goauthentik,DC=io";

struct Stub;

#[async_trait]
impl Backend for Stub {
    async fn load(&self) -> Result<DirectoryData, BackendError> {
        Ok(DirectoryData::default())
    }
    async fn directory_changed_since(&self, _: i64) -> Result<bool, BackendError> {
        Ok(false)
    }
    async fn bind(&self, a: BindAttempt<'_>) -> Result<BindVerdict, BackendError> {
        Ok(match a.password {
            "pw" => BindVerdict::Accepted {
                username: a.username.to_string(),
            },
            _ => BindVerdict::Rejected,
        })
    }
    async fn stored_tls_pem(&self, _: &(dyn Fn() -> Result<String, String> + Sync)) -> Result<String, BackendError> {
        Err(BackendError::Internal("none".into()))
    }
}

fn user(name: &str, pk: i64) -> User {
    User {
        id: uuid::Uuid::new_v4(),
        pk,
        username: name.into(),
        email: format!("{name}@example.com"),
        name: String::new(),
        is_active: true,
        password_hash: None,
        attributes: serde_json::json!({}),
        created_at: Timestamp(0),
        last_login: None,
        password_changed_at: None,
    }
}

/// 30 users u00..u29 plus `svc` (in `search`) and `outsider` (not bound to the app).
fn shared(max_results: usize) -> Shared {
    let mut users: Vec<User> = (0..30).map(|i| user(&format!("u{i:02}"), i + 1)).collect();
    users.push(user("svc", 100));
    users.push(user("outsider", 101));
    let group = |name: &str, pk: i64| Group {
        id: uuid::Uuid::new_v4(),
        pk,
        name: name.into(),
        is_superuser: false,
        parent_id: None,
        attributes: serde_json::json!({}),
        created_at: Timestamp(0),
    };
    let (search, members) = (group("search", 1), group("members", 2));
    let mut memberships = vec![Membership {
        user_id: users[30].id,
        group_id: search.id,
    }];
    memberships.extend(users.iter().take(31).map(|u| Membership {
        user_id: u.id,
        group_id: members.id,
    }));
    let mut cfg = LdapConfig::new(BASE).unwrap();
    cfg.search_group = Some("search".into());
    let app = Application {
        id: uuid::Uuid::new_v4(),
        slug: "dir".into(),
        name: "dir".into(),
        launch_url: None,
        provider: Some(ProviderKind::Ldap),
        provider_config: cfg.to_value(),
        provider_key: cfg.provider_key().ok(),
        provider_pk: None,
        provider_name: None,
        created_at: Timestamp(0),
    };
    let bindings = vec![Binding {
        application_id: app.id,
        group_id: members.id,
    }];
    let cell = SnapshotCell::default();
    cell.store(Snapshot::build(DirectoryData {
        seq: 1,
        users,
        groups: vec![search, members],
        memberships,
        bindings,
        apps: vec![(app, cfg)],
    }));
    Shared {
        backend: Arc::new(Stub),
        snapshots: Arc::new(cell),
        limits: SearchLimits {
            max_results,
            time_limit: Duration::from_secs(5),
        },
        binds: Arc::new(tokio::sync::Semaphore::new(2)),
        tls_available: false,
    }
}

async fn bind(session: &mut Session, shared: &Shared, dn: &str, pw: &str) -> LdapResultCode {
    let op = LdapOp::BindRequest(LdapBindRequest {
        version: 3,
        dn: dn.into(),
        cred: LdapBindCred::Simple(pw.into()),
    });
    match session
        .handle(shared, LdapMsg::new(1, op))
        .await
        .messages
        .pop()
        .map(|m| m.op)
    {
        Some(LdapOp::BindResponse(r)) => r.res.code,
        other => panic!("{other:?}"),
    }
}

fn request(filter: &str, sizelimit: i32) -> LdapSearchRequest {
    LdapSearchRequest {
        base: BASE.into(),
        scope: LdapSearchScope::Subtree,
        aliases: LdapDerefAliases::Never,
        sizelimit,
        timelimit: 0,
        typesonly: false,
        filter: crate::filter::parse(filter).unwrap(),
        attrs: vec!["1.1".into()],
    }
}

/// Entries, the result code and the paged cookie of one search.
async fn search(
    session: &mut Session,
    shared: &Shared,
    req: &LdapSearchRequest,
    page: Option<(i64, Vec<u8>)>,
) -> (Vec<String>, LdapResultCode, Option<Vec<u8>>) {
    let ctrl = page.map_or_else(Vec::new, |(size, cookie)| {
        vec![LdapControl::SimplePagedResults { size, cookie }]
    });
    let reply = session
        .handle(
            shared,
            LdapMsg::new_with_ctrls(2, LdapOp::SearchRequest(req.clone()), ctrl),
        )
        .await;
    let mut dns = Vec::new();
    let mut done = None;
    for m in reply.messages {
        match m.op {
            LdapOp::SearchResultEntry(e) => dns.push(e.dn),
            LdapOp::SearchResultDone(r) => {
                let cookie = m.ctrl.into_iter().find_map(|c| match c {
                    LdapControl::SimplePagedResults { cookie, .. } => Some(cookie),
                    _ => None,
                });
                done = Some((r.code, cookie));
            }
            other => panic!("{other:?}"),
        }
    }
    let (code, cookie) = done.unwrap();
    (dns, code, cookie)
}

#[tokio::test]
async fn paged_results_walk_every_entry_once_from_one_snapshot() {
    let shared = shared(7);
    let mut s = Session::new(None, false);
    assert_eq!(bind(&mut s, &shared, "cn=svc", "pw").await, LdapResultCode::Success);
    let req = request("(objectClass=user)", 0);
    let (mut all, mut cookie) = (Vec::new(), Vec::new());
    let mut pages = 0;
    loop {
        // Pages larger than the server's limit are cut to it.
        let (dns, code, next) = search(&mut s, &shared, &req, Some((50, cookie))).await;
        assert_eq!(code, LdapResultCode::Success);
        assert!(dns.len() <= 7);
        all.extend(dns);
        pages += 1;
        cookie = next.unwrap();
        // A change of the directory mid-way does not disturb the pages.
        shared.snapshots.store(Snapshot::empty());
        if cookie.is_empty() {
            break;
        }
    }
    assert_eq!((all.len(), pages), (32, 5));
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 32);
}

#[tokio::test]
async fn paging_cookies_abandonment_and_size_limits() {
    let shared = shared(10);
    let mut s = Session::new(None, false);
    bind(&mut s, &shared, "uid=svc", "pw").await;
    let req = request("(objectClass=user)", 0);
    let (_, _, cookie) = search(&mut s, &shared, &req, Some((5, Vec::new()))).await;
    let cookie = cookie.unwrap();
    // Another search with that cookie, a made-up cookie: refused.
    let other = request("(uid=u01)", 0);
    let (_, code, _) = search(&mut s, &shared, &other, Some((5, cookie.clone()))).await;
    assert_eq!(code, LdapResultCode::UnwillingToPerform);
    let (_, code, _) = search(&mut s, &shared, &req, Some((5, b"forged".to_vec()))).await;
    assert_eq!(code, LdapResultCode::UnwillingToPerform);
    // Size 0 abandons it: nothing returned, the cookie is gone.
    let (dns, code, next) = search(&mut s, &shared, &req, Some((0, cookie.clone()))).await;
    assert!(dns.is_empty() && code == LdapResultCode::Success && next == Some(Vec::new()));
    let (_, code, _) = search(&mut s, &shared, &req, Some((5, cookie))).await;
    assert_eq!(code, LdapResultCode::UnwillingToPerform);
    // The client's size limit across pages.
    let limited = request("(objectClass=user)", 12);
    let (dns, code, cookie) = search(&mut s, &shared, &limited, Some((10, Vec::new()))).await;
    assert_eq!((dns.len(), code), (10, LdapResultCode::Success));
    let (dns, code, _) = search(&mut s, &shared, &limited, Some((10, cookie.unwrap()))).await;
    assert_eq!((dns.len(), code), (2, LdapResultCode::SizeLimitExceeded));
    // Unpaged: the server's limit, then the client's.
    let (dns, code, _) = search(&mut s, &shared, &req, None).await;
    assert_eq!((dns.len(), code), (10, LdapResultCode::SizeLimitExceeded));
    let (dns, code, _) = search(&mut s, &shared, &request("(objectClass=user)", 3), None).await;
    assert_eq!((dns.len(), code), (3, LdapResultCode::SizeLimitExceeded));
    let (dns, code, _) = search(&mut s, &shared, &request("(uid=u0*)", 0), None).await;
    assert_eq!((dns.len(), code), (10, LdapResultCode::Success));
}

#[tokio::test]
async fn who_sees_what() {
    let shared = shared(100);
    let req = request("(objectClass=*)", 0);
    // Anonymous: refused.
    let mut s = Session::new(None, false);
    let (_, code, _) = search(&mut s, &shared, &req, None).await;
    assert_eq!(code, LdapResultCode::InsufficentAccessRights);
    assert_eq!(
        bind(&mut s, &shared, "", "").await,
        LdapResultCode::InappropriateAuthentication
    );
    assert_eq!(
        bind(&mut s, &shared, "cn=u01", "").await,
        LdapResultCode::UnwillingToPerform
    );
    assert_eq!(
        bind(&mut s, &shared, "cn=u01,ou=groups,DC=ldap,DC=goauthentik,DC=io", "pw").await,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        bind(&mut s, &shared, "not a dn=", "pw").await,
        LdapResultCode::InvalidCredentials
    );
    // Outside the search group: one's own entry only.
    assert_eq!(bind(&mut s, &shared, "cn=u01", "pw").await, LdapResultCode::Success);
    let (dns, code, _) = search(&mut s, &shared, &req, None).await;
    assert_eq!(
        (dns, code),
        (vec![format!("cn=u01,ou=users,{BASE}")], LdapResultCode::Success)
    );
    // A failed bind leaves the connection anonymous.
    assert_eq!(
        bind(&mut s, &shared, "cn=u01", "wrong").await,
        LdapResultCode::InvalidCredentials
    );
    let (_, code, _) = search(&mut s, &shared, &req, None).await;
    assert_eq!(code, LdapResultCode::InsufficentAccessRights);
    // Not admitted by the application's bindings: no search either.
    assert_eq!(
        bind(&mut s, &shared, "cn=outsider", "pw").await,
        LdapResultCode::Success
    );
    let (_, code, _) = search(&mut s, &shared, &req, None).await;
    assert_eq!(code, LdapResultCode::InsufficentAccessRights);
    // The search group sees all: base, two containers, 32 users, 2 groups.
    assert_eq!(bind(&mut s, &shared, "cn=svc", "pw").await, LdapResultCode::Success);
    let (dns, _, _) = search(&mut s, &shared, &req, None).await;
    assert_eq!(dns.len(), 37);
    // Writes and unknown extended operations are refused; unbind closes.
    let reply = s
        .handle(
            &shared,
            LdapMsg::new(3, LdapOp::DelRequest(format!("cn=u01,ou=users,{BASE}"))),
        )
        .await;
    assert!(matches!(&reply.messages[0].op, LdapOp::DelResponse(r) if r.code == LdapResultCode::UnwillingToPerform));
    let ext = LdapOp::ExtendedRequest(LdapExtendedRequest {
        name: "1.3.6.1.4.1.1466.20037".into(),
        value: None,
    });
    let reply = s.handle(&shared, LdapMsg::new(4, ext)).await;
    assert!(matches!(&reply.messages[0].op, LdapOp::ExtendedResponse(r) if r.res.code == LdapResultCode::Unavailable));
    assert_eq!(reply.next, Next::Continue);
    assert_eq!(
        s.handle(&shared, LdapMsg::new(5, LdapOp::UnbindRequest)).await.next,
        Next::Close
    );
}
