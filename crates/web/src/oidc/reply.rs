//! Responses of the JSON endpoints: OAuth errors with their status and
//! `WWW-Authenticate`, token bodies with `Cache-Control: no-store` (RFC 6749
//! §5.1), and the conversion of domain failures into `server_error`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_oidc::{ErrorCode, Failure, OAuthError, Provider};
use serde_json::Value;

use crate::state::AppState;

/// An OAuth error as a response.
pub struct Reply(pub OAuthError);

impl From<OAuthError> for Reply {
    fn from(e: OAuthError) -> Self {
        Reply(e)
    }
}

impl From<gatehouse_core::Error> for Reply {
    fn from(e: gatehouse_core::Error) -> Self {
        tracing::error!(error = %e, "OIDC request failed");
        Reply(OAuthError::server_error())
    }
}

impl From<Failure> for Reply {
    fn from(e: Failure) -> Self {
        match e {
            Failure::Protocol(e) => Reply(e),
            Failure::Internal(e) => e.into(),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut res = json(status, &self.0.to_json());
        if let Some(v) = self.0.www_authenticate().and_then(|v| HeaderValue::from_str(&v).ok()) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}

/// A JSON body that no cache may keep.
pub fn json(status: StatusCode, v: &Value) -> Response {
    let mut res = (status, v.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

pub type JsonResult = Result<Response, Reply>;

/// The provider, or `temporarily_unavailable` while the server starts.
pub fn provider<'a>(state: &AppState, rt: &'a super::OidcRuntime) -> Result<&'a Provider, Reply> {
    rt.provider(state).ok_or_else(|| {
        Reply(OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the server is starting",
        ))
    })
}

/// A form body as parameters; refuses other content types (RFC 6749 §3.2).
pub fn form(headers: &HeaderMap, body: &[u8]) -> Result<gatehouse_oidc::params::Params, Reply> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    {
        return Err(Reply(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )));
    }
    let text = std::str::from_utf8(body).map_err(|_| Reply(OAuthError::invalid_request("the body is not UTF-8")))?;
    Ok(gatehouse_oidc::params::Params::parse(text)?)
}

pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}
