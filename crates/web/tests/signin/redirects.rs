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
    assert!(r.body.contains("Sign out of Gatehouse?"));
    let r = b
        .post("/if/flow/default-invalidation-flow/", &[("csrf_token", &r.csrf())])
        .await;
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

/// A new `next` starts the flow over: stage, second-factor state and any
/// WebAuthn ceremony alike.
#[tokio::test]
async fn a_new_next_resets_the_second_factor_state() {
    let w = World::new().await;
    w.user("alice").await;
    let alice = w.dir.users().get("alice").await.unwrap();
    let mut b = w.browser();
    b.get("/login?next=/if/user/").await;
    let token = b.cookies.get("gatehouse_flow").cloned().expect("a flow cookie");
    let mut flow = w.dir.sign_in().flow(&token).await.unwrap().unwrap();
    flow.state.mfa = Some(gatehouse_core::flow::MfaPending {
        user_id: alice.id,
        password_changed_at: alice.password_changed_at,
        amr: vec!["pwd".into()],
        replace_session: None,
        passed: true,
    });
    flow.state.ceremony = Some(serde_json::json!({"challenge": "x"}));
    w.dir.sign_in().save_flow(&mut flow).await.unwrap();
    // The same next: nothing changes.
    b.get("/login?next=/if/user/").await;
    let same = w.dir.sign_in().flow(&token).await.unwrap().unwrap();
    assert!(same.state.mfa.is_some() && same.state.ceremony.is_some());
    // Another next: all of it goes.
    b.get("/login?next=/if/admin/").await;
    let reset = w.dir.sign_in().flow(&token).await.unwrap().unwrap();
    assert_eq!(reset.state.next, "/if/admin/");
    assert!(reset.state.mfa.is_none(), "{:?}", reset.state.mfa);
    assert!(reset.state.ceremony.is_none());
}
