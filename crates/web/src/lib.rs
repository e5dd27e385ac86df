//! Gatehouse's HTTP face: the axum router, the sign-in pages and portal, health
//! endpoints, security headers, request logging and metrics. Handlers are thin:
//! they extract the caller, call one `gatehouse-core` service and render the
//! outcome. No SQL and no business rules here.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod admin;
pub mod api;
pub mod assets;
pub mod client;
pub mod components;
pub mod config;
pub mod cookies;
pub mod errors;
pub mod health;
pub mod mfa;
pub mod oidc;
pub mod pages;
pub mod proxy;
pub mod redact;
pub mod request;
pub mod saml;
pub mod security;
pub mod state;
pub mod telemetry;
pub mod views;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;

pub use config::WebConfig;
pub use state::AppState;

/// Requests larger than this are refused before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Where the operator's logo is served.
pub const LOGO_PATH: &str = "/-/branding/logo";

/// The public router (port 9000).
pub fn router(state: AppState) -> Router {
    use views::{account, enroll, login, logout, portal, recovery};
    let forward_auth = proxy::ForwardAuth::new(&state);
    Router::new()
        .route("/-/health/live/", get(health::live))
        .route("/-/health/ready/", get(health::ready))
        .route("/static/{name}", get(assets::static_asset))
        .route(LOGO_PATH, get(logo))
        .route(login::LOGIN_PATH, get(login::login_get).post(login::login_post))
        .route("/login/password", post(login::password_post))
        .route("/login/restart", get(login::restart_get))
        .route("/if/flow/default-authentication-flow/", get(login::login_get))
        .route(enroll::ENROLL_PATH, get(enroll::enroll_get).post(enroll::enroll_post))
        .route(logout::LOGOUT_PATH, get(logout::logout_get).post(logout::logout_post))
        .route(
            "/if/flow/default-invalidation-flow/",
            get(logout::logout_get).post(logout::logout_post),
        )
        .route("/", get(|| async { Redirect::to("/if/user/") }))
        .route("/if/user/", get(portal::portal_get))
        .route(account::ACCOUNT_PATH, get(account::account_get))
        .route("/if/user/account/password", post(account::password_post))
        .route("/if/user/account/sessions/revoke", post(account::revoke_post))
        .route(account::EVERYWHERE_PATH, post(account::revoke_all_post))
        .route(
            "/recovery/use-token/{key}/",
            get(recovery::recovery_get).post(recovery::recovery_post),
        )
        .merge(forward_auth.pages())
        .merge(oidc::routes())
        .merge(saml::routes(&state))
        .route(
            views::forgot::FORGOT_PATH,
            get(views::forgot::forgot_get).post(views::forgot::forgot_post),
        )
        .route(
            views::forgot::AUTHENTIK_RECOVERY_PATH,
            get(views::forgot::forgot_get).post(views::forgot::forgot_post),
        )
        .merge(mfa::routes())
        .nest_service("/api/v3", api::routes(&state))
        .merge(admin::routes())
        .fallback(not_found)
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .merge(admin::blueprints::uploads(state))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(axum::middleware::from_fn(telemetry::observe))
        // forward-auth: the checks, after the page middleware on purpose (see `proxy::ForwardAuth`)
        .merge(forward_auth.checks())
}

async fn logo(State(state): State<AppState>) -> Response {
    match &state.config.branding_logo {
        Some(logo) => {
            let mut res = logo.bytes.to_vec().into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(logo.content_type));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            res
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn not_found(State(state): State<AppState>) -> Response {
    pages::render_with_status(
        StatusCode::NOT_FOUND,
        &pages::MessagePage {
            branding: state.branding(),
            title: "Not found".into(),
            message: "There is nothing at this address.".into(),
            link: Some(("/if/user/".into(), "Go to your applications".into())),
            status_class: "error",
        },
    )
}
