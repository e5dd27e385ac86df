//! Discovery and JWKS: served from memory (no database round trip on a hit),
//! cacheable by clients for a few minutes — shorter than the default key
//! activation delay, so a rotated key reaches them before it signs.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_oidc::{ErrorCode, OAuthError};

use super::reply::{JsonResult, provider};
use super::runtime::OidcRuntime;
use crate::state::AppState;

/// A shared document as a body without copying it.
struct Shared(Arc<str>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn public_json(body: Option<Arc<str>>, max_age: &'static str) -> Response {
    let Some(body) = body else {
        return super::reply::json(
            StatusCode::NOT_FOUND,
            &OAuthError::new(
                ErrorCode::InvalidRequest,
                "no OpenID Connect application at this address",
            )
            .to_json(),
        );
    };
    let mut res = axum::body::Bytes::from_owner(Shared(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

pub async fn discovery_get(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    Path(slug): Path<String>,
) -> JsonResult {
    let doc = provider(&state, &rt)?.discovery(&slug).await?;
    Ok(public_json(doc, "public, max-age=300"))
}

pub async fn jwks_get(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    Path(slug): Path<String>,
) -> JsonResult {
    let doc = provider(&state, &rt)?.jwks(&slug).await?;
    Ok(public_json(doc, "public, max-age=60"))
}
