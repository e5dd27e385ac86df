use axum::http::StatusCode;
use gatehouse_core::Audit;

use crate::harness::{PASSWORD, World};

#[tokio::test]
async fn sign_in_lands_on_next_with_a_fresh_session() {
    let w = World::with_params(
        gatehouse_crypto::HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        "https://auth.test",
    )
    .await;
    w.user("alice").await;
    let mut b = w.browser();
    // A planted session cookie is worthless, and replaced at sign-in.
    b.cookies
        .insert("gatehouse_session".into(), "planted-by-attacker".into());
    let r = b.get("/if/user/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login?next=/if/user/"));
    let r = b.sign_in("/if/user/account/", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/if/user/account/"));
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Secure")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    let token = b.cookies["gatehouse_session"].clone();
    assert_ne!(token, "planted-by-attacker");
    assert!(token.len() >= 43, "256-bit token");
    assert!(!b.cookies.contains_key("gatehouse_flow"), "the flow cookie is cleared");
    // The stored session is the token's hash, not the token.
    let sessions = w.dir.sessions().list(Some("alice")).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0].session.token_hash, token);
    // The portal greets by name; login events recorded.
    let portal = b.get("/if/user/").await;
    assert_eq!(portal.status, StatusCode::OK);
    assert!(portal.body.contains("alice Example"), "{}", portal.body);
    assert!(w.actions().await.contains(&"login".to_string()));
    // Already signed in: /login goes straight on (single sign-on).
    let r = b.get("/login?next=/if/user/account/").await;
    assert_eq!(r.location(), Some("/if/user/account/"));
}

#[tokio::test]
async fn http_cookies_are_not_secure_on_http() {
    let w = World::new().await;
    w.user("alice").await;
    let mut b = w.browser();
    let r = b.sign_in("/if/user/", "alice", PASSWORD).await;
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn portal_shows_exactly_the_bound_applications() {
    let w = World::new().await;
    w.user("alice").await;
    let audit = Audit::cli("test");
    w.dir.groups().create(&audit, "staff", false, None).await.unwrap();
    w.dir
        .groups()
        .create(&audit, "devs", false, Some("staff"))
        .await
        .unwrap();
    w.dir.groups().create(&audit, "ops", false, None).await.unwrap();
    w.dir.groups().add_member(&audit, "devs", "alice").await.unwrap();
    w.dir
        .apps()
        .create(&audit, "wiki", "Team Wiki", Some("https://wiki.example.com/"))
        .await
        .unwrap();
    w.dir
        .apps()
        .create(&audit, "grafana", "Grafana Dashboards", None)
        .await
        .unwrap();
    w.dir
        .apps()
        .create(&audit, "pager", "Pager Duty Console", None)
        .await
        .unwrap();
    w.dir.apps().bind(&audit, "grafana", "staff").await.unwrap();
    w.dir.apps().bind(&audit, "pager", "ops").await.unwrap();
    let mut b = w.browser();
    b.sign_in("/if/user/", "alice", PASSWORD).await;
    let portal = b.get("/").await;
    assert_eq!(portal.location(), Some("/if/user/"));
    let portal = b.get("/if/user/").await;
    assert!(portal.body.contains("Team Wiki") && portal.body.contains("https://wiki.example.com/"));
    assert!(
        portal.body.contains("Grafana Dashboards"),
        "nested group reaches grafana"
    );
    assert!(!portal.body.contains("Pager Duty Console"));
}

#[tokio::test]
async fn sessions_end_on_logout_revoke_disable_and_password_change() {
    let w = World::new().await;
    w.user("alice").await;
    let mut laptop = w.browser();
    let mut phone = w.browser();
    laptop.sign_in("/if/user/", "alice", PASSWORD).await;
    phone.sign_in("/if/user/", "alice", PASSWORD).await;
    // The account page lists both; revoking the phone from the laptop ends it at once.
    let account = laptop.get("/if/user/account/").await;
    assert_eq!(account.status, StatusCode::OK);
    let sessions = w.dir.sessions().list(Some("alice")).await.unwrap();
    assert_eq!(sessions.len(), 2);
    let phone_token = phone.cookies["gatehouse_session"].clone();
    let phone_id = sessions
        .iter()
        .find(|s| s.session.token_hash == gatehouse_crypto::sha256_hex(phone_token.as_bytes()))
        .unwrap()
        .session
        .id;
    let r = laptop
        .post(
            "/if/user/account/sessions/revoke",
            &[("session_id", &phone_id.to_string()), ("csrf_token", &account.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        phone.get("/if/user/").await.status,
        StatusCode::SEE_OTHER,
        "phone signed out"
    );
    assert!(w.actions().await.contains(&"session_revoked".to_string()));

    // Another user's session cannot be revoked through my page.
    w.user("bob").await;
    let mut bob = w.browser();
    bob.sign_in("/if/user/", "bob", PASSWORD).await;
    let bob_id = w.dir.sessions().list(Some("bob")).await.unwrap()[0].session.id;
    let r = laptop
        .post(
            "/if/user/account/sessions/revoke",
            &[("session_id", &bob_id.to_string()), ("csrf_token", &account.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.get("/if/user/").await.status, StatusCode::OK);

    // Changing my password keeps this session and ends the others.
    phone.sign_in("/if/user/", "alice", PASSWORD).await;
    let account = laptop.get("/if/user/account/").await;
    let bad = laptop
        .post(
            "/if/user/account/password",
            &[
                ("current_password", "not-it-at-all"),
                ("new_password", "Brand-New-Pass-77"),
                ("new_password_repeat", "Brand-New-Pass-77"),
                ("csrf_token", &account.csrf()),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let weak = laptop
        .post(
            "/if/user/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "password1"),
                ("new_password_repeat", "password1"),
                ("csrf_token", &account.csrf()),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains("common"), "{}", weak.body);
    let ok = laptop
        .post(
            "/if/user/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "Brand-New-Pass-77"),
                ("new_password_repeat", "Brand-New-Pass-77"),
                ("csrf_token", &account.csrf()),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(laptop.get("/if/user/").await.status, StatusCode::OK);
    assert_eq!(phone.get("/if/user/").await.status, StatusCode::SEE_OTHER);
    let mut fresh = w.browser();
    fresh.ip = "192.0.2.99".into();
    assert_eq!(
        fresh.sign_in("/if/user/", "alice", PASSWORD).await.status,
        StatusCode::OK,
        "old password refused"
    );
    assert_eq!(
        fresh.sign_in("/if/user/", "alice", "Brand-New-Pass-77").await.status,
        StatusCode::SEE_OTHER
    );

    // Disabling ends everything.
    w.dir
        .users()
        .set_active(&Audit::cli("test"), "alice", false)
        .await
        .unwrap();
    assert_eq!(laptop.get("/if/user/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(fresh.get("/if/user/").await.status, StatusCode::SEE_OTHER);

    // Logout asks first (a link must not sign anyone out), then ends the session.
    let r = bob.get("/if/flow/default-invalidation-flow/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Sign out of Gatehouse?"), "{}", r.body);
    let r = bob
        .post("/if/flow/default-invalidation-flow/", &[("csrf_token", &r.csrf())])
        .await;
    assert!(r.body.contains("Signed out"));
    assert_eq!(bob.get("/if/user/").await.status, StatusCode::SEE_OTHER);
    assert!(w.actions().await.contains(&"logout".to_string()));
}

/// Issue 13, finding 10: a link or a form on another site cannot sign anyone
/// out; only the portal's button or the confirmation (with the session's CSRF
/// token) can.
#[tokio::test]
async fn sign_out_needs_the_session_s_csrf_token() {
    let w = World::new().await;
    w.user("alice").await;
    let mut b = w.browser();
    b.sign_in("/if/user/", "alice", PASSWORD).await;
    for path in ["/logout", "/if/flow/default-invalidation-flow/"] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("Sign out of Gatehouse?") && r.body.contains("method=\"post\""));
        assert_eq!(b.get("/if/user/").await.status, StatusCode::OK, "GET {path} signed out");
        for forged in [vec![], vec![("csrf_token", "not-the-token")]] {
            let r = b.post(path, &forged).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {path} {forged:?}");
            assert_eq!(
                b.get("/if/user/").await.status,
                StatusCode::OK,
                "POST {path} signed out"
            );
        }
    }
    assert!(!w.actions().await.contains(&"logout".to_string()));
    // The portal's own button carries the token.
    let portal = b.get("/if/user/").await;
    let r = b.post("/logout", &[("csrf_token", &portal.csrf())]).await;
    assert!(r.body.contains("Signed out"));
    assert_eq!(b.get("/if/user/").await.status, StatusCode::SEE_OTHER);
    // Without a session there is nothing to confirm.
    assert!(b.get("/logout").await.body.contains("Signed out"));
}

#[tokio::test]
async fn idle_and_absolute_lifetimes() {
    let w = World::new().await;
    w.user("alice").await;
    let mut b = w.browser();
    b.sign_in("/if/user/", "alice", PASSWORD).await;
    // Activity keeps the session alive past the idle limit…
    for _ in 0..3 {
        w.clock.advance_seconds(11 * 3600);
        assert_eq!(b.get("/if/user/").await.status, StatusCode::OK);
    }
    // …but not past idleness,
    w.clock.advance_seconds(12 * 3600 + 1);
    assert_eq!(b.get("/if/user/").await.status, StatusCode::SEE_OTHER);
    // and never past the absolute end.
    b.sign_in("/if/user/", "alice", PASSWORD).await;
    for _ in 0..16 {
        w.clock.advance_seconds(11 * 3600);
        b.get("/if/user/").await;
    }
    assert_eq!(b.get("/if/user/").await.status, StatusCode::SEE_OTHER);
}
