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

const SECRET: &str = "conformance-secret-key-0123456789";

/// What an attacker with write access to the database does after editing an
/// event: recompute every later hash from the anchor, and the head row.
async fn recompute_chain(db: &TestDb, env: &Env) {
    let head = env.store.chain_head().await.unwrap();
    let mut prev = head.anchor_hash.clone();
    let mut last = (head.anchor_seq, head.anchor_hash.clone());
    for mut e in env.events().await {
        e.prev_hash = prev.clone();
        e.hash = gatehouse_core::events::content_hash(&e);
        db.exec(&format!(
            "UPDATE events SET prev_hash = '{}', hash = '{}' WHERE seq = {}",
            e.prev_hash, e.hash, e.seq
        ))
        .await;
        prev = e.hash.clone();
        last = (e.seq, e.hash);
    }
    db.exec(&format!(
        "UPDATE event_chain SET head_seq = {}, head_hash = '{}'",
        last.0, last.1
    ))
    .await;
}

fn broken(report: &gatehouse_core::events_head::HeadReport) -> String {
    match report {
        gatehouse_core::events_head::HeadReport::Broken { reason, .. } => reason.clone(),
        ok => panic!("should be broken: {ok:?}"),
    }
}

pub(crate) async fn check_signed_chain_head(db: &TestDb) {
    use gatehouse_core::events_head::{HeadKey, HeadReport};
    let key = HeadKey::from_secret_key(SECRET).unwrap();
    let retention = 365 * DAY;
    let env = four_events(db).await;
    let signed = env.dir.events().signed_chain_head(&key).await.unwrap();
    assert_eq!(signed.head_seq, 4);
    assert_eq!(signed.public_key, key.public_key());
    env.user("u5").await;
    let report = env
        .dir
        .events()
        .verify_against_heads(&key, std::slice::from_ref(&signed), retention)
        .await
        .unwrap();
    assert!(
        matches!(
            report,
            HeadReport::Consistent {
                heads: 1,
                unverifiable: 0,
                newest_seq: 4,
                ..
            }
        ),
        "{report:?}"
    );

    // An edit with the whole chain recomputed: the chain alone cannot tell…
    db.exec("UPDATE events SET actor = 'cli:mallory' WHERE seq = 2").await;
    recompute_chain(db, &env).await;
    assert!(matches!(
        env.dir.events().verify().await.unwrap(),
        ChainReport::Intact { .. }
    ));
    // …the signed head can.
    let reason = broken(
        &env.dir
            .events()
            .verify_against_heads(&key, std::slice::from_ref(&signed), retention)
            .await
            .unwrap(),
    );
    assert!(reason.contains("recomputed"), "{reason}");

    // A head signed with another key (or forged) is refused.
    let other = HeadKey::from_secret_key("another-secret-key-entirely").unwrap();
    let foreign = env.dir.events().signed_chain_head(&other).await.unwrap();
    let reason = broken(
        &env.dir
            .events()
            .verify_against_heads(&key, &[foreign], retention)
            .await
            .unwrap(),
    );
    assert!(reason.contains("not signed by this installation's key"), "{reason}");
}

pub(crate) async fn check_signed_head_moved_anchor(db: &TestDb) {
    use gatehouse_core::events_head::{HeadKey, HeadReport};
    let key = HeadKey::from_secret_key(SECRET).unwrap();
    let retention = 30 * DAY;
    let env = four_events(db).await;
    let at_four = env.dir.events().signed_chain_head(&key).await.unwrap();
    env.user("u5").await;
    env.user("u6").await;

    // Removing the start of the log and moving the anchor past it (the
    // attacker's way to drop events without breaking a link).
    let events = env.events().await;
    db.exec("DELETE FROM events WHERE seq <= 5").await;
    db.exec(&format!(
        "UPDATE event_chain SET anchor_seq = 5, anchor_hash = '{}'",
        events[4].hash
    ))
    .await;
    assert!(matches!(
        env.dir.events().verify().await.unwrap(),
        ChainReport::Intact { .. }
    ));
    let reason = broken(
        &env.dir
            .events()
            .verify_against_heads(&key, std::slice::from_ref(&at_four), retention)
            .await
            .unwrap(),
    );
    assert!(reason.contains("anchor moved past event 4"), "{reason}");
    // Once the retention lets event 4 go, the same prune is what housekeeping does.
    env.clock.advance_seconds(retention + DAY);
    let report = env
        .dir
        .events()
        .verify_against_heads(&key, std::slice::from_ref(&at_four), retention)
        .await
        .unwrap();
    assert!(
        matches!(report, HeadReport::Consistent { unverifiable: 1, .. }),
        "{report:?}"
    );
    // Or a head signed after a prune by hand vouches for the new anchor.
    let after = env.dir.events().signed_chain_head(&key).await.unwrap();
    let report = env
        .dir
        .events()
        .verify_against_heads(&key, &[at_four.clone(), after], 0)
        .await
        .unwrap();
    assert!(
        matches!(report, HeadReport::Consistent { unverifiable: 1, .. }),
        "{report:?}"
    );
    // Moving the anchor back (or rewriting it) is never legitimate.
    db.exec("UPDATE event_chain SET anchor_seq = 0").await;
    let signed_now = env.dir.events().signed_chain_head(&key).await.unwrap();
    db.exec(&format!(
        "UPDATE event_chain SET anchor_seq = 5, anchor_hash = '{}'",
        "f".repeat(64)
    ))
    .await;
    let reason = broken(
        &env.dir
            .events()
            .verify_against_heads(&key, &[signed_now], retention)
            .await
            .unwrap(),
    );
    assert!(reason.contains("anchor") || reason.contains("link"), "{reason}");
}

pub(crate) async fn check_signed_head_truncated_tail(db: &TestDb) {
    let key = gatehouse_core::events_head::HeadKey::from_secret_key(SECRET).unwrap();
    let env = four_events(db).await;
    let at_four = env.dir.events().signed_chain_head(&key).await.unwrap();
    // Cutting the end of the log, and the head row with it, below a signed head.
    let third = env.events().await[2].clone();
    db.exec("DELETE FROM events WHERE seq = 4").await;
    db.exec(&format!(
        "UPDATE event_chain SET head_seq = 3, head_hash = '{}'",
        third.hash
    ))
    .await;
    assert!(matches!(
        env.dir.events().verify().await.unwrap(),
        ChainReport::Intact { .. }
    ));
    let reason = broken(
        &env.dir
            .events()
            .verify_against_heads(&key, &[at_four], 365 * DAY)
            .await
            .unwrap(),
    );
    assert!(reason.contains("the log ends at event 3"), "{reason}");
}

/// Finding 9: someone who has only the password of an account that must use
/// MFA cannot enrol their own first authenticator outside a window; every
/// enrolment is an event and a mail job for the owner.
pub(crate) async fn check_mfa_first_enrolment(db: &TestDb) {
    use gatehouse_core::mfa::enrolment::{ENROLLED_MAIL, EnrolmentPolicy, FirstEnrolment};
    use gatehouse_core::mfa::{MfaMode, MfaPolicy};
    let e = env(db).await;
    let policy = EnrolmentPolicy {
        first: FirstEnrolment::Guarded,
        window_secs: 3600,
        notify_owner: true,
    };
    let dir = mfa_directory(&e.store, &e.clock).with_enrolment_policy(policy.clone());
    e.user_with_password("alice", PW).await;
    e.user_with_password("carol", PW).await;
    dir.mfa()
        .set_policy(
            &e.audit,
            MfaPolicy {
                mode: MfaMode::Everyone,
                ..MfaPolicy::default()
            },
        )
        .await
        .unwrap();
    let alice = dir.users().get("alice").await.unwrap();
    let attacker = anonymous(Some("203.0.113.66"));
    let try_enrol = |user: gatehouse_core::User| {
        let dir = dir.clone();
        let clock = e.clock.clone();
        let audit = attacker.clone();
        async move {
            let en = dir.mfa().begin_totp(&user).unwrap();
            let code = totp_now(&en.secret_base32, &clock, 0);
            dir.mfa()
                .finish_totp(&audit, &user, "Attacker", &en.pending, &code)
                .await
        }
    };

    // Not offered yet: nothing opens enrolment but the offer at sign-in.
    assert!(!dir.mfa().may_enrol(&alice).await.unwrap());
    assert!(matches!(try_enrol(alice.clone()).await, Err(Error::Refused(_))));
    // The first sign-in after the policy applied opens a window, once.
    assert!(
        dir.mfa()
            .offer_enrolment(&anonymous(Some("192.0.2.7")), &alice)
            .await
            .unwrap()
    );
    assert!(dir.mfa().may_enrol(&alice).await.unwrap());
    e.clock.advance_seconds(3601);
    assert!(!dir.mfa().may_enrol(&alice).await.unwrap());
    // The owner did not enrol in time; later sign-ins (the attacker's) open nothing.
    assert!(!dir.mfa().offer_enrolment(&attacker, &alice).await.unwrap());
    assert!(matches!(try_enrol(alice.clone()).await, Err(Error::Refused(_))));
    assert!(e.store.mfa_authenticators(alice.id).await.unwrap().is_empty());
    assert_eq!(e.events_of("mfa_enrolment_refused").await.len(), 1);

    // An administrator allows it: the window opens, and the enrolment is an
    // event and a mail job for the owner.
    dir.mfa().allow_enrolment(&e.audit, "alice", Some(10)).await.unwrap();
    let (auth, codes) = try_enrol(alice.clone()).await.unwrap();
    assert!(codes.is_some());
    assert_eq!(e.events_of("mfa_authenticator_added").await.len(), 1);
    let jobs = dir
        .jobs()
        .list(&gatehouse_core::jobs::JobFilter {
            kind: Some(ENROLLED_MAIL.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload["user_id"], json!(alice.id));
    assert_eq!(jobs[0].payload["kind"], json!("totp"));
    assert_eq!(jobs[0].payload["client_ip"], json!("203.0.113.66"));
    assert_eq!(auth.name, "Attacker");
    let allowed = e.events_of("mfa_enrolment_allowed").await;
    let reasons: Vec<_> = allowed.iter().map(|ev| ev.context["reason"].clone()).collect();
    assert_eq!(reasons, vec![json!("first_sign_in"), json!("admin")]);

    // Reset by an administrator, then an administrator's recovery link: the
    // window opens when the link is used, not before.
    dir.mfa().reset(&e.audit, "alice").await.unwrap();
    e.clock.advance_seconds(3601);
    let (key, record) = dir.recovery().create_key(&e.audit, "alice", 60).await.unwrap();
    dir.mfa()
        .hold_enrolment_for_link(record.user_id, &key, record.expires_at)
        .await
        .unwrap();
    assert!(
        !dir.mfa().may_enrol(&alice).await.unwrap(),
        "not before the link is used"
    );
    dir.recovery()
        .complete_with(
            &e.audit,
            &sha256_hex(key.as_bytes()),
            "a brand new passphrase 7",
            &browser(),
            &["pwd"],
        )
        .await
        .unwrap();
    let alice = dir.users().get("alice").await.unwrap();
    assert!(dir.mfa().may_enrol(&alice).await.unwrap());
    try_enrol(alice.clone()).await.unwrap();
    // A link the person asked for themselves opens nothing.
    dir.mfa().reset(&e.audit, "alice").await.unwrap();
    e.clock.advance_seconds(3601);
    let (key, _) = dir.recovery().create_key(&e.audit, "alice", 60).await.unwrap();
    dir.recovery()
        .complete_with(
            &e.audit,
            &sha256_hex(key.as_bytes()),
            "another new passphrase 8",
            &browser(),
            &["pwd"],
        )
        .await
        .unwrap();
    let alice = dir.users().get("alice").await.unwrap();
    assert!(!dir.mfa().may_enrol(&alice).await.unwrap());

    // Operators who accept the risk: a password is enough again.
    let open = dir.clone().with_enrolment_policy(EnrolmentPolicy {
        first: FirstEnrolment::Password,
        ..policy
    });
    let carol = dir.users().get("carol").await.unwrap();
    assert!(open.mfa().may_enrol(&carol).await.unwrap());
    assert!(matches!(try_enrol(carol.clone()).await, Err(Error::Refused(_))));
    let en = open.mfa().begin_totp(&carol).unwrap();
    let code = totp_now(&en.secret_base32, &e.clock, 0);
    open.mfa()
        .finish_totp(&attacker, &carol, "Phone", &en.pending, &code)
        .await
        .unwrap();
}

/// A sign-in without a session (an LDAP bind) commits what was checked: the
/// last sign-in time and the `login` event, and clears the account's failed
/// attempts. An account changed between the check and the commit (disabled,
/// a new password) is not signed in.
pub(crate) async fn check_sessionless_sign_in(db: &TestDb) {
    let env = env(db).await;
    let audit = Audit::new(Actor::System, Some("192.0.2.9".into()));
    let bob = env.user_with_password("bob", PW).await;
    let sign_in = env.dir.sign_in();
    assert!(matches!(
        sign_in
            .check_password_via(&audit, "bob", "wrong", "ldap")
            .await
            .unwrap(),
        PasswordCheck::Rejected
    ));
    let check = sign_in.check_password_via(&audit, "bob", PW, "ldap").await.unwrap();
    assert!(
        matches!(check, PasswordCheck::Accepted { had_failures: true, .. }),
        "{check:?}"
    );
    env.clock.advance_seconds(5);
    let user = sign_in
        .finish_sessionless_sign_in(&audit, check, &["pwd"], json!({"via": "ldap"}))
        .await
        .unwrap()
        .expect("signed in");
    assert_eq!(user.last_login, Some(env.dir.now()));
    let stored = env.store.user_by_id(bob.id).await.unwrap().unwrap();
    assert_eq!(stored.last_login, Some(env.dir.now()));
    assert_eq!(stored.password_hash, bob.password_hash);
    let account = gatehouse_core::throttle::account_key(&bob.id.to_string());
    assert!(env.store.throttle_records(&[account]).await.unwrap().is_empty());
    assert_eq!(env.events_of("login").await.len(), 1);

    // Disabled, or given a new password, after the check: nothing is committed.
    for change in ["disable", "password"] {
        let check = sign_in.check_password_via(&audit, "bob", PW, "ldap").await.unwrap();
        match change {
            "disable" => drop(env.dir.users().set_active(&env.audit, "bob", false).await.unwrap()),
            _ => env
                .dir
                .users()
                .set_password(&env.audit, "bob", "Another-Password-1")
                .await
                .unwrap(),
        }
        let done = sign_in
            .finish_sessionless_sign_in(&audit, check, &["pwd"], json!({}))
            .await
            .unwrap();
        assert!(done.is_none(), "{change}");
        if change == "disable" {
            env.dir.users().set_active(&env.audit, "bob", true).await.unwrap();
        }
    }
    assert_eq!(env.events_of("login").await.len(), 1);
}
