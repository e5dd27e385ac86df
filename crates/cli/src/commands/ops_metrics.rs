//! Database-derived metrics the server exports beside its request metrics:
//! the figures an operator's alerts watch (worker alive, dead jobs, backups,
//! signing key age), refreshed every 15 s. They describe the cluster, so
//! every node exports the same values; alert on `max` across instances.

use std::time::Duration;

use gatehouse_core::{Clock, Store, SystemClock};
use gatehouse_store::SqlStore;

const EVERY: Duration = Duration::from_secs(15);
const JOB_STATES: [&str; 4] = ["queued", "running", "done", "dead"];

/// Spawns the refresh loop; it ends with the server.
pub fn spawn(
    store: SqlStore,
    stale_after: Duration,
    schedule: Option<Duration>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    metrics::gauge!("gatehouse_backup_schedule_seconds").set(schedule.map_or(0.0, |d| d.as_secs_f64()));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => refresh(&store, stale_after).await,
                _ = shutdown.changed() => break,
            }
        }
    });
}

async fn refresh(store: &SqlStore, stale_after: Duration) {
    let now = SystemClock.now();
    let up = store.ping().await.is_ok();
    metrics::gauge!("gatehouse_database_up").set(if up { 1.0 } else { 0.0 });
    if !up {
        return;
    }
    match store.workers().await {
        Ok(workers) => {
            let live = gatehouse_worker::live_workers(&workers, now, stale_after);
            metrics::gauge!("gatehouse_workers_alive").set(live.len() as f64);
        }
        Err(e) => tracing::debug!(error = %e, "metrics: workers"),
    }
    let figures = match store.ops_figures(now).await {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(error = %e, "metrics: figures");
            return;
        }
    };
    for state in JOB_STATES {
        let n = figures.jobs.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
        metrics::gauge!("gatehouse_jobs", "state" => state).set(n as f64);
    }
    if let Some(t) = figures.newest_heartbeat {
        metrics::gauge!("gatehouse_worker_last_heartbeat_timestamp_seconds").set(t.millis() as f64 / 1000.0);
    }
    if let Some(r) = &figures.last_backup_ok {
        metrics::gauge!("gatehouse_backup_last_success_timestamp_seconds").set(r.finished_at.millis() as f64 / 1000.0);
        metrics::gauge!("gatehouse_backup_last_size_bytes").set(r.bytes as f64);
    }
    if let Some(r) = &figures.last_backup_failed {
        metrics::gauge!("gatehouse_backup_last_failure_timestamp_seconds").set(r.finished_at.millis() as f64 / 1000.0);
    }
    for (key, activated) in figures.signing_keys {
        let age = (now.millis() - activated.millis()).max(0) as f64 / 1000.0;
        metrics::gauge!("gatehouse_signing_key_age_seconds", "key" => key).set(age);
    }
}
