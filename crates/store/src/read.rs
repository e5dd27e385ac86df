//! Reads, each written once and run either on the pool (`&pool`) or inside a
//! write transaction (`&mut *tx`). Single-row reads take `lock`: inside a write
//! transaction on PostgreSQL they lock the row (`FOR UPDATE`), so a
//! read-modify-write cannot lose a concurrent change. SQLite's write
//! transactions are serialised already.

use gatehouse_core::names::name_key;
use gatehouse_core::{
    ApiToken, Application, Binding, ChainHead, FlowRecord, Group, Membership, ProviderKind, RecoveryKey, Session,
    StoreError, ThrottleRecord, Timestamp, User,
};
use sqlx::{Any, AssertSqlSafe, Executor};
use uuid::Uuid;

use crate::error::Ctx;
use crate::rows::{
    self, api_token_columns, application_columns, flow_columns, group_columns, recovery_key_columns, session_columns,
    throttle_columns, user_columns,
};

pub(crate) async fn user_by_name<'c, E>(e: E, username: &str, lock: bool) -> Result<Option<User>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(if lock {
        concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username_key = $1 FOR UPDATE"
        )
    } else {
        concat!("SELECT ", user_columns!(), " FROM users WHERE username_key = $1")
    })
    .bind(name_key(username))
    .fetch_optional(e)
    .await
    .ctx("read user")?
    .as_ref()
    .map(rows::user)
    .transpose()
}

pub(crate) async fn user_by_id<'c, E>(e: E, id: Uuid, lock: bool) -> Result<Option<User>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(if lock {
        concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1 FOR UPDATE")
    } else {
        concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1")
    })
    .bind(id.to_string())
    .fetch_optional(e)
    .await
    .ctx("read user")?
    .as_ref()
    .map(rows::user)
    .transpose()
}

pub(crate) async fn users<'c, E>(e: E) -> Result<Vec<User>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users ORDER BY username_key"))
        .fetch_all(e)
        .await
        .ctx("list users")?;
    rows::all(rows, rows::user)
}

pub(crate) async fn group_by_name<'c, E>(e: E, name: &str, lock: bool) -> Result<Option<Group>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(if lock {
        concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups WHERE name_key = $1 FOR UPDATE"
        )
    } else {
        concat!("SELECT ", group_columns!(), " FROM groups WHERE name_key = $1")
    })
    .bind(name_key(name))
    .fetch_optional(e)
    .await
    .ctx("read group")?
    .as_ref()
    .map(rows::group)
    .transpose()
}

pub(crate) async fn groups<'c, E>(e: E) -> Result<Vec<Group>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(concat!("SELECT ", group_columns!(), " FROM groups ORDER BY name_key"))
        .fetch_all(e)
        .await
        .ctx("list groups")?;
    rows::all(rows, rows::group)
}

pub(crate) async fn memberships<'c, E>(e: E) -> Result<Vec<Membership>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query("SELECT user_id, group_id FROM memberships ORDER BY group_id, user_id")
        .fetch_all(e)
        .await
        .ctx("list memberships")?;
    rows::all(rows, rows::membership)
}

pub(crate) async fn application_by_slug<'c, E>(e: E, slug: &str, lock: bool) -> Result<Option<Application>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let q = sqlx::query(if lock {
        concat!(
            "SELECT ",
            application_columns!(),
            " FROM applications WHERE slug = $1 FOR UPDATE"
        )
    } else {
        concat!("SELECT ", application_columns!(), " FROM applications WHERE slug = $1")
    })
    .bind(slug.to_string());
    one_application(q, e).await
}

pub(crate) async fn application_by_id<'c, E>(e: E, id: Uuid, lock: bool) -> Result<Option<Application>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let q = sqlx::query(if lock {
        concat!(
            "SELECT ",
            application_columns!(),
            " FROM applications WHERE id = $1 FOR UPDATE"
        )
    } else {
        concat!("SELECT ", application_columns!(), " FROM applications WHERE id = $1")
    })
    .bind(id.to_string());
    one_application(q, e).await
}

pub(crate) async fn application_by_provider_key<'c, E>(
    e: E,
    kind: ProviderKind,
    key: &str,
) -> Result<Option<Application>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let q = sqlx::query(concat!(
        "SELECT ",
        application_columns!(),
        " FROM applications WHERE provider = $1 AND provider_key = $2"
    ))
    .bind(kind.as_str().to_string())
    .bind(key.to_string());
    one_application(q, e).await
}

pub(crate) async fn application_by_provider_pk<'c, E>(e: E, pk: i64) -> Result<Option<Application>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let q = sqlx::query(concat!(
        "SELECT ",
        application_columns!(),
        " FROM applications WHERE provider_pk = $1"
    ))
    .bind(pk);
    one_application(q, e).await
}

/// The one application a query finds, if any.
async fn one_application<'c, 'q, E>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    e: E,
) -> Result<Option<Application>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    q.fetch_optional(e)
        .await
        .ctx("read application")?
        .as_ref()
        .map(rows::application)
        .transpose()
}

pub(crate) async fn applications<'c, E>(e: E) -> Result<Vec<Application>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(concat!(
        "SELECT ",
        application_columns!(),
        " FROM applications ORDER BY slug"
    ))
    .fetch_all(e)
    .await
    .ctx("list applications")?;
    rows::all(rows, rows::application)
}

pub(crate) async fn bindings<'c, E>(e: E) -> Result<Vec<Binding>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query("SELECT application_id, group_id FROM bindings ORDER BY application_id, group_id")
        .fetch_all(e)
        .await
        .ctx("list bindings")?;
    rows::all(rows, rows::binding)
}

pub(crate) async fn recovery_keys<'c, E>(e: E) -> Result<Vec<RecoveryKey>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(concat!(
        "SELECT ",
        recovery_key_columns!(),
        " FROM recovery_keys ORDER BY created_at DESC, id"
    ))
    .fetch_all(e)
    .await
    .ctx("list recovery keys")?;
    rows::all(rows, rows::recovery_key)
}

pub(crate) async fn recovery_key_by_hash<'c, E>(e: E, token_hash: &str) -> Result<Option<RecoveryKey>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(concat!(
        "SELECT ",
        recovery_key_columns!(),
        " FROM recovery_keys WHERE token_hash = $1"
    ))
    .bind(token_hash.to_string())
    .fetch_optional(e)
    .await
    .ctx("read recovery key")?
    .as_ref()
    .map(rows::recovery_key)
    .transpose()
}

pub(crate) async fn api_tokens<'c, E>(e: E) -> Result<Vec<ApiToken>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(concat!(
        "SELECT ",
        api_token_columns!(),
        " FROM api_tokens ORDER BY identifier"
    ))
    .fetch_all(e)
    .await
    .ctx("list API tokens")?;
    rows::all(rows, rows::api_token)
}

/// On the path of every authenticated request: one lookup by the unique index.
pub(crate) async fn session_by_hash<'c, E>(e: E, token_hash: &str) -> Result<Option<Session>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions WHERE token_hash = $1"
    ))
    .bind(token_hash.to_string())
    .fetch_optional(e)
    .await
    .ctx("read session")?
    .as_ref()
    .map(rows::session)
    .transpose()
}

/// All sessions, or one user's; newest first.
pub(crate) async fn sessions<'c, E>(e: E, user_id: Option<Uuid>) -> Result<Vec<Session>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = match user_id {
        Some(id) => {
            sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id"
            ))
            .bind(id.to_string())
            .fetch_all(e)
            .await
        }
        None => {
            sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions ORDER BY created_at DESC, id"
            ))
            .fetch_all(e)
            .await
        }
    }
    .ctx("list sessions")?;
    rows::all(rows, rows::session)
}

pub(crate) async fn flow_by_hash<'c, E>(e: E, token_hash: &str) -> Result<Option<FlowRecord>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(concat!("SELECT ", flow_columns!(), " FROM flows WHERE token_hash = $1"))
        .bind(token_hash.to_string())
        .fetch_optional(e)
        .await
        .ctx("read flow")?
        .as_ref()
        .map(rows::flow)
        .transpose()
}

/// The records with these keys (those that exist), by key. The `IN` list is
/// assembled from fixed fragments and numbered placeholders only; every key is
/// bound. (sqlx's `QueryBuilder` cannot be used: over `Any` it writes `?`
/// placeholders, which PostgreSQL rejects.)
pub(crate) async fn throttle_records<'c, E>(e: E, keys: &[String]) -> Result<Vec<ThrottleRecord>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=keys.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        concat!(
            "SELECT ",
            throttle_columns!(),
            " FROM login_throttle WHERE key IN ({}) ORDER BY key"
        ),
        placeholders.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for key in keys {
        q = q.bind(key.clone());
    }
    let rows = q.fetch_all(e).await.ctx("read sign-in throttle")?;
    rows::all(rows, rows::throttle)
}

/// Records whose lock ended at or before `now`.
pub(crate) async fn ended_locks<'c, E>(e: E, now: Timestamp) -> Result<Vec<ThrottleRecord>, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let rows = sqlx::query(concat!(
        "SELECT ",
        throttle_columns!(),
        " FROM login_throttle WHERE locked_until IS NOT NULL AND locked_until <= $1 ORDER BY key"
    ))
    .bind(now.millis())
    .fetch_all(e)
    .await
    .ctx("list ended sign-in locks")?;
    rows::all(rows, rows::throttle)
}

pub(crate) async fn is_bootstrapped<'c, E>(e: E) -> Result<bool, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bootstrap")
        .fetch_one(e)
        .await
        .ctx("read bootstrap state")?;
    Ok(n > 0)
}

/// The chain's ends. `lock` (PostgreSQL only) takes the row lock that
/// serialises appenders; SQLite's write transactions are serialised already.
pub(crate) async fn chain_head<'c, E>(e: E, lock: bool) -> Result<ChainHead, StoreError>
where
    E: Executor<'c, Database = Any>,
{
    let sql = if lock {
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM event_chain WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM event_chain WHERE id = 1"
    };
    let row = sqlx::query(sql)
        .fetch_optional(e)
        .await
        .ctx("read event chain head")?
        .ok_or_else(|| StoreError::Corrupt("the event chain head row is missing".into()))?;
    rows::chain_head(&row)
}
