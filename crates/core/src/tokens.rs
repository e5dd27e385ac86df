//! API tokens: the single-object writes (blueprints and the bootstrap create
//! them today). Tokens are stored as SHA-256 only.

use serde_json::json;

use crate::error::{Error, Result, StoreError};
use crate::events::action;
use crate::model::ApiToken;
use crate::tx::Tx;

/// Stores `token`. `announced`: the caller's own event records it (the
/// bootstrap), so this writes none.
pub async fn insert(tx: &mut Tx<'_>, token: &ApiToken, announced: bool) -> Result<()> {
    tx.raw().insert_api_token(token).await.map_err(|e| match e {
        StoreError::Conflict(_) => Error::AlreadyExists {
            kind: "token",
            name: token.identifier.clone(),
        },
        other => Error::Store(other),
    })?;
    if !announced {
        tx.record(
            action::MODEL_CREATED,
            None,
            json!({"model": "token", "pk": token.id, "identifier": token.identifier, "intent": token.intent}),
        )
        .await?;
    }
    Ok(())
}

pub async fn delete(tx: &mut Tx<'_>, token: &ApiToken) -> Result<()> {
    tx.raw().delete_api_token(token.id).await?;
    tx.record(
        action::MODEL_DELETED,
        None,
        json!({"model": "token", "pk": token.id, "identifier": token.identifier}),
    )
    .await?;
    Ok(())
}
