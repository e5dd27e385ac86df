//! `gatehouse app create … --provider ldap`, `app update`, `ldap cert`,
//! `ldap test` and the LDAP settings: success and refusal paths.

use crate::both_backends;
use crate::harness::TestEnv;

both_backends!(ldap_applications, |env: &TestEnv| {
    env.ok(&["group", "create", "searchers"]);
    let out = env.ok(&["app", "create", "dir", "--name", "Directory", "--provider", "ldap"]);
    assert!(
        out.contains("bind DN: cn=USERNAME,ou=users,DC=ldap,DC=goauthentik,DC=io"),
        "{out}"
    );
    let app = env.json(&["app", "show", "dir"]);
    assert_eq!(app["provider"], "ldap");
    assert_eq!(app["provider_key"], "dc=ldap,dc=goauthentik,dc=io");
    let cfg = &app["provider_config"];
    assert_eq!(
        (cfg["mfa"].as_str(), cfg["uid_start_number"].as_i64()),
        (Some("optional"), Some(2000))
    );
    assert!(cfg["search_group"].is_null());
    // A second tree needs its own base DN (case and spacing do not make it another).
    let err = env.fails(
        &[
            "app",
            "create",
            "dir2",
            "--name",
            "D2",
            "--provider",
            "ldap",
            "--base-dn",
            "dc=LDAP, dc=goauthentik,dc=io",
        ],
        2,
    );
    assert!(err.contains("already exists"), "{err}");
    env.ok(&[
        "app",
        "create",
        "nas",
        "--name",
        "NAS",
        "--provider",
        "ldap",
        "--base-dn",
        "ou=nas,dc=example,dc=com",
        "--search-group",
        "searchers",
        "--mfa",
        "required",
        "--uid-start",
        "10000",
    ]);
    let table = env.ok(&["app", "show", "nas"]);
    for shown in ["ou=nas,dc=example,dc=com", "searchers", "required", "10000 / 4000"] {
        assert!(table.contains(shown), "{shown}: {table}");
    }
    env.ok(&[
        "app",
        "update",
        "nas",
        "--no-search-group",
        "--mfa",
        "optional",
        "--base-dn",
        "ou=files,dc=example,dc=com",
    ]);
    let cfg = env.json(&["app", "show", "nas"])["provider_config"].clone();
    assert!(
        cfg["search_group"].is_null() && cfg["mfa"] == "optional" && cfg["base_dn"] == "ou=files,dc=example,dc=com"
    );
    assert_eq!(cfg["uid_start_number"], 10000, "unnamed settings are kept");
    // Refusals change nothing.
    for (args, why) in [
        (
            vec![
                "app",
                "create",
                "x",
                "--name",
                "X",
                "--provider",
                "ldap",
                "--base-dn",
                "no dn here",
            ],
            "base DN",
        ),
        (
            vec![
                "app",
                "create",
                "x",
                "--name",
                "X",
                "--provider",
                "ldap",
                "--search-group",
                "nobody",
            ],
            "nobody",
        ),
        (
            vec![
                "app",
                "create",
                "x",
                "--name",
                "X",
                "--provider",
                "ldap",
                "--uid-start",
                "0",
            ],
            "uid_start_number",
        ),
        (
            vec!["app", "create", "x", "--name", "X", "--base-dn", "dc=x"],
            "--provider ldap",
        ),
        (vec!["app", "update", "nas", "--redirect-uri", "https://x/cb"], "OIDC"),
    ] {
        let err = env.fails(&args, 2);
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert!(!env.ok(&["app", "list"]).contains("\nx "), "no half-made application");
    let err = env.fails(&["app", "update", "dir", "--search-group", "nobody"], 2);
    assert!(err.contains("nobody"), "{err}");
});

both_backends!(ldap_certificate_is_made_once_and_kept, |env: &TestEnv| {
    let first = env.ok(&["ldap", "cert"]);
    assert!(
        first.starts_with("-----BEGIN CERTIFICATE-----") && !first.contains("PRIVATE KEY"),
        "{first}"
    );
    assert_eq!(env.ok(&["ldap", "cert"]), first, "kept in the database");
    assert!(
        env.ok(&["--json", "events"]).contains("ldap_tls_pem"),
        "its creation is an event"
    );
});

#[test]
fn ldap_settings_are_checked() {
    let env = TestEnv::sqlite();
    let settings = env.ok(&["settings"]);
    for name in [
        "GATEHOUSE_LDAP_LISTEN",
        "GATEHOUSE_LDAPS_LISTEN",
        "GATEHOUSE_LDAP_MAX_RESULTS",
    ] {
        assert!(settings.contains(name), "{name}: {settings}");
    }
    let mut cmd = env.command(&["ldap", "test", "alice"]);
    cmd.env("GATEHOUSE_LDAP_LISTEN", "off");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    for (name, value) in [
        ("GATEHOUSE_LDAP_LISTEN", "everywhere"),
        ("GATEHOUSE_LDAP_MAX_RESULTS", "0"),
        ("GATEHOUSE_LDAP_TLS_CERT", "/tmp/cert.pem"),
    ] {
        let mut cmd = env.command(&["settings"]);
        cmd.env(name, value);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}={value}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(name));
    }
    // Both listeners off: `gatehouse ldap` has nothing to serve.
    let mut cmd = env.command(&["ldap"]);
    cmd.env("GATEHOUSE_LDAP_LISTEN", "off")
        .env("GATEHOUSE_LDAPS_LISTEN", "off");
    assert_eq!(cmd.output().unwrap().status.code(), Some(2));
}
