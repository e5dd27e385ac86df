//! Whether a token still speaks for someone: the one check behind
//! introspection (RFC 7662) and userinfo (OIDC Core §5.3).
//!
//! An access token is live when its signature is by a published key, it has
//! not expired, its id is not on the revocation list, its client still
//! exists, and, when it speaks for a person, its grant is live, the person
//! exists and the gate still lets them have tokens for the client with the
//! grant's `amr` (a disabled user, one removed from the bound groups, or an
//! application that came to require a second factor all end it). A refresh
//! token is live when unused, unexpired, and its grant passes the same checks.

use std::sync::Arc;

use gatehouse_core::User;
use gatehouse_core::access::Consent;
use gatehouse_core::oauth::model::{Grant, RefreshToken};
use gatehouse_crypto::sha256_hex;

use super::Provider;
use crate::access::without_interaction;
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::token::{self, AccessToken};

/// The person a live token speaks for.
#[derive(Debug, Clone)]
pub struct Subject {
    pub grant: Grant,
    pub user: User,
    /// Their groups, by name, as the gate found them.
    pub groups: Vec<String>,
}

/// A live access token, its client, and its person (none for
/// `client_credentials`).
#[derive(Debug, Clone)]
pub struct Live {
    pub token: AccessToken,
    pub client: Arc<Client>,
    pub subject: Option<Subject>,
}

fn dead(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, description)
}

type Checked<T> = gatehouse_core::Result<Result<T, OAuthError>>;

impl Provider {
    /// The liveness of a JWT access token (see the module docs); the error
    /// says why not, as `invalid_token`.
    pub async fn live_access_token(&self, text: &str) -> Checked<Live> {
        let ring = self.dir.keys().ring().await?;
        let now = self.dir.now();
        let t = match token::verify_access_token(text, |kid| ring.by_kid(kid, now).cloned(), now) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        if self.dir.oauth().is_access_token_revoked(&t.jti).await? {
            return Ok(Err(dead("the token was revoked")));
        }
        let Some(client) = self.client(&t.client_id).await? else {
            return Ok(Err(dead("the token's client is gone")));
        };
        let subject = match t.grant {
            None => None,
            Some(id) => match self.live_grant(id, &client).await? {
                Ok(s) => Some(s),
                Err(e) => return Ok(Err(e)),
            },
        };
        Ok(Ok(Live {
            token: t,
            client,
            subject,
        }))
    }

    /// The liveness of a refresh token of `client`: the record and its person.
    pub async fn live_refresh_token(&self, text: &str, client: &Arc<Client>) -> Checked<(RefreshToken, Subject)> {
        let now = self.dir.now();
        let Some(r) = self.dir.oauth().refresh_token(&sha256_hex(text.as_bytes())).await? else {
            return Ok(Err(dead("unknown token")));
        };
        if r.used_at.is_some() || r.expires_at <= now {
            return Ok(Err(dead("the token was used or has expired")));
        }
        Ok(self.live_grant(r.grant_id, client).await?.map(|s| (r, s)))
    }

    /// A grant of `client` that is live, with a person the gate still lets in.
    async fn live_grant(&self, grant_id: uuid::Uuid, client: &Client) -> Checked<Subject> {
        let now = self.dir.now();
        let Some(grant) = self
            .dir
            .oauth()
            .grant(grant_id)
            .await?
            .filter(|g| g.is_live(now) && g.application_id == client.app.id)
        else {
            return Ok(Err(dead("the token was revoked")));
        };
        let Some(user) = self.dir.users().by_id(grant.user_id).await? else {
            return Ok(Err(dead("the token no longer speaks for a user")));
        };
        let verdict = self
            .dir
            .access()
            .check(&user, &grant.amr, client.app.id, Consent::NotAsked)
            .await?;
        Ok(match without_interaction(verdict) {
            Ok(groups) => Ok(Subject { grant, user, groups }),
            Err(_) => Err(dead("the token no longer speaks for a user")),
        })
    }
}
