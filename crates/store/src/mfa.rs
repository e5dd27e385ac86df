//! The MFA tables (schema version 7): authenticators, recovery codes and the
//! one-row policy. Single-use things (a TOTP step, a recovery code) are spent
//! with one conditional `UPDATE`, so of two concurrent uses exactly one wins.

use gatehouse_core::mfa::{Authenticator, AuthenticatorKind};
use gatehouse_core::{StoreError, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};
use uuid::Uuid;

use crate::error::Ctx;

type Result<T> = std::result::Result<T, StoreError>;

macro_rules! columns {
    () => {
        "id, user_id, kind, name, secret, credential_id, last_used_step, created_at, last_used_at"
    };
}

fn corrupt(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("mfa_authenticators.{col}: {e}"))
}

fn row(r: &AnyRow) -> Result<Authenticator> {
    let id: String = r.try_get("id").map_err(|e| corrupt("id", e))?;
    let user_id: String = r.try_get("user_id").map_err(|e| corrupt("user_id", e))?;
    let kind: String = r.try_get("kind").map_err(|e| corrupt("kind", e))?;
    Ok(Authenticator {
        id: Uuid::parse_str(&id).map_err(|e| corrupt("id", e))?,
        user_id: Uuid::parse_str(&user_id).map_err(|e| corrupt("user_id", e))?,
        kind: AuthenticatorKind::parse(&kind).ok_or_else(|| corrupt("kind", kind.clone()))?,
        name: r.try_get("name").map_err(|e| corrupt("name", e))?,
        secret: r.try_get("secret").map_err(|e| corrupt("secret", e))?,
        credential_id: r.try_get("credential_id").map_err(|e| corrupt("credential_id", e))?,
        last_used_step: r.try_get("last_used_step").map_err(|e| corrupt("last_used_step", e))?,
        created_at: Timestamp(r.try_get("created_at").map_err(|e| corrupt("created_at", e))?),
        last_used_at: r
            .try_get::<Option<i64>, _>("last_used_at")
            .map_err(|e| corrupt("last_used_at", e))?
            .map(Timestamp),
    })
}

pub(crate) async fn authenticators<'c, E: Executor<'c, Database = Any>>(
    e: E,
    user_id: Uuid,
) -> Result<Vec<Authenticator>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM mfa_authenticators WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id.to_string())
    .fetch_all(e)
    .await
    .ctx("list authenticators")?;
    rows.iter().map(row).collect()
}

pub(crate) async fn authenticator_by_credential<'c, E: Executor<'c, Database = Any>>(
    e: E,
    credential_id: &str,
) -> Result<Option<Authenticator>> {
    sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM mfa_authenticators WHERE credential_id = $1"
    ))
    .bind(credential_id.to_string())
    .fetch_optional(e)
    .await
    .ctx("read authenticator")?
    .as_ref()
    .map(row)
    .transpose()
}

pub(crate) async fn recovery_codes_left<'c, E: Executor<'c, Database = Any>>(e: E, user_id: Uuid) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id.to_string())
        .fetch_one(e)
        .await
        .ctx("count recovery codes")
}

pub(crate) async fn policy<'c, E: Executor<'c, Database = Any>>(e: E) -> Result<Option<String>> {
    sqlx::query_scalar("SELECT policy FROM mfa_policy WHERE id = 1")
        .fetch_optional(e)
        .await
        .ctx("read mfa policy")
}

pub(crate) async fn insert_authenticator(conn: &mut AnyConnection, a: &Authenticator) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO mfa_authenticators (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(a.id.to_string())
    .bind(a.user_id.to_string())
    .bind(a.kind.as_str().to_string())
    .bind(a.name.clone())
    .bind(a.secret.clone())
    .bind(a.credential_id.clone())
    .bind(a.last_used_step)
    .bind(a.created_at.millis())
    .bind(a.last_used_at.map(Timestamp::millis))
    .execute(conn)
    .await
    .ctx("create authenticator")?;
    Ok(())
}

pub(crate) async fn delete_authenticator(conn: &mut AnyConnection, user_id: Uuid, id: Uuid) -> Result<bool> {
    let r = sqlx::query("DELETE FROM mfa_authenticators WHERE user_id = $1 AND id = $2")
        .bind(user_id.to_string())
        .bind(id.to_string())
        .execute(conn)
        .await
        .ctx("delete authenticator")?;
    Ok(r.rows_affected() > 0)
}

pub(crate) async fn use_totp_step(conn: &mut AnyConnection, id: Uuid, step: i64, at: Timestamp) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE mfa_authenticators SET last_used_step = $2, last_used_at = $3 \
         WHERE id = $1 AND (last_used_step IS NULL OR last_used_step < $2)",
    )
    .bind(id.to_string())
    .bind(step)
    .bind(at.millis())
    .execute(conn)
    .await
    .ctx("spend TOTP step")?;
    Ok(r.rows_affected() == 1)
}

/// One more failure under `key`, counted in SQL so that concurrent failures
/// all count. An active lock stays (and keeps counting); an ended lock or a
/// window that started at or before `window_floor` starts over at 1; reaching
/// `lock_after` sets `locked_until`. Returns the record as written.
pub(crate) async fn bump_throttle(
    conn: &mut AnyConnection,
    key: &str,
    now: Timestamp,
    window_floor: Timestamp,
    lock_after: i64,
    locked_until: Timestamp,
) -> Result<gatehouse_core::ThrottleRecord> {
    // $1 key, $2 now, $3 window floor, $4 lock_after, $5 lock end.
    // "keep": the lock is active, or no lock and the window is still open.
    let r = sqlx::query(
        "INSERT INTO login_throttle (key, failures, window_start, last_failure, locked_until)          VALUES ($1, 1, $2, $2, CASE WHEN 1 >= $4 THEN $5 ELSE NULL END)          ON CONFLICT (key) DO UPDATE SET          failures = CASE WHEN (login_throttle.locked_until IS NOT NULL AND login_throttle.locked_until > $2)              OR (login_throttle.locked_until IS NULL AND login_throttle.window_start > $3)              THEN login_throttle.failures + 1 ELSE 1 END,          window_start = CASE WHEN (login_throttle.locked_until IS NOT NULL AND login_throttle.locked_until > $2)              OR (login_throttle.locked_until IS NULL AND login_throttle.window_start > $3)              THEN login_throttle.window_start ELSE $2 END,          last_failure = $2,          locked_until = CASE WHEN login_throttle.locked_until IS NOT NULL AND login_throttle.locked_until > $2              THEN login_throttle.locked_until              WHEN login_throttle.locked_until IS NULL AND login_throttle.window_start > $3              THEN CASE WHEN login_throttle.failures + 1 >= $4 THEN $5 ELSE NULL END              ELSE CASE WHEN 1 >= $4 THEN $5 ELSE NULL END END          RETURNING key, failures, window_start, last_failure, locked_until",
    )
    .bind(key.to_string())
    .bind(now.millis())
    .bind(window_floor.millis())
    .bind(lock_after)
    .bind(locked_until.millis())
    .fetch_one(conn)
    .await
    .ctx("count a sign-in failure")?;
    crate::rows::throttle(&r)
}

pub(crate) async fn update_secret(conn: &mut AnyConnection, id: Uuid, secret: &str, at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE mfa_authenticators SET secret = $2, last_used_at = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(secret.to_string())
        .bind(at.millis())
        .execute(conn)
        .await
        .ctx("update authenticator")?;
    Ok(())
}

pub(crate) async fn delete_user_mfa(conn: &mut AnyConnection, user_id: Uuid) -> Result<u64> {
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id.to_string())
        .execute(&mut *conn)
        .await
        .ctx("delete recovery codes")?;
    let r = sqlx::query("DELETE FROM mfa_authenticators WHERE user_id = $1")
        .bind(user_id.to_string())
        .execute(conn)
        .await
        .ctx("delete authenticators")?;
    Ok(r.rows_affected())
}

pub(crate) async fn replace_recovery_codes(
    conn: &mut AnyConnection,
    user_id: Uuid,
    hashes: &[String],
    now: Timestamp,
) -> Result<()> {
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id.to_string())
        .execute(&mut *conn)
        .await
        .ctx("delete recovery codes")?;
    for h in hashes {
        sqlx::query(
            "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at, used_at) VALUES ($1, $2, $3, NULL)",
        )
        .bind(user_id.to_string())
        .bind(h.clone())
        .bind(now.millis())
        .execute(&mut *conn)
        .await
        .ctx("create recovery code")?;
    }
    Ok(())
}

pub(crate) async fn consume_recovery_code(
    conn: &mut AnyConnection,
    user_id: Uuid,
    hash: &str,
    now: Timestamp,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id.to_string())
    .bind(hash.to_string())
    .bind(now.millis())
    .execute(conn)
    .await
    .ctx("spend recovery code")?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn put_policy(conn: &mut AnyConnection, policy: &str, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO mfa_policy (id, policy, updated_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
    )
    .bind(policy.to_string())
    .bind(now.millis())
    .execute(conn)
    .await
    .ctx("store mfa policy")?;
    Ok(())
}
