//! Gatehouse's HTTP face: the axum router, health endpoints, request logging and
//! metrics. Handlers are thin: they extract the caller, call one `gatehouse-core`
//! service and map the outcome to a response. No SQL and no business rules here.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod health;
pub mod state;
pub mod telemetry;

use axum::Router;
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;

pub use state::AppState;

/// Requests larger than this are refused before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The public router (port 9000).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/-/health/live/", get(health::live))
        .route("/-/health/ready/", get(health::ready))
        .with_state(state)
        .layer(axum::middleware::from_fn(telemetry::observe))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
}
