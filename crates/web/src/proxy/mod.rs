//! Forward-auth (authentik's proxy provider) over HTTP: the check endpoints
//! reverse proxies call on every request, the outpost's sign-in pages, and
//! the code hand-off on Gatehouse's own host. Everything under
//! `/outpost.goauthentik.io/` answers without a Gatehouse session.
//!
//! Protocol decisions are `gatehouse-proxy`'s, state changes
//! `gatehouse_core::forward_auth`'s; this module wires them to axum and owns
//! the per-process decision cache (`runtime`, `cache`).

mod cache;
mod check;
mod decide;
mod pages;
mod runtime;
mod stats;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::Request;
use axum::routing::{any, get};
use gatehouse_proxy::{AUTHORIZE_PATH, Endpoint};

use crate::state::AppState;
use runtime::ProxyRuntime;

/// Forward-auth's routes in two parts sharing one decision cache: the sign-in
/// pages, which belong inside the page middleware (security headers, request
/// log, metrics), and the checks, which do not: a check's answer is read by a
/// proxy, never rendered, runs once per request to every protected service
/// (which the proxy logs already), and counts itself cheaply (`stats`). Merged
/// after the middleware, a check costs about 40% less CPU.
pub struct ForwardAuth {
    rt: Arc<ProxyRuntime>,
    state: AppState,
}

impl ForwardAuth {
    pub fn new(state: &AppState) -> Self {
        ForwardAuth {
            rt: Arc::new(ProxyRuntime::new(state.sign_out_counter())),
            state: state.clone(),
        }
    }

    /// `/outpost.goauthentik.io/{start,callback,sign_out}` and Gatehouse's
    /// code hand-off.
    pub fn pages(&self) -> Router<AppState> {
        Router::new()
            .route("/outpost.goauthentik.io/start", get(pages::start_get))
            .route("/outpost.goauthentik.io/callback", get(pages::callback_get))
            .route(
                "/outpost.goauthentik.io/sign_out",
                get(pages::sign_out).post(pages::sign_out),
            )
            .route(AUTHORIZE_PATH, get(pages::authorize_get))
            .layer(Extension(self.rt.clone()))
    }

    /// `/outpost.goauthentik.io/auth/{nginx,traefik,caddy}`, with their state
    /// captured (no extractor runs). Any method: nginx's subrequest keeps the
    /// original request's.
    pub fn checks(&self) -> Router {
        let shared = Arc::new((self.rt.clone(), self.state.clone()));
        let mut router = Router::new();
        for (path, endpoint) in [
            ("/outpost.goauthentik.io/auth/nginx", Endpoint::Nginx),
            ("/outpost.goauthentik.io/auth/traefik", Endpoint::Traefik),
            ("/outpost.goauthentik.io/auth/caddy", Endpoint::Caddy),
        ] {
            let shared = shared.clone();
            router = router.route(
                path,
                any(move |req: Request| {
                    let shared = shared.clone();
                    async move { check::check(&shared.0, &shared.1, endpoint, req).await }
                }),
            );
        }
        router
    }
}
