//! POST /application/o/token/: `Provider::token` decides (client
//! authentication, then one of four grants, each through the gate).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::reply::{JsonResult, authorization, form, json, provider};
use super::runtime::OidcRuntime;
use crate::request::Caller;
use crate::state::AppState;

pub async fn token_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let provider = provider(&state, &rt)?;
    let form = form(&headers, &body)?;
    let body = provider
        .token(authorization(&headers), &form, &caller.anonymous())
        .await?;
    Ok(json(StatusCode::OK, &body))
}
