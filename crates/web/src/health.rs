//! `/-/health/live/` and `/-/health/ready/`, as the deployment Gatehouse replaces
//! answers them: live while the process runs; ready when the database answers,
//! 503 with `Retry-After` while starting (migrations) or when the database is gone.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// How long readiness waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn live() -> StatusCode {
    StatusCode::OK
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let Some(directory) = state.directory() else {
        return unavailable("starting");
    };
    // A database that is gone can take the pool's whole acquire timeout to
    // say so; a probe must get its 503 sooner than its own timeout.
    match tokio::time::timeout(READY_TIMEOUT, directory.ping()).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            unavailable("database unreachable")
        }
        Err(_) => {
            tracing::warn!("readiness check: the database did not answer within 2 s");
            unavailable("database not answering")
        }
    }
}

fn unavailable(why: &'static str) -> Response {
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}
