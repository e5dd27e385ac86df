//! POST /application/o/token/: client authentication, then one of four
//! grants. Decisions are `gatehouse_oidc::token`'s; records `gatehouse_core`'s.
//!
//! `client_credentials` touches no database on a warm cache (client, secret
//! key and signing key are in memory; JWT access tokens have no row), so its
//! cost is the signature. Signing runs inline: one RS256 signature is well
//! under a millisecond on aws-lc, less than a hop to the blocking pool costs.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gatehouse_core::oauth::grants::{CodeRedemption, RefreshRotation};
use gatehouse_core::oauth::model::{Grant, RefreshToken};
use gatehouse_core::{Directory, User};
use gatehouse_crypto::{random_token, sha256_hex};
use gatehouse_oidc::claims::{self, Principal, TokenFacts};
use gatehouse_oidc::client::{self as oidc_client, AuthCheck};
use gatehouse_oidc::device::{self, Poll};
use gatehouse_oidc::params::Params;
use gatehouse_oidc::token::{self, TokenRequest};
use gatehouse_oidc::{Client, OAuthError};

use super::reply::{JsonResult, Reply, authorization, directory, form, json};
use super::runtime::OidcRuntime;
use crate::request::Caller;
use crate::state::AppState;

/// Authenticates the calling client (RFC 6749 §2.3): Basic, post or none.
pub(super) async fn authenticate(
    rt: &OidcRuntime,
    dir: &Directory,
    headers: &HeaderMap,
    form: &Params,
) -> Result<Arc<Client>, Reply> {
    let presented = oidc_client::presented(authorization(headers), form)?;
    let client = rt
        .client(dir, &presented.client_id)
        .await?
        .ok_or_else(oidc_client::failed)?;
    match oidc_client::check(&client, &presented)? {
        AuthCheck::Public => {}
        AuthCheck::Secret { presented, stored } => {
            if !dir.oauth().client_secret_matches(presented, stored).await? {
                return Err(oidc_client::failed().into());
            }
        }
    }
    Ok(client)
}

pub async fn token_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let dir = directory(&state)?;
    let form = form(&headers, &body)?;
    let client = authenticate(&rt, dir, &headers, &form).await?;
    let issuer = client.issuer(&state.config.external_url);
    let audit = caller.anonymous();
    match token::parse(&form)? {
        TokenRequest::ClientCredentials { scope } => {
            let scopes = token::client_credentials_scopes(&client, &scope)?;
            let key = dir.keys().signing_key(client.config.signing_alg).await?;
            let facts = TokenFacts {
                issuer: &issuer,
                client: &client,
                principal: Principal::Client,
                scopes: &scopes,
                now: dir.now(),
                jti: claims::jti(None, &random_token(16)),
                nonce: None,
            };
            let minted = token::mint(&key, &facts)?;
            Ok(json(StatusCode::OK, &token::response(&minted, &scopes, None)))
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let (code, grant) = match dir.oauth().redeem_code(&audit, &sha256_hex(code.as_bytes())).await? {
                CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("unknown authorization code").into()),
                CodeRedemption::Replayed => {
                    return Err(OAuthError::invalid_grant(
                        "the authorization code was already used; the tokens issued with it are revoked",
                    )
                    .into());
                }
                CodeRedemption::Redeemed { code, grant } => (code, grant),
            };
            token::check_code(
                &client,
                &code,
                &grant,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                dir.now(),
            )?;
            issue_for_grant(dir, &client, &issuer, &grant, grant.nonce.as_deref()).await
        }
        TokenRequest::RefreshToken { refresh_token, scope } => {
            refresh(dir, &client, &issuer, &audit, &refresh_token, scope).await
        }
        TokenRequest::DeviceCode { device_code } => {
            let now = dir.now();
            let polled = dir
                .oauth()
                .poll_device_code(&sha256_hex(device_code.as_bytes()), |code, _| {
                    device::poll(code, &client, now)
                })
                .await?;
            match polled {
                None => Err(OAuthError::invalid_grant("unknown device code").into()),
                Some((Poll::Refuse(e), _)) => Err(e.into()),
                Some((Poll::Issue, Some(grant))) => issue_for_grant(dir, &client, &issuer, &grant, None).await,
                Some((Poll::Issue, None)) => Err(OAuthError::server_error().into()),
            }
        }
    }
}

/// The grant's user, if they are still active and may still use the client.
async fn user_with_access(dir: &Directory, client: &Client, user_id: uuid::Uuid) -> Result<(User, Vec<String>), Reply> {
    let user = dir
        .users()
        .by_id(user_id)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(|| OAuthError::invalid_grant("the user is disabled or gone"))?;
    let access = dir.access().cached_snapshot(client.app.id).await?;
    let (groups, allowed) = access.decide(&user, client.app.id);
    if !allowed {
        return Err(OAuthError::invalid_grant("the user may no longer use this application").into());
    }
    let groups = groups.into_iter().map(|g| g.name.clone()).collect();
    Ok((user, groups))
}

/// Tokens for a fresh grant (code or device exchange): access token, ID token
/// with `openid`, and a refresh token with `offline_access`.
async fn issue_for_grant(
    dir: &Directory,
    client: &Client,
    issuer: &str,
    grant: &Grant,
    nonce: Option<&str>,
) -> JsonResult {
    let (user, groups) = user_with_access(dir, client, grant.user_id).await?;
    let now = dir.now();
    let refresh = if token::issues_refresh_token(&grant.scopes) {
        let plain = random_token(32);
        dir.oauth()
            .store_refresh_token(&RefreshToken {
                token_hash: sha256_hex(plain.as_bytes()),
                grant_id: grant.id,
                scopes: grant.scopes.clone(),
                created_at: now,
                expires_at: now
                    .plus_seconds(client.config.refresh_token_validity_secs)
                    .min(grant.expires_at),
                used_at: None,
            })
            .await?;
        Some(plain)
    } else {
        None
    };
    respond(
        dir,
        client,
        issuer,
        grant,
        &user,
        &groups,
        &grant.scopes,
        nonce,
        refresh.as_deref(),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn respond(
    dir: &Directory,
    client: &Client,
    issuer: &str,
    grant: &Grant,
    user: &User,
    groups: &[String],
    scopes: &[String],
    nonce: Option<&str>,
    refresh: Option<&str>,
) -> JsonResult {
    let key = dir.keys().signing_key(client.config.signing_alg).await?;
    let facts = TokenFacts {
        issuer,
        client,
        principal: Principal::User {
            user,
            groups,
            auth_time: grant.auth_time,
            amr: &grant.amr,
            session_id: grant.session_id,
        },
        scopes,
        now: dir.now(),
        jti: claims::jti(Some(grant.id), &random_token(16)),
        nonce,
    };
    let minted = token::mint(&key, &facts)?;
    Ok(json(StatusCode::OK, &token::response(&minted, scopes, refresh)))
}

async fn refresh(
    dir: &Directory,
    client: &Client,
    issuer: &str,
    audit: &gatehouse_core::Audit,
    refresh_token: &str,
    asked: Option<Vec<String>>,
) -> JsonResult {
    let access = dir.access().cached_snapshot(client.app.id).await?;
    let now = dir.now();
    let new_plain = random_token(32);
    let new_hash = sha256_hex(new_plain.as_bytes());
    let mut granted_scopes = Vec::new();
    let rotation = dir
        .oauth()
        .rotate_refresh_token(audit, &sha256_hex(refresh_token.as_bytes()), |old, grant, user| {
            let (active, allowed) = user.map_or((false, false), |u| (u.is_active, access.decide(u, client.app.id).1));
            let scopes = token::check_refresh(client, old, grant, active, allowed, asked.as_deref(), now)?;
            granted_scopes = scopes.clone();
            Ok::<_, OAuthError>(token::next_refresh_token(old, grant, new_hash, scopes, client, now))
        })
        .await?;
    match rotation {
        RefreshRotation::Unknown => Err(OAuthError::invalid_grant("unknown refresh token").into()),
        RefreshRotation::Reused => Err(OAuthError::invalid_grant(
            "the refresh token was already used; every token of its grant is revoked",
        )
        .into()),
        RefreshRotation::Refused(e) => Err(e.into()),
        RefreshRotation::Rotated { grant, user, .. } => {
            let groups: Vec<String> = access
                .decide(&user, client.app.id)
                .0
                .into_iter()
                .map(|g| g.name.clone())
                .collect();
            respond(
                dir,
                client,
                issuer,
                &grant,
                &user,
                &groups,
                &granted_scopes,
                None,
                Some(&new_plain),
            )
            .await
        }
    }
}
