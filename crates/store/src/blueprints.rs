//! Blueprints: the applied state of each blueprint file, and the API-token
//! deletion blueprints need (`state: absent`).

use gatehouse_core::StoreError;
use gatehouse_core::Timestamp;
use gatehouse_core::blueprints::BlueprintInstance;
use sqlx::{Any, Executor, Row, Transaction};
use uuid::Uuid;

use crate::error::Ctx;

pub(crate) async fn instances<'c, E>(e: E) -> Result<Vec<BlueprintInstance>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(
        "SELECT path, name, hash, applied_at, result, message, changes FROM blueprint_instances ORDER BY path",
    )
    .fetch_all(e)
    .await
    .ctx("list blueprint instances")?;
    rows.iter()
        .map(|r| {
            Ok(BlueprintInstance {
                path: r.try_get("path").ctx("read blueprint instance")?,
                name: r.try_get("name").ctx("read blueprint instance")?,
                hash: r.try_get("hash").ctx("read blueprint instance")?,
                applied_at: Timestamp(r.try_get::<i64, _>("applied_at").ctx("read blueprint instance")?),
                result: r.try_get("result").ctx("read blueprint instance")?,
                message: r.try_get("message").ctx("read blueprint instance")?,
                changes: r.try_get("changes").ctx("read blueprint instance")?,
            })
        })
        .collect()
}

pub(crate) async fn put_instance(tx: &mut Transaction<'static, Any>, i: &BlueprintInstance) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO blueprint_instances (path, name, hash, applied_at, result, message, changes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (path) DO UPDATE SET name = excluded.name, hash = excluded.hash, \
         applied_at = excluded.applied_at, result = excluded.result, message = excluded.message, \
         changes = excluded.changes",
    )
    .bind(&i.path)
    .bind(&i.name)
    .bind(&i.hash)
    .bind(i.applied_at.millis())
    .bind(&i.result)
    .bind(&i.message)
    .bind(i.changes)
    .execute(&mut **tx)
    .await
    .ctx("record blueprint instance")?;
    Ok(())
}

pub(crate) async fn delete_api_token(tx: &mut Transaction<'static, Any>, id: Uuid) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await
        .ctx("delete API token")?;
    Ok(r.rows_affected() > 0)
}
