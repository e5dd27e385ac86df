//! The reads behind the admin interface: the paged user search (wildcards
//! taken literally), MFA state of a page of users, event counts grouped per
//! time bucket in SQL, locks in force, live sessions, events by address.

use gatehouse_core::users::UserSearch;
use gatehouse_core::{Actor, Audit, EventFilter, NewUser, Store};

use super::{T0, TestDb, env};

fn query(text: &str, offset: u64, limit: u32) -> UserSearch {
    UserSearch {
        text: text.into(),
        offset,
        limit,
    }
}

pub(crate) async fn check_admin_reads(db: &TestDb) {
    let env = env(db).await;
    for name in ["alice", "bob", "a_b", "axb"] {
        env.user(name).await;
    }
    let names =
        |rows: Vec<gatehouse_core::users::UserRow>| rows.into_iter().map(|r| r.user.username).collect::<Vec<_>>();
    let users = env.dir.users();
    let (rows, total) = users.search(&query("", 0, 2)).await.unwrap();
    assert_eq!((names(rows), total), (vec!["a_b".to_string(), "alice".into()], 4));
    let (rows, total) = users.search(&query("", 2, 2)).await.unwrap();
    assert_eq!((names(rows), total), (vec!["axb".to_string(), "bob".into()], 4));
    let (rows, total) = users.search(&query("A_B", 0, 10)).await.unwrap();
    assert_eq!(
        (names(rows), total),
        (vec!["a_b".to_string()], 1),
        "_ is not a wildcard"
    );
    let (rows, _) = users.search(&query("%", 0, 10)).await.unwrap();
    assert!(rows.is_empty(), "% is not a wildcard");
    let (rows, _) = users.search(&query("BOB@EXAMPLE", 0, 10)).await.unwrap();
    assert_eq!(names(rows), ["bob"], "email, case-insensitive");
    let (rows, _) = users.search(&query("Example", 0, 10)).await.unwrap();
    assert_eq!(rows.len(), 4, "the name");

    // MFA state: one query for the page.
    let bob = users.get("bob").await.unwrap();
    db.exec(&format!(
        "INSERT INTO mfa_authenticators (id, user_id, kind, name, secret, created_at) \
         VALUES ('{}', '{}', 'totp', 'phone', 'sealed', {})",
        uuid::Uuid::new_v4(),
        bob.id,
        T0.millis()
    ))
    .await;
    let (rows, _) = users.search(&query("", 0, 10)).await.unwrap();
    let with: Vec<_> = rows
        .iter()
        .filter(|r| r.has_mfa)
        .map(|r| r.user.username.as_str())
        .collect();
    assert_eq!(with, ["bob"]);

    // Counts per hour: four creations now, one two hours later.
    env.clock.advance_seconds(2 * 3600);
    let ip = Audit::new(Actor::User("root".into()), Some("192.0.2.7".into()));
    let new = NewUser {
        username: "late".into(),
        ..NewUser::default()
    };
    users.create(&ip, new).await.unwrap();
    let h = env
        .dir
        .events()
        .histogram(&["model_created", "login"], 24, 3600)
        .await
        .unwrap();
    let created = &h.series[0].1;
    assert_eq!(created.len(), 24);
    assert_eq!(
        (created[23], created[21], created.iter().sum::<i64>()),
        (1, 4, 5),
        "{created:?}"
    );
    assert!(h.series[1].1.iter().all(|&n| n == 0));
    let week = env.dir.events().histogram(&["model_created"], 7, 86_400).await.unwrap();
    assert_eq!(week.series[0].1.iter().sum::<i64>(), 5);

    // Events by client address.
    let filter = EventFilter {
        client_ip: Some("192.0.2.7".into()),
        ..EventFilter::default()
    };
    let by_ip = env.dir.events().list(&filter).await.unwrap();
    assert_eq!(by_ip.len(), 1);
    assert_eq!(by_ip[0].user.as_deref(), Some("late"));

    // Locks in force, and only while they are.
    let now = env.dir.now();
    let mut tx = env.store.begin().await.unwrap();
    tx.bump_throttle("ip:192.0.2.9", now, now.minus_seconds(60), 1, now.plus_seconds(300))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let locks = env.dir.sign_in().active_locks().await.unwrap();
    assert_eq!(locks.len(), 1);
    assert_eq!((locks[0].subject.as_str(), locks[0].failures), ("192.0.2.9", 1));
    assert!(env.store.active_locks(now.plus_seconds(301)).await.unwrap().is_empty());

    // Live sessions: not past their end, not idle too long.
    assert_eq!(env.dir.sessions().live_count().await.unwrap(), 0);
    for (i, (last_seen, expires)) in [
        (now, now.plus_seconds(3600)),
        (now, now.minus_seconds(1)),
        (now.minus_seconds(30 * 86_400), now.plus_seconds(3600)),
    ]
    .into_iter()
    .enumerate()
    {
        db.exec(&format!(
            "INSERT INTO sessions (id, user_id, token_hash, csrf_token, created_at, last_seen, expires_at, amr) \
             VALUES ('{}', '{}', 'hash{i}', 'csrf', {}, {}, {}, '[\"pwd\"]')",
            uuid::Uuid::new_v4(),
            bob.id,
            last_seen.millis(),
            last_seen.millis(),
            expires.millis()
        ))
        .await;
    }
    assert_eq!(env.dir.sessions().live_count().await.unwrap(), 1);
}

/// A group's members (direct and through nested groups) come from one join
/// over the groups asked for, never from reading every user.
pub(crate) async fn check_group_members(db: &TestDb) {
    let env = env(db).await;
    for name in ["ann", "ben", "cat", "dan"] {
        env.user(name).await;
    }
    let audit = Audit::cli("test");
    let groups = env.dir.groups();
    groups.create(&audit, "staff", false, None).await.unwrap();
    groups.create(&audit, "ops", false, Some("staff")).await.unwrap();
    groups.create(&audit, "other", false, None).await.unwrap();
    for (g, u) in [("staff", "ann"), ("ops", "ben"), ("ops", "ann"), ("other", "cat")] {
        groups.add_member(&audit, g, u).await.unwrap();
    }
    let staff = groups.get("staff").await.unwrap();
    let ops = groups.get("ops").await.unwrap();
    let mut rows: Vec<(uuid::Uuid, String)> = env
        .store
        .members_of_groups(&[staff.id, ops.id])
        .await
        .unwrap()
        .into_iter()
        .map(|(g, u)| (g, u.username))
        .collect();
    rows.sort();
    let mut want = vec![
        (staff.id, "ann".to_string()),
        (ops.id, "ann".into()),
        (ops.id, "ben".into()),
    ];
    want.sort();
    assert_eq!(rows, want, "cat (other) and dan (no group) are not read");
    assert!(env.store.members_of_groups(&[]).await.unwrap().is_empty());
    let members = groups.members("STAFF").await.unwrap();
    let shown: Vec<(&str, Option<&str>)> = members
        .iter()
        .map(|m| (m.username.as_str(), m.via.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [("ann", None), ("ben", Some("ops"))],
        "direct wins, then inherited"
    );
    assert!(groups.members("ops").await.unwrap().iter().all(|m| m.via.is_none()));
}
