//! The audit log: appending a link, pruning a prefix, listing.
//!
//! Events are append-only through the API; the only deletion is [`prune`], which
//! removes a contiguous oldest prefix and records its last link as the anchor.

use gatehouse_core::events::seal;
use gatehouse_core::{ChainHead, Event, EventFilter, NewEvent, StoreError, Timestamp};
use sqlx::{Any, AnyConnection, AssertSqlSafe, Executor};

use crate::error::Ctx;
use crate::read;
use crate::rows::{self, event_columns};
use crate::url::Backend;

/// Limit used when a filter asks for 0 events.
pub const DEFAULT_EVENT_LIMIT: u32 = 100;

/// Events sealed in one write transaction but not yet written. The chain head
/// is read (and on PostgreSQL locked) at the first append; later links are
/// sealed in memory and written in multi-row inserts, with the head row moved
/// once, when the buffer fills and at commit. A blueprint apply of 30,000
/// objects paid four round trips per event before (lock, insert, head,
/// notify); now it pays a few per hundred events.
#[derive(Default)]
pub(crate) struct PendingChain {
    head: Option<ChainHead>,
    unwritten: Vec<Event>,
}

/// Rows per insert: 10 columns each, well under either backend's limit on
/// bound parameters.
const EVENTS_PER_INSERT: usize = 100;

impl PendingChain {
    /// Seals `new` onto the chain head, inside the caller's transaction. The
    /// returned event is final (seq and hash) even while it waits to be written.
    pub(crate) async fn append(
        &mut self,
        conn: &mut AnyConnection,
        backend: Backend,
        new: NewEvent,
        at: Timestamp,
    ) -> Result<Event, StoreError> {
        let head = match &mut self.head {
            Some(head) => head,
            None => self
                .head
                .insert(read::chain_head(&mut *conn, backend == Backend::Postgres).await?),
        };
        let event = seal(head, new, at);
        head.head_seq = event.seq;
        head.head_hash = event.hash.clone();
        self.unwritten.push(event.clone());
        if self.unwritten.len() >= EVENTS_PER_INSERT {
            self.flush(conn, backend).await?;
        }
        Ok(event)
    }

    /// Writes the sealed events and moves the head row; before commit, and
    /// before anything in the transaction reads the events table.
    pub(crate) async fn flush(&mut self, conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
        let (Some(head), false) = (&self.head, self.unwritten.is_empty()) else {
            return Ok(());
        };
        for chunk in self.unwritten.chunks(EVENTS_PER_INSERT) {
            insert_events(&mut *conn, chunk).await?;
        }
        self.unwritten.clear();
        sqlx::query("UPDATE event_chain SET head_seq = $1, head_hash = $2 WHERE id = 1")
            .bind(head.head_seq)
            .bind(head.head_hash.clone())
            .execute(&mut *conn)
            .await
            .ctx("advance event chain head")?;
        if backend == Backend::Postgres {
            // Delivered at commit, to every node listening (see `changes`).
            sqlx::query("SELECT pg_notify('gatehouse_changes', $1)")
                .bind(head.head_seq.to_string())
                .execute(&mut *conn)
                .await
                .ctx("notify change")?;
        }
        Ok(())
    }
}

/// One multi-row insert of `events`.
async fn insert_events(conn: &mut AnyConnection, events: &[Event]) -> Result<(), StoreError> {
    let rows: Vec<String> = (0..events.len())
        .map(|i| {
            let params: Vec<String> = (1..=10).map(|c| format!("${}", i * 10 + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!("INSERT INTO events ({}) VALUES {}", event_columns!(), rows.join(", "));
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for event in events {
        q = q
            .bind(event.seq)
            .bind(event.id.to_string())
            .bind(event.at.millis())
            .bind(event.action.clone())
            .bind(event.actor.clone())
            .bind(event.user.clone())
            .bind(event.client_ip.clone())
            .bind(rows::json_text(&event.context))
            .bind(event.prev_hash.clone())
            .bind(event.hash.clone());
    }
    q.execute(&mut *conn).await.ctx("append events")?;
    Ok(())
}

/// Deletes the longest prefix of the chain (by seq) whose events are all older
/// than `before`, and makes its last link the anchor. An old event behind a
/// newer one stays, so the remaining chain is always contiguous.
pub(crate) async fn prune(conn: &mut AnyConnection, backend: Backend, before: Timestamp) -> Result<u64, StoreError> {
    // Take the head lock first, as appenders do (PostgreSQL).
    read::chain_head(&mut *conn, backend == Backend::Postgres).await?;
    let first_kept: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE at >= $1")
        .bind(before.millis())
        .fetch_one(&mut *conn)
        .await
        .ctx("find events to prune")?;
    let last = sqlx::query("SELECT seq, hash FROM events WHERE seq < $1 ORDER BY seq DESC LIMIT 1")
        .bind(first_kept.unwrap_or(i64::MAX))
        .fetch_optional(&mut *conn)
        .await
        .ctx("find events to prune")?;
    let Some(last) = last else {
        return Ok(0);
    };
    let (seq, hash) = rows::seq_and_hash(&last)?;
    let deleted = sqlx::query("DELETE FROM events WHERE seq <= $1")
        .bind(seq)
        .execute(&mut *conn)
        .await
        .ctx("prune events")?
        .rows_affected();
    sqlx::query("UPDATE event_chain SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(hash)
        .execute(&mut *conn)
        .await
        .ctx("move event chain anchor")?;
    Ok(deleted)
}

/// Newest first. The SQL is assembled from fixed fragments and numbered
/// placeholders only; every value is bound.
pub(crate) async fn list<'c, E>(e: E, filter: &EventFilter) -> Result<Vec<Event>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let mut sql = String::from(concat!("SELECT ", event_columns!(), " FROM events WHERE 1 = 1"));
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if filter.user.is_some() {
        let p = next();
        sql.push_str(&format!(
            " AND (lower(username) = lower({p}) OR lower(actor) = lower('user:' || {p}))"
        ));
    }
    if filter.action.is_some() {
        sql.push_str(&format!(" AND action = {}", next()));
    }
    if filter.since.is_some() {
        sql.push_str(&format!(" AND at >= {}", next()));
    }
    if filter.client_ip.is_some() {
        sql.push_str(&format!(" AND client_ip = {}", next()));
    }
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", next()));

    let mut q = sqlx::query(AssertSqlSafe(sql));
    if let Some(user) = &filter.user {
        q = q.bind(user.clone());
    }
    if let Some(action) = &filter.action {
        q = q.bind(action.clone());
    }
    if let Some(since) = filter.since {
        q = q.bind(since.millis());
    }
    if let Some(ip) = &filter.client_ip {
        q = q.bind(ip.clone());
    }
    let limit = if filter.limit == 0 {
        DEFAULT_EVENT_LIMIT
    } else {
        filter.limit
    };
    let rows = q.bind(i64::from(limit)).fetch_all(e).await.ctx("list events")?;
    rows::all(rows, rows::event)
}

/// Events with `seq > after`, oldest first.
pub(crate) async fn after<'c, E>(e: E, after: i64, limit: u32) -> Result<Vec<Event>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(e)
    .await
    .ctx("list events")?;
    rows::all(rows, rows::event)
}
