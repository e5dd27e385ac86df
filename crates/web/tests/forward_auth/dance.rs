//! The sign-in hand-off: /start → Gatehouse → /callback → back to the page.

use axum::http::StatusCode;
use gatehouse_crypto::signing::UnverifiedJwt;

use crate::harness::*;

#[tokio::test]
async fn nginx_sign_in_lands_on_the_original_url_with_the_identity() {
    let w = World::new().await;
    let mut b = w.browser();
    let original = "http://wiki.test/docs/page?x=1&y=%C3%BC";

    // Not signed in anywhere: the dance stops at Gatehouse's sign-in page.
    let (hops, page) = b.nginx_dance(original).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"identifier\""), "{hops:?}");
    assert!(
        hops[1].starts_with("http://auth.test/application/proxy/authorize/?state="),
        "{hops:?}"
    );
    assert!(
        hops[2].starts_with("http://auth.test/login?next=/application/proxy/authorize/%3Fstate%3D"),
        "{hops:?}"
    );
    let state_cookie = b.cookie("gatehouse_proxy_state").expect("state cookie on wiki.test");

    // Signing in continues the dance to the callback and back to the page.
    let page = b.get(&format!("{AUTH_URL}/login")).await;
    let r = b
        .post(AUTH, "/login", &[("identifier", "alice"), ("csrf_token", &page.csrf())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("{AUTH_URL}/login")).await;
    let r = b
        .post(
            AUTH,
            "/login/password",
            &[("password", PASSWORD), ("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let next = format!("{AUTH_URL}{}", r.location());
    let (hops, _) = b.follow(&next).await;
    assert!(
        hops[1].starts_with("http://wiki.test/outpost.goauthentik.io/callback?code="),
        "{hops:?}"
    );
    assert_eq!(hops.last().unwrap(), original, "back where the person started");
    assert!(b.cookie("gatehouse_proxy_state").is_none(), "state cookie cleared");
    let _ = state_cookie;

    // The check now passes with authentik's headers.
    let ok = b.nginx_check(original).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.header("x-authentik-username"), Some("alice"));
    assert_eq!(ok.header("x-authentik-groups"), Some("staff"));
    assert_eq!(ok.header("x-authentik-email"), Some("alice@example.com"));
    assert_eq!(ok.header("x-authentik-name"), Some("ALICE Example"));
    assert_eq!(ok.header("x-authentik-entitlements"), Some(""));
    assert_eq!(ok.header("x-authentik-meta-app"), Some("wiki"));
    assert_eq!(
        ok.header("x-authentik-meta-outpost"),
        Some("gatehouse-embedded-outpost")
    );
    assert_eq!(
        ok.header("x-authentik-meta-jwks"),
        Some("http://auth.test/application/o/wiki/jwks/")
    );
    assert!(ok.header("x-authentik-meta-version").unwrap().starts_with("gatehouse/"));
    let uid = ok.header("x-authentik-uid").unwrap().to_string();
    let alice_id = w.dir.users().get("alice").await.unwrap().id.to_string();
    assert_eq!(
        uid,
        gatehouse_crypto::sha256_hex(alice_id.as_bytes()),
        "authentik's hashed uid"
    );

    // The JWT is signed by a published key and says the same.
    let jwt = ok.header("x-authentik-jwt").expect("signed identity");
    let parsed = UnverifiedJwt::parse(jwt).unwrap();
    let key = w
        .dir
        .keys()
        .verifying_key(parsed.kid().unwrap())
        .await
        .unwrap()
        .expect("published key");
    parsed.verify_with(jwt, &key).unwrap();
    assert_eq!(parsed.claims["sub"], uid.as_str());
    assert_eq!(parsed.claims["preferred_username"], "alice");
    assert_eq!(parsed.claims["groups"], serde_json::json!(["staff"]));
    assert_eq!(parsed.claims["iss"], "http://auth.test/application/o/wiki/");
    assert!(w.actions().await.contains(&"authorize_application".to_string()));
}

#[tokio::test]
async fn a_signed_in_person_passes_straight_through_and_codes_are_single_use() {
    let w = World::new().await;
    let mut b = w.browser();
    b.sign_in("alice").await;
    let (hops, _) = b.nginx_dance("http://wiki.test/a").await;
    assert_eq!(hops.len(), 4, "start, authorize, callback, page: {hops:?}");
    let callback = hops[2].clone();

    // Replaying the callback (same browser, same code) does nothing.
    b.set("wiki.test", "gatehouse_proxy_state", "whatever");
    let again = b.get(&callback).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("no longer valid") || again.body.contains("expired"));
}

#[tokio::test]
async fn a_code_is_bound_to_the_browser_that_started() {
    let w = World::new().await;
    // The attacker starts a sign-in and gets a code for their own account…
    let mut attacker = w.browser();
    attacker.sign_in("alice").await;
    let start = "http://wiki.test/outpost.goauthentik.io/start?rd=http%3A%2F%2Fwiki.test%2F";
    let r = attacker.get(start).await;
    let authorize = r.location().to_string();
    let r = attacker.get(&authorize).await;
    let callback = r.location().to_string();
    assert!(callback.starts_with("http://wiki.test/outpost.goauthentik.io/callback?code="));

    // …and sends the victim the callback link: without the attacker's state
    // cookie it opens nothing (no login CSRF), and the code is spent.
    let mut victim = w.browser();
    victim.set(
        "wiki.test",
        "gatehouse_proxy_state",
        "victims-own-state-token-0000000000000000000",
    );
    let r = victim.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(victim.cookie(&cookie_name(&w, "wiki").await).is_none());
    let r = attacker.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "spent by the failed attempt");
}

#[tokio::test]
async fn rd_cannot_leave_the_application() {
    let w = World::new().await;
    let mut b = w.browser();
    b.sign_in("alice").await;
    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "http://wiki.test.evil.example/",
        "http://wiki.test@evil.example/",
        "javascript:alert(1)",
    ] {
        let start = format!(
            "http://wiki.test/outpost.goauthentik.io/start?rd={}",
            gatehouse_proxy::url::encode_component(evil)
        );
        let (hops, _) = b.follow(&start).await;
        assert_eq!(hops.last().unwrap(), "http://wiki.test/", "{evil}: {hops:?}");
    }
}

#[tokio::test]
async fn a_user_outside_the_bound_groups_gets_403_not_a_loop() {
    let w = World::new().await;
    let mut b = w.browser();
    b.sign_in("bob").await;
    let (hops, page) = b.nginx_dance("http://wiki.test/").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{hops:?}");
    assert!(page.body.contains("does not have access to wiki"));
    assert!(b.cookie(&cookie_name(&w, "wiki").await).is_none());
}

#[tokio::test]
async fn domain_mode_signs_in_once_for_every_host() {
    let w = World::new().await;
    let mut b = w.browser();
    b.sign_in("bob").await;
    // Traefik: the check itself redirects, to the domain's sign-in host.
    let r = b.forwarded_check("traefik", "http://grafana.corp.test/d/1").await;
    assert_eq!(r.status, StatusCode::FOUND);
    let start = r.location().to_string();
    assert_eq!(
        start,
        "http://auth.corp.test/outpost.goauthentik.io/start?rd=http%3A%2F%2Fgrafana.corp.test%2Fd%2F1"
    );
    let (hops, _) = b.follow(&start).await;
    assert!(hops[2].starts_with("http://auth.corp.test/outpost.goauthentik.io/callback?code="));
    assert_eq!(hops.last().unwrap(), "http://grafana.corp.test/d/1");
    let set = b.cookie(&cookie_name(&w, "corp").await);
    assert!(set.is_some(), "the session cookie is a domain cookie");
    // Every host of the domain passes now, Caddy's endpoint too.
    for host in ["grafana.corp.test", "wiki.corp.test", "corp.test"] {
        let ok = b.forwarded_check("caddy", &format!("http://{host}/")).await;
        assert_eq!(ok.status, StatusCode::OK, "{host}");
        assert_eq!(ok.header("x-authentik-username"), Some("bob"));
        assert_eq!(ok.header("x-authentik-meta-app"), Some("corp"));
    }
}

#[tokio::test]
async fn the_session_cookie_of_domain_mode_carries_the_domain() {
    let w = World::new().await;
    let mut b = w.browser();
    b.sign_in("bob").await;
    let r = b
        .get("http://auth.corp.test/outpost.goauthentik.io/start?rd=http%3A%2F%2Fx.corp.test%2F")
        .await;
    let state = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("gatehouse_proxy_state="))
        .unwrap();
    assert!(state.contains("Path=/outpost.goauthentik.io/") && state.contains("HttpOnly"));
    assert!(!state.contains("Domain="), "the state stays on the host that started");
    let r = b.get(r.location()).await;
    let r = b.get(r.location()).await;
    let session = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("gatehouse_proxy_") && !c.starts_with("gatehouse_proxy_state"))
        .unwrap();
    assert!(session.contains("; Domain=corp.test"), "{session}");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    assert!(!session.contains("Secure"), "http in tests");
    assert_eq!(r.location(), "http://x.corp.test/");
}

pub async fn cookie_name(w: &World, slug: &str) -> String {
    let app = w.dir.apps().get(slug).await.unwrap();
    format!("gatehouse_proxy_{}", &app.app.id.simple().to_string()[..12])
}
