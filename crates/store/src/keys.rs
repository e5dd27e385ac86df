//! The key ring (schema version 10): every signing key, JWT or SAML, in
//! `key_ring`; and the one-time ids already claimed (`replay_ids`).

use gatehouse_core::keys::{KeyPurpose, SigningKeyRecord};
use gatehouse_core::{StoreError, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

use crate::error::Ctx;

type Result<T> = std::result::Result<T, StoreError>;

macro_rules! key_columns {
    () => {
        "kid, kind, alg, generation, private_key, certificate, created_at, activates_at, publish_until"
    };
}

fn key_row(row: &AnyRow) -> Result<SigningKeyRecord> {
    let col = |c: &str, e: sqlx::Error| StoreError::Corrupt(format!("column {c}: {e}"));
    let kind: String = row.try_get("kind").map_err(|e| col("kind", e))?;
    let alg: String = row.try_get("alg").map_err(|e| col("alg", e))?;
    Ok(SigningKeyRecord {
        kid: row.try_get("kid").map_err(|e| col("kid", e))?,
        purpose: KeyPurpose::parse(&kind, &alg)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown key purpose '{kind}' '{alg}'")))?,
        generation: row.try_get("generation").map_err(|e| col("generation", e))?,
        private_key: row.try_get("private_key").map_err(|e| col("private_key", e))?,
        certificate: row.try_get("certificate").map_err(|e| col("certificate", e))?,
        created_at: Timestamp(row.try_get("created_at").map_err(|e| col("created_at", e))?),
        activates_at: Timestamp(row.try_get("activates_at").map_err(|e| col("activates_at", e))?),
        publish_until: row
            .try_get::<Option<i64>, _>("publish_until")
            .map_err(|e| col("publish_until", e))?
            .map(Timestamp),
    })
}

pub(crate) async fn signing_keys<'c, E: Executor<'c, Database = Any>>(e: E) -> Result<Vec<SigningKeyRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM key_ring ORDER BY kind, alg, generation"
    ))
    .fetch_all(e)
    .await
    .ctx("list signing keys")?;
    rows.iter().map(key_row).collect()
}

pub(crate) async fn insert_signing_key(conn: &mut AnyConnection, k: &SigningKeyRecord) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO key_ring (",
        key_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(k.kid.clone())
    .bind(k.purpose.kind().as_str())
    .bind(k.purpose.alg_name())
    .bind(k.generation)
    .bind(k.private_key.clone())
    .bind(k.certificate.clone())
    .bind(k.created_at.millis())
    .bind(k.activates_at.millis())
    .bind(k.publish_until.map(Timestamp::millis))
    .execute(conn)
    .await
    .ctx("create signing key")?;
    Ok(())
}

pub(crate) async fn set_signing_key_publish_until(
    conn: &mut AnyConnection,
    kid: &str,
    until: Option<Timestamp>,
) -> Result<()> {
    sqlx::query("UPDATE key_ring SET publish_until = $2 WHERE kid = $1")
        .bind(kid.to_string())
        .bind(until.map(Timestamp::millis))
        .execute(conn)
        .await
        .ctx("retire signing key")?;
    Ok(())
}

pub(crate) async fn delete_unpublished_signing_keys(conn: &mut AnyConnection, now: Timestamp) -> Result<u64> {
    let r = sqlx::query("DELETE FROM key_ring WHERE publish_until IS NOT NULL AND publish_until <= $1")
        .bind(now.millis())
        .execute(conn)
        .await
        .ctx("delete expired signing keys")?;
    Ok(r.rows_affected())
}

/// True when the id was not claimed before (now it is); false on a replay.
pub(crate) async fn claim_replay_id(conn: &mut AnyConnection, id_hash: &str, expires_at: Timestamp) -> Result<bool> {
    let r = sqlx::query("INSERT INTO replay_ids (id_hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(id_hash.to_string())
        .bind(expires_at.millis())
        .execute(conn)
        .await
        .ctx("claim one-time id")?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn delete_expired_replay_ids(conn: &mut AnyConnection, now: Timestamp) -> Result<u64> {
    let r = sqlx::query("DELETE FROM replay_ids WHERE expires_at <= $1")
        .bind(now.millis())
        .execute(conn)
        .await
        .ctx("delete expired one-time ids")?;
    Ok(r.rows_affected())
}
