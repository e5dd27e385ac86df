use std::time::Instant;

use axum::http::StatusCode;
use gatehouse_core::Audit;
use gatehouse_crypto::HashParams;

use crate::harness::{PASSWORD, World};
use gatehouse_web::views::login::SIGN_IN_FAILED;

/// The password page's body with the per-flow token and the typed name's
/// initial blanked, for comparison.
fn normalised(body: &str) -> String {
    let mut out = body.to_string();
    for (marker, end) in [
        ("name=\"csrf_token\" value=\"", "\""),
        ("class=\"avatar\" aria-hidden=\"true\">", "<"),
    ] {
        if let Some(i) = out.find(marker) {
            let start = i + marker.len();
            let stop = out[start..].find(end).map_or(start, |e| start + e);
            out.replace_range(start..stop, "");
        }
    }
    out
}

#[tokio::test]
async fn unknown_disabled_and_wrong_answer_alike() {
    // Real argon2id cost, so a skipped hash would show in the timings.
    let w = World::with_params(HashParams::default(), "http://auth.test").await;
    w.user("alice").await;
    w.user("dora").await;
    w.dir
        .users()
        .set_active(&Audit::cli("test"), "dora", false)
        .await
        .unwrap();
    let mut bodies = Vec::new();
    let mut times = Vec::new();
    // Each identifier from its own address, so that throttling stays out of it.
    for (i, (who, pw)) in [
        ("alice", "wrong-password-1"),
        ("nobody", "wrong-password-1"),
        ("dora", PASSWORD),
        ("alice", "wrong-password-1"),
    ]
    .iter()
    .enumerate()
    {
        let mut b = w.browser();
        b.ip = format!("192.0.2.{}", 20 + i);
        let start = Instant::now();
        let r = b.sign_in("/if/user/", who, pw).await;
        times.push(start.elapsed());
        assert_eq!(r.status, StatusCode::OK, "{who}");
        assert!(r.body.contains(SIGN_IN_FAILED), "{who}: {}", r.body);
        assert!(!b.cookies.contains_key("gatehouse_session"));
        bodies.push(normalised(&r.body).replace(who, "WHO"));
    }
    assert_eq!(bodies[0], bodies[1], "unknown user answers like a wrong password");
    assert_eq!(bodies[0], bodies[2], "disabled user answers like a wrong password");
    // Every path computes one hash: none is much faster than a real wrong password.
    let reference = times[0].min(times[3]);
    for (t, who) in times.iter().zip(["alice", "nobody", "dora"]) {
        assert!(
            *t * 2 >= reference,
            "{who} answered in {t:?}, a wrong password in {reference:?}"
        );
    }
    let reasons: Vec<String> = w
        .dir
        .events()
        .list(&gatehouse_core::EventFilter {
            action: Some("login_failed".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|e| e.context["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons.contains(&"unknown_user".into())
            && reasons.contains(&"user_disabled".into())
            && reasons.contains(&"wrong_password".into()),
        "{reasons:?}"
    );
    let all = format!(
        "{:?}",
        w.dir
            .events()
            .list(&gatehouse_core::EventFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
    );
    assert!(
        !all.contains("wrong-password-1") && !all.contains(PASSWORD),
        "no attempted password in events"
    );
}

#[tokio::test]
async fn delays_lock_and_its_expiry() {
    let w = World::new().await;
    w.user("alice").await;
    let mut b = w.browser();
    for _ in 0..3 {
        assert_eq!(
            b.sign_in("/if/user/", "alice", "wrong-pass-0").await.status,
            StatusCode::OK
        );
    }
    // Fourth attempt within the delay: refused before any hash, with Retry-After.
    let r = b.sign_in("/if/user/", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers.get("retry-after").unwrap(), "1");
    assert!(r.body.contains("Too many failed attempts"));
    let failures = |w: &World| {
        let dir = w.dir.clone();
        async move {
            dir.events()
                .list(&gatehouse_core::EventFilter {
                    action: Some("login_failed".into()),
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(failures(&w).await, 3, "a throttled attempt is not a failure");
    // Up to ten failures (waiting out each delay) locks the account.
    for _ in 3..10 {
        w.clock.advance_seconds(31);
        b.sign_in("/if/user/", "alice", "wrong-pass-0").await;
    }
    assert!(w.actions().await.contains(&"login_locked".to_string()));
    w.clock.advance_seconds(120);
    let r = b.sign_in("/if/user/", "alice", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "locked: even the right password waits"
    );
    // From another address too: the lock is on the account.
    let mut other = w.browser();
    other.ip = "198.51.100.1".into();
    assert_eq!(
        other.sign_in("/if/user/", "alice", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // After the lock, the right password works and the lock's end is an event.
    w.clock.advance_seconds(600);
    let r = b.sign_in("/if/user/", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(w.actions().await.contains(&"login_unlocked".to_string()));
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_throttled() {
    let w = World::new().await;
    w.user("alice").await;
    let mut b = w.browser();
    b.ip = "203.0.113.50".into();
    for i in 0..10 {
        let r = b.sign_in("/if/user/", &format!("user{i}"), "guess-guess").await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = b.sign_in("/if/user/", "alice", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is delayed after ten failures"
    );
}

/// Issue 13, finding 5: a stranger who knows a username locks the account
/// for strangers only. The owner's browser, which signed in before, keeps a
/// throttle bucket of its own (the known-device cookie), while guesses from
/// anywhere else stay delayed and locked per account and per address.
#[tokio::test]
async fn a_locked_account_still_lets_its_owner_s_browser_in() {
    let w = World::new().await;
    w.user("alice").await;
    w.user("bob").await;
    let mut laptop = w.browser();
    assert_eq!(
        laptop.sign_in("/if/user/", "alice", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let device = laptop
        .cookies
        .get("gatehouse_device")
        .cloned()
        .expect("a known-device cookie");
    let portal = laptop.get("/if/user/").await;
    laptop.post("/logout", &[("csrf_token", &portal.csrf())]).await;

    // The attacker guesses from many addresses until the account locks.
    for i in 0..10 {
        let mut attacker = w.browser();
        attacker.ip = format!("198.51.100.{i}");
        w.clock.advance_seconds(31);
        attacker.sign_in("/if/user/", "alice", "guess-guess-1").await;
    }
    assert!(w.actions().await.contains(&"login_locked".to_string()));
    let mut stranger = w.browser();
    stranger.ip = "198.51.100.77".into();
    assert_eq!(
        stranger.sign_in("/if/user/", "alice", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "a browser alice never used waits out the lock, right password or not"
    );
    let (head, _mac) = device.rsplit_once('.').unwrap();
    stranger
        .cookies
        .insert("gatehouse_device".into(), format!("{head}.{}", "0".repeat(64)));
    assert_eq!(
        stranger.sign_in("/if/user/", "alice", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "a forged device token is no device"
    );

    // Alice's laptop is not locked out, and gets in with her password.
    let r = laptop.sign_in("/if/user/", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let device_id = |t: &str| t.split('.').next().unwrap().to_string();
    assert_eq!(
        device_id(&laptop.cookies["gatehouse_device"]),
        device_id(&device),
        "the same device, its token renewed"
    );
    let portal = laptop.get("/if/user/").await;
    laptop.post("/logout", &[("csrf_token", &portal.csrf())]).await;

    // Guessing from the known device is throttled in its own bucket.
    for _ in 0..3 {
        assert_eq!(
            laptop.sign_in("/if/user/", "alice", "typo-typo-1").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        laptop.sign_in("/if/user/", "alice", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // The cookie is alice's only: bob's lock holds for it, and a forged one opens nothing.
    for i in 0..10 {
        let mut attacker = w.browser();
        attacker.ip = format!("203.0.113.{i}");
        w.clock.advance_seconds(31);
        attacker.sign_in("/if/user/", "bob", "guess-guess-1").await;
    }
    let mut borrowed = w.browser();
    borrowed.ip = "192.0.2.200".into();
    borrowed.cookies.insert("gatehouse_device".into(), device.clone());
    assert_eq!(
        borrowed.sign_in("/if/user/", "bob", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
