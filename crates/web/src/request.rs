//! Extractors for what every page handler needs: the directory (or a 503 while
//! starting), the caller's address and agent, and the signed-in person.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::session::ClientInfo;
use gatehouse_core::{Actor, Audit, Directory, Session, User};

use crate::client;
use crate::cookies;
use crate::errors::PageError;
use crate::state::AppState;

/// The caller, as far as the network tells.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client: ClientInfo,
}

impl Caller {
    /// Audit context for an action by `actor` from this caller.
    pub fn audit(&self, actor: Actor) -> Audit {
        Audit::new(actor, self.client.ip.clone())
    }

    /// Audit context for an anonymous caller (before sign-in).
    pub fn anonymous(&self) -> Audit {
        Audit::new(Actor::System, self.client.ip.clone())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = client::client_ip(peer, &parts.headers, &state.config.trusted_proxies);
        Ok(Caller {
            client: ClientInfo {
                ip: ip.map(|i| i.to_string()),
                user_agent: client::user_agent(&parts.headers),
            },
        })
    }
}

/// The directory, or 503 while the server is starting.
pub struct Ready(pub Directory);

impl FromRequestParts<AppState> for Ready {
    type Rejection = PageError;

    async fn from_request_parts(_parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        state.directory().cloned().map(Ready).ok_or(PageError::Starting)
    }
}

/// A signed-in person. Pages that need one send everyone else to sign in,
/// coming back to the page afterwards.
pub struct SignedIn {
    pub session: Session,
    pub user: User,
}

impl SignedIn {
    pub fn actor(&self) -> Actor {
        Actor::User(self.user.username.clone())
    }
}

/// The session behind the request's cookie, if live.
pub async fn current_session(directory: &Directory, parts: &Parts) -> Result<Option<(Session, User)>, PageError> {
    match cookies::read(&parts.headers, cookies::SESSION) {
        Some(token) => Ok(directory.sessions().get(&token).await?),
        None => Ok(None),
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ready(directory) = Ready::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match current_session(&directory, parts)
            .await
            .map_err(IntoResponse::into_response)?
        {
            Some((session, user)) => Ok(SignedIn { session, user }),
            None => {
                let here = parts
                    .extensions
                    .get::<OriginalUri>()
                    .map_or_else(|| parts.uri.to_string(), |u| u.0.to_string());
                let next = gatehouse_core::flow::safe_next(&here).unwrap_or_else(|| "/if/user/".into());
                Err(Redirect::to(&format!("/login?next={}", encode(&next))).into_response())
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Checks a submitted CSRF token against the expected one, in constant time.
pub fn csrf_ok(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && gatehouse_crypto::constant_time_eq(expected.as_bytes(), submitted.as_bytes())
}
