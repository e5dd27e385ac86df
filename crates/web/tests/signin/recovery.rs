use axum::http::StatusCode;
use gatehouse_core::Audit;

use crate::harness::{PASSWORD, World};

#[tokio::test]
async fn recovery_link_is_single_use() {
    let w = World::new().await;
    w.user("alice").await;
    let (key, _) = w
        .dir
        .recovery()
        .create_key(&Audit::cli("test"), "alice", 30)
        .await
        .unwrap();
    let path = format!("/recovery/use-token/{key}/");
    let mut b = w.browser();
    // Looking at the link does not spend it.
    assert_eq!(b.get(&path).await.status, StatusCode::OK);
    let page = b.get(&path).await;
    assert!(page.body.contains("alice"));
    // Mismatched or weak passwords: the key stays usable.
    let r = b
        .post(
            &path,
            &[
                ("new_password", "Recovered-Pass-1"),
                ("new_password_repeat", "Recovered-Pass-2"),
                ("csrf_token", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = b
        .post(
            &path,
            &[
                ("new_password", "password"),
                ("new_password_repeat", "password"),
                ("csrf_token", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Forged token: refused.
    let r = b
        .post(
            &path,
            &[
                ("new_password", "Recovered-Pass-1"),
                ("new_password_repeat", "Recovered-Pass-1"),
                ("csrf_token", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post(
            &path,
            &[
                ("new_password", "Recovered-Pass-1"),
                ("new_password_repeat", "Recovered-Pass-1"),
                ("csrf_token", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/if/user/"));
    assert_eq!(b.get("/if/user/").await.status, StatusCode::OK, "signed in");
    // Spent: the link no longer works, and the new password does.
    let mut other = w.browser();
    assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other.sign_in("/if/user/", "alice", PASSWORD).await.status,
        StatusCode::OK,
        "old password refused"
    );
    assert_eq!(
        other.sign_in("/if/user/", "alice", "Recovered-Pass-1").await.status,
        StatusCode::SEE_OTHER
    );
    let actions = w.actions().await;
    assert!(actions.contains(&"recovery_key_used".to_string()) && actions.contains(&"password_set".to_string()));
}

#[tokio::test]
async fn expired_and_unknown_links_are_refused() {
    let w = World::new().await;
    w.user("alice").await;
    let (key, _) = w
        .dir
        .recovery()
        .create_key(&Audit::cli("test"), "alice", 5)
        .await
        .unwrap();
    let path = format!("/recovery/use-token/{key}/");
    let mut b = w.browser();
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    w.clock.advance_seconds(5 * 60 + 1);
    assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND);
    let r = b
        .post(
            &path,
            &[
                ("new_password", "Recovered-Pass-1"),
                ("new_password_repeat", "Recovered-Pass-1"),
                ("csrf_token", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        b.get("/recovery/use-token/not-a-real-key/").await.status,
        StatusCode::NOT_FOUND
    );
}
