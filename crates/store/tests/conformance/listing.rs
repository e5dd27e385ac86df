//! Paged listings (the REST API's users, groups and events) and API tokens:
//! filters, ordering and paging run in SQL with the same answers on both
//! backends; a token is found by its key's hash and its use is recorded.

use gatehouse_core::listing::{EventQuery, GroupQuery, UserOrder, UserQuery, Window};
use gatehouse_core::tokens::NewToken;

use super::*;

pub(crate) async fn check_user_and_group_pages(db: &TestDb) {
    let env = env(db).await;
    let dir = &env.dir;
    for i in 0..25 {
        let new = NewUser {
            username: format!("u{i:02}"),
            email: format!("u{i:02}@example.com"),
            name: if i % 2 == 0 { "Even 100%".into() } else { "Odd".into() },
        };
        dir.users().create(&env.audit, new).await.unwrap();
    }
    dir.users().set_active(&env.audit, "u03", false).await.unwrap();
    let staff = dir.groups().create(&env.audit, "staff", false, None).await.unwrap();
    let admins = dir.groups().create(&env.audit, "root", true, None).await.unwrap();
    dir.groups()
        .create(&env.audit, "ops", false, Some("root"))
        .await
        .unwrap();
    dir.groups().add_member(&env.audit, "staff", "u01").await.unwrap();
    dir.groups().add_member(&env.audit, "ops", "u02").await.unwrap();

    let names = |q: UserQuery, su: Option<bool>| async move {
        let page = dir.users().page(&q, su).await.unwrap();
        (
            page.count,
            page.items.iter().map(|r| r.user.username.clone()).collect::<Vec<_>>(),
        )
    };
    let window = |offset, limit| Window { offset, limit };
    let (count, page) = names(
        UserQuery {
            window: window(10, 10),
            ..UserQuery::default()
        },
        None,
    )
    .await;
    assert_eq!(count, 25);
    assert_eq!(page, (10..20).map(|i| format!("u{i:02}")).collect::<Vec<_>>());
    let q = UserQuery {
        order: UserOrder::Username,
        descending: true,
        window: window(0, 2),
        ..UserQuery::default()
    };
    assert_eq!(names(q, None).await.1, ["u24", "u23"]);
    let q = UserQuery {
        is_active: Some(false),
        ..UserQuery::default()
    };
    assert_eq!(names(q, None).await.1, ["u03"]);
    // LIKE wildcards in a search are literal.
    let q = UserQuery {
        search: Some("100%".into()),
        ..UserQuery::default()
    };
    assert_eq!(names(q, None).await.0, 13);
    let q = UserQuery {
        search: Some("U1".into()),
        ..UserQuery::default()
    };
    assert_eq!(names(q, None).await.0, 10);
    let q = UserQuery {
        member_of_any: vec![vec![staff.id]],
        ..UserQuery::default()
    };
    assert_eq!(names(q, None).await.1, ["u01"]);
    // Superusers through nesting: u02 is in ops, below the flagged root.
    assert_eq!(names(UserQuery::default(), Some(true)).await.1, ["u02"]);
    assert_eq!(names(UserQuery::default(), Some(false)).await.0, 24);
    let row = dir
        .users()
        .by_pk(dir.users().get("u02").await.unwrap().pk)
        .await
        .unwrap();
    assert!(row.is_superuser);
    assert_eq!(row.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["ops"]);
    // A page carries each user's direct groups (by pk) and superuser status.
    dir.groups().add_member(&env.audit, "staff", "u04").await.unwrap();
    dir.groups().add_member(&env.audit, "ops", "u04").await.unwrap();
    let q = UserQuery {
        username: None,
        search: Some("u0".into()),
        window: window(4, 2),
        ..UserQuery::default()
    };
    let page = dir.users().page(&q, None).await.unwrap();
    let shown: Vec<(&str, Vec<&str>, bool)> = page
        .items
        .iter()
        .map(|r| {
            let groups = r.groups.iter().map(|g| g.name.as_str()).collect();
            (r.user.username.as_str(), groups, r.is_superuser)
        })
        .collect();
    assert_eq!(shown, [("u04", vec!["staff", "ops"], true), ("u05", vec![], false)]);
    dir.groups().remove_member(&env.audit, "staff", "u04").await.unwrap();
    dir.groups().remove_member(&env.audit, "ops", "u04").await.unwrap();

    let groups = dir.groups().page(&GroupQuery::default(), true).await.unwrap();
    assert_eq!(groups.count, 3);
    let root = groups.items.iter().find(|g| g.group.id == admins.id).unwrap();
    assert_eq!(
        root.children.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["ops"]
    );
    let q = GroupQuery {
        is_superuser: Some(true),
        ..GroupQuery::default()
    };
    assert_eq!(dir.groups().page(&q, false).await.unwrap().count, 1);
    let u01 = dir.users().get("u01").await.unwrap();
    let q = GroupQuery {
        with_member: Some(u01.id),
        ..GroupQuery::default()
    };
    let page = dir.groups().page(&q, true).await.unwrap();
    assert_eq!(
        page.items[0]
            .members
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["u01"]
    );

    let q = EventQuery {
        username: Some("u03".into()),
        ..EventQuery::default()
    };
    let events = dir.events().page(&q).await.unwrap();
    assert_eq!(events.count, 2);
    assert_eq!(events.items[0].action, "model_updated");
    let q = EventQuery {
        id: Some(events.items[1].id),
        ..EventQuery::default()
    };
    assert_eq!(dir.events().page(&q).await.unwrap().items[0].action, "model_created");
}

pub(crate) async fn check_api_tokens_authenticate(db: &TestDb) {
    let env = env(db).await;
    let dir = &env.dir;
    let new = NewUser {
        username: "tok".into(),
        email: "tok@example.com".into(),
        name: String::new(),
    };
    dir.users().create(&env.audit, new).await.unwrap();
    let make = NewToken {
        username: "tok".into(),
        description: "ci".into(),
        ..NewToken::default()
    };
    let (key, token) = dir.tokens().create(&env.audit, make).await.unwrap();
    assert_ne!(token.token_hash, key);
    let (found, user) = dir.tokens().authenticate(&key, "api").await.unwrap().unwrap();
    assert_eq!((found.id, user.username.as_str()), (token.id, "tok"));
    assert!(found.last_used.is_some());
    let stored = env.store.api_token_by_hash(&token.token_hash).await.unwrap().unwrap();
    assert_eq!(stored.description, "ci");
    assert_eq!(stored.last_used, found.last_used);
    assert!(dir.tokens().authenticate(&key, "app_password").await.unwrap().is_none());
    assert!(dir.tokens().authenticate("wrong", "api").await.unwrap().is_none());
    dir.users().set_active(&env.audit, "tok", false).await.unwrap();
    assert!(dir.tokens().authenticate(&key, "api").await.unwrap().is_none());
    dir.tokens().revoke(&env.audit, &token.identifier, None).await.unwrap();
    assert!(env.store.api_token_by_hash(&token.token_hash).await.unwrap().is_none());
}
