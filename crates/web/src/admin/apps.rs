//! The application list: provider type, bound groups, launch link.

use axum::extract::State;
use axum::response::Response;

use super::chrome;
use super::guard::Admin;
use super::views::{AppRow, AppsPage};
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

/// GET /if/admin/applications/
pub async fn apps_get(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    let rows = admin
        .directory
        .apps()
        .list()
        .await?
        .into_iter()
        .map(|a| AppRow {
            provider: a.app.provider.map_or("none (portal link)", |p| match p.as_str() {
                "oidc" => "OpenID Connect",
                "saml" => "SAML 2.0",
                "proxy" => "Forward auth (proxy)",
                _ => "LDAP",
            }),
            slug: a.app.slug,
            name: a.app.name,
            launch_url: a.app.launch_url,
            groups: a.bound_groups,
        })
        .collect();
    Ok(render(&AppsPage {
        branding: state.branding(),
        chrome: chrome(&admin, "applications"),
        rows,
    }))
}
