//! `/-/health/live/` and `/-/health/ready/`, as the deployment Gatehouse replaces
//! answers them: live while the process runs; ready when the database answers,
//! 503 with `Retry-After` while starting (migrations) or when the database is gone.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

pub async fn live() -> StatusCode {
    StatusCode::OK
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let Some(directory) = state.directory() else {
        return unavailable("starting");
    };
    match directory.ping().await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            unavailable("database unreachable")
        }
    }
}

fn unavailable(why: &'static str) -> Response {
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}
