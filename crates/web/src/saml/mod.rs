//! The SAML 2.0 identity provider over HTTP, at authentik's paths:
//! `/application/saml/<slug>/` + `metadata/`, `sso/binding/{redirect,post,init}/`,
//! `slo/binding/{redirect,post}/` (and the bare path for both bindings).
//!
//! Every incoming message is checked (size, XML hardening, signature, issuer,
//! destination, age, ACS, replay) and then *parked* server-side; the browser
//! goes on with a GET to a local continue URL. That keeps the request out of
//! `next` (only local paths are allowed there), and lets the SameSite=Lax
//! session cookie be seen even when the SP posted from another site.

mod handlers;

use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Router};
use gatehouse_core::saml::SamlKeys;

use crate::state::AppState;

/// What the SAML handlers keep between requests: the parsed signing keys.
#[derive(Default)]
pub struct SamlRuntime {
    pub keys: SamlKeys,
}

pub fn routes() -> Router<AppState> {
    let rt = Arc::new(SamlRuntime::default());
    use handlers::*;
    Router::new()
        .route("/application/saml/{slug}/metadata/", get(metadata))
        .route("/application/saml/{slug}/", get(any_get).post(any_post))
        .route("/application/saml/{slug}/sso/binding/redirect/", get(sso_redirect))
        .route(
            "/application/saml/{slug}/sso/binding/post/",
            axum::routing::post(sso_post),
        )
        .route("/application/saml/{slug}/sso/binding/init/", get(sso_init))
        .route("/application/saml/{slug}/sso/continue/", get(sso_continue))
        .route("/application/saml/{slug}/slo/binding/redirect/", get(slo_redirect))
        .route(
            "/application/saml/{slug}/slo/binding/post/",
            axum::routing::post(slo_post),
        )
        .route("/application/saml/{slug}/slo/continue/", get(slo_continue))
        .layer(Extension(rt))
}
