//! `/outpost.goauthentik.io/auth/{nginx,traefik,caddy}`: the check a reverse
//! proxy makes before every request to a protected service. The decision is
//! `gatehouse_proxy::service`'s; this renders its answer and counts it.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use gatehouse_proxy::{Answer, CheckError, Endpoint, Outcome, Source, Verdict};

use super::Service;
use super::stats::{self, Checked};
use crate::state::AppState;

pub(crate) async fn check(svc: &Service, state: &AppState, endpoint: Endpoint, req: Request) -> Response {
    let Some(svc) = svc.get(state) else {
        stats::count(Checked::Direct, stats::Result::Error);
        return text(StatusCode::SERVICE_UNAVAILABLE, "Gatehouse is starting.");
    };
    let started = Instant::now();
    match svc.check(endpoint, req.headers()).await {
        Ok(answer) => {
            if answer.source == Source::Miss {
                stats::miss_took(started.elapsed());
            }
            stats::count(checked(answer.source), result_of(answer.verdict));
            render(endpoint, answer)
        }
        Err(CheckError::NoTarget) => {
            stats::count(Checked::Direct, stats::Result::Error);
            text(
                StatusCode::BAD_REQUEST,
                "The proxy did not say which URL was requested.",
            )
        }
        Err(CheckError::Core(error)) => {
            tracing::error!(%error, "forward-auth check failed");
            stats::count(Checked::Miss, stats::Result::Error);
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Gatehouse cannot check this request right now.",
            )
        }
    }
}

fn render(endpoint: Endpoint, answer: Answer) -> Response {
    match Outcome::of(endpoint, answer.verdict) {
        Outcome::Pass => {
            let mut res = Response::new(Body::empty());
            if let Some(h) = answer.headers {
                *res.headers_mut() = h;
            }
            res
        }
        Outcome::Unauthorized => text(StatusCode::UNAUTHORIZED, ""),
        Outcome::Forbidden => forbidden(),
        Outcome::RedirectToStart => match answer.start_url.and_then(|u| HeaderValue::from_str(&u).ok()) {
            Some(location) => {
                let mut res = text(StatusCode::FOUND, "");
                res.headers_mut().insert(header::LOCATION, location);
                res
            }
            None => forbidden(),
        },
    }
}

fn forbidden() -> Response {
    text(StatusCode::FORBIDDEN, "You do not have access to this application.")
}

/// A short answer; these may reach a browser (Traefik and Caddy pass
/// non-2xx answers on), so they say what they are and are never cached.
fn text(status: StatusCode, body: &'static str) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !body.is_empty() {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    res
}

fn checked(source: Source) -> Checked {
    match source {
        Source::Hit => Checked::Hit,
        Source::Miss => Checked::Miss,
        Source::Direct => Checked::Direct,
    }
}

fn result_of(verdict: Verdict) -> stats::Result {
    match verdict {
        Verdict::Allow => stats::Result::Allow,
        Verdict::Forbidden => stats::Result::Forbidden,
        Verdict::SignIn => stats::Result::SignIn,
        Verdict::UnknownHost => stats::Result::UnknownHost,
    }
}
