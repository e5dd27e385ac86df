//! The `mfa_enrolment` table (schema version 9): when a person who must use
//! MFA may enrol their first authenticator. See `gatehouse_core::mfa::enrolment`.

use gatehouse_core::mfa::enrolment::EnrolmentRecord;
use gatehouse_core::{StoreError, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};
use uuid::Uuid;

use crate::error::Ctx;

type Result<T> = std::result::Result<T, StoreError>;

fn corrupt(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("mfa_enrolment.{col}: {e}"))
}

fn row(r: &AnyRow) -> Result<EnrolmentRecord> {
    let user_id: String = r.try_get("user_id").map_err(|e| corrupt("user_id", e))?;
    let time = |col: &str| -> Result<Option<Timestamp>> {
        Ok(r.try_get::<Option<i64>, _>(col)
            .map_err(|e| corrupt(col, e))?
            .map(Timestamp))
    };
    Ok(EnrolmentRecord {
        user_id: Uuid::parse_str(&user_id).map_err(|e| corrupt("user_id", e))?,
        first_offered_at: time("first_offered_at")?,
        window_until: time("window_until")?,
        window_reason: r.try_get("window_reason").map_err(|e| corrupt("window_reason", e))?,
        link_hash: r.try_get("link_hash").map_err(|e| corrupt("link_hash", e))?,
        link_until: time("link_until")?,
    })
}

/// The record of `user_id`; `lock` (PostgreSQL, in a write transaction) locks the row.
pub(crate) async fn read<'c, E: Executor<'c, Database = Any>>(
    e: E,
    user_id: Uuid,
    lock: bool,
) -> Result<Option<EnrolmentRecord>> {
    let sql = if lock {
        "SELECT user_id, first_offered_at, window_until, window_reason, link_hash, link_until \
         FROM mfa_enrolment WHERE user_id = $1 FOR UPDATE"
    } else {
        "SELECT user_id, first_offered_at, window_until, window_reason, link_hash, link_until \
         FROM mfa_enrolment WHERE user_id = $1"
    };
    sqlx::query(sql)
        .bind(user_id.to_string())
        .fetch_optional(e)
        .await
        .ctx("read mfa enrolment")?
        .as_ref()
        .map(row)
        .transpose()
}

pub(crate) async fn put(conn: &mut AnyConnection, r: &EnrolmentRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO mfa_enrolment (user_id, first_offered_at, window_until, window_reason, link_hash, link_until) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id) DO UPDATE SET first_offered_at = excluded.first_offered_at, \
         window_until = excluded.window_until, window_reason = excluded.window_reason, \
         link_hash = excluded.link_hash, link_until = excluded.link_until",
    )
    .bind(r.user_id.to_string())
    .bind(r.first_offered_at.map(Timestamp::millis))
    .bind(r.window_until.map(Timestamp::millis))
    .bind(r.window_reason.clone())
    .bind(r.link_hash.clone())
    .bind(r.link_until.map(Timestamp::millis))
    .execute(conn)
    .await
    .ctx("store mfa enrolment")?;
    Ok(())
}
