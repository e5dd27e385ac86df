//! POST /application/o/revoke/ (RFC 7009). 200 whatever the token was (§2.2);
//! a client can revoke only its own tokens. Revoking a refresh token revokes
//! its grant, and with it every access token of the grant (§2.1).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gatehouse_core::Timestamp;
use gatehouse_crypto::sha256_hex;
use gatehouse_crypto::signing::UnverifiedJwt;
use gatehouse_oidc::revoke;

use super::reply::{JsonResult, directory, form, json};
use super::runtime::OidcRuntime;
use super::token::authenticate;
use crate::state::AppState;

pub async fn revoke_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let dir = directory(&state)?;
    let form = form(&headers, &body)?;
    let client = authenticate(&rt, dir, &headers, &form).await?;
    let (token_text, _hint) = revoke::parse(&form)?;
    let done = || Ok(json(StatusCode::OK, &serde_json::json!({})));
    if revoke::looks_like_jwt(&token_text) {
        // Signature checked (ignoring expiry: an expired token needs nothing).
        let ring = dir.keys().ring().await?;
        let now = dir.now();
        let Ok(jwt) = UnverifiedJwt::parse(&token_text) else {
            return done();
        };
        let Some(key) = jwt.kid().and_then(|k| ring.by_kid(k, now)) else {
            return done();
        };
        if jwt.verify_with(&token_text, key).is_err() {
            return done();
        }
        let claim = |k: &str| jwt.claims.get(k).and_then(serde_json::Value::as_str);
        if claim("client_id") != Some(client.client_id()) {
            return done();
        }
        if let (Some(jti), Some(exp)) = (claim("jti"), jwt.claims.get("exp").and_then(serde_json::Value::as_i64)) {
            let exp = Timestamp(exp.saturating_mul(1000));
            if exp > now {
                dir.oauth().revoke_access_token(jti, exp).await?;
            }
        }
        return done();
    }
    if let Some(r) = dir.oauth().refresh_token(&sha256_hex(token_text.as_bytes())).await?
        && let Some(grant) = dir.oauth().grant(r.grant_id).await?
        && grant.application_id == client.app.id
    {
        dir.oauth().revoke_grant(grant.id).await?;
    }
    done()
}
