//! [`WriteTx`]: one database transaction holding a change and its audit event.
//! Dropping it without `commit` rolls back (sqlx queues the rollback on drop).
//! Each domain's writes (`gatehouse_core::store::DirectoryWrites` and its
//! siblings) are implemented in the submodule of that name.

mod directory;
mod oauth;
mod ops;
mod security;
mod sessions;

use async_trait::async_trait;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{StoreError, Timestamp, WriteTx};
use sqlx::any::AnyQueryResult;
use sqlx::{Any, Executor, Transaction};
use uuid::Uuid;

use crate::error::Ctx;
use crate::events::PendingChain;
use crate::url::Backend;

pub(crate) struct SqlWriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    pub(crate) backend: Backend,
    /// Events sealed in this transaction, written before commit.
    pub(crate) chain: PendingChain,
}

impl SqlWriteTx {
    /// Whether single-row reads should lock (see `read`).
    fn locks_rows(&self) -> bool {
        self.backend == Backend::Postgres
    }
}

/// An update that must hit its row: none means it was deleted meanwhile.
pub(super) fn one_row(r: AnyQueryResult, what: &str) -> StoreResult<()> {
    if r.rows_affected() == 0 {
        Err(StoreError::Conflict(format!("the {what} no longer exists")))
    } else {
        Ok(())
    }
}

/// Takes the next integer id of `table` (users, groups): one counter row per
/// table, bumped in this transaction (a row lock on PostgreSQL, SQLite's write
/// lock), so concurrent inserts never share a number and none is reused.
pub(super) async fn next_id(tx: &mut Transaction<'static, Any>, table: &'static str) -> StoreResult<i64> {
    sqlx::query_scalar("UPDATE id_counters SET last = last + 1 WHERE name = $1 RETURNING last")
        .bind(table)
        .fetch_one(&mut **tx)
        .await
        .ctx("take the next id")
}

pub(super) fn millis(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::millis)
}

/// Records activity on a session: the one write outside a [`WriteTx`] (not
/// audited). `last_seen` only moves forward, so a late, older touch loses.
pub(crate) async fn touch_session<'c, E>(e: E, id: Uuid, at: Timestamp) -> StoreResult<()>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query("UPDATE sessions SET last_seen = $2 WHERE id = $1 AND last_seen < $2")
        .bind(id.to_string())
        .bind(at.millis())
        .execute(e)
        .await
        .ctx("touch session")?;
    Ok(())
}

#[async_trait]
impl WriteTx for SqlWriteTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let mut this = *self;
        this.chain.flush(&mut this.tx, this.backend).await?;
        this.tx.commit().await.ctx("commit")
    }
}
