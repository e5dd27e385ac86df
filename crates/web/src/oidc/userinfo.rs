//! GET/POST /application/o/userinfo/ (OIDC Core §5.3, RFC 6750): the bearer
//! token from the header or a form body, then `Provider::userinfo`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use gatehouse_oidc::userinfo as oidc_userinfo;

use super::reply::{JsonResult, authorization, form, json, provider};
use super::runtime::OidcRuntime;
use crate::state::AppState;

pub async fn userinfo(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let provider = provider(&state, &rt)?;
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
    Ok(json(StatusCode::OK, &provider.userinfo(&token_text).await?))
}
