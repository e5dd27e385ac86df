//! One rule, one place: the same bad input given to the CLI and to a
//! blueprint is refused with the same reason (both reach the same
//! single-object writes), exit 2, and nothing is written either way.

use crate::both_backends;
use crate::harness::TestEnv;

/// A blueprint with one user entry.
fn user_blueprint(username: &str, email: &str, name: &str, password: Option<&str>) -> String {
    let password = password.map_or(String::new(), |p| format!("\n      password: {p:?}"));
    format!(
        "version: 1\nentries:\n  - model: authentik_core.user\n    identifiers: {{username: {username:?}}}\n    attrs:\n      email: {email:?}\n      name: {name:?}{password}\n"
    )
}

fn group_blueprint(name: &str) -> String {
    format!("version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {{name: {name:?}}}\n")
}

/// Applies `yaml`; returns stderr of the refusal (exit 2).
fn blueprint_refusal(env: &TestEnv, yaml: &str) -> String {
    let path = env.path().join("bad.yaml");
    std::fs::write(&path, yaml).unwrap();
    env.fails(&["blueprint", "apply", path.to_str().unwrap()], 2)
}

/// The part of a refusal that names the rule (the CLI and blueprint wrap it differently).
fn reason(err: &str, rule: &str) -> bool {
    err.to_lowercase().contains(&rule.to_lowercase())
}

both_backends!(bad_input_is_refused_alike_by_cli_and_blueprint, |env: &TestEnv| {
    let events = || env.json(&["events", "--limit", "1000"]).as_array().unwrap().len();
    let before = events();
    let long_name = "N".repeat(300);
    let cases: [(&str, Vec<&str>, String); 3] = [
        (
            "username",
            vec!["user", "create", "bad name", "x@example.com", "X"],
            user_blueprint("bad name", "x@example.com", "X", None),
        ),
        (
            "email",
            vec!["user", "create", "carol", "not-an-email", "Carol"],
            user_blueprint("carol", "not-an-email", "Carol", None),
        ),
        (
            "longer than 200 characters",
            vec!["user", "create", "dave", "dave@example.com", &long_name],
            user_blueprint("dave", "dave@example.com", &long_name, None),
        ),
    ];
    for (rule, cli, yaml) in &cases {
        let by_cli = env.fails(cli, 2);
        let by_blueprint = blueprint_refusal(env, yaml);
        assert!(reason(&by_cli, rule), "CLI, {rule}: {by_cli}");
        assert!(reason(&by_blueprint, rule), "blueprint, {rule}: {by_blueprint}");
    }
    // The password policy: a common password, through `user password` and a blueprint.
    env.ok(&["user", "create", "erin", "erin@example.com", "Erin"]);
    let by_cli = env.fails_with_stdin(&["user", "password", "erin", "--stdin"], "password123\n", 2);
    let by_blueprint = blueprint_refusal(
        env,
        &user_blueprint("erin", "erin@example.com", "Erin", Some("password123")),
    );
    assert!(reason(&by_cli, "common"), "{by_cli}");
    assert!(reason(&by_blueprint, "common"), "{by_blueprint}");
    // A group name, and the reserved superuser group.
    let by_cli = env.fails(&["group", "create", "bad/name"], 2);
    let by_blueprint = blueprint_refusal(env, &group_blueprint("bad/name"));
    assert!(reason(&by_cli, "group name"), "{by_cli}");
    assert!(reason(&by_blueprint, "group name"), "{by_blueprint}");
    // Nothing was written by any refusal but erin's creation.
    assert_eq!(events(), before + 1);
    assert_eq!(env.json(&["user", "list"]).as_array().unwrap().len(), 1);
});
