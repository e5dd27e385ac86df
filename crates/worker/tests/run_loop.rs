//! The worker's run loop against a real SQLite store: retries with backoff
//! until success, permanent failures and unknown kinds straight to the dead
//! letter, attempts exhausted by dying workers, periodic jobs once per slot,
//! heartbeats and a clean stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gatehouse_core::jobs::{Job, JobFilter, JobState, NewJob};
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::{Directory, Store, SystemClock};
use gatehouse_crypto::{HashParams, PasswordHasher};
use gatehouse_store::{ConnectOptions, SqlStore};
use gatehouse_worker::{JobContext, JobError, JobHandler, Registry, Worker, WorkerSettings};
use serde_json::json;
use tokio::sync::{Notify, watch};

struct Flaky {
    fail_times: usize,
    calls: AtomicUsize,
    at: std::sync::Mutex<Vec<Instant>>,
}

#[async_trait]
impl JobHandler for Flaky {
    async fn run(&self, _ctx: &JobContext, _job: &Job) -> Result<(), JobError> {
        self.at.lock().unwrap().push(Instant::now());
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_times {
            Err(JobError::Retry(format!("temporary failure {n}")))
        } else {
            Ok(())
        }
    }
}

struct Broken;

#[async_trait]
impl JobHandler for Broken {
    async fn run(&self, _ctx: &JobContext, _job: &Job) -> Result<(), JobError> {
        Err(JobError::Permanent("cannot ever work".into()))
    }
}

async fn setup() -> (Directory, SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gh.db").display());
    let store = SqlStore::connect(&url, ConnectOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    let hasher = PasswordHasher::new(
        HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        1,
    )
    .unwrap();
    let d = Directory::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        hasher,
        PasswordPolicy::default(),
    );
    (d, store, dir)
}

fn fast() -> WorkerSettings {
    WorkerSettings {
        poll: Duration::from_millis(20),
        lease: Duration::from_millis(2000),
        heartbeat: Duration::from_millis(100),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_millis(1000),
        max_attempts: 4,
    }
}

async fn wait_for_state(d: &Directory, id: uuid::Uuid, state: JobState) -> Job {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let job = d.jobs().get(id).await.unwrap();
        if job.state == state {
            return job;
        }
        assert!(Instant::now() < deadline, "job stuck in {:?}: {job:?}", job.state);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_back_off_then_dead_letter_and_unknown_kinds_die() {
    let (d, store, _tmp) = setup().await;
    let flaky = Arc::new(Flaky {
        fail_times: 2,
        calls: AtomicUsize::new(0),
        at: Default::default(),
    });
    let always = Arc::new(Flaky {
        fail_times: usize::MAX,
        calls: AtomicUsize::new(0),
        at: Default::default(),
    });
    let mut reg = Registry::default();
    reg.register("test.flaky", flaky.clone());
    reg.register("test.always", always.clone());
    reg.register("test.broken", Arc::new(Broken));
    let worker = Worker::new(d.clone(), reg, fast(), Arc::new(Notify::new()));
    let worker_id = worker.id().to_string();
    let (stop, rx) = watch::channel(false);
    let running = tokio::spawn(worker.run(rx));

    let now = d.now();
    let a = d
        .jobs()
        .enqueue(&NewJob::new("test.flaky", json!({}), now))
        .await
        .unwrap()
        .unwrap();
    let b = d
        .jobs()
        .enqueue(&NewJob::new("test.always", json!({}), now))
        .await
        .unwrap()
        .unwrap();
    let c = d
        .jobs()
        .enqueue(&NewJob::new("test.broken", json!({}), now))
        .await
        .unwrap()
        .unwrap();
    let u = d
        .jobs()
        .enqueue(&NewJob::new("test.nobody", json!({}), now))
        .await
        .unwrap()
        .unwrap();

    let done = wait_for_state(&d, a, JobState::Done).await;
    assert_eq!(done.attempts, 3);
    let at = flaky.at.lock().unwrap().clone();
    assert!(at[1] - at[0] >= Duration::from_millis(100), "first backoff");
    assert!(at[2] - at[1] >= Duration::from_millis(200), "doubled");

    let dead = wait_for_state(&d, b, JobState::Dead).await;
    assert_eq!(dead.attempts, 4, "max attempts");
    assert_eq!(always.calls.load(Ordering::SeqCst), 4);
    assert_eq!(dead.last_error.as_deref(), Some("temporary failure 3"));
    let broken = wait_for_state(&d, c, JobState::Dead).await;
    assert_eq!(broken.attempts, 1, "permanent failures are not retried");
    let unknown = wait_for_state(&d, u, JobState::Dead).await;
    assert!(unknown.last_error.unwrap().contains("no handler"));

    // Heartbeats are recorded while running, and the stop is recorded.
    let w = d.jobs().workers().await.unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].id, worker_id);
    assert!(w[0].stopped_at.is_none());
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    assert!(d.jobs().workers().await.unwrap()[0].stopped_at.is_some());
    let dead = d
        .jobs()
        .list(&JobFilter {
            state: Some(JobState::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 3);
    drop(store);
}

/// A job whose workers keep dying (leases lapsing) ends dead instead of looping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lapsed_leases_count_as_attempts() {
    let (d, store, _tmp) = setup().await;
    let id = d
        .jobs()
        .enqueue(&NewJob {
            max_attempts: 2,
            ..NewJob::new("test.flaky", json!({}), d.now())
        })
        .await
        .unwrap()
        .unwrap();
    // Two claims by workers that "die" (their leases are 1 ms).
    for w in ["dead-1", "dead-2"] {
        let job = store.claim_job(w, d.now(), 1).await.unwrap().unwrap();
        assert_eq!(job.id, id);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let flaky = Arc::new(Flaky {
        fail_times: 0,
        calls: AtomicUsize::new(0),
        at: Default::default(),
    });
    let mut reg = Registry::default();
    reg.register("test.flaky", flaky.clone());
    let worker = Worker::new(d.clone(), reg, fast(), Arc::new(Notify::new()));
    let (stop, rx) = watch::channel(false);
    let running = tokio::spawn(worker.run(rx));
    let job = wait_for_state(&d, id, JobState::Dead).await;
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 0, "not run a third time");
    assert!(job.last_error.unwrap().contains("stopped without an outcome"));
    stop.send(true).unwrap();
    running.await.unwrap();
}

/// Periodic jobs: two workers scheduling the same kind enqueue one job per slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_jobs_once_per_slot() {
    let (d, _store, _tmp) = setup().await;
    let counter = Arc::new(Flaky {
        fail_times: 0,
        calls: AtomicUsize::new(0),
        at: Default::default(),
    });
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let mut reg = Registry::default();
        reg.register("test.tick", counter.clone());
        reg.every("test.tick", Duration::from_secs(1), json!({}));
        let worker = Worker::new(d.clone(), reg, fast(), Arc::new(Notify::new()));
        let (stop, rx) = watch::channel(false);
        stops.push(stop);
        tasks.push(tokio::spawn(worker.run(rx)));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for s in &stops {
        s.send(true).unwrap();
    }
    for t in tasks {
        t.await.unwrap();
    }
    let jobs = d
        .jobs()
        .list(&JobFilter {
            kind: Some("test.tick".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let calls = counter.calls.load(Ordering::SeqCst);
    assert!((2..=4).contains(&jobs.len()), "{} jobs", jobs.len());
    assert_eq!(calls, jobs.iter().filter(|j| j.state == JobState::Done).count());
}

struct Panics {
    calls: AtomicUsize,
}

#[async_trait]
impl JobHandler for Panics {
    async fn run(&self, _ctx: &JobContext, _job: &Job) -> Result<(), JobError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        panic!("handler exploded");
    }
}

/// A panicking handler is a retryable failure; the run loop survives it and
/// keeps claiming other jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_fails_the_job_and_the_worker_goes_on() {
    let (d, store, _tmp) = setup().await;
    let panics = Arc::new(Panics {
        calls: AtomicUsize::new(0),
    });
    let ok = Arc::new(Flaky {
        fail_times: 0,
        calls: AtomicUsize::new(0),
        at: Default::default(),
    });
    let mut reg = Registry::default();
    reg.register("test.panics", panics.clone());
    reg.register("test.ok", ok.clone());
    let worker = Worker::new(d.clone(), reg, fast(), Arc::new(Notify::new()));
    let (stop, rx) = watch::channel(false);
    let running = tokio::spawn(worker.run(rx));

    let now = d.now();
    let p = d
        .jobs()
        .enqueue(&NewJob::new("test.panics", json!({}), now))
        .await
        .unwrap()
        .unwrap();
    let dead = wait_for_state(&d, p, JobState::Dead).await;
    assert_eq!(dead.attempts, 4, "retried up to max attempts");
    assert_eq!(panics.calls.load(Ordering::SeqCst), 4);
    let err = dead.last_error.unwrap();
    assert!(err.contains("panicked") && err.contains("handler exploded"), "{err}");

    // The run loop is still alive: a job enqueued after the panics is done.
    let o = d
        .jobs()
        .enqueue(&NewJob::new("test.ok", json!({}), d.now()))
        .await
        .unwrap()
        .unwrap();
    wait_for_state(&d, o, JobState::Done).await;
    assert!(!running.is_finished());
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    drop(store);
}
