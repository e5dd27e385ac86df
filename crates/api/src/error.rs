//! Errors as authentik's REST API answers them: `{"detail": …}` for
//! authentication, permission and lookups; `{field: [messages]}` (400) for
//! validation. Each core error maps to one status here, once.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    /// 403 with this detail (no or bad credentials, not allowed).
    Forbidden(String),
    NotFound,
    /// 404 with another detail (authentik's "Invalid page.").
    NotFoundDetail(&'static str),
    /// 400: field → messages.
    Invalid(BTreeMap<String, Vec<String>>),
    /// 405: the operation exists in authentik but not here.
    NotAllowed(&'static str),
    /// 503: the server is starting or its database is unreachable.
    Unavailable,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }

    pub fn general(message: impl Into<String>) -> Self {
        ApiError::field("non_field_errors", message)
    }
}

impl From<gatehouse_core::Error> for ApiError {
    fn from(e: gatehouse_core::Error) -> Self {
        use gatehouse_core::Error as E;
        match e {
            E::NotFound { .. } => ApiError::NotFound,
            E::AlreadyExists { kind, name } => {
                let field = match kind {
                    "user" => "username",
                    "application" => "slug",
                    "token" => "identifier",
                    _ => "name",
                };
                ApiError::field(field, format!("{kind} with this name ('{name}') already exists."))
            }
            E::Invalid { field, reason } => ApiError::field(api_field(field), reason),
            E::PasswordRejected(reason) => ApiError::field("password", reason),
            E::Refused(reason) => ApiError::general(reason),
            other if other.is_caller_error() => ApiError::general(other.to_string()),
            other => {
                tracing::warn!(error = %other, code = other.code(), "API request failed");
                ApiError::Unavailable
            }
        }
    }
}

/// Core names fields for people ("display name"); the API names them as authentik does.
fn api_field(core: &str) -> &str {
    match core {
        "display name" => "name",
        "current password" | "password" | "password hash" => "password",
        other => other,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Forbidden(detail) => (StatusCode::FORBIDDEN, Json(json!({"detail": detail}))).into_response(),
            ApiError::NotFound => (StatusCode::NOT_FOUND, Json(json!({"detail": "Not found."}))).into_response(),
            ApiError::NotFoundDetail(detail) => {
                (StatusCode::NOT_FOUND, Json(json!({"detail": detail}))).into_response()
            }
            ApiError::Invalid(fields) => (StatusCode::BAD_REQUEST, Json(json!(fields))).into_response(),
            ApiError::NotAllowed(detail) => {
                (StatusCode::METHOD_NOT_ALLOWED, Json(json!({"detail": detail}))).into_response()
            }
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"detail": "The server cannot answer right now; try again."})),
            )
                .into_response(),
        }
    }
}
