//! Periodic housekeeping, as jobs so that it runs once per cluster per period
//! whatever the number of nodes: expired sessions, flows and throttles, ended
//! lock announcements, expired OAuth records, one-time ids and keys past publication, old
//! recovery keys and finished jobs (every five minutes); audit events past the
//! retention (hourly).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::Audit;
use gatehouse_core::jobs::{Job, kinds};
use serde_json::json;

use crate::{JobContext, JobError, JobHandler, Registry};

/// Finished jobs (and their effect records) are kept this long for operators.
pub const FINISHED_JOB_RETENTION_SECS: i64 = 7 * 86_400;

pub struct PurgeExpired;

#[async_trait]
impl JobHandler for PurgeExpired {
    async fn run(&self, ctx: &JobContext, _job: &Job) -> Result<(), JobError> {
        let dir = &ctx.directory;
        let (sessions, flows) = dir.sessions().purge_expired().await?;
        let oauth = dir.oauth().purge_expired().await?;
        // One-time ids (SAML request IDs) past their replay window.
        let replay_ids = dir.replay().purge_expired().await?;
        let (jobs, keys) = dir.jobs().purge_finished(FINISHED_JOB_RETENTION_SECS).await?;
        if sessions + flows + oauth + replay_ids + jobs + keys > 0 {
            tracing::info!(
                sessions,
                flows,
                oauth,
                replay_ids,
                jobs,
                recovery_keys = keys,
                "removed expired records"
            );
        }
        Ok(())
    }
}

pub struct PruneEvents {
    pub retention_days: u32,
}

#[async_trait]
impl JobHandler for PruneEvents {
    async fn run(&self, ctx: &JobContext, _job: &Job) -> Result<(), JobError> {
        if self.retention_days == 0 {
            return Ok(());
        }
        let n = ctx
            .directory
            .events()
            .prune(&Audit::system(), i64::from(self.retention_days) * 86_400)
            .await?;
        if n > 0 {
            tracing::info!(
                pruned = n,
                retention_days = self.retention_days,
                "pruned old audit events"
            );
        }
        Ok(())
    }
}

/// Registers housekeeping and its schedule.
pub fn register(registry: &mut Registry, retention_days: u32, purge_every: Duration) {
    registry.register(kinds::PURGE_EXPIRED, Arc::new(PurgeExpired));
    registry.every(kinds::PURGE_EXPIRED, purge_every, json!({}));
    registry.register(kinds::PRUNE_EVENTS, Arc::new(PruneEvents { retention_days }));
    registry.every(kinds::PRUNE_EVENTS, Duration::from_secs(3600), json!({}));
}
