//! Who is calling: an API token (`Authorization: Bearer <key>`, intent
//! `api`) or a signed-in browser session (its cookie, plus the session's CSRF
//! token in `X-CSRFToken` for unsafe methods, so another site cannot make a
//! browser change anything). Anything else is a 403 as authentik answers it.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use gatehouse_core::{Actor, Audit, Directory, User};
use uuid::Uuid;

use crate::ApiState;
use crate::error::{ApiError, ApiResult};

/// An authenticated caller.
pub struct Caller {
    pub dir: Directory,
    pub user: User,
    pub is_superuser: bool,
    /// The browser session the request came with, if any.
    pub session: Option<Uuid>,
    audit: Audit,
}

impl Caller {
    /// Who made a change, for the audit log: the token's or session's user.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The user's own records only, unless a superuser asks.
    pub fn owner_filter(&self) -> Option<Uuid> {
        (!self.is_superuser).then_some(self.user.id)
    }

    pub fn require_superuser(&self) -> ApiResult<()> {
        if self.is_superuser {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "You do not have permission to perform this action.".into(),
            ))
        }
    }
}

/// A caller who is a superuser (administrative endpoints).
pub struct Admin(pub Caller);

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_superuser()?;
        Ok(Admin(caller))
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let dir = state.host.directory().ok_or(ApiError::Unavailable)?;
        let (user, session) = if let Some(key) = bearer(parts)? {
            let found = dir.tokens().authenticate(key, "api").await?;
            let (_, user) = found.ok_or_else(|| ApiError::Forbidden("Token invalid/expired".into()))?;
            (user, None)
        } else if let Some(cookie) = state.host.session_token(&parts.headers) {
            let (session, user) = dir
                .sessions()
                .get(&cookie)
                .await?
                .ok_or_else(|| ApiError::Forbidden("Authentication credentials were not provided.".into()))?;
            if !is_safe(&parts.method) && !csrf_ok(parts, &session.csrf_token) {
                return Err(ApiError::Forbidden(
                    "CSRF Failed: CSRF token missing or incorrect.".into(),
                ));
            }
            (user, Some(session.id))
        } else {
            return Err(ApiError::Forbidden(
                "Authentication credentials were not provided.".into(),
            ));
        };
        let is_superuser = dir.users().is_superuser(&user).await?;
        let audit = Audit::new(Actor::User(user.username.clone()), state.host.client_ip(parts));
        Ok(Caller {
            dir,
            user,
            is_superuser,
            session,
            audit,
        })
    }
}

/// The key of `Authorization: Bearer <key>`; a malformed header is a 403.
fn bearer(parts: &Parts) -> ApiResult<Option<&str>> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::Forbidden("Invalid token header.".into()))?;
    match text.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty() => Ok(Some(key.trim())),
        _ => Err(ApiError::Forbidden("Invalid token header.".into())),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn csrf_ok(parts: &Parts, expected: &str) -> bool {
    let submitted = parts
        .headers
        .get("x-csrftoken")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    !expected.is_empty() && gatehouse_crypto::constant_time_eq(expected.as_bytes(), submitted.as_bytes())
}
