//! Discovery and JWKS: served from memory (no database round trip on a hit),
//! cacheable by clients for a few minutes — shorter than the default key
//! activation delay, so a rotated key reaches them before it signs.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_oidc::{ErrorCode, OAuthError};

use super::reply::{JsonResult, Reply};
use super::runtime::OidcRuntime;
use crate::state::AppState;

/// A shared document as a body without copying it.
struct Shared(Arc<str>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn public_json(body: Arc<str>, max_age: &'static str) -> Response {
    let mut res = axum::body::Bytes::from_owner(Shared(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

fn starting() -> Reply {
    Reply(OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "the server is starting",
    ))
}

fn not_found() -> Response {
    super::reply::json(
        StatusCode::NOT_FOUND,
        &OAuthError::new(
            ErrorCode::InvalidRequest,
            "no OpenID Connect application at this address",
        )
        .to_json(),
    )
}

pub async fn discovery_get(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    Path(slug): Path<String>,
) -> JsonResult {
    let dir = state.directory().ok_or_else(starting)?;
    let Some(client) = rt.client_by_slug(dir, &slug).await? else {
        return Ok(not_found());
    };
    Ok(public_json(
        rt.discovery(&state.config.external_url, &client),
        "public, max-age=300",
    ))
}

pub async fn jwks_get(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    Path(slug): Path<String>,
) -> JsonResult {
    let dir = state.directory().ok_or_else(starting)?;
    // OIDC applications sign with their configured algorithm; forward-auth
    // applications point `X-authentik-meta-jwks` here for their ES256 identity JWT.
    let alg = match rt.client_by_slug(dir, &slug).await? {
        Some(client) => client.config.signing_alg,
        None => match dir.apps().by_slug(&slug).await? {
            Some(app) if app.provider == Some(gatehouse_core::ProviderKind::Proxy) => {
                gatehouse_crypto::signing::SigningAlg::Es256
            }
            _ => return Ok(not_found()),
        },
    };
    // The key must exist before anyone verifies with it.
    let mut ring = dir.keys().ring().await?;
    if ring.signer(alg, dir.now()).is_none() {
        dir.keys().signing_key(alg).await?;
        ring = dir.keys().ring().await?;
    }
    Ok(public_json(ring.jwks_json().clone(), "public, max-age=60"))
}
