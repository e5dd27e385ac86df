//! Rows → models, one function per model, plus the column lists they read.
//!
//! Values are stored portably (see the migrations): UUIDs as text, timestamps as
//! integer milliseconds, booleans as 0/1 integers, JSON as text. Anything that
//! does not parse back is reported as [`StoreError::Corrupt`].

use gatehouse_core::{
    ApiToken, Application, Binding, ChainHead, Event, FlowRecord, Group, Membership, ProviderKind, RecoveryKey,
    Session, StoreError, ThrottleRecord, Timestamp, User,
};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::decode::Decode;
use sqlx::{Any, Row, Type};
use uuid::Uuid;

/// Columns [`user`] reads, in `SELECT` order.
macro_rules! user_columns {
    () => {
        "id, pk, username, email, name, is_active, password_hash, attributes, created_at, last_login, password_changed_at"
    };
}
macro_rules! group_columns {
    () => {
        "id, pk, name, is_superuser, parent_id, attributes, created_at"
    };
}
macro_rules! application_columns {
    () => {
        "id, slug, name, launch_url, provider, provider_config, provider_key, provider_pk, provider_name, created_at"
    };
}
macro_rules! recovery_key_columns {
    () => {
        "id, user_id, token_hash, created_at, expires_at, used_at"
    };
}
macro_rules! api_token_columns {
    () => {
        "id, identifier, user_id, intent, token_hash, created_at, expires_at, description, last_used"
    };
}
macro_rules! event_columns {
    () => {
        "seq, id, at, action, actor, username, client_ip, context, prev_hash, hash"
    };
}
macro_rules! session_columns {
    () => {
        "id, user_id, token_hash, csrf_token, created_at, last_seen, expires_at, client_ip, user_agent, amr"
    };
}
macro_rules! flow_columns {
    () => {
        "id, token_hash, state, created_at, expires_at"
    };
}
macro_rules! throttle_columns {
    () => {
        "key, failures, window_start, last_failure, locked_until"
    };
}
pub(crate) use {
    api_token_columns, application_columns, event_columns, flow_columns, group_columns, recovery_key_columns,
    session_columns, throttle_columns, user_columns,
};

fn get<'r, T: Decode<'r, Any> + Type<Any>>(row: &'r AnyRow, col: &str) -> Result<T, StoreError> {
    row.try_get(col)
        .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

fn uuid(row: &AnyRow, col: &str) -> Result<Uuid, StoreError> {
    let text: String = get(row, col)?;
    Uuid::parse_str(&text).map_err(|_| StoreError::Corrupt(format!("column {col} is not a UUID")))
}

fn opt_uuid(row: &AnyRow, col: &str) -> Result<Option<Uuid>, StoreError> {
    let text: Option<String> = get(row, col)?;
    text.map(|t| Uuid::parse_str(&t).map_err(|_| StoreError::Corrupt(format!("column {col} is not a UUID"))))
        .transpose()
}

fn json(row: &AnyRow, col: &str) -> Result<Value, StoreError> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(format!("column {col} is not valid JSON")))
}

fn flag(row: &AnyRow, col: &str) -> Result<bool, StoreError> {
    Ok(get::<i64>(row, col)? != 0)
}

fn ts(row: &AnyRow, col: &str) -> Result<Timestamp, StoreError> {
    get::<i64>(row, col).map(Timestamp)
}

fn opt_ts(row: &AnyRow, col: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp))
}

/// JSON as stored.
pub(crate) fn json_text(v: &Value) -> String {
    v.to_string()
}

/// A list of strings as stored: a JSON array.
pub(crate) fn json_list_text(list: &[String]) -> String {
    Value::from(list.to_vec()).to_string()
}

fn json_list(row: &AnyRow, col: &str) -> Result<Vec<String>, StoreError> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(format!("column {col} is not a JSON list of strings")))
}

/// Booleans as stored.
pub(crate) fn flag_value(b: bool) -> i16 {
    i16::from(b)
}

pub(crate) fn user(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: uuid(row, "id")?,
        pk: get(row, "pk")?,
        username: get(row, "username")?,
        email: get(row, "email")?,
        name: get(row, "name")?,
        is_active: flag(row, "is_active")?,
        password_hash: get(row, "password_hash")?,
        attributes: json(row, "attributes")?,
        created_at: ts(row, "created_at")?,
        last_login: opt_ts(row, "last_login")?,
        password_changed_at: opt_ts(row, "password_changed_at")?,
    })
}

pub(crate) fn group(row: &AnyRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: uuid(row, "id")?,
        pk: get(row, "pk")?,
        name: get(row, "name")?,
        is_superuser: flag(row, "is_superuser")?,
        parent_id: opt_uuid(row, "parent_id")?,
        attributes: json(row, "attributes")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(crate) fn membership(row: &AnyRow) -> Result<Membership, StoreError> {
    Ok(Membership {
        user_id: uuid(row, "user_id")?,
        group_id: uuid(row, "group_id")?,
    })
}

pub(crate) fn application(row: &AnyRow) -> Result<Application, StoreError> {
    let provider: Option<String> = get(row, "provider")?;
    let provider = match provider {
        Some(p) => Some(
            ProviderKind::parse(&p)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown provider kind '{p}' in applications.provider")))?,
        ),
        None => None,
    };
    Ok(Application {
        id: uuid(row, "id")?,
        slug: get(row, "slug")?,
        name: get(row, "name")?,
        launch_url: get(row, "launch_url")?,
        provider,
        provider_config: json(row, "provider_config")?,
        provider_key: get(row, "provider_key")?,
        provider_pk: get(row, "provider_pk")?,
        provider_name: get(row, "provider_name")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(crate) fn binding(row: &AnyRow) -> Result<Binding, StoreError> {
    Ok(Binding {
        application_id: uuid(row, "application_id")?,
        group_id: uuid(row, "group_id")?,
    })
}

pub(crate) fn recovery_key(row: &AnyRow) -> Result<RecoveryKey, StoreError> {
    Ok(RecoveryKey {
        id: uuid(row, "id")?,
        user_id: uuid(row, "user_id")?,
        token_hash: get(row, "token_hash")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        used_at: opt_ts(row, "used_at")?,
    })
}

pub(crate) fn api_token(row: &AnyRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: uuid(row, "id")?,
        identifier: get(row, "identifier")?,
        user_id: uuid(row, "user_id")?,
        intent: get(row, "intent")?,
        token_hash: get(row, "token_hash")?,
        created_at: ts(row, "created_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        description: get(row, "description")?,
        last_used: opt_ts(row, "last_used")?,
    })
}

pub(crate) fn session(row: &AnyRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: uuid(row, "id")?,
        user_id: uuid(row, "user_id")?,
        token_hash: get(row, "token_hash")?,
        csrf_token: get(row, "csrf_token")?,
        created_at: ts(row, "created_at")?,
        last_seen: ts(row, "last_seen")?,
        expires_at: ts(row, "expires_at")?,
        client_ip: get(row, "client_ip")?,
        user_agent: get(row, "user_agent")?,
        amr: json_list(row, "amr")?,
    })
}

pub(crate) fn flow(row: &AnyRow) -> Result<FlowRecord, StoreError> {
    Ok(FlowRecord {
        id: uuid(row, "id")?,
        token_hash: get(row, "token_hash")?,
        state: json(row, "state")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
    })
}

pub(crate) fn throttle(row: &AnyRow) -> Result<ThrottleRecord, StoreError> {
    Ok(ThrottleRecord {
        key: get(row, "key")?,
        failures: get(row, "failures")?,
        window_start: ts(row, "window_start")?,
        last_failure: ts(row, "last_failure")?,
        locked_until: opt_ts(row, "locked_until")?,
    })
}

pub(crate) fn event(row: &AnyRow) -> Result<Event, StoreError> {
    Ok(Event {
        seq: get(row, "seq")?,
        id: uuid(row, "id")?,
        at: ts(row, "at")?,
        action: get(row, "action")?,
        actor: get(row, "actor")?,
        user: get(row, "username")?,
        client_ip: get(row, "client_ip")?,
        context: json(row, "context")?,
        prev_hash: get(row, "prev_hash")?,
        hash: get(row, "hash")?,
    })
}

pub(crate) fn chain_head(row: &AnyRow) -> Result<ChainHead, StoreError> {
    Ok(ChainHead {
        head_seq: get(row, "head_seq")?,
        head_hash: get(row, "head_hash")?,
        anchor_seq: get(row, "anchor_seq")?,
        anchor_hash: get(row, "anchor_hash")?,
    })
}

/// `(seq, hash)` of an event row.
pub(crate) fn seq_and_hash(row: &AnyRow) -> Result<(i64, String), StoreError> {
    Ok((get(row, "seq")?, get(row, "hash")?))
}

/// Converts every row, stopping at the first that does not.
pub(crate) fn all<T>(rows: Vec<AnyRow>, convert: fn(&AnyRow) -> Result<T, StoreError>) -> Result<Vec<T>, StoreError> {
    rows.iter().map(convert).collect()
}
