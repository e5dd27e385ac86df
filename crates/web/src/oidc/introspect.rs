//! POST /application/o/introspect/ (RFC 7662). Only confidential clients may
//! ask, and only about their own tokens; everything else reads inactive.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gatehouse_crypto::sha256_hex;
use gatehouse_oidc::{OAuthError, claims, introspect, revoke};

use super::reply::{JsonResult, directory, form, json};
use super::runtime::OidcRuntime;
use super::token::authenticate;
use super::userinfo::live_access_token;
use crate::state::AppState;

pub async fn introspect_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let dir = directory(&state)?;
    let form = form(&headers, &body)?;
    let client = authenticate(&rt, dir, &headers, &form).await?;
    if client.config.is_public() {
        return Err(OAuthError::invalid_client("public clients cannot introspect tokens").into());
    }
    let (token_text, _hint) = revoke::parse(&form)?;
    let inactive = || Ok(json(StatusCode::OK, &introspect::inactive()));
    if revoke::looks_like_jwt(&token_text) {
        let Ok((t, grant)) = live_access_token(dir, &token_text).await? else {
            return inactive();
        };
        if t.client_id != client.client_id() {
            return inactive();
        }
        let username = match grant {
            Some(g) => dir.users().by_id(g.user_id).await?.map(|u| u.username),
            None => None,
        };
        return Ok(json(StatusCode::OK, &introspect::access_token(&t, username.as_deref())));
    }
    let now = dir.now();
    let Some(r) = dir.oauth().refresh_token(&sha256_hex(token_text.as_bytes())).await? else {
        return inactive();
    };
    let Some(grant) = dir.oauth().grant(r.grant_id).await?.filter(|g| g.is_live(now)) else {
        return inactive();
    };
    if r.used_at.is_some() || r.expires_at <= now || grant.application_id != client.app.id {
        return inactive();
    }
    let Some(user) = dir.users().by_id(grant.user_id).await?.filter(|u| u.is_active) else {
        return inactive();
    };
    Ok(json(
        StatusCode::OK,
        &introspect::refresh_token(
            &r.scopes,
            client.client_id(),
            &claims::subject(client.config.sub_mode, &user),
            &user.username,
            &client.issuer(&state.config.external_url),
            r.created_at.millis() / 1000,
            r.expires_at.millis() / 1000,
        ),
    ))
}
