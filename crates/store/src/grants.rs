//! The OAuth provider's tables (schema version 4): server secrets, grants, authorization codes, refresh tokens, device codes, the
//! access-token revocation list and remembered consents.
//!
//! Single-use records are spent with one conditional `UPDATE … RETURNING`, so
//! of two concurrent spenders exactly one sees the record fresh, on both
//! backends; the loser re-reads it and reports a replay.

use gatehouse_core::oauth::model::{
    AuthCode, Consent, DeviceCode, DeviceStatus, Grant, Redeemed, RefreshToken, scopes_from_text, scopes_text,
};
use gatehouse_core::{StoreError, Timestamp};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::decode::Decode;
use sqlx::{Any, AnyConnection, Executor, Row, Type};
use uuid::Uuid;

use crate::error::Ctx;

type Result<T> = std::result::Result<T, StoreError>;

macro_rules! grant_columns {
    () => {
        "id, application_id, user_id, session_id, scopes, auth_time, amr, nonce, created_at, expires_at, revoked_at"
    };
}
macro_rules! code_columns {
    () => {
        "code_hash, grant_id, redirect_uri, code_challenge, code_challenge_method, created_at, expires_at, used_at"
    };
}
macro_rules! refresh_columns {
    () => {
        "token_hash, grant_id, scopes, created_at, expires_at, used_at"
    };
}
macro_rules! device_columns {
    () => {
        "device_code_hash, user_code, application_id, scopes, created_at, expires_at, interval_secs, \
         last_poll_at, status, grant_id"
    };
}

fn get<'r, T: Decode<'r, Any> + Type<Any>>(row: &'r AnyRow, col: &str) -> Result<T> {
    row.try_get(col)
        .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

fn uuid(row: &AnyRow, col: &str) -> Result<Uuid> {
    let text: String = get(row, col)?;
    Uuid::parse_str(&text).map_err(|_| StoreError::Corrupt(format!("column {col} is not a UUID")))
}

fn opt_uuid(row: &AnyRow, col: &str) -> Result<Option<Uuid>> {
    let text: Option<String> = get(row, col)?;
    text.map(|t| Uuid::parse_str(&t).map_err(|_| StoreError::Corrupt(format!("column {col} is not a UUID"))))
        .transpose()
}

fn ts(row: &AnyRow, col: &str) -> Result<Timestamp> {
    get::<i64>(row, col).map(Timestamp)
}

fn opt_ts(row: &AnyRow, col: &str) -> Result<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp))
}

fn scopes(row: &AnyRow, col: &str) -> Result<Vec<String>> {
    Ok(scopes_from_text(&get::<String>(row, col)?))
}

fn json_list(row: &AnyRow, col: &str) -> Result<Vec<String>> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(format!("column {col} is not a JSON list of strings")))
}

fn grant_row(row: &AnyRow) -> Result<Grant> {
    Ok(Grant {
        id: uuid(row, "id")?,
        application_id: uuid(row, "application_id")?,
        user_id: uuid(row, "user_id")?,
        session_id: opt_uuid(row, "session_id")?,
        scopes: scopes(row, "scopes")?,
        auth_time: ts(row, "auth_time")?,
        amr: json_list(row, "amr")?,
        nonce: get(row, "nonce")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

fn code_row(row: &AnyRow) -> Result<AuthCode> {
    Ok(AuthCode {
        code_hash: get(row, "code_hash")?,
        grant_id: uuid(row, "grant_id")?,
        redirect_uri: get(row, "redirect_uri")?,
        code_challenge: get(row, "code_challenge")?,
        code_challenge_method: get(row, "code_challenge_method")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        used_at: opt_ts(row, "used_at")?,
    })
}

fn refresh_row(row: &AnyRow) -> Result<RefreshToken> {
    Ok(RefreshToken {
        token_hash: get(row, "token_hash")?,
        grant_id: uuid(row, "grant_id")?,
        scopes: scopes(row, "scopes")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        used_at: opt_ts(row, "used_at")?,
    })
}

fn device_row(row: &AnyRow) -> Result<DeviceCode> {
    let status: String = get(row, "status")?;
    Ok(DeviceCode {
        device_code_hash: get(row, "device_code_hash")?,
        user_code: get(row, "user_code")?,
        application_id: uuid(row, "application_id")?,
        scopes: scopes(row, "scopes")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        interval_secs: get(row, "interval_secs")?,
        last_poll_at: opt_ts(row, "last_poll_at")?,
        status: DeviceStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown device code status '{status}'")))?,
        grant_id: opt_uuid(row, "grant_id")?,
    })
}

fn consent_row(row: &AnyRow) -> Result<Consent> {
    Ok(Consent {
        user_id: uuid(row, "user_id")?,
        application_id: uuid(row, "application_id")?,
        scopes: scopes(row, "scopes")?,
        created_at: ts(row, "created_at")?,
    })
}

fn all<T>(rows: Vec<AnyRow>, f: fn(&AnyRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

fn json_list_text(list: &[String]) -> String {
    Value::from(list.to_vec()).to_string()
}

pub(crate) async fn server_secret<'c, E: Executor<'c, Database = Any>>(e: E, name: &str) -> Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
        .bind(name.to_string())
        .fetch_optional(e)
        .await
        .ctx("read server secret")
}

pub(crate) async fn grant<'c, E: Executor<'c, Database = Any>>(e: E, id: Uuid, lock: bool) -> Result<Option<Grant>> {
    sqlx::query(if lock {
        concat!(
            "SELECT ",
            grant_columns!(),
            " FROM oauth_grants WHERE id = $1 FOR UPDATE"
        )
    } else {
        concat!("SELECT ", grant_columns!(), " FROM oauth_grants WHERE id = $1")
    })
    .bind(id.to_string())
    .fetch_optional(e)
    .await
    .ctx("read grant")?
    .as_ref()
    .map(grant_row)
    .transpose()
}

pub(crate) async fn user_grants<'c, E: Executor<'c, Database = Any>>(e: E, user_id: Uuid) -> Result<Vec<Grant>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        grant_columns!(),
        " FROM oauth_grants WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC"
    ))
    .bind(user_id.to_string())
    .fetch_all(e)
    .await
    .ctx("list a user's grants")?;
    rows.iter().map(grant_row).collect()
}

pub(crate) async fn refresh_token_by_hash<'c, E: Executor<'c, Database = Any>>(
    e: E,
    token_hash: &str,
) -> Result<Option<RefreshToken>> {
    sqlx::query(concat!(
        "SELECT ",
        refresh_columns!(),
        " FROM oauth_refresh_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash.to_string())
    .fetch_optional(e)
    .await
    .ctx("read refresh token")?
    .as_ref()
    .map(refresh_row)
    .transpose()
}

pub(crate) async fn device_code_by_user_code<'c, E: Executor<'c, Database = Any>>(
    e: E,
    user_code: &str,
    lock: bool,
) -> Result<Option<DeviceCode>> {
    sqlx::query(if lock {
        concat!(
            "SELECT ",
            device_columns!(),
            " FROM oauth_device_codes WHERE user_code = $1 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            device_columns!(),
            " FROM oauth_device_codes WHERE user_code = $1"
        )
    })
    .bind(user_code.to_string())
    .fetch_optional(e)
    .await
    .ctx("read device code")?
    .as_ref()
    .map(device_row)
    .transpose()
}

pub(crate) async fn device_code_by_hash<'c, E: Executor<'c, Database = Any>>(
    e: E,
    hash: &str,
    lock: bool,
) -> Result<Option<DeviceCode>> {
    sqlx::query(if lock {
        concat!(
            "SELECT ",
            device_columns!(),
            " FROM oauth_device_codes WHERE device_code_hash = $1 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            device_columns!(),
            " FROM oauth_device_codes WHERE device_code_hash = $1"
        )
    })
    .bind(hash.to_string())
    .fetch_optional(e)
    .await
    .ctx("read device code")?
    .as_ref()
    .map(device_row)
    .transpose()
}

pub(crate) async fn is_token_revoked<'c, E: Executor<'c, Database = Any>>(e: E, jti: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oauth_revoked_tokens WHERE jti = $1")
        .bind(jti.to_string())
        .fetch_one(e)
        .await
        .ctx("read token revocation list")?;
    Ok(n > 0)
}

pub(crate) async fn consents<'c, E: Executor<'c, Database = Any>>(e: E, user_id: Uuid) -> Result<Vec<Consent>> {
    let rows = sqlx::query(
        "SELECT user_id, application_id, scopes, created_at FROM oauth_consents WHERE user_id = $1 \
         ORDER BY created_at, application_id",
    )
    .bind(user_id.to_string())
    .fetch_all(e)
    .await
    .ctx("list consents")?;
    all(rows, consent_row)
}

pub(crate) async fn insert_server_secret(
    conn: &mut AnyConnection,
    name: &str,
    value: &str,
    now: Timestamp,
) -> Result<bool> {
    let r =
        sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(name.to_string())
            .bind(value.to_string())
            .bind(now.millis())
            .execute(conn)
            .await
            .ctx("create server secret")?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn insert_grant(conn: &mut AnyConnection, g: &Grant) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO oauth_grants (",
        grant_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(g.id.to_string())
    .bind(g.application_id.to_string())
    .bind(g.user_id.to_string())
    .bind(g.session_id.map(|s| s.to_string()))
    .bind(scopes_text(&g.scopes))
    .bind(g.auth_time.millis())
    .bind(json_list_text(&g.amr))
    .bind(g.nonce.clone())
    .bind(g.created_at.millis())
    .bind(g.expires_at.millis())
    .bind(g.revoked_at.map(Timestamp::millis))
    .execute(conn)
    .await
    .ctx("create grant")?;
    Ok(())
}

pub(crate) async fn revoke_grant(conn: &mut AnyConnection, id: Uuid, now: Timestamp) -> Result<bool> {
    let r = sqlx::query("UPDATE oauth_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id.to_string())
        .bind(now.millis())
        .execute(conn)
        .await
        .ctx("revoke grant")?;
    Ok(r.rows_affected() > 0)
}

pub(crate) async fn revoke_user_grants(
    conn: &mut AnyConnection,
    user_id: Uuid,
    application_id: Option<Uuid>,
    now: Timestamp,
) -> Result<u64> {
    let r = match application_id {
        Some(app) => sqlx::query(
            "UPDATE oauth_grants SET revoked_at = $3 WHERE user_id = $1 AND application_id = $2 AND revoked_at IS NULL",
        )
        .bind(user_id.to_string())
        .bind(app.to_string())
        .bind(now.millis()),
        None => sqlx::query("UPDATE oauth_grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id.to_string())
            .bind(now.millis()),
    }
    .execute(conn)
    .await
    .ctx("revoke grants")?;
    Ok(r.rows_affected())
}

pub(crate) async fn insert_auth_code(conn: &mut AnyConnection, c: &AuthCode) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO oauth_codes (",
        code_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(c.code_hash.clone())
    .bind(c.grant_id.to_string())
    .bind(c.redirect_uri.clone())
    .bind(c.code_challenge.clone())
    .bind(c.code_challenge_method.clone())
    .bind(c.created_at.millis())
    .bind(c.expires_at.millis())
    .bind(c.used_at.map(Timestamp::millis))
    .execute(conn)
    .await
    .ctx("create authorization code")?;
    Ok(())
}

pub(crate) async fn consume_auth_code(
    conn: &mut AnyConnection,
    code_hash: &str,
    now: Timestamp,
) -> Result<Option<Redeemed<AuthCode>>> {
    let fresh = sqlx::query(concat!(
        "UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL RETURNING ",
        code_columns!()
    ))
    .bind(code_hash.to_string())
    .bind(now.millis())
    .fetch_optional(&mut *conn)
    .await
    .ctx("use authorization code")?;
    if let Some(row) = fresh {
        return Ok(Some(Redeemed::Fresh(code_row(&row)?)));
    }
    let used = sqlx::query(concat!(
        "SELECT ",
        code_columns!(),
        " FROM oauth_codes WHERE code_hash = $1"
    ))
    .bind(code_hash.to_string())
    .fetch_optional(&mut *conn)
    .await
    .ctx("read authorization code")?;
    used.as_ref()
        .map(code_row)
        .transpose()
        .map(|c| c.map(Redeemed::AlreadyUsed))
}

pub(crate) async fn insert_refresh_token(conn: &mut AnyConnection, t: &RefreshToken) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO oauth_refresh_tokens (",
        refresh_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(t.token_hash.clone())
    .bind(t.grant_id.to_string())
    .bind(scopes_text(&t.scopes))
    .bind(t.created_at.millis())
    .bind(t.expires_at.millis())
    .bind(t.used_at.map(Timestamp::millis))
    .execute(conn)
    .await
    .ctx("create refresh token")?;
    Ok(())
}

pub(crate) async fn consume_refresh_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<Redeemed<RefreshToken>>> {
    let fresh = sqlx::query(concat!(
        "UPDATE oauth_refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING ",
        refresh_columns!()
    ))
    .bind(token_hash.to_string())
    .bind(now.millis())
    .fetch_optional(&mut *conn)
    .await
    .ctx("use refresh token")?;
    if let Some(row) = fresh {
        return Ok(Some(Redeemed::Fresh(refresh_row(&row)?)));
    }
    let used = refresh_token_by_hash(&mut *conn, token_hash).await?;
    Ok(used.map(Redeemed::AlreadyUsed))
}

pub(crate) async fn insert_device_code(conn: &mut AnyConnection, d: &DeviceCode) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO oauth_device_codes (",
        device_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(d.device_code_hash.clone())
    .bind(d.user_code.clone())
    .bind(d.application_id.to_string())
    .bind(scopes_text(&d.scopes))
    .bind(d.created_at.millis())
    .bind(d.expires_at.millis())
    .bind(d.interval_secs)
    .bind(d.last_poll_at.map(Timestamp::millis))
    .bind(d.status.as_str().to_string())
    .bind(d.grant_id.map(|g| g.to_string()))
    .execute(conn)
    .await
    .ctx("create device code")?;
    Ok(())
}

pub(crate) async fn update_device_code(conn: &mut AnyConnection, d: &DeviceCode) -> Result<()> {
    let r = sqlx::query(
        "UPDATE oauth_device_codes SET status = $2, last_poll_at = $3, grant_id = $4 WHERE device_code_hash = $1",
    )
    .bind(d.device_code_hash.clone())
    .bind(d.status.as_str().to_string())
    .bind(d.last_poll_at.map(Timestamp::millis))
    .bind(d.grant_id.map(|g| g.to_string()))
    .execute(conn)
    .await
    .ctx("update device code")?;
    if r.rows_affected() == 0 {
        return Err(StoreError::Conflict("the device code no longer exists".into()));
    }
    Ok(())
}

pub(crate) async fn consume_device_code(conn: &mut AnyConnection, hash: &str) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE oauth_device_codes SET status = 'consumed' WHERE device_code_hash = $1 AND status = 'approved'",
    )
    .bind(hash.to_string())
    .execute(conn)
    .await
    .ctx("use device code")?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn revoke_token(conn: &mut AnyConnection, jti: &str, expires_at: Timestamp) -> Result<()> {
    sqlx::query("INSERT INTO oauth_revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(jti.to_string())
        .bind(expires_at.millis())
        .execute(conn)
        .await
        .ctx("revoke access token")?;
    Ok(())
}

pub(crate) async fn put_consent(conn: &mut AnyConnection, c: &Consent) -> Result<()> {
    sqlx::query(
        "INSERT INTO oauth_consents (user_id, application_id, scopes, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, application_id) DO UPDATE SET scopes = excluded.scopes, created_at = excluded.created_at",
    )
    .bind(c.user_id.to_string())
    .bind(c.application_id.to_string())
    .bind(scopes_text(&c.scopes))
    .bind(c.created_at.millis())
    .execute(conn)
    .await
    .ctx("remember consent")?;
    Ok(())
}

pub(crate) async fn delete_consent(conn: &mut AnyConnection, user_id: Uuid, application_id: Uuid) -> Result<bool> {
    let r = sqlx::query("DELETE FROM oauth_consents WHERE user_id = $1 AND application_id = $2")
        .bind(user_id.to_string())
        .bind(application_id.to_string())
        .execute(conn)
        .await
        .ctx("withdraw consent")?;
    Ok(r.rows_affected() > 0)
}

/// Codes are not deleted on their own: a spent code stays as long as its grant,
/// so a late replay is still recognised (and revokes the family).
pub(crate) async fn delete_expired(conn: &mut AnyConnection, now: Timestamp) -> Result<u64> {
    let mut n = 0;
    for (sql, op) in [
        (
            "DELETE FROM oauth_refresh_tokens WHERE expires_at <= $1",
            "delete expired refresh tokens",
        ),
        (
            "DELETE FROM oauth_device_codes WHERE expires_at <= $1",
            "delete expired device codes",
        ),
        (
            "DELETE FROM oauth_revoked_tokens WHERE expires_at <= $1",
            "delete expired revocations",
        ),
        (
            "DELETE FROM oauth_grants WHERE expires_at <= $1",
            "delete expired grants",
        ),
    ] {
        n += sqlx::query(sql)
            .bind(now.millis())
            .execute(&mut *conn)
            .await
            .ctx(op)?
            .rows_affected();
    }
    Ok(n)
}
