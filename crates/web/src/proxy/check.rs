//! `/outpost.goauthentik.io/auth/{nginx,traefik,caddy}`: the check a reverse
//! proxy makes before every request to a protected service. This is the
//! hottest path in Gatehouse: on a cache hit it parses a few headers, hashes
//! the cookie, reads the decision cache and clones the prebuilt headers, with
//! no database round trip and no lock.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use gatehouse_proxy::{Endpoint, Outcome, ProxyApp, Target, Verdict, cookie, redirect};

use super::cache::{Decision, DecisionCache, Entry};
use super::decide::decide;
use super::runtime::{Generation, ProxyRuntime, View};
use super::stats::{self, Checked};
use crate::state::AppState;

pub(crate) async fn check(rt: &ProxyRuntime, state: &AppState, endpoint: Endpoint, req: Request) -> Response {
    let Some(live) = rt.live(state) else {
        stats::count(Checked::Direct, stats::Result::Error);
        return text(StatusCode::SERVICE_UNAVAILABLE, "Gatehouse is starting.");
    };
    let headers = req.headers();
    let target = match endpoint {
        Endpoint::Nginx => Target::for_nginx(headers),
        Endpoint::Traefik | Endpoint::Caddy => Target::for_forwarded(headers),
    };
    let Some(target) = target else {
        stats::count(Checked::Direct, stats::Result::Error);
        return text(
            StatusCode::BAD_REQUEST,
            "The proxy did not say which URL was requested.",
        );
    };
    let now_ms = live.directory.now().millis();
    let generation = rt.generation();
    let view = match rt.view(live, generation, now_ms).await {
        Ok(v) => v,
        Err(error) => return failed(&error),
    };
    let Some(app) = view.apps.resolve(&target.authority) else {
        tracing::debug!(host = %target.authority.key(), "forward-auth: no application for this host");
        stats::count(Checked::Direct, stats::Result::UnknownHost);
        return answer(endpoint, Verdict::UnknownHost, None, None, &target);
    };
    if app.skips(&target) {
        stats::count(Checked::Direct, stats::Result::Allow);
        return answer(endpoint, Verdict::Allow, Some(blank()), Some(app), &target);
    }
    let Some(token) = cookie::read(headers, &app.cookie_name) else {
        stats::count(Checked::Direct, stats::Result::SignIn);
        return answer(endpoint, Verdict::SignIn, None, Some(app), &target);
    };
    let key = DecisionCache::key(app.id, token);
    if let Some(res) = rt.cache.get(&key, generation, now_ms, |d| {
        stats::count(Checked::Hit, result_of(d));
        render(endpoint, d, app, &target)
    }) {
        return res;
    }
    let app_id = app.id;
    miss(
        rt,
        live,
        view.into_arc(),
        app_id,
        key,
        generation,
        token,
        now_ms,
        endpoint,
        &target,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn miss(
    rt: &ProxyRuntime,
    live: &super::runtime::Live,
    view: Arc<View>,
    app_id: uuid::Uuid,
    key: super::cache::Key,
    generation: Generation,
    token: &str,
    now_ms: i64,
    endpoint: Endpoint,
    target: &Target<'_>,
) -> Response {
    let Some(app) = view.apps.get(app_id) else {
        return answer(endpoint, Verdict::UnknownHost, None, None, target);
    };
    let started = Instant::now();
    let (decision, until_ms) = match decide(live, &view, app, token, now_ms).await {
        Ok(d) => d,
        Err(error) => return failed(&error),
    };
    stats::miss_took(started.elapsed());
    stats::count(Checked::Miss, result_of(&decision));
    let res = render(endpoint, &decision, app, target);
    rt.cache.insert(
        key,
        Entry {
            generation,
            until_ms,
            decision,
        },
    );
    res
}

/// The headers of a pass without identity (a skipped path), built once.
fn blank() -> &'static axum::http::HeaderMap {
    static BLANK: OnceLock<axum::http::HeaderMap> = OnceLock::new();
    BLANK.get_or_init(gatehouse_proxy::headers::blank_identity_headers)
}

fn render(endpoint: Endpoint, decision: &Decision, app: &ProxyApp, target: &Target<'_>) -> Response {
    match decision {
        Decision::Allow(headers) => answer(endpoint, Verdict::Allow, Some(headers), Some(app), target),
        Decision::Forbidden => answer(endpoint, Verdict::Forbidden, None, Some(app), target),
        Decision::SignIn => answer(endpoint, Verdict::SignIn, None, Some(app), target),
    }
}

fn answer(
    endpoint: Endpoint,
    verdict: Verdict,
    headers: Option<&axum::http::HeaderMap>,
    app: Option<&ProxyApp>,
    target: &Target<'_>,
) -> Response {
    match Outcome::of(endpoint, verdict) {
        Outcome::Pass => {
            let mut res = Response::new(Body::empty());
            if let Some(h) = headers {
                *res.headers_mut() = h.clone();
            }
            res
        }
        Outcome::Unauthorized => text(StatusCode::UNAUTHORIZED, ""),
        Outcome::Forbidden => text(StatusCode::FORBIDDEN, "You do not have access to this application."),
        Outcome::RedirectToStart => {
            let location = app
                .map(|a| redirect::start_url(a, target))
                .and_then(|u| HeaderValue::from_str(&u).ok());
            match location {
                Some(l) => {
                    let mut res = text(StatusCode::FOUND, "");
                    res.headers_mut().insert(header::LOCATION, l);
                    res
                }
                None => text(StatusCode::FORBIDDEN, "You do not have access to this application."),
            }
        }
    }
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
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    res
}

fn result_of(decision: &Decision) -> stats::Result {
    match decision {
        Decision::Allow(_) => stats::Result::Allow,
        Decision::Forbidden => stats::Result::Forbidden,
        Decision::SignIn => stats::Result::SignIn,
    }
}

fn failed(error: &gatehouse_core::Error) -> Response {
    tracing::error!(%error, "forward-auth check failed");
    stats::count(Checked::Miss, stats::Result::Error);
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "Gatehouse cannot check this request right now.",
    )
}
