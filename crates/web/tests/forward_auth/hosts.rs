//! Which application a request is for, and the pages' answers for unknown hosts.

use axum::http::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn hosts_are_matched_case_and_port_insensitively() {
    let w = World::new().await;
    let mut anon = w.browser();
    for url in [
        "http://WIKI.test/health",
        "http://wiki.test:80/health",
        "http://wiki.test./health",
    ] {
        let r = anon.nginx_check(url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
    }
    // X-Original-URL decides over Host (authentik's nginx snippet sets it).
    let req = axum::http::Request::get("/outpost.goauthentik.io/auth/nginx")
        .header("x-original-url", "http://wiki.test/health")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(anon.send("gatehouse.internal:9000", req).await.status, StatusCode::OK);
    // Without any usable URL the check is refused, not guessed.
    let req = axum::http::Request::get("/outpost.goauthentik.io/auth/nginx")
        .header("x-original-url", "http://wiki.test/a b")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(anon.send("wiki.test", req).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn outpost_pages_on_unknown_hosts_say_so() {
    let w = World::new().await;
    let mut b = w.browser();
    let r = b
        .get("http://nowhere.test/outpost.goauthentik.io/start?rd=http%3A%2F%2Fnowhere.test%2F")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = b.get("http://auth.test/application/proxy/authorize/?state=nope").await;
    assert!(r.status.is_redirection(), "sign in first");
    b.sign_in("alice").await;
    let r = b.get("http://auth.test/application/proxy/authorize/?state=nope").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
