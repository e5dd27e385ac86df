//! The blueprint directory (`GATEHOUSE_BLUEPRINTS_DIR`): applied at start,
//! again when a file changes (the directory is polled; no platform watcher
//! needed, and a change made on another node's disk is seen the same way),
//! and periodically, so the configuration drifts back to what is declared.
//!
//! [`run`] is a self-contained task: the server spawns it today; when the
//! background worker lands it becomes the worker's `blueprints` job (the body
//! of one loop turn is [`apply_dir`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gatehouse_core::{Audit, Directory};

use crate::plan::{Options, Source, plan};

/// How long after a failed apply the directory is applied again.
const RETRY: Duration = Duration::from_secs(60);

/// Where and how often.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    pub dir: PathBuf,
    /// How often the directory is checked for changed files.
    pub poll: Duration,
    /// Re-apply even without changes this often (`None`: never).
    pub interval: Option<Duration>,
    /// Gatehouse's `.env`, consulted by `!Env` after the process environment.
    pub env_file: Option<PathBuf>,
    /// The caller's apply at start failed: try again after the retry delay.
    pub start_failed: bool,
}

/// The files' combined hash, to notice changes.
pub fn fingerprint(dir: &Path) -> Option<String> {
    let sources = Source::read_all(dir).ok()?;
    let all: String = sources.iter().map(|s| format!("{}={};", s.path, s.hash)).collect();
    Some(gatehouse_crypto::sha256_hex(all.as_bytes()))
}

/// Applies every blueprint of the directory, each file on its own (one
/// failing file does not hold the others back); failures are recorded in the
/// applied state and logged. Returns how many changes were made, and whether
/// every file applied.
pub async fn apply_dir(dir: &Directory, path: &Path, env_file: Option<&Path>) -> (usize, bool) {
    let sources = match Source::read_all(path) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "blueprints: cannot read the directory");
            return (0, false);
        }
    };
    let audit = Audit::system();
    let mut changes = 0;
    let mut all_ok = true;
    let lookup = crate::plan::EnvLookup::with_file(env_file);
    let env = |name: &str| lookup.get(name);
    for src in sources {
        let opts = Options {
            env: &env,
            ..Options::default()
        };
        let p = match plan(dir, std::slice::from_ref(&src), &opts).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(file = %src.path, error = %e, "blueprint not applied");
                crate::apply::record_failure(
                    dir,
                    &[(src.path.clone(), src.path.clone(), src.hash.clone())],
                    &e.to_string(),
                )
                .await;
                continue;
            }
        };
        match crate::apply(dir, &audit, &p).await {
            Ok(done) => {
                if !done.changes.is_empty() {
                    tracing::info!(file = %src.path, changes = done.changes.len(), "blueprint applied");
                }
                changes += done.changes.len();
            }
            Err(e) => {
                tracing::warn!(file = %src.path, error = %e, "blueprint not applied");
                crate::apply::record_failure(dir, &p.sources, &e.to_string()).await;
                all_ok = false;
            }
        }
    }
    (changes, all_ok)
}

/// Watches the directory until `shutdown` turns true. After a failure the
/// directory is applied again a minute later (and at every change). Apply at start is the
/// caller's (the server applies before it declares itself ready).
pub async fn run(dir: Directory, settings: WatchSettings, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut last = fingerprint(&settings.dir);
    let mut last_apply = Instant::now();
    let mut retry_at: Option<Instant> = settings.start_failed.then(|| Instant::now() + RETRY.max(settings.poll));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(settings.poll) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let now = fingerprint(&settings.dir);
        let due = settings.interval.is_some_and(|i| last_apply.elapsed() >= i);
        let retry = retry_at.is_some_and(|t| Instant::now() >= t);
        if now != last || due || retry {
            let (_, ok) = apply_dir(&dir, &settings.dir, settings.env_file.as_deref()).await;
            last = now;
            last_apply = Instant::now();
            // A failed apply (another node won a race, a typo being fixed) is
            // retried a minute later, not at every turn (a plan is not free).
            retry_at = (!ok).then(|| Instant::now() + RETRY.max(settings.poll));
        }
    }
}
