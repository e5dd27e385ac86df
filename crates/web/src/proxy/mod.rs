//! Forward-auth (authentik's proxy provider) over HTTP: the check endpoints
//! reverse proxies call on every request, the outpost's sign-in pages, and
//! the code hand-off on Gatehouse's own host. Everything under
//! `/outpost.goauthentik.io/` answers without a Gatehouse session.
//!
//! Decisions and the decision cache are `gatehouse_proxy::service`'s, state
//! changes `gatehouse_core::forward_auth`'s; this module wires them to axum.

mod check;
mod pages;
mod stats;

use std::sync::{Arc, OnceLock};

use axum::Extension;
use axum::Router;
use axum::extract::Request;
use axum::routing::{any, get};
use gatehouse_proxy::{AUTHORIZE_PATH, Endpoint, ForwardAuthService};

use crate::state::AppState;

/// The forward-auth service, made once the server is ready (it needs the directory).
#[derive(Default)]
pub(crate) struct Service(OnceLock<ForwardAuthService>);

impl Service {
    pub fn get(&self, state: &AppState) -> Option<&ForwardAuthService> {
        if let Some(s) = self.0.get() {
            return Some(s);
        }
        let dir = state.directory()?.clone();
        Some(
            self.0
                .get_or_init(|| ForwardAuthService::new(dir, &state.config.external_url)),
        )
    }
}

/// Forward-auth's routes in two parts sharing one decision cache: the sign-in
/// pages, which belong inside the page middleware (security headers, request
/// log, metrics), and the checks, which do not: a check's answer is read by a
/// proxy, never rendered, runs once per request to every protected service
/// (which the proxy logs already), and counts itself cheaply (`stats`). Merged
/// after the middleware, a check costs about 40% less CPU.
pub struct ForwardAuth {
    svc: Arc<Service>,
    state: AppState,
}

impl ForwardAuth {
    pub fn new(state: &AppState) -> Self {
        ForwardAuth {
            svc: Arc::default(),
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
            .layer(Extension(self.svc.clone()))
    }

    /// `/outpost.goauthentik.io/auth/{nginx,traefik,caddy}`, with their state
    /// captured (no extractor runs). Any method: nginx's subrequest keeps the
    /// original request's.
    pub fn checks(&self) -> Router {
        let shared = Arc::new((self.svc.clone(), self.state.clone()));
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
