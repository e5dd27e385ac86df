//! Finding 6 (trusted proxies): with the default setting, a neighbour on a
//! private network that reaches Gatehouse directly cannot choose the address
//! the throttle and the audit log see by sending `X-Forwarded-For`.

use axum::http::StatusCode;
use gatehouse_web::WebConfig;
use gatehouse_web::client::{DEFAULT_TRUSTED_PROXIES, TrustedProxies};

use crate::harness::World;

async fn world_with_default_proxies() -> World {
    let mut config = WebConfig::for_tests("http://auth.test");
    config.trusted_proxies = TrustedProxies::parse(DEFAULT_TRUSTED_PROXIES).unwrap();
    World::with_config(World::fast_params(), config).await
}

async fn failure_ips(w: &World) -> Vec<Option<String>> {
    w.dir
        .events()
        .list(&gatehouse_core::EventFilter {
            action: Some("login_failed".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.client_ip)
        .collect()
}

async fn throttle_failures(w: &World, ip: &str) -> i64 {
    let key = gatehouse_core::throttle::client_key(ip);
    w.dir
        .sign_in()
        .throttle_records(&[key])
        .await
        .unwrap()
        .first()
        .map_or(0, |r| r.failures)
}

#[tokio::test]
async fn forwarded_for_from_a_private_neighbour_is_not_believed() {
    let w = world_with_default_proxies().await;
    w.user("alice").await;
    let mut neighbour = w.browser();
    neighbour.ip = "10.1.2.3".into();
    neighbour.forwarded_for = Some("203.0.113.9".into());
    let r = neighbour.sign_in("/if/user/", "alice", "wrong-guess-1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        failure_ips(&w).await,
        vec![Some("10.1.2.3".to_string())],
        "the audit log names the peer"
    );
    assert_eq!(
        throttle_failures(&w, "10.1.2.3").await,
        1,
        "the peer's address is throttled"
    );
    assert_eq!(
        throttle_failures(&w, "203.0.113.9").await,
        0,
        "the forged address is not"
    );

    // A new forged address per request does not escape the address throttle.
    for i in 0..9 {
        neighbour.forwarded_for = Some(format!("198.51.100.{i}"));
        neighbour.sign_in("/if/user/", &format!("user{i}"), "guess").await;
    }
    neighbour.forwarded_for = Some("198.51.100.200".into());
    let r = neighbour.sign_in("/if/user/", "someone", "guess").await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "ten failures from one peer are delayed"
    );
}

#[tokio::test]
async fn forwarded_for_from_a_loopback_proxy_is_believed() {
    let w = world_with_default_proxies().await;
    w.user("alice").await;
    let mut proxied = w.browser();
    proxied.ip = "127.0.0.1".into();
    proxied.forwarded_for = Some("203.0.113.9".into());
    proxied.sign_in("/if/user/", "alice", "wrong-guess-1").await;
    assert_eq!(failure_ips(&w).await, vec![Some("203.0.113.9".to_string())]);
    assert_eq!(throttle_failures(&w, "203.0.113.9").await, 1);
}
