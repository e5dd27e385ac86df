//! POST /application/o/introspect/ (RFC 7662): `Provider::introspect`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::reply::{JsonResult, authorization, form, json, provider};
use super::runtime::OidcRuntime;
use crate::state::AppState;

pub async fn introspect_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let provider = provider(&state, &rt)?;
    let form = form(&headers, &body)?;
    let body = provider.introspect(authorization(&headers), &form).await?;
    Ok(json(StatusCode::OK, &body))
}
