//! One middleware for request logs and metrics. It logs the path without the
//! query string (protocols carry codes and tokens in queries) and with
//! path-borne secrets redacted (`crate::redact`): a log line must never hold a
//! secret.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

pub async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = crate::redact::loggable_path(req.uri().path()).into_owned();
    // Label metrics by route template, not raw path, to bound their cardinality.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    metrics::counter!("gatehouse_http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("gatehouse_http_request_duration_seconds", "method" => method.to_string(), "route" => route)
        .record(elapsed.as_secs_f64());
    // Health probes arrive every few seconds; keep them out of the info log.
    // So do OIDC discovery and JWKS fetches (public documents that clients and
    // resource servers poll; logging each one halves their throughput).
    if path.starts_with("/-/health/") || crate::oidc::is_polled_document(&path) {
        tracing::debug!(%method, %path, status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request");
    } else {
        tracing::info!(%method, %path, status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request");
    }
    response
}

/// Counts a password sign-in attempt by outcome (`success`, `failure`,
/// `throttled`), for alerts on failure spikes.
pub fn count_sign_in(result: &'static str) {
    metrics::counter!("gatehouse_sign_ins_total", "result" => result).increment(1);
}
