//! Conformance checks of issue 13's security fixes, on both backends (part of
//! the `conformance` test binary: included by conformance.rs).

use super::*;

/// Finding 5: failures from everyone else lock the account for everyone else
/// only; a browser that signed in before (its known-device token) keeps a
/// bucket of its own, which is throttled just the same.
pub(crate) async fn check_known_device_throttle(db: &TestDb) {
    let env = env(db).await;
    let alice = env.user_with_password("alice", PW).await;
    let token = env
        .dir
        .sign_in()
        .issue_device_token(alice.id, None)
        .await
        .unwrap()
        .expect("known devices on");
    let policy = env.dir.throttle_policy().clone();
    // Strangers lock the account, each from an address of its own.
    for i in 0..policy.account.lock_after {
        let check = env
            .dir
            .sign_in()
            .check_password_on(&anonymous(Some(&format!("198.51.100.{i}"))), "alice", "guess", None)
            .await
            .unwrap();
        assert!(matches!(check, PasswordCheck::Rejected), "{check:?}");
        env.clock.advance_seconds(policy.max_delay_secs + 1);
    }
    let locked = |check: &PasswordCheck| matches!(check, PasswordCheck::Throttled { .. });
    let stranger = anonymous(Some("198.51.100.200"));
    assert!(locked(
        &env.dir
            .sign_in()
            .check_password_on(&stranger, "alice", PW, None)
            .await
            .unwrap()
    ));
    // The owner's browser is let in with the right password…
    let owner = anonymous(Some("192.0.2.7"));
    let check = env
        .dir
        .sign_in()
        .check_password_on(&owner, "alice", PW, Some(&token))
        .await
        .unwrap();
    assert!(matches!(check, PasswordCheck::Accepted { .. }), "{check:?}");
    // …the token is alice's only, bound to her, and cannot be forged or kept forever.
    let bob = env.user_with_password("bob", PW).await;
    assert!(env.dir.sign_in().known_device(&token, bob.id).await.unwrap().is_none());
    let (head, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "0".repeat(64));
    assert!(
        env.dir
            .sign_in()
            .known_device(&forged, alice.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(locked(
        &env.dir
            .sign_in()
            .check_password_on(&stranger, "alice", PW, Some(&forged))
            .await
            .unwrap()
    ));
    // Guessing from the known device is throttled in its bucket.
    for _ in 0..policy.account.delay_after {
        let check = env
            .dir
            .sign_in()
            .check_password_on(&owner, "alice", "typo", Some(&token))
            .await
            .unwrap();
        assert!(matches!(check, PasswordCheck::Rejected), "{check:?}");
    }
    assert!(locked(
        &env.dir
            .sign_in()
            .check_password_on(&owner, "alice", PW, Some(&token))
            .await
            .unwrap()
    ));
    let device = env.dir.sign_in().known_device(&token, alice.id).await.unwrap().unwrap();
    let bucket = gatehouse_core::known_device::device_account_key(alice.id, &device.device_id);
    let rec = env.store.throttle_records(std::slice::from_ref(&bucket)).await.unwrap();
    assert_eq!(rec[0].failures, policy.account.delay_after);
    // Past its lifetime the token is no device.
    env.clock.advance_seconds(policy.known_device_secs);
    assert!(
        env.dir
            .sign_in()
            .known_device(&token, alice.id)
            .await
            .unwrap()
            .is_none()
    );
    // Off: no tokens are issued.
    let off = env.dir.clone().with_auth_policies(
        env.dir.session_policy().clone(),
        ThrottlePolicy {
            known_device_secs: 0,
            ..policy
        },
    );
    assert!(
        off.sign_in()
            .issue_device_token(alice.id, None)
            .await
            .unwrap()
            .is_none()
    );
}
