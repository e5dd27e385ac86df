use super::*;

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    m.entry("GATEHOUSE_ENV_FILE".into())
        .or_insert_with(|| "/nonexistent/.env".into());
    m
}

#[test]
fn defaults() {
    let s = Settings::from_vars(vars(&[])).unwrap();
    assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(s.metrics_listen.map(|a| a.to_string()).as_deref(), Some("0.0.0.0:9300"));
    assert_eq!(s.external_url, "http://localhost:9000");
    assert_eq!(s.database_url, "sqlite://./data/gatehouse.db");
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.hash_params, HashParams::default());
    assert_eq!(
        s.trusted_proxies, "127.0.0.0/8, ::1",
        "forwarded headers from loopback only"
    );
}

#[test]
fn unknown_setting_is_named_with_a_suggestion() {
    let e = Settings::from_vars(vars(&[("GATEHOUSE_LISTN", "0.0.0.0:1")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("GATEHOUSE_LISTN") && e.contains("did you mean GATEHOUSE_LISTEN"),
        "{e}"
    );
}

#[test]
fn bad_values_are_named() {
    for (k, v) in [
        ("GATEHOUSE_LISTEN", "nine-thousand"),
        ("GATEHOUSE_LOG_FORMAT", "xml"),
        ("GATEHOUSE_EXTERNAL_URL", "ftp://x"),
        ("GATEHOUSE_DATABASE_URL", "mysql://x"),
        ("GATEHOUSE_PASSWORD_MIN_LENGTH", "-1"),
        ("GATEHOUSE_LOG_LEVEL", "loud[[["),
    ] {
        let e = Settings::from_vars(vars(&[(k, v)])).unwrap_err().to_string();
        assert!(e.contains(k), "{k}: {e}");
    }
}

#[test]
fn debug_hides_the_secret_key_and_the_database_password() {
    let s = Settings::from_vars(vars(&[
        ("GATEHOUSE_SECRET_KEY", "very-secret-key-material"),
        ("GATEHOUSE_DATABASE_URL", "postgres://gh:db-password@127.0.0.1/gh"),
    ]))
    .unwrap();
    let shown = format!("{s:?}");
    assert!(!shown.contains("very-secret-key-material"), "{shown}");
    assert!(!shown.contains("db-password"), "{shown}");
    assert!(shown.contains("(set, hidden)"), "{shown}");
}

#[test]
fn env_file_then_environment() {
    let dir = std::env::temp_dir().join(format!("gh-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let env = dir.join(".env");
    std::fs::write(
        &env,
        "OTHER=1\nGATEHOUSE_LISTEN=127.0.0.1:8000\nAUTHENTIK_BOOTSTRAP_PASSWORD=from-alias\n",
    )
    .unwrap();
    let s = Settings::from_vars(vars(&[("GATEHOUSE_ENV_FILE", env.to_str().unwrap())])).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8000");
    assert_eq!(s.bootstrap.password.as_deref(), Some("from-alias"));
    let s = Settings::from_vars(vars(&[
        ("GATEHOUSE_ENV_FILE", env.to_str().unwrap()),
        ("GATEHOUSE_LISTEN", "127.0.0.1:8001"),
    ]))
    .unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8001");
    std::fs::write(&env, "GATEHOUSE_LISTN=1\n").unwrap();
    let e = Settings::from_vars(vars(&[("GATEHOUSE_ENV_FILE", env.to_str().unwrap())]))
        .unwrap_err()
        .to_string();
    assert!(e.contains(".env"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn toml_file() {
    let dir = std::env::temp_dir().join(format!("gh-toml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("gatehouse.toml");
    std::fs::write(&f, "listen = \"127.0.0.1:7000\"\npassword_min_length = 12\n").unwrap();
    let s = Settings::from_vars(vars(&[("GATEHOUSE_CONFIG_FILE", f.to_str().unwrap())])).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:7000");
    assert_eq!(s.password_policy.min_chars, 12);
    std::fs::write(&f, "lisen = \"x\"\n").unwrap();
    let e = Settings::from_vars(vars(&[("GATEHOUSE_CONFIG_FILE", f.to_str().unwrap())]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("lisen") && e.contains("did you mean listen"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}
