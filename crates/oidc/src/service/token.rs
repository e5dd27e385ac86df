//! POST /application/o/token/: client authentication, then one of four grants.
//! Every grant that speaks for a person asks the gate again with the grant's
//! `amr` (the sign-in it came from): access may have ended, or the
//! application may have come to require a second factor, since it was given.
//!
//! `client_credentials` touches no database on a warm cache (client, secret
//! key and signing key are in memory; JWT access tokens have no row), so its
//! cost is the signature. Signing runs inline: one RS256 signature is well
//! under a millisecond on aws-lc, less than a hop to the blocking pool costs.

use gatehouse_core::access::{Ask, Consent};
use gatehouse_core::oauth::grants::{CodeRedemption, RefreshRotation};
use gatehouse_core::oauth::model::Grant;
use gatehouse_core::{Audit, User};
use gatehouse_crypto::{random_token, sha256_hex};
use serde_json::Value;

use super::{Failure, Provider};
use crate::access::without_interaction;
use crate::claims::{self, Principal, TokenFacts};
use crate::client::Client;
use crate::device::{self, Poll};
use crate::error::OAuthError;
use crate::grant;
use crate::params::Params;
use crate::token::{self, TokenRequest};

/// The signed-in facts a token response needs about its user.
struct Holder<'a> {
    user: &'a User,
    groups: &'a [String],
}

impl Provider {
    /// One token request: the JSON body of the answer.
    pub async fn token(&self, authorization: Option<&str>, form: &Params, audit: &Audit) -> Result<Value, Failure> {
        let client = self.authenticate(authorization, form).await?;
        match token::parse(form)? {
            TokenRequest::ClientCredentials { scope } => self.client_credentials(&client, &scope).await,
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.exchange_code(&client, audit, &code, redirect_uri.as_deref(), code_verifier.as_deref())
                    .await
            }
            TokenRequest::RefreshToken { refresh_token, scope } => {
                self.refresh(&client, audit, &refresh_token, scope).await
            }
            TokenRequest::DeviceCode { device_code } => self.poll_device(&client, &device_code).await,
        }
    }

    /// No user is involved: the client acts for itself, so the gate (which
    /// decides for a person) has nobody to ask. Public clients are refused.
    async fn client_credentials(&self, client: &Client, asked: &[String]) -> Result<Value, Failure> {
        let scopes = token::client_credentials_scopes(client, asked)?;
        let key = self.dir.keys().signing_key(client.config.signing_alg).await?;
        let issuer = self.issuer(client);
        let facts = TokenFacts {
            issuer: &issuer,
            client,
            principal: Principal::Client,
            scopes: &scopes,
            now: self.dir.now(),
            jti: claims::jti(None, &random_token(16)),
            nonce: None,
        };
        let minted = token::mint(&key, &facts)?;
        Ok(token::response(&minted, &scopes, None))
    }

    async fn exchange_code(
        &self,
        client: &Client,
        audit: &Audit,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> Result<Value, Failure> {
        let (code, grant) = match self
            .dir
            .oauth()
            .redeem_code(audit, &sha256_hex(code.as_bytes()))
            .await?
        {
            CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("unknown authorization code").into()),
            CodeRedemption::Replayed => {
                return Err(OAuthError::invalid_grant(
                    "the authorization code was already used; the tokens issued with it are revoked",
                )
                .into());
            }
            CodeRedemption::Redeemed { code, grant } => (code, grant),
        };
        token::check_code(client, &code, &grant, redirect_uri, code_verifier, self.dir.now())?;
        self.issue_for_grant(client, &grant, grant.nonce.as_deref()).await
    }

    async fn poll_device(&self, client: &Client, device_code: &str) -> Result<Value, Failure> {
        let now = self.dir.now();
        let polled = self
            .dir
            .oauth()
            .poll_device_code(&sha256_hex(device_code.as_bytes()), |code, _| {
                device::poll(code, client, now)
            })
            .await?;
        match polled {
            None => Err(OAuthError::invalid_grant("unknown device code").into()),
            Some((Poll::Refuse(e), _)) => Err(e.into()),
            Some((Poll::Issue, Some(grant))) => self.issue_for_grant(client, &grant, None).await,
            Some((Poll::Issue, None)) => Err(OAuthError::server_error().into()),
        }
    }

    /// The grant's user, if the grant is live and the gate still lets them
    /// have tokens for this client with the grant's `amr`; with their groups.
    async fn gate_grant(&self, client: &Client, grant: &Grant) -> Result<(User, Vec<String>), Failure> {
        if !grant.is_live(self.dir.now()) {
            return Err(OAuthError::invalid_grant("the grant was revoked or has expired").into());
        }
        let user = self
            .dir
            .users()
            .by_id(grant.user_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("the user is gone"))?;
        let verdict = self
            .dir
            .access()
            .check(&user, &grant.amr, client.app.id, Consent::NotAsked)
            .await?;
        let groups = without_interaction(verdict).map_err(OAuthError::invalid_grant)?;
        Ok((user, groups))
    }

    /// Tokens for a fresh grant (code or device exchange): access token, ID
    /// token with `openid`, and a refresh token with `offline_access`.
    async fn issue_for_grant(&self, client: &Client, grant: &Grant, nonce: Option<&str>) -> Result<Value, Failure> {
        let (user, groups) = self.gate_grant(client, grant).await?;
        let refresh = if token::issues_refresh_token(&grant.scopes) {
            let (plain, record) = grant::first_refresh_token(client, grant, self.dir.now());
            self.dir.oauth().store_refresh_token(&record).await?;
            Some(plain)
        } else {
            None
        };
        let holder = Holder {
            user: &user,
            groups: &groups,
        };
        self.respond(client, grant, &holder, &grant.scopes, nonce, refresh.as_deref())
            .await
    }

    async fn respond(
        &self,
        client: &Client,
        grant: &Grant,
        holder: &Holder<'_>,
        scopes: &[String],
        nonce: Option<&str>,
        refresh: Option<&str>,
    ) -> Result<Value, Failure> {
        let key = self.dir.keys().signing_key(client.config.signing_alg).await?;
        let issuer = self.issuer(client);
        let facts = TokenFacts {
            issuer: &issuer,
            client,
            principal: Principal::User {
                user: holder.user,
                groups: holder.groups,
                auth_time: grant.auth_time,
                amr: &grant.amr,
                session_id: grant.session_id,
            },
            scopes,
            now: self.dir.now(),
            jti: claims::jti(Some(grant.id), &random_token(16)),
            nonce,
        };
        let minted = token::mint(&key, &facts)?;
        Ok(token::response(&minted, scopes, refresh))
    }

    /// Rotates a refresh token. The gate is asked inside the rotation's
    /// transaction, over the cached access snapshot, with the grant's `amr`.
    async fn refresh(
        &self,
        client: &Client,
        audit: &Audit,
        refresh_token: &str,
        asked: Option<Vec<String>>,
    ) -> Result<Value, Failure> {
        let snapshot = self.dir.access().cached_snapshot(client.app.id).await?;
        let now = self.dir.now();
        let new_plain = random_token(32);
        let new_hash = sha256_hex(new_plain.as_bytes());
        let mut granted: Option<(Vec<String>, Vec<String>)> = None;
        let rotation = self
            .dir
            .oauth()
            .rotate_refresh_token(audit, &sha256_hex(refresh_token.as_bytes()), |old, grant, user| {
                let access = match user {
                    Some(user) => without_interaction(snapshot.gate(&Ask {
                        user,
                        amr: &grant.amr,
                        app_id: client.app.id,
                        consent: Consent::NotAsked,
                    })),
                    None => Err("the user is gone"),
                };
                let scopes = token::check_refresh(
                    client,
                    old,
                    grant,
                    access.as_ref().map(|_| ()).map_err(|e| *e),
                    asked.as_deref(),
                    now,
                )?;
                granted = Some((scopes.clone(), access.unwrap_or_default()));
                Ok::<_, OAuthError>(token::next_refresh_token(old, grant, new_hash, scopes, client, now))
            })
            .await?;
        match (rotation, granted) {
            (RefreshRotation::Unknown, _) => Err(OAuthError::invalid_grant("unknown refresh token").into()),
            (RefreshRotation::Reused, _) => Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of its grant is revoked",
            )
            .into()),
            (RefreshRotation::Refused(e), _) => Err(e.into()),
            (RefreshRotation::Rotated { grant, user, .. }, Some((scopes, groups))) => {
                let holder = Holder {
                    user: &user,
                    groups: &groups,
                };
                self.respond(client, &grant, &holder, &scopes, None, Some(&new_plain))
                    .await
            }
            (RefreshRotation::Rotated { .. }, None) => Err(OAuthError::server_error().into()),
        }
    }
}
