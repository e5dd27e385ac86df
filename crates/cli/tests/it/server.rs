use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::both_backends;
use crate::harness::{TestEnv, free_port, text};

/// `gatehouse server` on a free port, metrics on another.
pub fn server_command(env: &TestEnv, port: u16) -> Command {
    let mut c = env.command(&["server"]);
    c.env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_METRICS_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("GATEHOUSE_LDAP_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("GATEHOUSE_LDAPS_LISTEN", format!("127.0.0.1:{}", free_port()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(env: &TestEnv) -> Server {
        Self::start_with(env, |_| {})
    }

    pub fn start_with(env: &TestEnv, adjust: impl FnOnce(&mut Command)) -> Server {
        let port = free_port();
        let mut cmd = server_command(env, port);
        adjust(&mut cmd);
        let child = cmd.spawn().unwrap();
        let mut s = Server { child, port };
        s.wait_ready();
        s
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                panic!("server exited early with {status}: {err}");
            }
            if get(self.port, "/-/health/ready/").map(|r| r.0) == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server not ready within 20 s");
    }

    /// SIGTERM, then the exit status and everything it logged.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                return (status, err);
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 GET: status code and body.
pub fn get(port: u16, path: &str) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, head.to_string(), body.to_string()))
}

fn env_file_password(env: &TestEnv) -> Option<String> {
    let text = std::fs::read_to_string(env.env_file()).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("GATEHOUSE_BOOTSTRAP_PASSWORD=").map(str::to_string))
}

both_backends!(first_start_bootstraps_once, |env: &TestEnv| {
    std::fs::write(env.env_file(), "# existing stack settings\nSOME_OTHER=1\n").unwrap();
    let server = Server::start(env);
    assert_eq!(get(server.port, "/-/health/live/").unwrap().0, 200);
    let (status, logs) = server.stop();
    assert!(status.success(), "{logs}");

    // The password went to .env (0600, other lines kept), and only its location to the log.
    let password = env_file_password(env).expect("password in .env");
    assert!(password.len() >= 24);
    assert!(!logs.contains(&password), "password leaked into the log");
    assert!(logs.contains(".env") && logs.contains("akadmin"), "{logs}");
    let content = std::fs::read_to_string(env.env_file()).unwrap();
    assert!(
        content.starts_with("# existing stack settings\nSOME_OTHER=1\nGATEHOUSE_BOOTSTRAP_PASSWORD="),
        "{content}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(env.env_file()).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // akadmin is a superuser whose stored hash verifies against that password.
    let admin = env.json(&["user", "show", "akadmin"]);
    assert_eq!(admin["is_superuser"], true);
    assert_eq!(admin["groups"], serde_json::json!(["admins"]));
    let hash = env
        .sql_string("SELECT password_hash FROM users WHERE username = 'akadmin'")
        .unwrap();
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
        crate::harness::block_on(hasher.verify(&password, &hash))
            .unwrap()
            .is_match()
    );

    // A second start creates nothing and leaves .env alone.
    let events = env.sql_i64("SELECT COUNT(*) FROM events");
    let users = env.sql_i64("SELECT COUNT(*) FROM users");
    let server = Server::start(env);
    let (status, _) = server.stop();
    assert!(status.success());
    assert_eq!(env.sql_i64("SELECT COUNT(*) FROM events"), events);
    assert_eq!(env.sql_i64("SELECT COUNT(*) FROM users"), users);
    assert_eq!(std::fs::read_to_string(env.env_file()).unwrap(), content);
    env.ok(&["events", "verify"]);
});

both_backends!(configured_bootstrap_password_email_and_token, |env: &TestEnv| {
    let server = Server::start_with(env, |c| {
        c.env("AUTHENTIK_BOOTSTRAP_PASSWORD", "Configured-Pass-42")
            .env("GATEHOUSE_BOOTSTRAP_EMAIL", "root@example.com")
            .env("GATEHOUSE_BOOTSTRAP_TOKEN", "bootstrap-token-value-0123456789");
    });
    let (status, logs) = server.stop();
    assert!(status.success(), "{logs}");
    assert!(env_file_password(env).is_none(), "nothing generated, nothing written");
    assert!(!logs.contains("Configured-Pass-42") && !logs.contains("bootstrap-token-value"));
    let admin = env.json(&["user", "show", "akadmin"]);
    assert_eq!(admin["email"], "root@example.com");
    let stored = env.sql_string("SELECT token_hash FROM api_tokens").unwrap();
    assert_eq!(
        stored,
        gatehouse_crypto::sha256_hex(b"bootstrap-token-value-0123456789")
    );
    assert_eq!(
        env.sql_i64("SELECT COUNT(*) FROM api_tokens WHERE expires_at IS NULL"),
        1
    );
});

#[test]
fn concurrent_first_starts_create_one_admin() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    // Two servers, one database, two separate .env files.
    let second_env = env.dir.path().join("second.env");
    let spawn = |env_file: Option<&std::path::Path>| {
        let port = free_port();
        let mut c = server_command(&env, port);
        if let Some(f) = env_file {
            c.env("GATEHOUSE_ENV_FILE", f);
        }
        (c.spawn().unwrap(), port)
    };
    let mut servers = [spawn(None), spawn(Some(&second_env))];
    let deadline = Instant::now() + Duration::from_secs(20);
    for (_, port) in &servers {
        while get(*port, "/-/health/ready/").map(|r| r.0) != Some(200) {
            assert!(Instant::now() < deadline, "both servers should become ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for (child, _) in &mut servers {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(env.sql_i64("SELECT COUNT(*) FROM users WHERE username = 'akadmin'"), 1);
    assert_eq!(env.sql_i64("SELECT COUNT(*) FROM groups WHERE name = 'admins'"), 1);
    let written = [env.env_file(), second_env]
        .iter()
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("GATEHOUSE_BOOTSTRAP_PASSWORD=")))
        .count();
    assert_eq!(written, 1, "exactly one server generated and wrote the password");
    env.ok(&["events", "verify"]);
}

both_backends!(health_metrics_and_logs, |env: &TestEnv| {
    let metrics_port = free_port();
    let server = Server::start_with(env, |c| {
        c.env("GATEHOUSE_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
            .env("GATEHOUSE_LOG_FORMAT", "json");
    });
    let (code, head, _) = get(server.port, "/-/health/ready/").unwrap();
    assert_eq!(code, 200, "{head}");
    assert_eq!(get(server.port, "/nowhere?token=secret-in-query").unwrap().0, 404);
    let (code, _, body) = get(metrics_port, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("gatehouse_http_requests_total"), "{body}");
    // The metrics port is not the public one.
    assert_eq!(get(server.port, "/metrics").unwrap().0, 404);
    let (status, logs) = server.stop();
    assert!(status.success());
    // Structured JSON request logs, without query strings.
    let request_line = logs
        .lines()
        .find(|l| l.contains("/nowhere"))
        .unwrap_or_else(|| panic!("no request log: {logs}"));
    let v: serde_json::Value = serde_json::from_str(request_line).unwrap();
    assert_eq!(v["status"], 404);
    assert!(!logs.contains("secret-in-query"));
    assert!(logs.contains("SIGTERM"), "{logs}");
    // The start-up log says whose X-Forwarded-For is believed: loopback only by default.
    let proxies = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["trusted_proxies"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no trusted-proxies line: {logs}"));
    assert_eq!(proxies, "127.0.0.0/8, ::1/128");
});

#[test]
fn listen_address_in_use_is_a_clear_error() {
    let env = TestEnv::sqlite();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = server_command(&env, port).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("GATEHOUSE_LISTEN") && err.contains(&port.to_string()),
        "{err}"
    );
}

#[test]
fn status_with_running_server_is_healthy() {
    let env = TestEnv::sqlite();
    let server = Server::start(&env);
    let mut cmd = env.command(&["status"]);
    cmd.env("GATEHOUSE_LISTEN", format!("127.0.0.1:{}", server.port));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("ready") && table.contains("sqlite") && table.contains("current"),
        "{table}"
    );
    server.stop();
}
