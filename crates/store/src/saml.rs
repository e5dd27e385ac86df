//! The SAML provider's tables (schema version 5): signing keys with their
//! certificates, and the request IDs already answered (replay protection).

use gatehouse_core::saml::model::SamlKeyRecord;
use gatehouse_core::{StoreError, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

use crate::error::Ctx;

type Result<T> = std::result::Result<T, StoreError>;

macro_rules! saml_key_columns {
    () => {
        "kid, family, generation, private_key, certificate, created_at, activates_at, publish_until"
    };
}

fn key_row(row: &AnyRow) -> Result<SamlKeyRecord> {
    let get_err = |c: &str, e: sqlx::Error| StoreError::Corrupt(format!("column {c}: {e}"));
    Ok(SamlKeyRecord {
        kid: row.try_get("kid").map_err(|e| get_err("kid", e))?,
        family: row.try_get("family").map_err(|e| get_err("family", e))?,
        generation: row.try_get("generation").map_err(|e| get_err("generation", e))?,
        private_key: row.try_get("private_key").map_err(|e| get_err("private_key", e))?,
        certificate: row.try_get("certificate").map_err(|e| get_err("certificate", e))?,
        created_at: Timestamp(row.try_get("created_at").map_err(|e| get_err("created_at", e))?),
        activates_at: Timestamp(row.try_get("activates_at").map_err(|e| get_err("activates_at", e))?),
        publish_until: row
            .try_get::<Option<i64>, _>("publish_until")
            .map_err(|e| get_err("publish_until", e))?
            .map(Timestamp),
    })
}

pub(crate) async fn saml_keys<'c, E: Executor<'c, Database = Any>>(e: E) -> Result<Vec<SamlKeyRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        saml_key_columns!(),
        " FROM saml_keys ORDER BY family, generation"
    ))
    .fetch_all(e)
    .await
    .ctx("list SAML keys")?;
    rows.iter().map(key_row).collect()
}

pub(crate) async fn insert_saml_key(conn: &mut AnyConnection, k: &SamlKeyRecord) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO saml_keys (",
        saml_key_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(k.kid.clone())
    .bind(k.family.clone())
    .bind(k.generation)
    .bind(k.private_key.clone())
    .bind(k.certificate.clone())
    .bind(k.created_at.millis())
    .bind(k.activates_at.millis())
    .bind(k.publish_until.map(Timestamp::millis))
    .execute(conn)
    .await
    .ctx("create SAML key")?;
    Ok(())
}

pub(crate) async fn set_saml_key_publish_until(
    conn: &mut AnyConnection,
    kid: &str,
    until: Option<Timestamp>,
) -> Result<()> {
    sqlx::query("UPDATE saml_keys SET publish_until = $2 WHERE kid = $1")
        .bind(kid.to_string())
        .bind(until.map(Timestamp::millis))
        .execute(conn)
        .await
        .ctx("retire SAML key")?;
    Ok(())
}

/// True when the id was not seen before (now it is); false on a replay.
pub(crate) async fn claim_saml_request_id(
    conn: &mut AnyConnection,
    key_hash: &str,
    expires_at: Timestamp,
) -> Result<bool> {
    let r = sqlx::query("INSERT INTO saml_request_ids (key_hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(key_hash.to_string())
        .bind(expires_at.millis())
        .execute(conn)
        .await
        .ctx("record SAML request id")?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn delete_expired_saml(conn: &mut AnyConnection, now: Timestamp) -> Result<u64> {
    let a = sqlx::query("DELETE FROM saml_request_ids WHERE expires_at <= $1")
        .bind(now.millis())
        .execute(&mut *conn)
        .await
        .ctx("delete expired SAML request ids")?;
    let b = sqlx::query("DELETE FROM saml_keys WHERE publish_until IS NOT NULL AND publish_until <= $1")
        .bind(now.millis())
        .execute(conn)
        .await
        .ctx("delete expired SAML keys")?;
    Ok(a.rows_affected() + b.rows_affected())
}
