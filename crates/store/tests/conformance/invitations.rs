//! Conformance checks of invitations and imported (Django) password hashes, on
//! both backends (part of the `conformance` test binary).

use gatehouse_core::invitations::{DEFAULT_ENROLLMENT_FLOW, InvitationState, NewInvitation, SignUp};

use super::*;

/// Made by Django 5.2's PBKDF2 hasher (`tests/e2e/django_support.py`).
const DJANGO_PBKDF2: (&str, &str) = (
    "Imported-Pass-0-é",
    "pbkdf2_sha256$1000000$pS0IFSnALDGQHqPuPzuNwg$RYmy0xR3Y2tntawTUYIW6s3T9NMwqOsyNlROtiRfXn8=",
);
/// Made by Django 5.2's scrypt hasher.
const DJANGO_SCRYPT: (&str, &str) = (
    "Imported-Pass-4-é",
    "scrypt$16384$dgrE6GXHffyBapjWY0ZH53$8$5$hFVVo8hhPgxQLQCShmMxma8rxuW977IPHhg+8dmwPeNuEklpKjdWvAeIJUycAnHq57COOBjww6wOMeYoYQNaGA==",
);

fn sign_up(username: &str) -> SignUp {
    SignUp {
        username: username.into(),
        name: "New Person".into(),
        email: format!("{username}@example.com"),
        password: PW.into(),
    }
}

fn invitation(single_use: bool, fixed: serde_json::Value) -> NewInvitation {
    NewInvitation {
        single_use,
        fixed_data: fixed,
        ..NewInvitation::default()
    }
}

pub(crate) async fn check_invitations_lifecycle(db: &TestDb) {
    let env = env(db).await;
    env.group("staff", None).await;
    let inv = env
        .dir
        .invitations()
        .create(
            &env.audit,
            NewInvitation {
                name: "welcome-carol".into(),
                expires: Some(T0.plus_seconds(7 * DAY)),
                single_use: true,
                fixed_data: json!({"email": "carol@example.com", "groups": ["staff"]}),
                flow: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(inv.flow, DEFAULT_ENROLLMENT_FLOW);
    assert_eq!(inv.created_by, "cli:tester");
    let stored = env.dir.invitations().get(&inv.id.to_string()).await.unwrap();
    assert_eq!(stored, inv);
    assert_eq!(env.dir.invitations().get("welcome-carol").await.unwrap().id, inv.id);
    assert_eq!(env.dir.invitations().list().await.unwrap(), vec![inv.clone()]);
    let created = env.events().await.pop().unwrap();
    assert_eq!(
        (created.action.as_str(), &created.context["model"]),
        ("model_created", &json!("invitation"))
    );

    // Refused, and nothing written: a taken name, an unknown group or field,
    // a bad fixed username, an expiry in the past, an unknown flow.
    let events = env.event_count().await;
    let refused = [
        NewInvitation {
            name: "welcome-carol".into(),
            ..NewInvitation::default()
        },
        invitation(true, json!({"groups": ["nope"]})),
        invitation(true, json!({"is_superuser": true})),
        invitation(true, json!({"username": "bad name!"})),
        NewInvitation {
            expires: Some(T0),
            ..NewInvitation::default()
        },
        NewInvitation {
            flow: "other-flow".into(),
            ..NewInvitation::default()
        },
        NewInvitation {
            flow: "default-authentication-flow".into(),
            ..NewInvitation::default()
        },
    ];
    for new in refused {
        let err = env.dir.invitations().create(&env.audit, new.clone()).await.unwrap_err();
        assert!(err.is_caller_error(), "{new:?}: {err}");
    }
    assert_eq!(env.event_count().await, events);
    assert_eq!(env.dir.invitations().list().await.unwrap().len(), 1);

    // The enrollment flow may be named by its id, as the API does.
    let by_pk = NewInvitation {
        flow: gatehouse_core::invitations::flow(DEFAULT_ENROLLMENT_FLOW)
            .unwrap()
            .pk
            .to_string(),
        ..NewInvitation::default()
    };
    let by_pk = env.dir.invitations().create(&env.audit, by_pk).await.unwrap();
    assert_eq!(by_pk.flow, DEFAULT_ENROLLMENT_FLOW);
    env.dir
        .invitations()
        .delete(&env.audit, &by_pk.id.to_string())
        .await
        .unwrap();

    env.dir.invitations().delete(&env.audit, "welcome-carol").await.unwrap();
    assert!(env.dir.invitations().list().await.unwrap().is_empty());
    assert!(matches!(
        env.dir.invitations().delete(&env.audit, "welcome-carol").await,
        Err(Error::NotFound { .. })
    ));
    let deleted = env.events().await.pop().unwrap();
    assert_eq!(
        (deleted.action.as_str(), &deleted.context["model"]),
        ("model_deleted", &json!("invitation"))
    );
    env.assert_intact().await;
}

pub(crate) async fn check_invitation_redeem(db: &TestDb) {
    let env = env(db).await;
    env.group("staff", None).await;
    let fixed = json!({"email": "dora@example.com", "name": "Dora Fixed", "groups": ["staff"]});
    let inv = env
        .dir
        .invitations()
        .create(&env.audit, invitation(true, fixed))
        .await
        .unwrap();
    let itoken = inv.id.to_string();
    let link = env.dir.invitations().for_link(DEFAULT_ENROLLMENT_FLOW, &itoken);
    assert_eq!(link.await.unwrap().unwrap().1, InvitationState::Valid);
    assert!(
        env.dir
            .invitations()
            .for_link("other-flow", &inv.id.to_string())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.dir
            .invitations()
            .for_link(DEFAULT_ENROLLMENT_FLOW, "nope")
            .await
            .unwrap()
            .is_none()
    );

    // A weak password, a bad username, a taken username: refused, nothing spent.
    env.user("taken").await;
    let events = env.event_count().await;
    let weak = SignUp {
        password: "short".into(),
        ..sign_up("dora")
    };
    for form in [weak, sign_up("bad name!"), sign_up("taken"), sign_up("")] {
        let err = env
            .dir
            .invitations()
            .redeem(&anonymous(None), inv.id, form, &browser())
            .await
            .unwrap_err();
        assert!(err.is_caller_error(), "{err}");
    }
    assert_eq!(env.event_count().await, events);
    assert_eq!(env.dir.invitations().get(&inv.id.to_string()).await.unwrap().uses, 0);

    // The fixed fields win over what the form says; the groups are joined.
    let form = SignUp {
        email: "other@example.com".into(),
        name: "Someone Else".into(),
        ..sign_up("dora")
    };
    let (token, session, user) = env
        .dir
        .invitations()
        .redeem(&anonymous(Some("192.0.2.7")), inv.id, form, &browser())
        .await
        .unwrap();
    assert_eq!(
        (user.email.as_str(), user.name.as_str()),
        ("dora@example.com", "Dora Fixed")
    );
    assert_eq!(session.user_id, user.id);
    assert_eq!(env.dir.sessions().get(&token).await.unwrap().unwrap().0.id, session.id);
    assert_eq!(env.dir.users().detail("dora").await.unwrap().groups, vec!["staff"]);
    let actions = env.actions().await;
    assert!(
        actions.ends_with(&["model_created".into(), "invitation_used".into(), "login".into()]),
        "{actions:?}"
    );
    env.sign_in("dora", PW).await;

    // Spent: a second use is refused and changes nothing.
    let spent = env.dir.invitations().get(&inv.id.to_string()).await.unwrap();
    assert_eq!(spent.state(env.dir.now()), InvitationState::Spent);
    let events = env.event_count().await;
    let again = env
        .dir
        .invitations()
        .redeem(&anonymous(None), inv.id, sign_up("dora2"), &browser())
        .await;
    assert!(matches!(again, Err(Error::Refused(_))), "{again:?}");
    assert!(env.store.user_by_name("dora2").await.unwrap().is_none());
    assert_eq!(env.event_count().await, events);

    // A multi-use invitation counts its uses until it expires.
    let multi = NewInvitation {
        expires: Some(env.dir.now().plus_seconds(DAY)),
        ..invitation(false, json!({}))
    };
    let multi = env.dir.invitations().create(&env.audit, multi).await.unwrap();
    for name in ["erin", "fred"] {
        let redeemed = env
            .dir
            .invitations()
            .redeem(&anonymous(None), multi.id, sign_up(name), &browser())
            .await;
        assert!(redeemed.is_ok(), "{redeemed:?}");
    }
    assert_eq!(env.dir.invitations().get(&multi.name).await.unwrap().uses, 2);
    env.clock.advance_seconds(DAY + 1);
    let late = env
        .dir
        .invitations()
        .redeem(&anonymous(None), multi.id, sign_up("gina"), &browser())
        .await;
    assert!(matches!(late, Err(Error::Refused(_))), "{late:?}");
    assert!(env.store.user_by_name("gina").await.unwrap().is_none());
    let state = env
        .dir
        .invitations()
        .get(&multi.name)
        .await
        .unwrap()
        .state(env.dir.now());
    assert_eq!(state, InvitationState::Expired);
    env.assert_intact().await;
}

/// Two submits of one single-use invitation at once (two processes): exactly
/// one account is created.
pub(crate) async fn check_invitation_single_use_race(db: &TestDb) {
    let env = env(db).await;
    let inv = env
        .dir
        .invitations()
        .create(&env.audit, invitation(true, json!({})))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = Arc::new(db.second_store().await);
        let dir = directory(&store, &env.clock);
        tasks.push(tokio::spawn(async move {
            dir.invitations()
                .redeem(&anonymous(None), inv.id, sign_up(&format!("racer{i}")), &browser())
                .await
                .is_ok()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
    let racers = env.store.users().await.unwrap();
    assert_eq!(racers.iter().filter(|u| u.username.starts_with("racer")).count(), 1);
    assert_eq!(env.dir.invitations().get(&inv.name).await.unwrap().uses, 1);
}

/// Imported Django hashes: stored as given, refused when unknown, verified at
/// sign-in and replaced by argon2id the first time.
pub(crate) async fn check_imported_password_hashes(db: &TestDb) {
    let env = env(db).await;
    for (name, (password, hash)) in [("ida", DJANGO_PBKDF2), ("jon", DJANGO_SCRYPT)] {
        env.user(name).await;
        env.dir.users().set_password_hash(&env.audit, name, hash).await.unwrap();
        assert_eq!(env.actions().await.last().unwrap(), "password_set");
        let stored = env.store.user_by_name(name).await.unwrap().unwrap();
        assert_eq!(stored.password_hash.as_deref(), Some(hash));
        let wrong = env.dir.sign_in().check_password(&anonymous(None), name, "wrong").await;
        assert!(matches!(wrong.unwrap(), PasswordCheck::Rejected));
        env.sign_in(name, password).await;
        let after = env.store.user_by_name(name).await.unwrap().unwrap();
        let rehashed = after.password_hash.unwrap();
        assert!(rehashed.starts_with("$argon2id$"), "{rehashed}");
        assert_eq!(
            hasher().verify(password, &rehashed).await.unwrap(),
            PasswordVerdict::Match
        );
        env.sign_in(name, password).await;
    }
    let events = env.event_count().await;
    for bad in ["md5$abc$def", "plain", "pbkdf2_sha256$1000$salt"] {
        let err = env
            .dir
            .users()
            .set_password_hash(&env.audit, "ida", bad)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Invalid {
                    field: "password hash",
                    ..
                }
            ),
            "{err}"
        );
    }
    assert!(matches!(
        env.dir
            .users()
            .set_password_hash(&env.audit, "nobody", DJANGO_PBKDF2.1)
            .await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(env.event_count().await, events);
}
