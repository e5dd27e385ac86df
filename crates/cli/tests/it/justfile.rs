//! The stack's `just authentik-*` recipes call the binary and behave like it.

use std::process::Command;

use crate::harness::{BIN, TestEnv, text};

/// `just`, installed into .venv by scripts/test. Outside CI a missing `just`
/// skips with a note; in CI it fails.
fn just_binary() -> Option<String> {
    if let Ok(p) = std::env::var("GATEHOUSE_TEST_JUST") {
        return Some(p);
    }
    if Command::new("just")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("just".into());
    }
    assert!(
        std::env::var("CI").is_err(),
        "`just` is missing: scripts/test installs it"
    );
    eprintln!("skipped: `just` not installed (scripts/test installs it)");
    None
}

fn just(env: &TestEnv, just: &str, args: &[&str]) -> std::process::Output {
    let justfile = concat!(env!("CARGO_MANIFEST_DIR"), "/../../justfile");
    let c = env.command(&[]);
    let mut cmd = Command::new(just);
    cmd.env_clear()
        .args(["--justfile", justfile, "--working-directory"])
        .arg(env.path())
        .args(args);
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env("GATEHOUSE_BIN", BIN).output().unwrap()
}

#[test]
fn recipes_call_the_binary() {
    let Some(j) = just_binary() else { return };
    let env = TestEnv::sqlite();
    let ok = |args: &[&str]| {
        let out = just(&env, &j, args);
        assert!(
            out.status.success(),
            "just {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    ok(&["authentik-user-create", "alice", "alice@example.com", "Alice Liddell"]);
    ok(&["authentik-user-create", "bob", "bob@example.com"]);
    assert!(ok(&["authentik-users"]).contains("Alice Liddell"));
    ok(&["authentik-group-create", "admins", "--admin"]);
    ok(&["authentik-group-create", "redmine-admins"]);
    ok(&["authentik-group-add", "admins", "alice"]);
    assert!(ok(&["authentik-group-members", "admins"]).contains("alice"));
    let groups = ok(&["authentik-groups"]);
    assert!(groups.contains("redmine-admins") && groups.contains("yes"), "{groups}");
    let generated = ok(&["authentik-user-password", "bob", "--generate"]);
    assert!(generated.trim().len() >= 16);
    assert!(ok(&["authentik-apps"]).starts_with("SLUG"));
    assert!(ok(&["authentik-access"]).starts_with("USER"));
    ok(&["authentik-user-delete", "bob"]);
    assert!(!ok(&["authentik-users"]).contains("bob"));
    let backup = env.dir.path().join("stack-backup.tar");
    let backup = backup.to_str().unwrap();
    ok(&["authentik-backup", "-o", backup]);
    assert!(ok(&["authentik-restore", backup, "--check"]).contains("every checksum matches"));
    // Failures keep their exit status through just.
    let out = just(&env, &j, &["authentik-group-add", "admins", "nobody"]);
    assert!(!out.status.success());
    let out = just(&env, &j, &["--list"]);
    let list = text(&out.stdout);
    for recipe in [
        "authentik-users",
        "authentik-user-create",
        "authentik-user-password",
        "authentik-user-delete",
        "authentik-groups",
        "authentik-group-create",
        "authentik-group-add",
        "authentik-group-members",
        "authentik-apps",
        "authentik-access",
        "authentik-ldap-test",
        "authentik-status",
        "authentik-logs",
        "authentik-restart",
        "authentik-backup",
        "authentik-restore",
    ] {
        assert!(list.contains(recipe), "missing recipe {recipe}: {list}");
    }
}
