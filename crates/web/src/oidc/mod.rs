//! The OAuth 2.0 / OpenID Connect provider over HTTP, at authentik's paths.
//!
//! Each handler parses HTTP, calls one service of `gatehouse_oidc::Provider`
//! (which decides, through the directory and its one access gate) and renders
//! the outcome: JSON bodies with their status, or the `oidc_*.html` pages. The
//! hot paths (discovery, JWKS, token) read no database on a cache hit: the
//! provider's caches follow the change feed.

mod authorize;
mod consents;
mod device;
mod discovery;
mod end_session;
mod introspect;
mod pages;
mod reply;
mod revoke;
mod runtime;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Router};
use gatehouse_oidc::paths;

use crate::state::AppState;
pub use runtime::OidcRuntime;

/// Discovery and JWKS paths: public documents polled by clients, logged at
/// debug level like health probes (see `telemetry`).
pub fn is_polled_document(path: &str) -> bool {
    path.starts_with("/application/o/")
        && (path.ends_with("/.well-known/openid-configuration") || path.ends_with("/jwks/"))
}

/// The OIDC routes, with a runtime (parsed clients, documents) of their own.
pub fn routes() -> Router<AppState> {
    let rt = Arc::new(OidcRuntime::default());
    Router::new()
        .route(
            "/application/o/{slug}/.well-known/openid-configuration",
            get(discovery::discovery_get),
        )
        .route("/application/o/{slug}/jwks/", get(discovery::jwks_get))
        .route(
            paths::AUTHORIZE,
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(paths::TOKEN, post(token::token_post))
        .route(paths::USERINFO, get(userinfo::userinfo).post(userinfo::userinfo))
        .route(paths::INTROSPECT, post(introspect::introspect_post))
        .route(paths::REVOKE, post(revoke::revoke_post))
        .route(paths::DEVICE, post(device::device_authorization_post))
        .route(paths::DEVICE_VERIFY, get(device::verify_get).post(device::verify_post))
        .route(device::CONFIRM_PATH, post(device::confirm_post))
        .route(
            "/application/o/{slug}/end-session/",
            get(end_session::end_session).post(end_session::end_session),
        )
        .route(consents::CONSENTS_PATH, get(consents::consents_get))
        .route(consents::WITHDRAW_PATH, post(consents::withdraw_post))
        .layer(Extension(rt))
}
