//! Finding 3: introspection and userinfo share one liveness check. Introspection
//! used to check signature, revocation list and grant only, so a token of a
//! person the gate no longer lets in (removed from the bound groups, or a
//! password-only grant for an application that now requires MFA) read active.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;

use crate::harness::World;
use crate::support::*;

async fn introspect(w: &World, client: &Client, token: &str) -> Value {
    let (status, body) = post_json(w, "/application/o/introspect/", client, &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn userinfo(w: &World, access_token: &str) -> StatusCode {
    let req = Request::get("/application/o/userinfo/")
        .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
        .body(Body::empty())
        .unwrap();
    w.browser().send(req).await.status
}

/// Both tokens of a fresh code flow read active, and userinfo answers.
async fn live_tokens(w: &World, vault: &Client) -> (String, String) {
    let mut b = signed_in(w, "alice").await;
    let tokens = code_flow(w, &mut b, vault, "openid profile offline_access").await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    for t in [&access, &refresh] {
        let r = introspect(w, vault, t).await;
        assert_eq!(r["active"], true, "{r}");
        assert_eq!(r["username"], "alice");
    }
    assert_eq!(userinfo(w, &access).await, StatusCode::OK);
    (access, refresh)
}

async fn assert_dead(w: &World, vault: &Client, access: &str, refresh: &str) {
    for t in [access, refresh] {
        let r = introspect(w, vault, t).await;
        assert_eq!(r, serde_json::json!({"active": false}));
    }
    assert_eq!(userinfo(w, access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_user_removed_from_the_bound_groups_holds_no_live_token() {
    let (w, vault) = staff_world("vault", false).await;
    let (access, refresh) = live_tokens(&w, &vault).await;
    w.dir.groups().remove_member(&audit(), "staff", "alice").await.unwrap();
    w.changed().await;
    assert_dead(&w, &vault, &access, &refresh).await;
}

#[tokio::test]
async fn a_password_only_grant_dies_when_the_application_comes_to_require_mfa() {
    let (w, vault) = staff_world("vault", false).await;
    let (access, refresh) = live_tokens(&w, &vault).await;
    require_mfa_for(&w, "vault").await;
    assert_dead(&w, &vault, &access, &refresh).await;
}

#[tokio::test]
async fn a_disabled_user_holds_no_live_token() {
    let (w, vault) = staff_world("vault", false).await;
    let (access, refresh) = live_tokens(&w, &vault).await;
    w.dir.users().set_active(&audit(), "alice", false).await.unwrap();
    w.changed().await;
    assert_dead(&w, &vault, &access, &refresh).await;
}

#[tokio::test]
async fn introspection_shows_only_the_caller_s_own_tokens() {
    let (w, vault) = staff_world("vault", false).await;
    let other = oidc_app(&w, "other", false, None).await;
    let (access, refresh) = live_tokens(&w, &vault).await;
    for t in [&access, &refresh] {
        assert_eq!(introspect(&w, &other, t).await["active"], false);
    }
}
