//! Reads for the admin interface (its user search is the REST API's
//! listing, `listing.rs`): MFA state of a page of users, event counts grouped
//! per time bucket, locks in force and live sessions. Each is one query, so a
//! page costs the same on 10,000 users as on ten.

use gatehouse_core::audit::EventCount;
use gatehouse_core::{Membership, StoreError, ThrottleRecord, Timestamp, User};
use sqlx::{Any, AssertSqlSafe, Executor, Row};
use uuid::Uuid;

use crate::error::Ctx;
use crate::rows::{self, throttle_columns, user_columns};

pub(crate) async fn users_with_mfa<'c, E>(e: E, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT DISTINCT user_id FROM mfa_authenticators WHERE user_id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id.to_string());
    }
    let rows = q.fetch_all(e).await.ctx("read MFA state of users")?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get("user_id").ctx("read MFA state of users")?;
            Uuid::parse_str(&text).map_err(|_| StoreError::Corrupt(format!("bad user id {text:?}")))
        })
        .collect()
}

pub(crate) async fn event_counts<'c, E>(
    e: E,
    actions: &[String],
    since: Timestamp,
    bucket_ms: i64,
) -> Result<Vec<EventCount>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    if actions.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (3..actions.len() + 3).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT action, (at - $1) / $2 AS bucket, COUNT(*) AS n FROM events \
         WHERE at >= $1 AND action IN ({}) GROUP BY action, (at - $1) / $2",
        marks.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(since.millis())
        .bind(bucket_ms.max(1));
    for a in actions {
        q = q.bind(a.clone());
    }
    let rows = q.fetch_all(e).await.ctx("count events")?;
    rows.iter()
        .map(|r| {
            Ok(EventCount {
                action: r.try_get("action").ctx("count events")?,
                bucket: r.try_get("bucket").ctx("count events")?,
                count: r.try_get("n").ctx("count events")?,
            })
        })
        .collect()
}

pub(crate) async fn user_memberships<'c, E>(e: E, user_id: Uuid) -> Result<Vec<Membership>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query("SELECT user_id, group_id FROM memberships WHERE user_id = $1")
        .bind(user_id.to_string())
        .fetch_all(e)
        .await
        .ctx("list a user's memberships")?;
    rows::all(rows, rows::membership)
}

pub(crate) async fn member_counts<'c, E>(e: E) -> Result<Vec<(Uuid, i64)>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query("SELECT group_id, COUNT(*) AS n FROM memberships GROUP BY group_id")
        .fetch_all(e)
        .await
        .ctx("count members")?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("group_id").ctx("count members")?;
            let n: i64 = r.try_get("n").ctx("count members")?;
            let id = Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("bad group id {id:?}")))?;
            Ok((id, n))
        })
        .collect()
}

pub(crate) async fn members_of_groups<'c, E>(e: E, groups: &[Uuid]) -> Result<Vec<(Uuid, User)>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=groups.len()).map(|i| format!("${i}")).collect();
    // memberships has no column named like a user column, so they need no prefix.
    let sql = format!(
        concat!(
            "SELECT ",
            user_columns!(),
            ", m.group_id AS member_of FROM users JOIN memberships m ON m.user_id = users.id \
             WHERE m.group_id IN ({}) ORDER BY users.pk"
        ),
        marks.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for id in groups {
        q = q.bind(id.to_string());
    }
    let rows = q.fetch_all(e).await.ctx("list group members")?;
    rows.iter()
        .map(|r| {
            let group: String = r.try_get("member_of").ctx("list group members")?;
            let group = Uuid::parse_str(&group).map_err(|_| StoreError::Corrupt(format!("bad group id {group:?}")))?;
            Ok((group, rows::user(r)?))
        })
        .collect()
}

pub(crate) async fn active_locks<'c, E>(e: E, now: Timestamp) -> Result<Vec<ThrottleRecord>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(concat!(
        "SELECT ",
        throttle_columns!(),
        " FROM login_throttle WHERE locked_until > $1 ORDER BY locked_until DESC"
    ))
    .bind(now.millis())
    .fetch_all(e)
    .await
    .ctx("list sign-in locks")?;
    rows::all(rows, rows::throttle)
}

pub(crate) async fn live_session_count<'c, E>(e: E, now: Timestamp, idle_before: Timestamp) -> Result<i64, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires_at > $1 AND last_seen > $2")
        .bind(now.millis())
        .bind(idle_before.millis())
        .fetch_one(e)
        .await
        .ctx("count sessions")
}
