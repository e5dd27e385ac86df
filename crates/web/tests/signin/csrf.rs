use axum::http::StatusCode;

use crate::harness::{PASSWORD, World};

#[tokio::test]
async fn forms_without_the_right_token_are_refused() {
    let w = World::new().await;
    w.user("alice").await;
    let mut b = w.browser();
    let page = b.get("/login").await;
    assert_eq!(page.status, StatusCode::OK);
    // Missing and wrong tokens: 403, and the flow stays at the first step.
    assert_eq!(
        b.post("/login", &[("identifier", "alice")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.post("/login", &[("identifier", "alice"), ("csrf_token", "forged")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(b.get("/login").await.body.contains("name=\"identifier\""));
    // A token from another browser's flow does not work either.
    let mut other = w.browser();
    let theirs = other.get("/login").await.csrf();
    assert_eq!(
        b.post("/login", &[("identifier", "alice"), ("csrf_token", &theirs)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Without the flow cookie at all.
    let mut cookieless = w.browser();
    assert_eq!(
        cookieless
            .post(
                "/login/password",
                &[("password", PASSWORD), ("csrf_token", &page.csrf())]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Signed in, the account forms need the session's token.
    let done = b.sign_in("/if/user/", "alice", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let r = b
        .post(
            "/if/user/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "Brand-New-Pass-77"),
                ("new_password_repeat", "Brand-New-Pass-77"),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Only the password set up by the test, no change from the forged form.
    assert_eq!(w.actions().await.iter().filter(|a| *a == "password_set").count(), 1);
    let r = b
        .post(
            "/if/user/account/sessions/revoke",
            &[("session_id", "x"), ("csrf_token", "forged")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let w = World::new().await;
    let mut b = w.browser();
    for path in [
        "/login",
        "/if/flow/default-authentication-flow/?next=/if/user/",
        "/nope",
        "/-/health/live/",
    ] {
        let p = b.get(path).await;
        let h = |n: &str| p.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let csp = h("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("x-frame-options"), "DENY");
        assert_eq!(h("referrer-policy"), "same-origin");
    }
    let p = b.get("/login").await;
    assert_eq!(p.headers.get("cache-control").unwrap(), "no-store");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let w = World::new().await;
    let mut b = w.browser();
    let csrf = b.get("/login").await.csrf();
    let huge = "x".repeat(100 * 1024);
    let r = b.post("/login", &[("identifier", &huge), ("csrf_token", &csrf)]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}
