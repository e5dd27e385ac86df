//! POST /application/o/revoke/ (RFC 7009): `Provider::revoke`; 200 whatever
//! the token was (§2.2).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::reply::{JsonResult, authorization, form, json, provider};
use super::runtime::OidcRuntime;
use crate::state::AppState;

pub async fn revoke_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let provider = provider(&state, &rt)?;
    let form = form(&headers, &body)?;
    provider.revoke(authorization(&headers), &form).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({})))
}
