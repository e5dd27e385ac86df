//! Invitations: stored as given; a use is counted by one conditional UPDATE so
//! two spends of a single-use invitation cannot both succeed.

use gatehouse_core::invitations::Invitation;
use gatehouse_core::{StoreError, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row, Transaction};
use uuid::Uuid;

use crate::error::Ctx;

const COLUMNS: &str =
    "SELECT id, name, expires, single_use, fixed_data, flow, created_by, created_at, uses FROM invitations";

fn row(r: &AnyRow) -> Result<Invitation, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("invitation {what}"));
    let id: String = r.try_get("id").ctx("read invitation")?;
    let fixed: String = r.try_get("fixed_data").ctx("read invitation")?;
    Ok(Invitation {
        id: Uuid::parse_str(&id).map_err(|_| corrupt("id"))?,
        name: r.try_get("name").ctx("read invitation")?,
        expires: r
            .try_get::<Option<i64>, _>("expires")
            .ctx("read invitation")?
            .map(Timestamp),
        single_use: r.try_get::<i64, _>("single_use").ctx("read invitation")? != 0,
        fixed_data: serde_json::from_str(&fixed).map_err(|_| corrupt("fixed_data"))?,
        flow: r.try_get("flow").ctx("read invitation")?,
        created_by: r.try_get("created_by").ctx("read invitation")?,
        created_at: Timestamp(r.try_get::<i64, _>("created_at").ctx("read invitation")?),
        uses: r.try_get("uses").ctx("read invitation")?,
    })
}

pub(crate) async fn all<'c, E>(e: E) -> Result<Vec<Invitation>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(COLUMNS).fetch_all(e).await.ctx("list invitations")?;
    rows.iter().map(row).collect()
}

pub(crate) async fn one<'c, E>(e: E, id: Uuid) -> Result<Option<Invitation>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    const SQL: &str = concat!(
        "SELECT id, name, expires, single_use, fixed_data, flow, created_by, created_at, uses FROM invitations",
        " WHERE id = $1"
    );
    let found = sqlx::query(SQL)
        .bind(id.to_string())
        .fetch_optional(e)
        .await
        .ctx("read invitation")?;
    found.as_ref().map(row).transpose()
}

pub(crate) async fn insert(tx: &mut Transaction<'static, Any>, i: &Invitation) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO invitations (id, name, expires, single_use, fixed_data, flow, created_by, created_at, uses) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(i.id.to_string())
    .bind(&i.name)
    .bind(i.expires.map(|t| t.millis()))
    .bind(crate::rows::flag_value(i.single_use))
    .bind(crate::rows::json_text(&i.fixed_data))
    .bind(&i.flow)
    .bind(&i.created_by)
    .bind(i.created_at.millis())
    .bind(i.uses)
    .execute(&mut **tx)
    .await
    .ctx("create invitation")?;
    Ok(())
}

pub(crate) async fn delete(tx: &mut Transaction<'static, Any>, id: Uuid) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM invitations WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await
        .ctx("delete invitation")?;
    Ok(r.rows_affected() > 0)
}

/// On PostgreSQL the second of two concurrent UPDATEs waits for the first's
/// row lock and re-checks the condition on the committed row (READ
/// COMMITTED); SQLite has a single writer.
pub(crate) async fn spend(tx: &mut Transaction<'static, Any>, id: Uuid, now: Timestamp) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE invitations SET uses = uses + 1 \
         WHERE id = $1 AND (single_use = 0 OR uses = 0) AND (expires IS NULL OR expires > $2)",
    )
    .bind(id.to_string())
    .bind(now.millis())
    .execute(&mut **tx)
    .await
    .ctx("spend invitation")?;
    Ok(r.rows_affected() > 0)
}
