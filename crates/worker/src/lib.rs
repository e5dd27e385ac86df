//! Gatehouse's background worker: runs the jobs of the durable queue in the
//! database (`gatehouse_core::jobs`), with leases, retries with exponential
//! backoff, a dead-letter state and heartbeats, and schedules the periodic
//! housekeeping jobs once per cluster.
//!
//! It owns the run loop and the job handlers; it holds no SQL (the store does)
//! and no business rules (handlers call `Directory` services). New job kinds
//! register a [`JobHandler`] in a [`Registry`] (and, if periodic, a schedule):
//!
//! ```ignore
//! registry.register("blueprints.apply", Arc::new(ApplyBlueprints { .. }));
//! registry.every("blueprints.apply", Duration::from_secs(3600), json!({}));
//! ```
//!
//! Delivery is at least once: a job whose worker dies is claimed again when
//! its lease runs out. Handlers with effects that must not repeat check and
//! write an effect record keyed by the job's idempotency key (see [`mail`]).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod audit_head;
pub mod housekeeping;
pub mod mail;

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::Directory;
use gatehouse_core::jobs::{Job, NewJob, WorkerRecord, backoff_ms};
use serde_json::Value;
use tokio::sync::{Notify, watch};

/// Why a job attempt failed.
#[derive(Debug)]
pub enum JobError {
    /// Worth another attempt after the backoff (SMTP down, database busy).
    Retry(String),
    /// Can never succeed (bad address, unknown payload): dead at once.
    Permanent(String),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Retry(m) | JobError::Permanent(m) => f.write_str(m),
        }
    }
}

impl From<gatehouse_core::Error> for JobError {
    fn from(e: gatehouse_core::Error) -> Self {
        match e {
            gatehouse_core::Error::Store(_) => JobError::Retry(e.to_string()),
            other => JobError::Permanent(other.to_string()),
        }
    }
}

/// What a handler gets besides its job.
#[derive(Clone)]
pub struct JobContext {
    pub directory: Directory,
    pub worker_id: String,
}

/// One kind of job.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<(), JobError>;
}

/// A job enqueued every `every`, once per cluster: its idempotency key names
/// the time slot, so every worker that tries to enqueue the same slot finds it
/// there already.
#[derive(Clone, Debug)]
pub struct Periodic {
    pub kind: String,
    pub every: Duration,
    pub payload: Value,
}

/// The job kinds a worker runs.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    periodic: Vec<Periodic>,
}

impl Registry {
    pub fn register(&mut self, kind: &str, handler: Arc<dyn JobHandler>) -> &mut Self {
        self.handlers.insert(kind.to_string(), handler);
        self
    }

    pub fn every(&mut self, kind: &str, every: Duration, payload: Value) -> &mut Self {
        self.periodic.push(Periodic {
            kind: kind.to_string(),
            every: every.max(Duration::from_secs(1)),
            payload,
        });
        self
    }

    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.handlers.keys().cloned().collect();
        k.sort();
        k
    }
}

/// Timing of the run loop (GATEHOUSE_WORKER__* settings).
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How often an idle worker looks for due jobs (also on PostgreSQL, as a
    /// safety net behind LISTEN/NOTIFY).
    pub poll: Duration,
    /// How long a claim holds a job without a heartbeat.
    pub lease: Duration,
    /// How often the worker records its heartbeat and extends its leases.
    pub heartbeat: Duration,
    /// First retry delay; doubled per attempt up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Attempts before a job is dead (a job may set a lower cap of its own).
    pub max_attempts: i64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            poll: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(10),
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            max_attempts: 8,
        }
    }
}

impl WorkerSettings {
    /// A worker whose heartbeat is older than this is considered gone.
    pub fn stale_after(&self) -> Duration {
        (self.heartbeat * 3).max(Duration::from_secs(3))
    }
}

/// One worker process (or the worker inside `gatehouse server`).
pub struct Worker {
    ctx: JobContext,
    registry: Registry,
    settings: WorkerSettings,
    wakeups: Arc<Notify>,
    record: WorkerRecord,
}

fn later(t: gatehouse_core::Timestamp, ms: i64) -> gatehouse_core::Timestamp {
    gatehouse_core::Timestamp(t.millis().saturating_add(ms))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Worker {
    /// `wakeups` is poked when a job is enqueued (the store's LISTEN on
    /// PostgreSQL); the worker polls regardless.
    pub fn new(directory: Directory, registry: Registry, settings: WorkerSettings, wakeups: Arc<Notify>) -> Worker {
        let host = hostname();
        let pid = std::process::id();
        let id = format!("{host}:{pid}:{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let now = directory.now();
        Worker {
            record: WorkerRecord {
                id: id.clone(),
                host,
                pid: i64::from(pid),
                version: env!("CARGO_PKG_VERSION").to_string(),
                started_at: now,
                heartbeat_at: now,
                stopped_at: None,
            },
            ctx: JobContext {
                directory,
                worker_id: id,
            },
            registry,
            settings,
            wakeups,
        }
    }

    pub fn id(&self) -> &str {
        &self.ctx.worker_id
    }

    /// Runs until `shutdown` turns true; the job in hand is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let dir = self.ctx.directory.clone();
        if let Err(e) = dir.jobs().heartbeat(&self.record).await {
            tracing::warn!(error = %e, "worker: cannot record the first heartbeat");
        }
        tracing::info!(worker = %self.id(), kinds = ?self.registry.kinds(), "worker started");
        // Aborted when this function returns or unwinds: a dead run loop must
        // not keep extending the lease of the job it held.
        let _beat = AbortOnDrop(tokio::spawn(heartbeat(
            dir.clone(),
            self.record.clone(),
            self.settings.clone(),
            shutdown.clone(),
        )));
        let _sched = AbortOnDrop(tokio::spawn(schedule(
            dir.clone(),
            self.registry.periodic.clone(),
            self.settings.clone(),
            shutdown.clone(),
        )));
        loop {
            if *shutdown.borrow() {
                break;
            }
            match dir.jobs().claim(self.id(), millis(self.settings.lease)).await {
                Ok(Some(job)) => {
                    self.run_job(job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "worker: cannot claim jobs"),
            }
            tokio::select! {
                _ = self.wakeups.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        drop(_beat);
        drop(_sched);
        let mut record = self.record.clone();
        let now = dir.now();
        record.heartbeat_at = now;
        record.stopped_at = Some(now);
        if let Err(e) = dir.jobs().heartbeat(&record).await {
            tracing::warn!(error = %e, "worker: cannot record its stop");
        }
        tracing::info!(worker = %self.id(), "worker stopped");
    }

    /// Runs one claimed job and records its outcome.
    pub async fn run_job(&self, job: Job) {
        let dir = &self.ctx.directory;
        let max = job.max_attempts.min(self.settings.max_attempts).max(1);
        let outcome = if job.attempts > max {
            // Claimed again after its lease ran out once too often (a worker
            // died on it each time).
            Err(JobError::Permanent(format!(
                "{} attempts; the last one's worker stopped without an outcome",
                job.attempts - 1
            )))
        } else {
            match self.registry.handlers.get(&job.kind) {
                // A panicking handler is a retryable failure, not the end of
                // the run loop.
                Some(h) => CatchPanic(h.run(&self.ctx, &job))
                    .await
                    .unwrap_or_else(|msg| Err(JobError::Retry(format!("handler panicked: {msg}")))),
                None => Err(JobError::Permanent(format!("no handler for job kind '{}'", job.kind))),
            }
        };
        let now = dir.now();
        let recorded = match &outcome {
            Ok(()) => {
                tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job done");
                dir.jobs().finish(job.id, self.id(), job.attempts).await
            }
            Err(JobError::Retry(msg)) if job.attempts < max => {
                let delay = backoff_ms(
                    millis(self.settings.retry_base),
                    millis(self.settings.retry_max),
                    job.attempts,
                );
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, retry_in_ms = delay, error = %msg, "job failed; will retry");
                dir.jobs()
                    .fail(job.id, self.id(), job.attempts, msg, Some(later(now, delay)))
                    .await
            }
            Err(e) => {
                tracing::error!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job failed for good (dead letter)");
                dir.jobs()
                    .fail(job.id, self.id(), job.attempts, &e.to_string(), None)
                    .await
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = %job.id, "job outcome not recorded: its lease ran out and another worker holds it")
            }
            Err(e) => tracing::warn!(job = %job.id, error = %e, "job outcome not recorded; the lease will expire"),
        }
    }
}

/// Aborts the task when dropped (also when the owner unwinds).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Polls a future, turning a panic inside it into `Err(message)`.
struct CatchPanic<F>(F);

impl<F: Future + Unpin> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = Pin::new(&mut self.0);
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_string());
                Poll::Ready(Err(msg))
            }
        }
    }
}

async fn heartbeat(
    dir: Directory,
    mut record: WorkerRecord,
    settings: WorkerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(settings.heartbeat) => {}
            _ = shutdown.changed() => return,
        }
        let now = dir.now();
        record.heartbeat_at = now;
        if let Err(e) = dir.jobs().heartbeat(&record).await {
            tracing::warn!(error = %e, "worker: heartbeat failed");
        }
        if let Err(e) = dir
            .jobs()
            .extend_leases(&record.id, later(now, millis(settings.lease)))
            .await
        {
            tracing::warn!(error = %e, "worker: cannot extend leases");
        }
    }
}

/// The idempotency key of a periodic job's slot.
pub fn slot_key(kind: &str, every: Duration, now_ms: i64) -> String {
    let every_ms = millis(every).max(1);
    format!("periodic:{kind}:{}", now_ms.div_euclid(every_ms))
}

async fn schedule(
    dir: Directory,
    periodic: Vec<Periodic>,
    settings: WorkerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    if periodic.is_empty() {
        return;
    }
    let mut done: HashMap<String, String> = HashMap::new();
    let tick = settings.poll.clamp(Duration::from_millis(50), Duration::from_secs(30));
    loop {
        let now = dir.now();
        for p in &periodic {
            let key = slot_key(&p.kind, p.every, now.millis());
            if done.get(&p.kind) == Some(&key) {
                continue;
            }
            let job = NewJob {
                idem_key: key.clone(),
                max_attempts: settings.max_attempts,
                ..NewJob::new(&p.kind, p.payload.clone(), now)
            };
            match dir.jobs().enqueue(&job).await {
                Ok(_) => {
                    done.insert(p.kind.clone(), key);
                }
                Err(e) => tracing::warn!(kind = %p.kind, error = %e, "cannot schedule periodic job"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// This machine's host name (for worker ids and backup records).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Health of the workers as `gatehouse status` reports it: the newest live
/// heartbeat's age, if any worker is alive.
pub fn live_workers(
    workers: &[WorkerRecord],
    now: gatehouse_core::Timestamp,
    stale_after: Duration,
) -> Vec<WorkerRecord> {
    workers
        .iter()
        .filter(|w| w.stopped_at.is_none() && now.millis() - w.heartbeat_at.millis() <= millis(stale_after))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_change_once_per_period() {
        let every = Duration::from_secs(300);
        assert_eq!(slot_key("k", every, 0), slot_key("k", every, 299_999));
        assert_ne!(slot_key("k", every, 299_999), slot_key("k", every, 300_000));
        assert_ne!(slot_key("a", every, 0), slot_key("b", every, 0));
    }
}
