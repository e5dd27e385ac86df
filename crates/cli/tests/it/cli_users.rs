use crate::both_backends;
use crate::harness::{TestEnv, text};

both_backends!(user_lifecycle, |env: &TestEnv| {
    let out = env.ok(&["user", "create", "alice", "alice@example.com", "Alice"]);
    assert!(out.contains("created user alice"), "{out}");
    // Case-insensitive uniqueness, clear message, exit 2, nothing written.
    let events_before = env.json(&["events", "--limit", "1000"]).as_array().unwrap().len();
    let err = env.fails(&["user", "create", "ALICE", "other@example.com"], 2);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        env.json(&["events", "--limit", "1000"]).as_array().unwrap().len(),
        events_before
    );

    let users = env.json(&["user", "list"]);
    let alice = &users.as_array().unwrap()[0];
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(alice["name"], "Alice");
    assert_eq!(alice["is_active"], true);
    assert!(alice.get("password_hash").is_none(), "hash must never be printed");
    let table = env.ok(&["user", "list"]);
    assert!(
        table.starts_with("USERNAME") && table.contains("alice@example.com"),
        "{table}"
    );

    // Lookup is case-insensitive.
    let show = env.json(&["user", "show", "ALICE"]);
    assert_eq!(show["has_password"], false);

    env.fails(&["user", "create", "bad name", "x@example.com"], 2);
    env.fails(&["user", "create", "bob", "not-an-email"], 2);
    env.fails(&["user", "show", "nobody"], 2);
});

both_backends!(passwords, |env: &TestEnv| {
    env.ok(&["user", "create", "alice", "alice@example.com", "Alice"]);
    // Policy: too short, common, too long. Nothing changes.
    for bad in ["short", "password123", &"x".repeat(1025)] {
        let out = env.run_with_stdin(&["user", "password", "alice", "--stdin"], &format!("{bad}\n"));
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("password rejected"), "{}", text(&out.stderr));
    }
    assert_eq!(env.json(&["user", "show", "alice"])["has_password"], false);

    let secret = "correct-Horse-battery-9";
    let out = env.run_with_stdin(&["user", "password", "alice", "--stdin"], &format!("{secret}\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(env.json(&["user", "show", "alice"])["has_password"], true);
    // Stored as argon2id, verifiable; never as plain text.
    let hash = env
        .sql_string("SELECT password_hash FROM users WHERE username = 'alice'")
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let hasher = gatehouse_crypto::PasswordHasher::new(
        gatehouse_crypto::HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        1,
    )
    .unwrap();
    assert!(
        crate::harness::block_on(hasher.verify(secret, &hash))
            .unwrap()
            .is_match()
    );

    // The event says so, with the CLI actor, and holds neither password nor hash.
    let events = env.ok(&["--json", "events", "--action", "password_set"]);
    assert!(events.contains("cli:tester") && events.contains("alice"), "{events}");
    assert!(!events.contains(secret) && !events.contains("argon2"), "{events}");

    // --generate prints a working random password.
    let generated = env.ok(&["user", "password", "alice", "--generate"]).trim().to_string();
    assert!(generated.len() >= 16, "{generated}");
    let hash = env
        .sql_string("SELECT password_hash FROM users WHERE username = 'alice'")
        .unwrap();
    assert!(
        crate::harness::block_on(hasher.verify(&generated, &hash))
            .unwrap()
            .is_match()
    );

    // No terminal and no --stdin: a clear refusal, not a hang.
    let err = env.fails(&["user", "password", "alice"], 2);
    assert!(err.contains("--stdin"), "{err}");
    env.fails(&["user", "password", "nobody", "--generate"], 2);

    // --link issues a one-time link instead.
    let link = env.ok(&["user", "password", "alice", "--link"]);
    assert!(
        link.starts_with("https://auth.example.com/recovery/use-token/"),
        "{link}"
    );
});

both_backends!(disable_enable_delete, |env: &TestEnv| {
    env.ok(&["user", "create", "bob", "bob@example.com"]);
    env.ok(&["user", "disable", "bob"]);
    assert_eq!(env.json(&["user", "show", "bob"])["is_active"], false);
    env.ok(&["user", "enable", "bob"]);
    assert_eq!(env.json(&["user", "show", "bob"])["is_active"], true);
    env.fails(&["user", "disable", "nobody"], 2);

    env.ok(&["group", "create", "staff"]);
    env.ok(&["group", "add", "staff", "bob"]);
    env.ok(&["user", "delete", "bob"]);
    env.fails(&["user", "show", "bob"], 2);
    assert!(env.json(&["group", "members", "staff"]).as_array().unwrap().is_empty());
    env.fails(&["user", "delete", "bob"], 2);

    // The recovery account is protected unless forced.
    env.ok(&["user", "create", "akadmin", ""]);
    let err = env.fails(&["user", "delete", "akadmin"], 2);
    assert!(err.contains("recovery account"), "{err}");
    env.ok(&["user", "show", "akadmin"]);
    env.ok(&["user", "delete", "akadmin", "--force"]);

    let actions: Vec<String> = env
        .json(&["events"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        actions.contains(&"model_deleted".to_string()) && actions.contains(&"model_updated".to_string()),
        "{actions:?}"
    );
});
