//! OAuth errors with their RFC codes (RFC 6749 §4.1.2.1 and §5.2, RFC 6750
//! §3.1, OIDC Core §3.1.2.6, RFC 8628 §3.5, RFC 7009 §2.2.1). The code decides
//! the HTTP status; the description is for people and never holds a secret.

use std::borrow::Cow;

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    InvalidToken,
    InsufficientScope,
    UnsupportedTokenType,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// The status of a JSON error response with this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope | ErrorCode::AccessDenied => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// An OAuth error: code and description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        OAuthError {
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }

    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }

    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }

    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON body of a token-endpoint style error.
    pub fn to_json(&self) -> Value {
        json!({"error": self.code.as_str(), "error_description": self.description})
    }

    /// `WWW-Authenticate` for this error, when the status calls for one:
    /// `Basic` for client authentication (RFC 6749 §5.2), `Bearer` for
    /// protected resources (RFC 6750 §3).
    pub fn www_authenticate(&self) -> Option<String> {
        match self.code {
            ErrorCode::InvalidClient => Some("Basic realm=\"gatehouse\"".into()),
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => Some(format!(
                "Bearer realm=\"gatehouse\", error=\"{}\", error_description=\"{}\"",
                self.code.as_str(),
                self.description.replace(['"', '\\'], "'")
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_headers_follow_the_rfcs() {
        let e = OAuthError::invalid_client("unknown client");
        assert_eq!(e.status(), 401);
        assert_eq!(e.www_authenticate().as_deref(), Some("Basic realm=\"gatehouse\""));
        assert_eq!(e.to_json()["error"], "invalid_client");
        assert_eq!(OAuthError::invalid_grant("x").status(), 400);
        let t = OAuthError::new(ErrorCode::InvalidToken, "bad \"token\"");
        assert_eq!(t.status(), 401);
        assert!(
            t.www_authenticate()
                .unwrap()
                .starts_with("Bearer realm=\"gatehouse\", error=\"invalid_token\"")
        );
        assert_eq!(ErrorCode::InsufficientScope.status(), 403);
        assert!(OAuthError::invalid_request("x").www_authenticate().is_none());
    }
}
