use crate::both_backends;
use crate::harness::TestEnv;

both_backends!(groups_and_nesting, |env: &TestEnv| {
    env.ok(&["user", "create", "alice", "alice@example.com", "Alice"]);
    env.ok(&["user", "create", "bob", "bob@example.com", "Bob"]);
    env.ok(&["group", "create", "admins", "--admin"]);
    env.ok(&["group", "create", "staff"]);
    env.ok(&["group", "create", "devs", "--parent", "staff"]);
    env.fails(&["group", "create", "STAFF"], 2);
    env.fails(&["group", "create", "x", "--parent", "nope"], 2);

    assert!(
        env.ok(&["group", "add", "devs", "alice"])
            .contains("added alice to devs")
    );
    assert!(env.ok(&["group", "add", "devs", "alice"]).contains("already"));
    env.ok(&["group", "add", "staff", "bob"]);
    env.fails(&["group", "add", "devs", "nobody"], 2);
    env.fails(&["group", "add", "nope", "alice"], 2);

    // staff: bob directly, alice through devs.
    let members = env.json(&["group", "members", "staff"]);
    let m: Vec<(String, Option<String>)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_string(),
                m["via"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(m, vec![("bob".into(), None), ("alice".into(), Some("devs".into()))]);
    let table = env.ok(&["group", "members", "staff"]);
    assert!(table.contains("via devs") && table.contains("direct"), "{table}");

    let list = env.json(&["group", "list"]);
    let devs = list.as_array().unwrap().iter().find(|g| g["name"] == "devs").unwrap();
    assert_eq!(devs["parent"], "staff");
    assert_eq!(devs["direct_members"], 1);
    let admins = list.as_array().unwrap().iter().find(|g| g["name"] == "admins").unwrap();
    assert_eq!(admins["is_superuser"], true);

    // Superuser status flows from the group.
    env.ok(&["group", "add", "admins", "alice"]);
    assert_eq!(env.json(&["user", "show", "alice"])["is_superuser"], true);
    assert_eq!(env.json(&["user", "show", "bob"])["is_superuser"], false);
    assert_eq!(
        env.json(&["user", "show", "alice"])["inherited_groups"],
        serde_json::json!(["staff"])
    );

    assert!(env.ok(&["group", "remove", "devs", "alice"]).contains("removed"));
    assert!(env.ok(&["group", "remove", "devs", "alice"]).contains("was not"));
    env.fails(&["group", "delete", "staff"], 2); // devs is nested in it
    env.fails(&["group", "delete", "admins"], 2);
    env.ok(&["group", "delete", "devs"]);
    env.ok(&["group", "delete", "staff"]);
    env.fails(&["group", "members", "staff"], 2);
});
