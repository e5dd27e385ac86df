//! API tokens: the service (create, list, revoke, authenticate) and the
//! single-object writes it and blueprints are built from. Only the SHA-256 of
//! a key is stored; the key itself is shown once, at creation. A key is
//! looked up by its hash, so no comparison ever runs over the secret.

use gatehouse_crypto::{random_token, sha256_hex};
use serde_json::json;
use uuid::Uuid;

use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Tokens;
use crate::error::{Error, Result, StoreError};
use crate::events::action;
use crate::model::{ApiToken, User};
use crate::tx::Tx;

/// What a token is for, as authentik names it.
pub const INTENTS: &[&str] = &["api", "app_password"];

/// `last_used` is written at most this often per token.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// A token to create.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// `None`: made from the username and a random suffix.
    pub identifier: Option<String>,
    pub username: String,
    /// `None`: `api`.
    pub intent: Option<String>,
    pub description: String,
    /// `None`: the token never expires.
    pub expires_at: Option<Timestamp>,
}

impl Tokens<'_> {
    /// Creates a token and returns its key (shown once) with the record.
    pub async fn create(self, audit: &Audit, new: NewToken) -> Result<(String, ApiToken)> {
        let intent = new.intent.unwrap_or_else(|| "api".into());
        if !INTENTS.contains(&intent.as_str()) {
            return Err(Error::invalid("intent", "a token's intent is 'api' or 'app_password'"));
        }
        if new.expires_at.is_some_and(|t| t <= self.now()) {
            return Err(Error::invalid("expires", "the expiry must lie in the future"));
        }
        let mut tx = self.write(audit).await?;
        let user = crate::users::find(&mut tx, &new.username).await?;
        let identifier = match new.identifier {
            Some(i) => i,
            None => format!("{}-{}-{}", user.username, intent, random_token(4).to_lowercase()),
        };
        check_identifier(&identifier)?;
        let key = random_token(32);
        let token = ApiToken {
            id: Uuid::new_v4(),
            identifier,
            user_id: user.id,
            intent,
            token_hash: sha256_hex(key.as_bytes()),
            created_at: tx.now(),
            expires_at: new.expires_at,
            description: new.description,
            last_used: None,
        };
        insert(&mut tx, &token, false).await?;
        tx.commit().await?;
        Ok((key, token))
    }

    /// Every token, or one user's, by identifier.
    pub async fn list(self, user: Option<Uuid>) -> Result<Vec<ApiToken>> {
        let mut tokens = self.store().api_tokens().await?;
        tokens.retain(|t| user.is_none_or(|u| t.user_id == u));
        Ok(tokens)
    }

    pub async fn get(self, identifier: &str) -> Result<ApiToken> {
        self.list(None)
            .await?
            .into_iter()
            .find(|t| t.identifier == identifier)
            .ok_or_else(|| Error::not_found("token", identifier))
    }

    /// Deletes a token; with `owner`, only if it is theirs.
    pub async fn revoke(self, audit: &Audit, identifier: &str, owner: Option<Uuid>) -> Result<()> {
        let mut tx = self.write(audit).await?;
        let token = tx
            .raw()
            .api_tokens()
            .await?
            .into_iter()
            .find(|t| t.identifier == identifier && owner.is_none_or(|o| o == t.user_id))
            .ok_or_else(|| Error::not_found("token", identifier))?;
        delete(&mut tx, &token).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live token with this key and its (active) user; `None` for an
    /// unknown, expired or disabled one. Records the use (`last_used`) at
    /// most once a minute per token. A server caches a success until the next
    /// change anywhere (a revocation, a disabled user) and for at most the
    /// minute after it recorded the use.
    pub async fn authenticate(self, key: &str, intent: &str) -> Result<Option<(ApiToken, User)>> {
        let now = self.now();
        let hash = sha256_hex(key.as_bytes());
        let generation = self.feed().generation();
        let cached = self.caches().api_tokens.get(&hash, generation, now.millis());
        if let Some(hit) = cached.filter(|c| c.0.intent == intent && !c.0.is_expired(now)) {
            return Ok(Some((hit.0.clone(), hit.1.clone())));
        }
        let Some(mut token) = self.store().api_token_by_hash(&hash).await? else {
            return Ok(None);
        };
        if token.is_expired(now) || token.intent != intent {
            return Ok(None);
        }
        let Some(user) = self.store().user_by_id(token.user_id).await? else {
            return Ok(None);
        };
        if !user.is_active {
            return Ok(None);
        }
        let last = token.last_used.unwrap_or(Timestamp(i64::MIN));
        if now.millis().saturating_sub(last.millis()) >= TOUCH_EVERY_SECONDS * 1000 {
            self.store().touch_api_token(token.id, now).await?;
            token.last_used = Some(now);
        }
        let until = last_or(token.last_used, now).plus_seconds(TOUCH_EVERY_SECONDS).millis();
        let until = token.expires_at.map_or(until, |e| e.millis().min(until));
        self.caches()
            .api_tokens
            .insert(hash, generation, until, (token.clone(), user.clone()));
        Ok(Some((token, user)))
    }
}

fn last_or(t: Option<Timestamp>, now: Timestamp) -> Timestamp {
    t.unwrap_or(now)
}

/// authentik's identifiers are slugs: letters, digits, `-`, `_`, `.`.
fn check_identifier(identifier: &str) -> Result<()> {
    let ok = !identifier.is_empty()
        && identifier.len() <= 255
        && identifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "identifier",
            "use 1-255 letters, digits, '-', '_' or '.'",
        ))
    }
}

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
