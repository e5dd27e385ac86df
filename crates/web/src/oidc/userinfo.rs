//! GET/POST /application/o/userinfo/ (OIDC Core §5.3, RFC 6750).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use gatehouse_core::Directory;
use gatehouse_core::oauth::model::Grant;
use gatehouse_oidc::token::{self, AccessToken};
use gatehouse_oidc::{ErrorCode, OAuthError, claims, userinfo as oidc_userinfo};

use super::reply::{JsonResult, authorization, directory, form, json};
use super::runtime::OidcRuntime;
use crate::state::AppState;

/// A JWT access token Gatehouse issued that is still good: signed by a
/// published key, unexpired, not revoked, and (for a user's token) of a live
/// grant. `None` for anything else.
pub(super) async fn live_access_token(
    dir: &Directory,
    token_text: &str,
) -> Result<Result<(AccessToken, Option<Grant>), OAuthError>, gatehouse_core::Error> {
    let ring = dir.keys().ring().await?;
    let now = dir.now();
    let t = match token::verify_access_token(token_text, |kid| ring.by_kid(kid, now).cloned(), now) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let invalid = || OAuthError::new(ErrorCode::InvalidToken, "the token was revoked");
    if dir.oauth().is_access_token_revoked(&t.jti).await? {
        return Ok(Err(invalid()));
    }
    let grant = match t.grant {
        Some(id) => match dir.oauth().grant(id).await?.filter(|g| g.is_live(now)) {
            Some(g) => Some(g),
            None => return Ok(Err(invalid())),
        },
        None => None,
    };
    Ok(Ok((t, grant)))
}

pub async fn userinfo(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let dir = directory(&state)?;
    let body_form = if method == Method::POST && !body.is_empty() {
        Some(form(&headers, &body)?)
    } else {
        None
    };
    let token_text = match oidc_userinfo::bearer(authorization(&headers), body_form.as_ref()) {
        Ok(t) => t,
        Err(Some(e)) => return Err(e.into()),
        Err(None) => {
            // RFC 6750 §3.1: no token, no error code.
            let mut res = StatusCode::UNAUTHORIZED.into_response();
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gatehouse\""),
            );
            return Ok(res);
        }
    };
    let (t, grant) = live_access_token(dir, &token_text).await??;
    oidc_userinfo::check_scope(&t)?;
    let invalid = || OAuthError::new(ErrorCode::InvalidToken, "the token no longer speaks for a user");
    let grant = grant.ok_or_else(invalid)?;
    let client = rt.client(dir, &t.client_id).await?.ok_or_else(invalid)?;
    let user = dir
        .users()
        .by_id(grant.user_id)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(invalid)?;
    let access = dir.access().cached_snapshot(client.app.id).await?;
    let (groups, allowed) = access.decide(&user, client.app.id);
    if !allowed {
        return Err(invalid().into());
    }
    let groups: Vec<String> = groups.into_iter().map(|g| g.name.clone()).collect();
    Ok(json(
        StatusCode::OK,
        &claims::userinfo(&client.config, &user, &groups, &t.scopes),
    ))
}
