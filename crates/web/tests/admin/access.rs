use axum::http::StatusCode;
use gatehouse_core::Audit;
use gatehouse_core::mfa::{MfaMode, MfaPolicy};

use crate::harness::{PASSWORD, World};

pub const GETS: &[&str] = &[
    "/if/admin/",
    "/if/admin/users/",
    "/if/admin/users/?q=ali&page=1",
    "/if/admin/users/new",
    "/if/admin/users/alice/",
    "/if/admin/groups/",
    "/if/admin/groups/staff/",
    "/if/admin/applications/",
    "/if/admin/applications/new/oidc",
    "/if/admin/applications/new/proxy",
    "/if/admin/applications/wiki/",
    "/if/admin/applications/wiki/settings",
    "/if/admin/events/",
    "/if/admin/system/",
    "/if/admin/access/",
    "/if/admin/access/?group=staff&app=wiki&page=1",
    "/if/admin/access/access.csv",
    "/if/admin/events/?verify=1&user=alice",
    "/if/admin/invitations/",
    "/if/admin/applications/new/saml",
    "/if/admin/applications/new/ldap",
];

pub const POSTS: &[&str] = &[
    "/if/admin/users/new",
    "/if/admin/users/alice/edit",
    "/if/admin/users/alice/disable",
    "/if/admin/users/alice/enable",
    "/if/admin/users/alice/revoke-sessions",
    "/if/admin/users/alice/reset-mfa",
    "/if/admin/users/alice/revoke-grant",
    "/if/admin/users/alice/recovery-link",
    "/if/admin/users/alice/recovery-mail",
    "/if/admin/users/alice/password",
    "/if/admin/users/alice/add-group",
    "/if/admin/users/alice/remove-group",
    "/if/admin/groups/new",
    "/if/admin/groups/staff/add-member",
    "/if/admin/groups/staff/remove-member",
    "/if/admin/groups/staff/superuser",
    "/if/admin/applications/new/oidc",
    "/if/admin/applications/new/proxy",
    "/if/admin/applications/wiki/bind",
    "/if/admin/applications/wiki/unbind",
    "/if/admin/applications/wiki/rotate-secret",
    "/if/admin/system/rotate-keys",
    "/if/admin/invitations/new",
    "/if/admin/invitations/welcome/delete",
    "/if/admin/applications/new/saml",
    "/if/admin/applications/new/ldap",
];

/// alice (a person), root (an administrator through the nested group
/// `ops` ⊂ `admins`), the group `staff`; MFA policy off unless `mfa`.
pub async fn world(mfa: bool) -> World {
    world_with(mfa, gatehouse_web::WebConfig::for_tests("http://auth.test")).await
}

/// [`world`] with the server's configuration.
pub async fn world_with(mfa: bool, config: gatehouse_web::WebConfig) -> World {
    let w = World::with_config(World::fast_params(), config).await;
    let audit = Audit::cli("test");
    w.user("alice").await;
    w.user("root").await;
    let groups = w.dir.groups();
    groups.create(&audit, "admins", true, None).await.unwrap();
    groups.create(&audit, "ops", false, Some("admins")).await.unwrap();
    groups.create(&audit, "staff", false, None).await.unwrap();
    groups.add_member(&audit, "ops", "root").await.unwrap();
    groups.add_member(&audit, "staff", "alice").await.unwrap();
    w.dir.apps().create(&audit, "wiki", "Team Wiki", None).await.unwrap();
    let welcome = gatehouse_core::invitations::NewInvitation {
        name: "welcome".into(),
        single_use: true,
        ..Default::default()
    };
    w.dir.invitations().create(&audit, welcome).await.unwrap();
    if !mfa {
        let off = MfaPolicy {
            mode: MfaMode::Off,
            groups: vec![],
            apps: vec![],
        };
        w.dir.mfa().set_policy(&audit, off).await.unwrap();
    }
    w
}

#[tokio::test]
async fn a_stranger_is_sent_to_sign_in_and_back() {
    let w = world(false).await;
    let mut b = w.browser();
    for path in ["/if/admin/", "/if/admin/users/alice/"] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location().unwrap(), format!("/login?next={path}"));
    }
    let page = b.post("/if/admin/users/new", &[("username", "x")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_person_gets_403_on_every_page_and_action() {
    let w = world(false).await;
    let mut b = w.browser();
    let r = b.sign_in("/if/user/", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let portal = b.get("/if/user/").await;
    assert!(!portal.body.contains("/if/admin/"), "no admin link for a person");
    let csrf = portal.csrf();
    // The live tail too (for an admin it never ends, so it is not in GETS).
    for path in GETS.iter().chain(&["/if/admin/events/stream?after=0"]) {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "GET {path}");
        assert!(page.body.contains("Administrators only"), "GET {path}");
    }
    let before = w.actions().await.len();
    for path in POSTS {
        let form = [
            ("csrf_token", csrf.as_str()),
            ("username", "mallory"),
            ("confirm", "yes"),
        ];
        let page = b.post(path, &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "POST {path}");
    }
    assert_eq!(w.actions().await.len(), before, "nothing changed");
    assert!(w.dir.users().by_id(uuid::Uuid::nil()).await.unwrap().is_none());
}

#[tokio::test]
async fn an_admin_form_without_the_csrf_token_is_refused() {
    let w = world(false).await;
    let mut b = w.browser();
    b.sign_in("/if/admin/", "root", PASSWORD).await;
    let before = w.actions().await.len();
    for path in POSTS {
        for form in [
            vec![("confirm", "yes")],
            vec![("csrf_token", "forged"), ("confirm", "yes")],
        ] {
            let page = b.post(path, &form).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "POST {path}");
            assert!(page.body.contains("not sent from this page"), "POST {path}");
        }
    }
    assert_eq!(w.actions().await.len(), before, "nothing changed");
}

#[tokio::test]
async fn an_admin_without_mfa_steps_up_first() {
    let w = world(true).await;
    // Signed in while the policy was off, then the default policy (admins
    // must use MFA) is back: the session has no second factor.
    let audit = Audit::cli("test");
    let off = MfaPolicy {
        mode: MfaMode::Off,
        groups: vec![],
        apps: vec![],
    };
    w.dir.mfa().set_policy(&audit, off).await.unwrap();
    let mut b = w.browser();
    b.sign_in("/if/user/", "root", PASSWORD).await;
    assert!(
        b.get("/if/user/").await.body.contains("href=\"/if/admin/\""),
        "portal links the admin"
    );
    w.dir.mfa().set_policy(&audit, MfaPolicy::default()).await.unwrap();
    w.changed().await;
    let page = b.get("/if/admin/users/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location().unwrap(), "/login/mfa/step-up?next=/if/admin/users/");
    let csrf = b.get("/if/user/").await.csrf();
    let page = b
        .post("/if/admin/groups/new", &[("csrf_token", &csrf), ("name", "x")])
        .await;
    assert_eq!(page.location().unwrap(), "/login/mfa/step-up?next=/if/admin/");
    assert!(w.dir.groups().by_name("x").await.unwrap().is_none());
}
