use crate::both_backends;
use crate::harness::{TestEnv, text};

#[test]
fn every_command_explains_itself() {
    let env = TestEnv::sqlite();
    let top = env.ok(&["--help"]);
    for cmd in [
        "server", "user", "group", "app", "access", "events", "status", "recovery", "migrate", "settings",
    ] {
        assert!(top.contains(cmd), "top-level help lacks {cmd}");
    }
    let commands: &[&[&str]] = &[
        &["server"],
        &["user"],
        &["user", "list"],
        &["user", "show"],
        &["user", "create"],
        &["user", "password"],
        &["user", "delete"],
        &["user", "disable"],
        &["user", "enable"],
        &["group"],
        &["group", "list"],
        &["group", "create"],
        &["group", "delete"],
        &["group", "add"],
        &["group", "remove"],
        &["group", "members"],
        &["app"],
        &["app", "list"],
        &["app", "show"],
        &["app", "create"],
        &["app", "delete"],
        &["app", "bind"],
        &["app", "unbind"],
        &["access"],
        &["events"],
        &["events", "verify"],
        &["events", "prune"],
        &["status"],
        &["recovery"],
        &["recovery", "admin"],
        &["recovery", "key"],
        &["recovery", "list"],
        &["migrate"],
        &["settings"],
        &["user", "set-password-hash"],
        &["invite"],
        &["invite", "create"],
        &["invite", "list"],
        &["invite", "delete"],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = env.ok(&args);
        assert!(help.contains("Usage: gatehouse"), "{cmd:?}: {help}");
        assert!(
            help.lines().next().is_some_and(|l| !l.trim().is_empty()),
            "{cmd:?} has no description: {help}"
        );
    }
    // Unknown commands and missing arguments are usage errors (exit 2).
    assert_eq!(env.run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(env.run(&["user", "create"]).status.code(), Some(2));
}

#[test]
fn bad_settings_stop_with_one_line_naming_them() {
    let mut env = TestEnv::sqlite();
    env.extra.insert("GATEHOUSE_LISTN".into(), "0.0.0.0:1".into());
    let err = env.fails(&["user", "list"], 2);
    assert!(
        err.contains("GATEHOUSE_LISTN") && err.contains("GATEHOUSE_LISTEN"),
        "{err}"
    );
    env.extra.clear();
    env.extra.insert("GATEHOUSE_LOG_FORMAT".into(), "xml".into());
    let err = env.fails(&["server"], 2);
    assert!(err.contains("GATEHOUSE_LOG_FORMAT"), "{err}");
    env.extra.clear();
    std::fs::write(env.env_file(), "GATEHOUSE_LISTEN=everywhere\n").unwrap();
    let err = env.fails(&["status"], 2);
    assert!(err.contains("GATEHOUSE_LISTEN") && err.contains(".env"), "{err}");
}

#[test]
fn settings_hide_secrets() {
    let mut env = TestEnv::sqlite();
    env.extra
        .insert("GATEHOUSE_BOOTSTRAP_PASSWORD".into(), "hunter2-hunter2".into());
    env.extra.insert(
        "GATEHOUSE_DATABASE_URL".into(),
        "postgres://gh:s3cret@127.0.0.1/gh".into(),
    );
    let out = env.ok(&["settings"]);
    assert!(!out.contains("hunter2") && !out.contains("s3cret"), "{out}");
    assert!(out.contains("(set, hidden)") && out.contains("***@127.0.0.1"), "{out}");
}

both_backends!(recovery_commands, |env: &TestEnv| {
    env.ok(&["user", "create", "carol", "carol@example.com"]);
    assert!(env.ok(&["recovery", "admin", "carol"]).contains("now in admins"));
    assert!(env.ok(&["recovery", "admin", "carol"]).contains("already"));
    assert_eq!(env.json(&["user", "show", "carol"])["is_superuser"], true);
    env.fails(&["recovery", "admin", "nobody"], 2);

    let link = env
        .ok(&["recovery", "key", "carol", "--minutes", "15"])
        .trim()
        .to_string();
    let key = link
        .strip_prefix("https://auth.example.com/recovery/use-token/")
        .and_then(|k| k.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected link {link}"));
    assert!(key.len() >= 43, "256-bit key expected: {key}");
    // Stored hashed, never in clear, expiring in 15 minutes.
    let stored = env.sql_string("SELECT token_hash FROM recovery_keys").unwrap();
    assert_ne!(stored, key);
    assert_eq!(stored, gatehouse_crypto::sha256_hex(key.as_bytes()));
    let ttl = env.sql_i64("SELECT expires_at - created_at FROM recovery_keys");
    assert_eq!(ttl, 15 * 60 * 1000);
    let listed = env.json(&["recovery", "list"]);
    assert_eq!(listed[0]["username"], "carol");
    assert_eq!(listed[0]["state"], "valid");
    assert!(!listed.to_string().contains(key));
    env.fails(&["recovery", "key", "nobody"], 2);
    env.fails(&["recovery", "key", "carol", "--minutes", "0"], 2);
    let events = env.ok(&["--json", "events"]);
    assert!(events.contains("recovery_key_created") && !events.contains(key));
});

both_backends!(status_without_server, |env: &TestEnv| {
    env.ok(&["migrate"]);
    let port = crate::harness::free_port().to_string();
    let mut cmd = env.command(&["--json", "status"]);
    cmd.env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "no server: unhealthy");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["database status"], "reachable");
    assert!(v["schema version"].as_str().unwrap().contains("current"), "{v}");
    assert!(v["server"].as_str().unwrap().contains("not reachable"), "{v}");
    assert_eq!(v["healthy"], false);
});

both_backends!(newer_schema_is_refused, |env: &TestEnv| {
    env.ok(&["migrate"]);
    env.sql("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)");
    let err = env.fails(&["user", "list"], 1);
    assert!(err.contains("newer than this binary"), "{err}");
    let out = crate::server::server_command(env, crate::harness::free_port())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("newer than this binary"));
});
