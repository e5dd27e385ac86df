//! Providers no application uses yet (`unattached_providers`). A provider an
//! application uses lives in that application's row; core moves a provider
//! between the two in one transaction.

use gatehouse_core::{ProviderKind, StoreError, Timestamp, UnattachedProvider};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row, Transaction};

use crate::error::Ctx;

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT pk, kind, name, provider_key, config, created_at FROM unattached_providers",
            $rest
        )
    };
}

fn row(r: &AnyRow) -> Result<UnattachedProvider, StoreError> {
    let kind: String = r.try_get("kind").ctx("read provider")?;
    let config: String = r.try_get("config").ctx("read provider")?;
    Ok(UnattachedProvider {
        pk: r.try_get("pk").ctx("read provider")?,
        kind: ProviderKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown provider kind '{kind}' in unattached_providers")))?,
        name: r.try_get("name").ctx("read provider")?,
        key: r.try_get("provider_key").ctx("read provider")?,
        config: serde_json::from_str(&config)
            .map_err(|_| StoreError::Corrupt("unattached_providers.config is not valid JSON".into()))?,
        created_at: Timestamp(r.try_get::<i64, _>("created_at").ctx("read provider")?),
    })
}

pub(crate) async fn all<'c, E>(e: E) -> Result<Vec<UnattachedProvider>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(select!(" ORDER BY pk"))
        .fetch_all(e)
        .await
        .ctx("list providers")?;
    rows.iter().map(row).collect()
}

pub(crate) async fn one<'c, E>(e: E, pk: i64) -> Result<Option<UnattachedProvider>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let found = sqlx::query(select!(" WHERE pk = $1"))
        .bind(pk)
        .fetch_optional(e)
        .await
        .ctx("read provider")?;
    found.as_ref().map(row).transpose()
}

/// Inserts the provider, or replaces the one with its pk.
pub(crate) async fn put(tx: &mut Transaction<'static, Any>, p: &UnattachedProvider) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO unattached_providers (pk, kind, name, provider_key, config, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (pk) DO UPDATE SET kind = excluded.kind, name = excluded.name, \
         provider_key = excluded.provider_key, config = excluded.config",
    )
    .bind(p.pk)
    .bind(p.kind.as_str())
    .bind(&p.name)
    .bind(p.key.as_deref())
    .bind(crate::rows::json_text(&p.config))
    .bind(p.created_at.millis())
    .execute(&mut **tx)
    .await
    .ctx("store provider")?;
    Ok(())
}

pub(crate) async fn delete(tx: &mut Transaction<'static, Any>, pk: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM unattached_providers WHERE pk = $1")
        .bind(pk)
        .execute(&mut **tx)
        .await
        .ctx("delete provider")?;
    Ok(r.rows_affected() > 0)
}
