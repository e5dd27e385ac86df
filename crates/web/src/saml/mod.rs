//! The SAML 2.0 identity provider over HTTP, at authentik's paths:
//! `/application/saml/<slug>/` + `metadata/`, `sso/binding/{redirect,post,init}/`,
//! `slo/binding/{redirect,post}/` (and the bare path for both bindings), and
//! the local continue URLs parked requests come back to. The decisions are
//! `gatehouse_saml::service`'s; this module parses and renders.

mod handlers;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Router};
use gatehouse_saml::service::SamlIdp;

use crate::state::AppState;

pub fn routes(state: &AppState) -> Router<AppState> {
    let idp = Arc::new(SamlIdp::new(&state.config.external_url));
    use handlers::*;
    Router::new()
        .route("/application/saml/{slug}/metadata/", get(metadata))
        .route("/application/saml/{slug}/", get(any_get).post(any_post))
        .route("/application/saml/{slug}/sso/binding/redirect/", get(sso_redirect))
        .route("/application/saml/{slug}/sso/binding/post/", post(sso_post))
        .route("/application/saml/{slug}/sso/binding/init/", get(sso_init))
        .route("/application/saml/{slug}/sso/continue/", get(sso_continue))
        .route("/application/saml/{slug}/slo/binding/redirect/", get(slo_redirect))
        .route("/application/saml/{slug}/slo/binding/post/", post(slo_post))
        .route("/application/saml/{slug}/slo/continue/", get(slo_continue))
        .layer(Extension(idp))
}
