//! The audit chain, the job queue and blueprint state.

use async_trait::async_trait;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{Event, NewEvent, Timestamp};
use uuid::Uuid;

use crate::events;

use gatehouse_core::store::OpsWrites;

use super::SqlWriteTx;

#[async_trait]
impl OpsWrites for SqlWriteTx {
    async fn append_event(&mut self, event: NewEvent, at: Timestamp) -> StoreResult<Event> {
        self.chain.append(&mut self.tx, self.backend, event, at).await
    }

    async fn prune_events(&mut self, before: Timestamp) -> StoreResult<u64> {
        self.chain.flush(&mut self.tx, self.backend).await?;
        events::prune(&mut self.tx, self.backend, before).await
    }

    async fn enqueue_job(&mut self, job: &gatehouse_core::jobs::NewJob, now: Timestamp) -> StoreResult<Option<Uuid>> {
        crate::jobs::enqueue(&mut self.tx, self.backend, job, now).await
    }

    async fn requeue_job(&mut self, id: Uuid, now: Timestamp) -> StoreResult<Option<gatehouse_core::jobs::Job>> {
        crate::jobs::requeue(&mut self.tx, self.backend, id, now).await
    }

    async fn record_job_effect(
        &mut self,
        effect_key: &str,
        job_id: Uuid,
        detail: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        crate::jobs::record_effect(&mut self.tx, effect_key, job_id, detail, now).await
    }

    async fn delete_finished_jobs(&mut self, before: Timestamp) -> StoreResult<u64> {
        crate::jobs::delete_finished(&mut self.tx, before).await
    }

    async fn put_blueprint_instance(
        &mut self,
        instance: &gatehouse_core::blueprints::BlueprintInstance,
    ) -> StoreResult<()> {
        crate::blueprints::put_instance(&mut self.tx, instance).await
    }
}
