//! Authorization codes, refresh tokens and the grants they belong to.
//!
//! A grant is one authorization of an application by a user; its codes,
//! refresh tokens and JWT access tokens (whose `jti` names the grant) live and
//! die with it. Spending a code or a refresh token a second time revokes the
//! grant — every token issued from it — and writes a `suspicious_request` event.
//! Issuing tokens writes no event (it is not a change to the directory).

use serde_json::json;
use uuid::Uuid;

use crate::audit::Audit;
use crate::context::OAuth;
use crate::error::{Error, Result};
use crate::model::{Application, User};
use crate::oauth::action;
use crate::oauth::model::{AuthCode, Grant, Redeemed, RefreshToken};

/// What spending an authorization code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// No such code.
    Unknown,
    /// Spent before: the grant was revoked now.
    Replayed,
    /// Spent now, by this caller.
    Redeemed { code: Box<AuthCode>, grant: Box<Grant> },
}

/// What rotating a refresh token found.
#[derive(Debug, Clone)]
pub enum RefreshRotation<E> {
    Unknown,
    /// Spent before: the grant was revoked now.
    Reused,
    /// The caller's decision refused it (it is spent all the same).
    Refused(E),
    /// Spent now; the new token is stored.
    Rotated {
        old: Box<RefreshToken>,
        grant: Box<Grant>,
        user: Box<User>,
    },
}

impl OAuth<'_> {
    /// Records an authorization (the grant and its code) with the
    /// `authorize_application` event, in one transaction.
    pub async fn record_authorization(
        self,
        audit: &Audit,
        app: &Application,
        user: &User,
        grant: &Grant,
        code: &AuthCode,
    ) -> Result<()> {
        let mut tx = self.store().begin().await?;
        tx.insert_grant(grant).await?;
        tx.insert_auth_code(code).await?;
        tx.append_event(
            audit.event(
                action::AUTHORIZE_APPLICATION,
                Some(&user.username),
                json!({"application": app.slug, "scopes": grant.scopes, "grant": grant.id, "flow": "authorization_code"}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spends an authorization code (by its hash). A replay revokes the grant.
    pub async fn redeem_code(self, audit: &Audit, code_hash: &str) -> Result<CodeRedemption> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let outcome = match tx.consume_auth_code(code_hash, now).await? {
            None => CodeRedemption::Unknown,
            Some(Redeemed::Fresh(code)) => {
                let grant = tx
                    .oauth_grant(code.grant_id)
                    .await?
                    .ok_or_else(|| Error::not_found("grant", code.grant_id.to_string()))?;
                CodeRedemption::Redeemed {
                    code: Box::new(code),
                    grant: Box::new(grant),
                }
            }
            Some(Redeemed::AlreadyUsed(code)) => {
                self.revoke_family(&mut *tx, audit, code.grant_id, "authorization code replay")
                    .await?;
                CodeRedemption::Replayed
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Stores a refresh token issued with a code or device exchange.
    pub async fn store_refresh_token(self, token: &RefreshToken) -> Result<()> {
        let mut tx = self.store().begin().await?;
        tx.insert_refresh_token(token).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spends a refresh token and, if `decide` accepts it (given the token, its
    /// grant and the grant's user as they are now), stores the new token it
    /// returns — all in one transaction. Reuse of a spent token revokes the grant.
    pub async fn rotate_refresh_token<E>(
        self,
        audit: &Audit,
        token_hash: &str,
        decide: impl FnOnce(&RefreshToken, &Grant, Option<&User>) -> std::result::Result<RefreshToken, E> + Send,
    ) -> Result<RefreshRotation<E>> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let old = match tx.consume_refresh_token(token_hash, now).await? {
            None => return Ok(RefreshRotation::Unknown),
            Some(Redeemed::AlreadyUsed(old)) => {
                self.revoke_family(&mut *tx, audit, old.grant_id, "refresh token reuse")
                    .await?;
                tx.commit().await?;
                return Ok(RefreshRotation::Reused);
            }
            Some(Redeemed::Fresh(old)) => old,
        };
        let grant = tx
            .oauth_grant(old.grant_id)
            .await?
            .ok_or_else(|| Error::not_found("grant", old.grant_id.to_string()))?;
        let user = tx.user_by_id(grant.user_id).await?;
        let outcome = match decide(&old, &grant, user.as_ref()) {
            Err(e) => RefreshRotation::Refused(e),
            Ok(new) => {
                tx.insert_refresh_token(&new).await?;
                match user {
                    Some(user) => RefreshRotation::Rotated {
                        old: Box::new(old),
                        grant: Box::new(grant),
                        user: Box::new(user),
                    },
                    None => return Err(Error::not_found("user", grant.user_id.to_string())),
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn revoke_family(
        self,
        tx: &mut dyn crate::store::WriteTx,
        audit: &Audit,
        grant_id: Uuid,
        reason: &str,
    ) -> Result<()> {
        let grant = tx.oauth_grant(grant_id).await?;
        let revoked = tx.revoke_grant(grant_id, self.now()).await?;
        let username = match &grant {
            Some(g) => tx.user_by_id(g.user_id).await?.map(|u| u.username),
            None => None,
        };
        tx.append_event(
            audit.event(
                action::SUSPICIOUS_REQUEST,
                username.as_deref(),
                json!({"reason": reason, "grant": grant_id, "tokens_revoked": revoked,
                       "application": grant.map(|g| g.application_id)}),
            ),
            self.now(),
        )
        .await?;
        Ok(())
    }

    pub async fn grant(self, id: Uuid) -> Result<Option<Grant>> {
        Ok(self.store().oauth_grant(id).await?)
    }

    pub async fn refresh_token(self, token_hash: &str) -> Result<Option<RefreshToken>> {
        Ok(self.store().refresh_token_by_hash(token_hash).await?)
    }

    /// A person's live grants (what their applications hold tokens of), newest first.
    pub async fn live_grants(self, user: &User) -> Result<Vec<Grant>> {
        let now = self.now();
        let mut grants = self.store().user_grants(user.id).await?;
        grants.retain(|g| g.is_live(now));
        Ok(grants)
    }

    /// An administrator ends one grant of `username` (its refresh tokens, and
    /// the access tokens checked against it). False when it was not live.
    pub async fn revoke_user_grant(self, audit: &Audit, username: &str, id: Uuid) -> Result<bool> {
        let mut tx = self.write(audit).await?;
        let user = crate::users::find(&mut tx, username).await?;
        let grant = tx.raw().oauth_grant(id).await?;
        let Some(grant) = grant.filter(|g| g.user_id == user.id) else {
            return Err(Error::not_found("grant", id.to_string()));
        };
        let now = tx.now();
        if !tx.raw().revoke_grant(grant.id, now).await? {
            return Ok(false);
        }
        tx.record(
            action::GRANT_REVOKED,
            Some(&user.username),
            json!({"grant": grant.id, "application": grant.application_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes a grant and so every token issued from it (RFC 7009 revocation
    /// of a refresh token). Not audited: a client ending its own tokens.
    pub async fn revoke_grant(self, id: Uuid) -> Result<bool> {
        let mut tx = self.store().begin().await?;
        let changed = tx.revoke_grant(id, self.now()).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Puts a JWT access token's id on the revocation list until it expires.
    pub async fn revoke_access_token(self, jti: &str, expires_at: crate::clock::Timestamp) -> Result<()> {
        let mut tx = self.store().begin().await?;
        tx.revoke_token(jti, expires_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn is_access_token_revoked(self, jti: &str) -> Result<bool> {
        Ok(self.store().is_token_revoked(jti).await?)
    }

    /// Housekeeping: expired OAuth records and signing keys past publication.
    pub async fn purge_expired(self) -> Result<u64> {
        let mut tx = self.store().begin().await?;
        let n = tx.delete_expired_oauth(self.now()).await?;
        tx.commit().await?;
        Ok(n + self.keys().purge_retired().await?)
    }
}
