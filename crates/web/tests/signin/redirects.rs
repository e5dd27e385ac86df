use axum::http::StatusCode;

use crate::harness::{PASSWORD, World, enc};

#[tokio::test]
async fn next_never_leaves_the_site() {
    let w = World::new().await;
    w.user("alice").await;
    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "https:evil.example",
        "/ok\r\nSet-Cookie: x=1",
    ] {
        let mut b = w.browser();
        let r = b.sign_in(evil, "alice", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{evil}");
        assert_eq!(r.location(), Some("/if/user/"), "{evil}");
        // Signed in, /login?next=… also refuses to leave.
        let r = b.get(&format!("/login?next={}", enc(evil))).await;
        assert_eq!(r.location(), Some("/if/user/"), "{evil}");
    }
    // A local path is kept, query and all.
    let mut b = w.browser();
    let r = b
        .sign_in("/application/o/authorize/?client_id=x&state=y", "alice", PASSWORD)
        .await;
    assert_eq!(r.location(), Some("/application/o/authorize/?client_id=x&state=y"));
}

#[tokio::test]
async fn authentik_paths_work() {
    let w = World::new().await;
    w.user("alice").await;
    let mut b = w.browser();
    let page = b
        .get("/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2Faccount%2F")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"identifier\""));
    let r = b
        .post(
            "/login",
            &[("identifier", "alice@example.com"), ("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get("/login").await;
    assert!(page.body.contains("alice@example.com"), "signing in as …");
    let r = b
        .post(
            "/login/password",
            &[("password", PASSWORD), ("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(
        r.location(),
        Some("/if/user/account/"),
        "sign-in by email lands on next"
    );
    let r = b.get("/if/flow/default-invalidation-flow/").await;
    assert!(r.body.contains("Signed out"));
}

#[tokio::test]
async fn not_you_restarts_the_flow() {
    let w = World::new().await;
    let mut b = w.browser();
    let page = b.get("/login").await;
    b.post("/login", &[("identifier", "mallory"), ("csrf_token", &page.csrf())])
        .await;
    assert!(b.get("/login").await.body.contains("mallory"));
    assert_eq!(b.get("/login/restart").await.status, StatusCode::SEE_OTHER);
    let page = b.get("/login").await;
    assert!(page.body.contains("name=\"identifier\"") && !page.body.contains("mallory"));
}
