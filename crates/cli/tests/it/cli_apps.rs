use crate::both_backends;
use crate::harness::TestEnv;

both_backends!(applications_and_access, |env: &TestEnv| {
    for (u, e) in [
        ("alice", "alice@example.com"),
        ("bob", "bob@example.com"),
        ("carol", "carol@example.com"),
    ] {
        env.ok(&["user", "create", u, e]);
    }
    env.ok(&["group", "create", "staff"]);
    env.ok(&["group", "create", "devs", "--parent", "staff"]);
    env.ok(&["group", "create", "ops"]);
    env.ok(&["group", "add", "devs", "alice"]);
    env.ok(&["group", "add", "ops", "bob"]);
    env.ok(&["group", "add", "staff", "carol"]);
    env.ok(&["user", "disable", "carol"]);

    env.ok(&[
        "app",
        "create",
        "wiki",
        "--name",
        "Wiki",
        "--launch-url",
        "https://wiki.example.com/",
    ]);
    env.ok(&["app", "create", "grafana", "--name", "Grafana"]);
    env.ok(&["app", "create", "pager", "--name", "Pager"]);
    env.fails(&["app", "create", "wiki", "--name", "Again"], 2);
    env.fails(&["app", "create", "Bad Slug", "--name", "x"], 2);
    env.fails(
        &[
            "app",
            "create",
            "evil",
            "--name",
            "x",
            "--launch-url",
            "javascript:alert(1)",
        ],
        2,
    );

    assert!(
        env.ok(&["app", "bind", "grafana", "staff"])
            .contains("restricted to staff")
    );
    assert!(env.ok(&["app", "bind", "grafana", "staff"]).contains("already"));
    env.ok(&["app", "bind", "pager", "ops"]);
    env.fails(&["app", "bind", "nope", "ops"], 2);
    env.fails(&["app", "bind", "pager", "nope"], 2);

    let show = env.json(&["app", "show", "grafana"]);
    assert_eq!(show["bound_groups"], serde_json::json!(["staff"]));
    assert_eq!(
        env.json(&["app", "show", "wiki"])["launch_url"],
        "https://wiki.example.com/"
    );
    assert!(env.ok(&["app", "list"]).contains("all users"));

    // alice reaches grafana through devs ⊂ staff; bob only pager; carol is disabled.
    let m = env.json(&["access"]);
    assert_eq!(m["applications"], serde_json::json!(["grafana", "pager", "wiki"]));
    let apps_of = |u: &str| {
        m["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["username"] == u)
            .unwrap()["applications"]
            .clone()
    };
    assert_eq!(apps_of("alice"), serde_json::json!(["grafana", "wiki"]));
    assert_eq!(apps_of("bob"), serde_json::json!(["pager", "wiki"]));
    assert_eq!(apps_of("carol"), serde_json::json!([]));

    let csv = env.ok(&["access", "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "username,active,grafana,pager,wiki");
    assert!(lines.contains(&"alice,yes,yes,no,yes"), "{csv}");
    assert!(lines.contains(&"carol,no,no,no,no"), "{csv}");
    let table = env.ok(&["access"]);
    assert!(table.starts_with("USER") && table.contains("(disabled)"), "{table}");

    env.ok(&["app", "unbind", "grafana", "staff"]);
    assert!(env.ok(&["app", "unbind", "grafana", "staff"]).contains("was not bound"));
    let m = env.json(&["access"]);
    let bob = m["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["username"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(bob["applications"], serde_json::json!(["grafana", "pager", "wiki"]));

    env.ok(&["app", "delete", "pager"]);
    env.fails(&["app", "show", "pager"], 2);
    env.fails(&["app", "delete", "pager"], 2);
});
