//! Scheduled backups as a worker job kind: every GATEHOUSE_BACKUP__SCHEDULE,
//! once per cluster (the periodic slot's key), a backup into
//! GATEHOUSE_BACKUP__DIR, keeping the newest GATEHOUSE_BACKUP__KEEP files.
//! The outcome is recorded like a manual backup's, for `gatehouse status`
//! and the metrics; a failure is retried by the queue with backoff.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_core::jobs::Job;
use gatehouse_store::SqlStore;
use gatehouse_worker::{JobContext, JobError, JobHandler, Registry};
use serde_json::json;

use crate::commands::backup::{BackupRequest, default_path, read_passphrase, run_backup};
use crate::config::Settings;

/// The job kind.
pub const KIND: &str = "backup.scheduled";

struct ScheduledBackup {
    settings: Settings,
    store: SqlStore,
}

#[async_trait]
impl JobHandler for ScheduledBackup {
    async fn run(&self, ctx: &JobContext, _job: &Job) -> Result<(), JobError> {
        let b = &self.settings.backup;
        let passphrase = match &b.passphrase_file {
            Some(f) => Some(read_passphrase(f).map_err(|e| JobError::Retry(e.to_string()))?),
            None => None,
        };
        let path = default_path(&b.dir, passphrase.is_some(), ctx.directory.now());
        let outcome = run_backup(
            &self.settings,
            &self.store,
            BackupRequest {
                path: Some(path),
                passphrase,
                include_secrets: false,
                kind: "scheduled",
            },
        )
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
        tracing::info!(
            file = %outcome.location,
            bytes = outcome.finished.bytes,
            seconds = outcome.elapsed.as_secs_f64(),
            "scheduled backup written"
        );
        let removed = prune(&b.dir, b.keep as usize).map_err(|e| JobError::Retry(format!("pruning backups: {e}")))?;
        if removed > 0 {
            tracing::info!(removed, keep = b.keep, "removed old backups");
        }
        Ok(())
    }
}

/// Registers the job and its schedule when GATEHOUSE_BACKUP__SCHEDULE is set.
pub fn register(registry: &mut Registry, settings: &Settings, store: &SqlStore) {
    let Some(every) = settings.backup.schedule else {
        return;
    };
    registry.register(
        KIND,
        Arc::new(ScheduledBackup {
            settings: settings.clone(),
            store: store.clone(),
        }),
    );
    registry.every(KIND, every, json!({}));
}

/// Deletes all but the newest `keep` backups in `dir` (by the time in their
/// names), and stale partial files; returns how many were removed. Only
/// files named as `gatehouse backup` names them are touched.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let mut backups: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("gatehouse-backup-") && (name.ends_with("Z.tar") || name.ends_with("Z.tar.age")) {
            backups.push(name);
        }
    }
    // The names carry a fixed-width UTC time: their order is their age.
    backups.sort_by(|a, b| b.cmp(a));
    let mut removed = 0;
    for name in backups.iter().skip(keep) {
        std::fs::remove_file(dir.join(name))?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_and_touches_nothing_else() {
        let dir = std::env::temp_dir().join(format!("gh-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in [
            "20261201T000000Z.tar",
            "20261202T000000Z.tar.age",
            "20261203T000000Z.tar",
        ] {
            std::fs::write(dir.join(format!("gatehouse-backup-{n}")), b"x").unwrap();
        }
        std::fs::write(dir.join("notes.txt"), b"keep me").unwrap();
        assert_eq!(prune(&dir, 2).unwrap(), 1);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                "gatehouse-backup-20261202T000000Z.tar.age",
                "gatehouse-backup-20261203T000000Z.tar",
                "notes.txt"
            ]
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
