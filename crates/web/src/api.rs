//! Mounts the REST API (`gatehouse-api`) under `/api/v3`: this server's
//! directory, client address and session cookie, as the API asks for them.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::request::Parts;
use gatehouse_core::Directory;

use crate::state::AppState;
use crate::{client, cookies};

struct ApiHost(AppState);

impl gatehouse_api::Host for ApiHost {
    fn directory(&self) -> Option<Directory> {
        self.0.directory().cloned()
    }

    fn client_ip(&self, parts: &Parts) -> Option<String> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        client::client_ip(peer, &parts.headers, &self.0.config.trusted_proxies).map(|ip| ip.to_string())
    }

    fn session_token(&self, headers: &HeaderMap) -> Option<String> {
        cookies::read(headers, cookies::SESSION)
    }

    fn external_url(&self) -> String {
        self.0.config.external_url.clone()
    }
}

/// The API's router, for `.nest_service("/api/v3", …)`.
pub fn routes(state: &AppState) -> axum::Router {
    gatehouse_api::router(Arc::new(ApiHost(state.clone())))
}
