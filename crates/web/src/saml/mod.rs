//! The SAML 2.0 identity provider over HTTP, at authentik's paths:
//! `/application/saml/<slug>/` + `metadata/`, `sso/binding/{redirect,post,init}/`,
//! `slo/binding/{redirect,post}/` (and the bare path for both bindings), and
//! the local continue URLs parked requests come back to. The decisions are
//! `gatehouse_saml::service`'s; this module parses and renders.

mod handlers;

use std::sync::Arc;

use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Router};
use gatehouse_saml::service::{Endpoint, SamlIdp};

use crate::state::AppState;

pub fn routes(state: &AppState) -> Router<AppState> {
    let idp = Arc::new(SamlIdp::new(&state.config.external_url));
    use handlers::*;
    Router::new()
        .route("/application/saml/{slug}/metadata/", get(metadata))
        .route(
            "/application/saml/{slug}/",
            redirect_at(Endpoint::Any).merge(post_at(Endpoint::Any)),
        )
        .route(
            "/application/saml/{slug}/sso/binding/redirect/",
            redirect_at(Endpoint::Sso),
        )
        .route("/application/saml/{slug}/sso/binding/post/", post_at(Endpoint::Sso))
        .route("/application/saml/{slug}/sso/binding/init/", get(sso_init))
        .route("/application/saml/{slug}/sso/continue/", get(sso_continue))
        .route(
            "/application/saml/{slug}/slo/binding/redirect/",
            redirect_at(Endpoint::Slo),
        )
        .route("/application/saml/{slug}/slo/binding/post/", post_at(Endpoint::Slo))
        .route("/application/saml/{slug}/slo/continue/", get(slo_continue))
        .layer(Extension(idp))
}

/// GET: a message for `endpoint` over the HTTP-Redirect binding.
fn redirect_at(endpoint: Endpoint) -> MethodRouter<AppState> {
    get(move |state, idp, slug, query| handlers::by_redirect(endpoint, state, idp, slug, query))
}

/// POST: a message for `endpoint` over the HTTP-POST binding.
fn post_at(endpoint: Endpoint) -> MethodRouter<AppState> {
    post(move |state, idp, slug, body| handlers::by_post(endpoint, state, idp, slug, body))
}
