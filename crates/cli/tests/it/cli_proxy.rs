//! `gatehouse app create … --provider proxy`: forward-auth applications.

use crate::both_backends;
use crate::harness::TestEnv;

both_backends!(proxy_applications, |env: &TestEnv| {
    env.ok(&["group", "create", "staff"]);
    let out = env.ok(&[
        "app",
        "create",
        "wiki",
        "--name",
        "Wiki",
        "--provider",
        "proxy",
        "--external-host",
        "HTTPS://Wiki.Example.com/",
        "--skip-path",
        "^/health$",
        "--skip-path",
        "^/api/public/",
        "--allow-group",
        "staff",
        "--basic-auth-password-attribute",
        "wiki_password",
    ]);
    assert!(out.contains("created application wiki"), "{out}");
    let app = env.json(&["app", "show", "wiki"]);
    assert_eq!(app["provider"], "proxy");
    assert_eq!(app["provider_key"], "wiki.example.com");
    assert_eq!(
        app["launch_url"], "https://wiki.example.com/",
        "links to its host by default"
    );
    assert_eq!(app["bound_groups"], serde_json::json!(["staff"]));
    let config = &app["provider_config"];
    assert_eq!(config["mode"], "forward_single");
    assert_eq!(config["external_host"], "https://wiki.example.com");
    assert_eq!(config["skip_path_regex"], "^/health$\n^/api/public/");
    assert_eq!(config["basic_auth_enabled"], true);
    let table = env.ok(&["app", "show", "wiki"]);
    for shown in [
        "forward_single",
        "https://wiki.example.com",
        "^/health$",
        "user (email), password wiki_password",
    ] {
        assert!(table.contains(shown), "{shown}: {table}");
    }

    env.ok(&[
        "app",
        "create",
        "corp",
        "--name",
        "Corp",
        "--provider",
        "proxy",
        "--mode",
        "forward_domain",
        "--cookie-domain",
        "example.com",
        "--external-host",
        "https://auth.example.com",
    ]);
    let corp = env.json(&["app", "show", "corp"]);
    assert_eq!(corp["provider_config"]["cookie_domain"], "example.com");
    assert!(corp["launch_url"].is_null(), "a whole domain has no single front page");

    // Refused, each with one line and exit 2, and nothing created.
    for (args, says) in [
        (vec!["--provider", "proxy"], "--external-host"),
        (
            vec!["--provider", "proxy", "--external-host", "wiki2.example.com"],
            "external host",
        ),
        (
            vec!["--provider", "proxy", "--external-host", "https://wiki.example.com"],
            "already exists",
        ),
        (
            vec![
                "--provider",
                "proxy",
                "--external-host",
                "https://x.example.com",
                "--skip-path",
                "(",
            ],
            "skip path",
        ),
        (
            vec![
                "--provider",
                "proxy",
                "--external-host",
                "https://x.example.com",
                "--cookie-domain",
                "example.com",
            ],
            "cookie domain",
        ),
        (
            vec![
                "--provider",
                "proxy",
                "--mode",
                "forward_domain",
                "--external-host",
                "https://a2.example.com",
                "--cookie-domain",
                "example.com",
            ],
            "already authenticates",
        ),
        (vec!["--external-host", "https://x.example.com"], "--provider proxy"),
        (
            vec![
                "--provider",
                "proxy",
                "--external-host",
                "https://x.example.com",
                "--allow-group",
                "nope",
            ],
            "nope",
        ),
    ] {
        let mut full = vec!["app", "create", "other", "--name", "Other"];
        full.extend(args.iter().copied());
        let err = env.fails(&full, 2);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    env.fails(&["app", "show", "other"], 2);
});
