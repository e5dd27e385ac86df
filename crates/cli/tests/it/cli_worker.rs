//! mail and worker: `worker jobs|retry|list`, `email test`, `user password
//! --link` with email, and the mail settings in `settings`, on both backends.
//! (The worker's run loop and real SMTP are covered by `tests/e2e/test_worker.py`.)

use std::process::{Output, Stdio};

use crate::both_backends;
use crate::harness::{TestEnv, free_port, text};

fn with_mail(env: &TestEnv, args: &[&str], port: u16) -> Output {
    env.command(args)
        .env("GATEHOUSE_EMAIL__HOST", "127.0.0.1")
        .env("GATEHOUSE_EMAIL__PORT", port.to_string())
        .env("GATEHOUSE_EMAIL__PASSWORD", "smtp-secret")
        .env("GATEHOUSE_EMAIL__FROM", "Auth <auth@example.com>")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

both_backends!(worker_jobs_and_retry, |env: &TestEnv| {
    let closed = free_port();
    env.ok(&["migrate"]);
    assert_eq!(env.json(&["worker", "jobs"]), serde_json::json!([]));
    let out = with_mail(
        env,
        &["email", "test", "--queue", "a@example.com", "b@example.com"],
        closed,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);
    let jobs = env.json(&["worker", "jobs", "--state", "queued", "--kind", "mail.send"]);
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j["attempts"] == 0 && j["state"] == "queued"));
    assert!(!jobs[0]["payload"].to_string().contains("smtp-secret"));
    assert_eq!(env.json(&["worker", "jobs", "--state", "dead"]), serde_json::json!([]));
    let id = jobs[0]["id"].as_str().unwrap().to_string();

    // Dead letter (as the worker leaves it) → retry → queued again, with an event.
    env.sql(&format!(
        "UPDATE jobs SET state = 'dead', attempts = 8, last_error = 'SMTP down' WHERE id = '{id}'"
    ));
    let table = env.ok(&["worker", "jobs", "--state", "dead"]);
    assert!(table.contains(&id) && table.contains("SMTP down"), "{table}");
    assert!(env.ok(&["worker", "retry", &id]).contains("queued again"));
    assert_eq!(
        env.sql_string(&format!("SELECT state FROM jobs WHERE id = '{id}'"))
            .as_deref(),
        Some("queued")
    );
    assert_eq!(env.sql_i64(&format!("SELECT attempts FROM jobs WHERE id = '{id}'")), 0);
    assert!(env.ok(&["events", "--action", "job_retried"]).contains("job_retried"));
    env.sql(&format!("UPDATE jobs SET state = 'done' WHERE id = '{id}'"));
    assert!(env.fails(&["worker", "retry", &id], 2).contains("only dead or queued"));
    assert!(
        env.fails(&["worker", "retry", "00000000-0000-4000-8000-000000000000"], 2)
            .contains("not found")
    );
    assert!(env.fails(&["worker", "retry", "nope"], 2).contains("not a job ID"));
    // No worker ever ran: the list is empty and status is unhealthy.
    assert!(env.ok(&["worker", "list"]).starts_with("ID"));
    let status = env.command(&["--json", "status"]).output().unwrap();
    assert_eq!(status.status.code(), Some(1));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        status["worker"].as_str().unwrap().contains("no live worker"),
        "{status}"
    );
});

both_backends!(email_test_failures_and_settings, |env: &TestEnv| {
    assert!(
        env.fails(&["email", "test", "x@example.com"], 2)
            .contains("GATEHOUSE_EMAIL__HOST")
    );
    let bad = with_mail(env, &["email", "test", "not-an-address"], free_port());
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    let down = with_mail(env, &["email", "test", "x@example.com"], free_port());
    assert_eq!(down.status.code(), Some(1));
    let err = text(&down.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("x@example.com") && err.contains("SMTP"), "{err}");
    let shown = text(&with_mail(env, &["settings"], 25).stdout);
    assert!(shown.contains("GATEHOUSE_EMAIL__PASSWORD") && shown.contains("(set, hidden)"));
    assert!(!shown.contains("smtp-secret"));
    let both = env
        .command(&["settings"])
        .env("GATEHOUSE_EMAIL__USE_TLS", "true")
        .env("GATEHOUSE_EMAIL__USE_SSL", "true")
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
});

both_backends!(password_link_is_mailed_when_email_is_configured, |env: &TestEnv| {
    env.ok(&["user", "create", "gina", "gina@example.com"]);
    let out = with_mail(env, &["user", "password", "gina", "--link"], free_port());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("queued") && said.contains("gina@example.com"), "{said}");
    assert!(!said.contains("/recovery/use-token/"), "the link goes by mail only");
    let jobs = env.json(&["worker", "jobs", "--kind", "mail.recovery"]);
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    assert!(!jobs[0]["payload"].to_string().contains("use-token"));
    let printed = with_mail(env, &["user", "password", "gina", "--link", "--print"], free_port());
    assert!(text(&printed.stdout).contains("https://auth.example.com/recovery/use-token/"));
    assert!(
        env.ok(&["user", "password", "gina", "--link"])
            .contains("/recovery/use-token/")
    );
    assert_eq!(
        env.json(&["worker", "jobs", "--kind", "mail.recovery"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        env.run(&["user", "password", "gina", "--print"]).status.code(),
        Some(2),
        "--print needs --link"
    );
});
