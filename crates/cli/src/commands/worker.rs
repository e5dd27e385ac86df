//! `gatehouse worker`: run the background worker alone, list jobs (dead
//! letters included), retry a dead job, show worker heartbeats. Also builds
//! the worker `gatehouse server` runs inside itself unless `--no-worker`.

use clap::{Args, Subcommand, ValueEnum};
use gatehouse_core::Directory;
use gatehouse_core::jobs::{JobFilter, JobState};
use gatehouse_store::SqlStore;
use gatehouse_worker::{Registry, Worker};
use uuid::Uuid;

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

/// `gatehouse server` options.
#[derive(Debug, Args, Default)]
pub struct ServerArgs {
    /// Do not run the background worker in this process (run `gatehouse worker`
    /// separately; mail and housekeeping need one somewhere).
    #[arg(long)]
    pub no_worker: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WorkerArgs {
    #[command(subcommand)]
    pub command: Option<WorkerCmd>,
}

#[derive(Debug, Subcommand)]
pub enum WorkerCmd {
    /// List jobs, newest first (dead ones are the dead-letter queue).
    Jobs {
        /// Only jobs in this state.
        #[arg(long, value_enum)]
        state: Option<StateArg>,
        /// Only jobs of this kind, e.g. mail.recovery or housekeeping.purge.
        #[arg(long)]
        kind: Option<String>,
        /// At most N jobs.
        #[arg(long, default_value_t = 100, value_name = "N")]
        limit: u32,
    },
    /// Put a dead job back in the queue with a fresh attempt count.
    Retry {
        /// The job ID (from `worker jobs`).
        id: String,
    },
    /// List workers and their last heartbeat.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StateArg {
    Queued,
    Running,
    Done,
    Dead,
}

impl From<StateArg> for JobState {
    fn from(s: StateArg) -> Self {
        match s {
            StateArg::Queued => JobState::Queued,
            StateArg::Running => JobState::Running,
            StateArg::Done => JobState::Done,
            StateArg::Dead => JobState::Dead,
        }
    }
}

pub async fn run(ctx: &Context, args: WorkerArgs) -> CmdResult {
    match args.command {
        None => run_worker(ctx).await,
        Some(WorkerCmd::Jobs { state, kind, limit }) => jobs(ctx, state, kind, limit).await,
        Some(WorkerCmd::Retry { id }) => {
            let id = Uuid::parse_str(id.trim()).map_err(|_| Failure::input(format!("'{id}' is not a job ID")))?;
            let dir = ctx.directory().await?;
            let job = dir.jobs().retry(&ctx.audit(), id).await?;
            if ctx.json {
                return Ok(print_json(&job)?);
            }
            println!("job {} ({}) queued again", job.id, job.kind);
            Ok(())
        }
        Some(WorkerCmd::List) => {
            let dir = ctx.directory().await?;
            let workers = dir.jobs().workers().await?;
            if ctx.json {
                return Ok(print_json(&workers)?);
            }
            let now = dir.now();
            let stale = ctx.settings.mail_worker.worker.stale_after();
            let live = gatehouse_worker::live_workers(&workers, now, stale);
            let mut t = Table::new(["ID", "STATE", "LAST HEARTBEAT", "STARTED", "VERSION"]);
            for w in &workers {
                let state = if w.stopped_at.is_some() {
                    "stopped"
                } else if live.iter().any(|l| l.id == w.id) {
                    "alive"
                } else {
                    "gone"
                };
                t.row([
                    w.id.clone(),
                    state.into(),
                    format!(
                        "{} ({})",
                        w.heartbeat_at.to_rfc3339(),
                        age(now.millis() - w.heartbeat_at.millis())
                    ),
                    w.started_at.to_rfc3339(),
                    w.version.clone(),
                ]);
            }
            t.print()?;
            Ok(())
        }
    }
}

async fn jobs(ctx: &Context, state: Option<StateArg>, kind: Option<String>, limit: u32) -> CmdResult {
    let dir = ctx.directory().await?;
    let jobs = dir
        .jobs()
        .list(&JobFilter {
            state: state.map(Into::into),
            kind,
            limit: limit.max(1),
        })
        .await?;
    if ctx.json {
        return Ok(print_json(&jobs)?);
    }
    let mut t = Table::new(["ID", "KIND", "STATE", "ATTEMPTS", "RUN AT", "LAST ERROR"]);
    for j in &jobs {
        t.row([
            j.id.to_string(),
            j.kind.clone(),
            j.state.as_str().to_string(),
            format!(
                "{}/{}",
                j.attempts,
                j.max_attempts.min(ctx.settings.mail_worker.worker.max_attempts)
            ),
            j.run_at.to_rfc3339(),
            j.last_error
                .as_deref()
                .map(|e| e.chars().take(80).collect())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    t.print()?;
    Ok(())
}

fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 120 {
        format!("{s} s ago")
    } else if s < 7200 {
        format!("{} min ago", s / 60)
    } else {
        format!("{} h ago", s / 3600)
    }
}

/// The worker with every job kind this binary knows. `secret_key` signs the
/// audit-log heads it posts (GATEHOUSE_AUDIT_HEAD_EXPORT).
pub fn build(ctx: &Context, directory: Directory, store: &SqlStore, secret_key: Option<&str>) -> CmdResult<Worker> {
    let s = &ctx.settings;
    let mw = &s.mail_worker;
    let mailer = match &mw.email {
        Some(m) => {
            Some(gatehouse_mail::Mailer::new(m.clone()).map_err(|e| Failure::input(format!("configuration: {e}")))?)
        }
        None => None,
    };
    let mut registry = Registry::default();
    gatehouse_worker::mail::register(
        &mut registry,
        gatehouse_worker::mail::MailJobs {
            mailer,
            external_url: s.external_url.clone(),
            brand: s.branding_title.clone(),
        },
    );
    gatehouse_worker::housekeeping::register(&mut registry, s.event_retention_days, mw.housekeeping_every);
    if let Some(target) = &s.security.audit_head {
        let secret = secret_key.ok_or_else(|| {
            Failure::input("GATEHOUSE_AUDIT_HEAD_EXPORT needs GATEHOUSE_SECRET_KEY (the server writes it into its .env on first start)")
        })?;
        let key = gatehouse_core::events_head::HeadKey::from_secret_key(secret)
            .map_err(|e| Failure::input(format!("configuration: {e}")))?;
        tracing::info!(target = %target, every_minutes = s.security.audit_head_every.as_secs() / 60, key_id = key.key_id(), "posting signed audit-log heads");
        gatehouse_worker::audit_head::register(
            &mut registry,
            std::sync::Arc::new(key),
            target.clone(),
            s.security.audit_head_every,
        );
    }
    crate::commands::backup_job::register(&mut registry, s, store);
    // Later features register their job kinds here.
    Ok(Worker::new(directory, registry, mw.worker.clone(), store.job_wakeups()))
}

/// `gatehouse worker`: runs until SIGTERM or SIGINT.
async fn run_worker(ctx: &Context) -> CmdResult {
    let store = ctx.connect().await?;
    store.migrate().await?;
    let directory = ctx.directory_on(store.clone())?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    // Blueprints are watched and re-applied where the worker runs.
    crate::commands::blueprint::start_watch(ctx, &directory, rx.clone(), true).await;
    let worker = build(ctx, directory, &store, ctx.settings.secret_key.as_deref())?;
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = tx.send(true);
    });
    tracing::info!(id = worker.id(), "gatehouse {} worker", env!("CARGO_PKG_VERSION"));
    worker.run(rx).await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => tracing::info!("SIGINT: stopping after the current job"),
                _ = term.recv() => tracing::info!("SIGTERM: stopping after the current job"),
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

/// `gatehouse status` rows: is a worker alive (a recent heartbeat)?
pub async fn status_rows(ctx: &Context, store: &SqlStore, rows: &mut Vec<(&'static str, String)>) -> bool {
    let Ok(dir) = ctx.directory_on(store.clone()) else {
        return false;
    };
    match dir.jobs().workers().await {
        Ok(workers) => {
            let now = dir.now();
            let live = gatehouse_worker::live_workers(&workers, now, ctx.settings.mail_worker.worker.stale_after());
            match live.first() {
                Some(w) => {
                    rows.push((
                        "worker",
                        format!(
                            "healthy: {} alive, last heartbeat {}",
                            live.len(),
                            age(now.millis() - w.heartbeat_at.millis())
                        ),
                    ));
                    let dead = dir
                        .jobs()
                        .list(&JobFilter {
                            state: Some(JobState::Dead),
                            kind: None,
                            limit: 1000,
                        })
                        .await
                        .map(|j| j.len())
                        .unwrap_or(0);
                    rows.push(("dead jobs", dead.to_string()));
                    true
                }
                None => {
                    let last = workers
                        .first()
                        .map(|w| format!(", last heartbeat {}", age(now.millis() - w.heartbeat_at.millis())))
                        .unwrap_or_default();
                    rows.push(("worker", format!("unhealthy: no live worker{last}")));
                    false
                }
            }
        }
        Err(e) => {
            rows.push(("worker", format!("unknown: {e}")));
            false
        }
    }
}
