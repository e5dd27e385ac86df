//! The check's answers and how changes reach them.

use axum::http::StatusCode;
use gatehouse_core::ProviderKind;

use crate::dance::cookie_name;
use crate::harness::*;

async fn signed_in_alice(w: &World) -> Browser {
    let mut b = w.browser();
    b.sign_in("alice").await;
    let (hops, _) = b.nginx_dance("http://wiki.test/").await;
    assert_eq!(hops.last().unwrap(), "http://wiki.test/");
    b
}

#[tokio::test]
async fn each_endpoint_answers_by_its_proxy_s_contract() {
    let w = World::new().await;
    let mut anon = w.browser();
    assert_eq!(
        anon.nginx_check("http://wiki.test/").await.status,
        StatusCode::UNAUTHORIZED
    );
    for endpoint in ["traefik", "caddy"] {
        let r = anon.forwarded_check(endpoint, "http://wiki.test/p?q=1").await;
        assert_eq!(r.status, StatusCode::FOUND, "{endpoint}");
        assert_eq!(
            r.location(),
            "http://wiki.test/outpost.goauthentik.io/start?rd=http%3A%2F%2Fwiki.test%2Fp%3Fq%3D1"
        );
    }
    let mut alice = signed_in_alice(&w).await;
    for endpoint in ["traefik", "caddy"] {
        let r = alice.forwarded_check(endpoint, "http://wiki.test/p").await;
        assert_eq!(r.status, StatusCode::OK, "{endpoint}");
        assert_eq!(r.header("x-authentik-username"), Some("alice"));
    }
    // Any method: nginx's subrequest keeps the original one.
    let (host, _) = split_url("http://wiki.test/");
    let req = axum::http::Request::post("/outpost.goauthentik.io/auth/nginx")
        .header("x-original-url", "http://wiki.test/form")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(alice.send(&host, req).await.status, StatusCode::OK);
    // A host no application claims.
    assert_eq!(
        alice.nginx_check("http://other.test/").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn skip_paths_pass_without_sign_in_and_tricks_do_not() {
    let w = World::new().await;
    let mut anon = w.browser();
    let r = anon.nginx_check("http://wiki.test/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("x-authentik-username"),
        Some(""),
        "no identity on a skipped path"
    );
    assert_eq!(
        anon.nginx_check("http://wiki.test/health?x=1").await.status,
        StatusCode::OK
    );
    for trick in [
        "http://wiki.test/healthz",
        "http://wiki.test/health/../admin",
        "http://wiki.test/x/../health",
    ] {
        assert_eq!(
            anon.nginx_check(trick).await.status,
            StatusCode::UNAUTHORIZED,
            "{trick}"
        );
    }
}

#[tokio::test]
async fn sign_out_asks_gatehouse_then_denies_at_once() {
    let w = World::new().await;
    let mut b = signed_in_alice(&w).await;
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);
    let cookie = cookie_name(&w, "wiki").await;
    let token = b.cookie(&cookie).unwrap();

    // authentik's sign-out path on the protected host clears its cookie and
    // sends the browser to Gatehouse, which asks: a link from anywhere (issue
    // 13, finding 10) ends nothing.
    let r = b.get("http://wiki.test/outpost.goauthentik.io/sign_out").await;
    assert_eq!(r.location(), "http://auth.test/logout");
    assert!(b.cookie(&cookie).is_none(), "cookie cleared");
    let ask = b.get("http://auth.test/logout").await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("Sign out of Gatehouse?"), "{}", ask.body);
    assert_eq!(
        b.get("http://auth.test/if/user/").await.status,
        StatusCode::OK,
        "still signed in"
    );
    b.set("wiki.test", &cookie, &token);
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);
    assert!(!w.actions().await.contains(&"logout".to_string()));
    // A POST to the outpost path (another subdomain's form) ends nothing either.
    let posted = b.post("wiki.test", "/outpost.goauthentik.io/sign_out", &[]).await;
    assert_eq!(posted.location(), "http://auth.test/logout");
    assert_eq!(b.get("http://auth.test/if/user/").await.status, StatusCode::OK);

    // The person confirms: Gatehouse's session ends, and with it every proxy
    // session; this node forgets its cached decisions at once, no feed needed.
    let ask = b.get("http://auth.test/logout").await;
    let done = b.post("auth.test", "/logout", &[("csrf_token", &ask.csrf())]).await;
    assert!(done.body.contains("Signed out"), "{}", done.body);
    b.set("wiki.test", &cookie, &token);
    assert_eq!(
        b.nginx_check("http://wiki.test/").await.status,
        StatusCode::UNAUTHORIZED
    );
    let portal = b.get("http://auth.test/if/user/").await;
    assert!(portal.status.is_redirection() && portal.location().starts_with("/login"));
    assert!(w.actions().await.contains(&"logout".to_string()));
}

#[tokio::test]
async fn changes_from_elsewhere_apply_when_the_feed_moves() {
    let w = World::new().await;
    let mut b = signed_in_alice(&w).await;
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);
    // (The first check created the identity token's signing key, a change of
    // its own; this one is answered from the cache.)
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);

    // Another node (or the CLI) takes alice out of staff. Until the feed says
    // so the cached decision stands (at most its few seconds)…
    w.elsewhere
        .groups()
        .remove_member(&audit(), "staff", "alice")
        .await
        .unwrap();
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);
    // …and once it moves, she is refused, with a 403 rather than a sign-in loop.
    w.changed().await;
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::FORBIDDEN);
    let r = b.forwarded_check("traefik", "http://wiki.test/").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Back in the group: allowed again.
    w.dir.groups().add_member(&audit(), "staff", "alice").await.unwrap();
    w.changed().await;
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);

    // Revoking her sessions (session revoke --user alice) ends the proxy session.
    w.dir.sessions().revoke_user(&audit(), "alice").await.unwrap();
    w.changed().await;
    assert_eq!(
        b.nginx_check("http://wiki.test/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn disabling_the_user_ends_access_and_cached_decisions_expire() {
    let w = World::new().await;
    let mut b = signed_in_alice(&w).await;
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);
    w.dir.users().set_active(&audit(), "alice", false).await.unwrap();
    // Even if the feed never moved, a decision lives only a few seconds.
    w.clock.advance_seconds(6);
    assert_eq!(
        b.nginx_check("http://wiki.test/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_proxy_cookie_opens_neither_gatehouse_nor_another_application() {
    let w = World::new().await;
    let b = signed_in_alice(&w).await;
    let token = b.cookie(&cookie_name(&w, "wiki").await).unwrap();
    // The protected service sees the cookie; replayed as Gatehouse's session…
    let mut thief = w.browser();
    thief.set(AUTH, "gatehouse_session", &token);
    let portal = thief.get("http://auth.test/if/user/").await;
    assert!(portal.status.is_redirection(), "not a Gatehouse session");
    // …or under another application's cookie name, it is nothing.
    let corp = cookie_name(&w, "corp").await;
    thief.set("x.corp.test", &corp, &token);
    let r = thief.forwarded_check("caddy", "http://x.corp.test/").await;
    assert_eq!(r.status, StatusCode::FOUND);
}

#[tokio::test]
async fn sessions_expire_with_their_parent() {
    let w = World::new().await;
    let mut b = signed_in_alice(&w).await;
    assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);
    // Use keeps the Gatehouse session alive past its idle time…
    let idle = w.dir.session_policy().idle_secs;
    for _ in 0..3 {
        w.clock.advance_seconds(idle / 2);
        assert_eq!(b.nginx_check("http://wiki.test/").await.status, StatusCode::OK);
    }
    // …but not past its absolute end.
    w.clock.advance_seconds(w.dir.session_policy().absolute_secs);
    assert_eq!(
        b.nginx_check("http://wiki.test/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn additional_headers_and_basic_auth_come_from_attributes() {
    let w = World::new().await;
    // Attributes are set by blueprints and the admin API, through the same write.
    let attributes = serde_json::json!({
        "additionalHeaders": {"X-Team": "ops\r\nX-Injected: 1", "Set-Cookie": "a=b", "X-authentik-username": "root"},
        "wiki_password": "pw",
    });
    let change = gatehouse_core::users::UserChange {
        attributes: Some(attributes),
        ..Default::default()
    };
    w.dir.users().update(&audit(), "alice", &change).await.unwrap();
    let app = w.dir.apps().get("wiki").await.unwrap().app;
    let mut config = app.provider_config.clone();
    config["basic_auth_enabled"] = true.into();
    config["basic_auth_password_attribute"] = "wiki_password".into();
    let spec = gatehouse_core::ProviderSpec {
        kind: ProviderKind::Proxy,
        key: app.provider_key.clone(),
        shown: config.clone(),
        config,
    };
    w.dir
        .apps()
        .update_provider(&audit(), "wiki", spec, "model_updated")
        .await
        .unwrap();
    w.changed().await;

    let mut b = signed_in_alice(&w).await;
    let r = b.nginx_check("http://wiki.test/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-team"), Some("ops  X-Injected: 1"));
    assert!(r.header("x-injected").is_none());
    assert!(r.headers.get("set-cookie").is_none());
    assert_eq!(r.header("x-authentik-username"), Some("alice"));
    assert_eq!(r.headers.get_all("x-authentik-username").iter().count(), 1);
    assert_eq!(r.header("authorization"), Some("Basic YWxpY2VAZXhhbXBsZS5jb206cHc="));
}
