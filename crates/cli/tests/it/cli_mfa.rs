//! `gatehouse policy mfa …` and `gatehouse user mfa …`: success and failure
//! paths, exit codes, JSON, events.

use crate::both_backends;
use crate::harness::TestEnv;

both_backends!(mfa_policy_and_user_commands, |env: &TestEnv| {
    // The default, before anything exists: admins.
    let p = env.json(&["policy", "mfa", "show"]);
    assert_eq!(p["mode"], "groups");
    assert_eq!(p["groups"], serde_json::json!(["admins"]));
    assert!(env.ok(&["policy", "mfa", "show"]).contains("admins"));

    env.ok(&["group", "create", "ops"]);
    env.ok(&["app", "create", "wiki", "--name", "Wiki"]);
    let p = env.json(&["policy", "mfa", "set", "groups", "--group", "ops"]);
    assert_eq!(p["groups"], serde_json::json!(["ops"]));
    let p = env.json(&["policy", "mfa", "require-app", "wiki"]);
    assert_eq!(p["apps"], serde_json::json!(["wiki"]));
    let p = env.json(&["policy", "mfa", "set", "everyone"]);
    assert_eq!(
        (p["mode"].as_str(), p["groups"].clone()),
        (Some("everyone"), serde_json::json!(["ops"]))
    );
    let p = env.json(&["policy", "mfa", "unrequire-app", "wiki"]);
    assert_eq!(p["apps"], serde_json::json!([]));
    env.ok(&["policy", "mfa", "set", "off"]);
    assert_eq!(env.json(&["policy", "mfa", "show"])["mode"], "off");

    // Bad input: exit 2, nothing changes.
    assert!(
        env.fails(&["policy", "mfa", "set", "groups", "--group", "nope"], 2)
            .contains("nope")
    );
    assert!(env.fails(&["policy", "mfa", "require-app", "nope"], 2).contains("nope"));
    assert_eq!(env.run(&["policy", "mfa", "set", "sometimes"]).status.code(), Some(2));
    assert_eq!(env.json(&["policy", "mfa", "show"])["mode"], "off");
    let events = env.json(&["events", "--action", "mfa_policy_changed"]);
    assert_eq!(events.as_array().unwrap().len(), 5, "{events}");

    // A user's authenticators: none yet; reset is an event even then.
    env.ok(&["user", "create", "alice", "alice@example.com"]);
    let s = env.json(&["user", "mfa", "list", "alice"]);
    assert_eq!(s["authenticators"], serde_json::json!([]));
    assert_eq!(s["recovery_codes_left"], 0);
    assert!(
        env.ok(&["user", "mfa", "list", "alice"])
            .contains("recovery codes left: 0")
    );
    assert!(
        env.ok(&["user", "mfa", "reset", "alice"])
            .contains("removed 0 authenticators")
    );
    assert_eq!(
        env.json(&["events", "--action", "mfa_reset"]).as_array().unwrap().len(),
        1
    );
    assert!(env.fails(&["user", "mfa", "list", "nobody"], 2).contains("nobody"));
    assert!(env.fails(&["user", "mfa", "reset", "nobody"], 2).contains("nobody"));
});
