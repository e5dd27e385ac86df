//! Gatehouse's REST API at authentik's `/api/v3/` paths, with authentik's
//! query parameters, pagination object and JSON shapes for what Gatehouse
//! has (users, groups, applications, providers, tokens, sessions, consents,
//! events, signing keys). Handlers parse, call one `gatehouse-core` service
//! and render; every write goes through the same services as the CLI, with
//! the caller as the audit actor. No SQL and no business rules here.
//!
//! `crates/web` mounts [`router`] under `/api/v3` and supplies the [`Host`]:
//! the directory, the client address and the session cookie.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod apps;
pub mod auth;
pub mod error;
pub mod events;
pub mod flows;
pub mod groups;
pub mod input;
pub mod invitations;
pub mod meta;
pub mod models;
pub mod paging;
pub mod providers;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use gatehouse_core::Directory;
use utoipa::OpenApi;

use crate::error::ApiError;

/// What the API needs from the server that mounts it.
pub trait Host: Send + Sync + 'static {
    /// The directory, once the server is ready.
    fn directory(&self) -> Option<Directory>;
    /// The client's address (through trusted proxies only), for the audit log.
    fn client_ip(&self, parts: &Parts) -> Option<String>;
    /// The browser session cookie's token, if the request has one.
    fn session_token(&self, headers: &HeaderMap) -> Option<String>;
    /// Where Gatehouse is reached (`https://id.example.com`), for links.
    fn external_url(&self) -> String;
}

#[derive(Clone)]
pub struct ApiState {
    pub(crate) host: Arc<dyn Host>,
}

/// The API's routes, relative to `/api/v3`.
pub fn router(host: Arc<dyn Host>) -> Router {
    Router::new()
        .route("/core/users/", get(users::list).post(users::create))
        .route("/core/users/me/", get(users::me))
        .route(
            "/core/users/{id}/",
            get(users::retrieve)
                .put(users::update)
                .patch(users::partial_update)
                .delete(users::destroy),
        )
        .route("/core/users/{id}/set_password/", post(users::set_password))
        .route("/core/users/{id}/set_password_hash/", post(users::set_password_hash))
        .route("/core/users/{id}/recovery/", post(users::recovery))
        .route("/core/users/{id}/recovery_email/", post(users::recovery_email))
        .route("/core/groups/", get(groups::list).post(groups::create))
        .route(
            "/core/groups/{group_uuid}/",
            get(groups::retrieve)
                .put(groups::update)
                .patch(groups::partial_update)
                .delete(groups::destroy),
        )
        .route("/core/groups/{group_uuid}/add_user/", post(groups::add_user))
        .route("/core/groups/{group_uuid}/remove_user/", post(groups::remove_user))
        .route("/core/applications/", get(apps::list).post(apps::create))
        .route(
            "/core/applications/{slug}/",
            get(apps::retrieve)
                .put(apps::update)
                .patch(apps::partial_update)
                .delete(apps::destroy),
        )
        .route("/core/applications/{slug}/check_access/", get(apps::check_access))
        .route("/core/tokens/", get(tokens::list).post(tokens::create))
        .route(
            "/core/tokens/{identifier}/",
            get(tokens::retrieve).delete(tokens::destroy),
        )
        .route("/core/tokens/{identifier}/view_key/", get(tokens::view_key))
        .route("/core/authenticated_sessions/", get(sessions::list))
        .route("/core/authenticated_sessions/{uuid}/", delete(sessions::destroy))
        .route("/core/user_consent/", get(sessions::consents))
        .route("/core/user_consent/{id}/", delete(sessions::consent_destroy))
        .route(
            "/providers/oauth2/",
            get(providers::oauth2_list).post(providers::oauth2_create),
        )
        .route(
            "/providers/oauth2/{id}/",
            get(providers::oauth2_retrieve)
                .put(providers::oauth2_update)
                .patch(providers::oauth2_partial_update)
                .delete(providers::oauth2_destroy),
        )
        .route(
            "/providers/saml/",
            get(providers::saml_list).post(providers::saml_create),
        )
        .route(
            "/providers/saml/{id}/",
            get(providers::saml_retrieve)
                .put(providers::saml_update)
                .patch(providers::saml_partial_update)
                .delete(providers::saml_destroy),
        )
        .route(
            "/providers/proxy/",
            get(providers::proxy_list).post(providers::proxy_create),
        )
        .route(
            "/providers/proxy/{id}/",
            get(providers::proxy_retrieve)
                .put(providers::proxy_update)
                .patch(providers::proxy_partial_update)
                .delete(providers::proxy_destroy),
        )
        .route(
            "/providers/ldap/",
            get(providers::ldap_list).post(providers::ldap_create),
        )
        .route(
            "/providers/ldap/{id}/",
            get(providers::ldap_retrieve)
                .put(providers::ldap_update)
                .patch(providers::ldap_partial_update)
                .delete(providers::ldap_destroy),
        )
        .route("/events/events/", get(events::list))
        .route("/events/events/{event_uuid}/", get(events::retrieve))
        .route("/admin/version/", get(meta::version))
        .route("/root/config/", get(meta::config))
        .route("/crypto/certificatekeypairs/", get(meta::keys))
        .route("/crypto/certificatekeypairs/{kp_uuid}/", get(meta::key))
        .route(
            "/stages/invitation/invitations/",
            get(invitations::list).post(invitations::create),
        )
        .route(
            "/stages/invitation/invitations/{invite_uuid}/",
            get(invitations::retrieve).delete(invitations::destroy),
        )
        .route("/flows/instances/", get(flows::list))
        .route("/flows/instances/{slug}/", get(flows::retrieve))
        .route("/schema/", get(meta::schema))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::NotAllowed("Method not allowed.") })
        .with_state(ApiState { host })
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse", description = "authentik-compatible REST API (the part Gatehouse implements)"),
    servers((url = "/api/v3")),
    paths(
        users::list, users::create, users::retrieve, users::update, users::partial_update, users::destroy,
        users::me, users::set_password, users::set_password_hash, users::recovery, users::recovery_email,
        groups::list, groups::create, groups::retrieve, groups::update, groups::partial_update, groups::destroy,
        groups::add_user, groups::remove_user,
        apps::list, apps::create, apps::retrieve, apps::update, apps::partial_update, apps::destroy,
        apps::check_access,
        tokens::list, tokens::create, tokens::retrieve, tokens::destroy, tokens::view_key,
        sessions::list, sessions::destroy, sessions::consents, sessions::consent_destroy,
        providers::oauth2_list, providers::oauth2_create, providers::oauth2_retrieve, providers::oauth2_update,
        providers::oauth2_partial_update, providers::oauth2_destroy,
        providers::saml_list, providers::saml_create, providers::saml_retrieve, providers::saml_update,
        providers::saml_partial_update, providers::saml_destroy,
        providers::proxy_list, providers::proxy_create, providers::proxy_retrieve, providers::proxy_update,
        providers::proxy_partial_update, providers::proxy_destroy,
        providers::ldap_list, providers::ldap_create, providers::ldap_retrieve, providers::ldap_update,
        providers::ldap_partial_update, providers::ldap_destroy,
        events::list, events::retrieve,
        meta::version, meta::config, meta::keys, meta::key,
        invitations::list, invitations::create, invitations::retrieve, invitations::destroy,
        flows::list, flows::retrieve,
    ),
    modifiers(&BearerAuth),
    security(("authentik" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "authentik",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document as served and committed (`docs/openapi.json`).
pub fn openapi_json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
