//! A throw-away installation per test: its own directory, `.env` and database
//! (an SQLite file, or a fresh PostgreSQL database), and helpers to run the
//! binary against it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sqlx::Connection;

pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// Runs `$body` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let env = $crate::harness::TestEnv::sqlite();
                ($body)(&env);
            }
            #[test]
            fn postgres() {
                let Some(env) = $crate::harness::TestEnv::postgres() else {
                    return;
                };
                ($body)(&env);
            }
        }
    };
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pg: Option<(String, String)>,
    pub extra: BTreeMap<String, String>,
}

impl TestEnv {
    pub fn sqlite() -> TestEnv {
        let dir = tempfile::tempdir().unwrap();
        let database_url = format!("sqlite://{}", dir.path().join("data/gatehouse.db").display());
        TestEnv {
            dir,
            database_url,
            pg: None,
            extra: BTreeMap::new(),
        }
    }

    /// A fresh PostgreSQL database, or `None` when explicitly skipped.
    pub fn postgres() -> Option<TestEnv> {
        let admin = match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
            Ok(u) => u,
            Err(_) if std::env::var("GATEHOUSE_SKIP_POSTGRES").as_deref() == Ok("1") => {
                eprintln!("PostgreSQL test skipped: GATEHOUSE_SKIP_POSTGRES=1");
                return None;
            }
            Err(_) => panic!(
                "GATEHOUSE_TEST_DATABASE_URL is not set; PostgreSQL tests need it (or GATEHOUSE_SKIP_POSTGRES=1 outside CI)"
            ),
        };
        let name = format!("gh_cli_{}", uuid::Uuid::new_v4().simple());
        block_on(async {
            let mut c = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to GATEHOUSE_TEST_DATABASE_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut c)
                .await
                .unwrap();
        });
        let database_url = replace_db_name(&admin, &name);
        let mut env = TestEnv::sqlite();
        env.database_url = database_url;
        env.pg = Some((admin, name));
        Some(env)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn env_file(&self) -> PathBuf {
        self.dir.path().join(".env")
    }

    /// The binary with a clean environment pointing at this installation.
    /// Password hashing is made cheap unless a test sets its own cost.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("USER", "tester")
            .env("GATEHOUSE_ENV_FILE", self.env_file())
            .env("GATEHOUSE_DATA_DIR", self.dir.path().join("data"))
            .env("GATEHOUSE_DATABASE_URL", &self.database_url)
            .env("GATEHOUSE_EXTERNAL_URL", "https://auth.example.com")
            .env("GATEHOUSE_PASSWORD_HASH_MEMORY_KIB", "64")
            .env("GATEHOUSE_PASSWORD_HASH_ITERATIONS", "1")
            .current_dir(self.dir.path());
        for (k, v) in &self.extra {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gatehouse {args:?} failed: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs and expects exit status `code`; returns stderr, which must be one line.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "gatehouse {args:?}: stdout {} stderr {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line of error expected: {err}");
        err
    }

    /// As [`Self::fails`], with `input` on stdin.
    pub fn fails_with_stdin(&self, args: &[&str], input: &str, code: i32) -> String {
        let out = self.run_with_stdin(args, input);
        assert_eq!(
            out.status.code(),
            Some(code),
            "gatehouse {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stderr)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs SQL against the installation's database (for tampering tests).
    pub fn sql(&self, statement: &str) {
        let url = self.database_url.clone();
        let statement = statement.to_string();
        block_on(async move {
            sqlx::any::install_default_drivers();
            let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut c)
                .await
                .unwrap();
        });
    }

    /// Runs a query returning one integer.
    pub fn sql_i64(&self, query: &str) -> i64 {
        let url = self.database_url.clone();
        let query = query.to_string();
        block_on(async move {
            sqlx::any::install_default_drivers();
            let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(query))
                .fetch_one(&mut c)
                .await
                .unwrap();
            n
        })
    }

    pub fn sql_string(&self, query: &str) -> Option<String> {
        let url = self.database_url.clone();
        let query = query.to_string();
        block_on(async move {
            sqlx::any::install_default_drivers();
            let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
            let row: Option<(Option<String>,)> = sqlx::query_as(sqlx::AssertSqlSafe(query))
                .fetch_optional(&mut c)
                .await
                .unwrap();
            row.and_then(|r| r.0)
        })
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                block_on(async move {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                })
            })
            .join();
        }
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
