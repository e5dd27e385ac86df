//! New applications, one form per provider type, each ending on the exact
//! settings to paste into the downstream service (`settings.rs`). Providers
//! are built by their protocol crates (`gatehouse_oidc::provision`,
//! `ProxyConfig`, `SamlConfig`, `LdapConfig`), the same calls `gatehouse app
//! create` makes; the write is core's.

use axum::extract::{Path, State};
use axum::response::Response;
use gatehouse_core::Error;
use gatehouse_ldap::LdapConfig;
use gatehouse_oidc::config::{ClientType, OidcConfig, parse_redirect_uri};
use gatehouse_oidc::provision;
use gatehouse_proxy::{ProxyConfig, ProxyMode, ProxySettings};
use gatehouse_saml::SamlConfig;
use serde::Deserialize;

use super::chrome;
use super::guard::{Admin, AdminForm};
use super::views::AppNewPage;
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct NewAppForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    launch_url: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    client_type: String,
    #[serde(default)]
    external_host: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    acs_urls: String,
    #[serde(default)]
    base_dn: String,
    #[serde(default)]
    search_group: String,
}

fn form_page(state: &AppState, admin: &Admin, kind: &str, form: NewAppForm, error: Option<String>) -> Response {
    render(&AppNewPage {
        branding: state.branding(),
        chrome: chrome(admin, "applications"),
        kind: kind.to_string(),
        error,
        name: form.name,
        slug: form.slug,
        launch_url: form.launch_url,
        redirect_uris: form.redirect_uris,
        public: form.client_type == "public",
        external_host: form.external_host,
        group: form.group,
        audience: form.audience,
        acs_urls: form.acs_urls,
        // The default tree is authentik's, so the form starts with it.
        base_dn: if form.base_dn.is_empty() && kind == "ldap" {
            gatehouse_ldap::config::DEFAULT_BASE_DN.into()
        } else {
            form.base_dn
        },
        search_group: form.search_group,
    })
}

/// GET /if/admin/applications/new/{kind}
pub async fn new_get(State(state): State<AppState>, admin: Admin, Path(kind): Path<String>) -> Response {
    form_page(&state, &admin, &kind, NewAppForm::default(), None)
}

fn trimmed(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

/// POST /if/admin/applications/new/{kind}
pub async fn new_post(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    AdminForm(admin, form): AdminForm<NewAppForm>,
) -> Result<Response, PageError> {
    match create(&state, &admin, &kind, &form).await {
        Ok(page) => Ok(page),
        Err(PageError::Core(e)) if e.is_caller_error() => {
            Ok(form_page(&state, &admin, &kind, form, Some(e.to_string())))
        }
        Err(e) => Err(e),
    }
}

async fn create(state: &AppState, admin: &Admin, kind: &str, form: &NewAppForm) -> Result<Response, PageError> {
    let dir = &admin.directory;
    let audit = admin.audit();
    let slug = form.slug.trim();
    let name = trimmed(&form.name).unwrap_or(slug);
    let (spec, secret, launch) = match kind {
        "oidc" => {
            let client_type = if form.client_type == "public" {
                ClientType::Public
            } else {
                ClientType::Confidential
            };
            let mut cfg = OidcConfig::new(slug.to_string(), client_type);
            cfg.redirect_uris = form
                .redirect_uris
                .lines()
                .filter_map(trimmed)
                .map(parse_redirect_uri)
                .collect();
            let (spec, secret) = provision::client_spec(dir, cfg).await?;
            (spec, secret, trimmed(&form.launch_url).map(str::to_string))
        }
        "proxy" => {
            let config = ProxyConfig::from_settings(ProxySettings {
                mode: ProxyMode::ForwardSingle,
                external_host: form.external_host.trim().to_string(),
                cookie_domain: None,
                skip_paths: vec![],
                basic_auth_user_attribute: None,
                basic_auth_password_attribute: None,
            })?;
            let launch = format!("{}/", config.external_host);
            (config.provider_spec()?, None, Some(launch))
        }
        "saml" => {
            let acs = form.acs_urls.lines().filter_map(trimmed).map(str::to_string).collect();
            let cfg =
                SamlConfig::new(&form.audience, acs).map_err(|e| Error::invalid("SAML settings", e.to_string()))?;
            (cfg.provider_spec(), None, trimmed(&form.launch_url).map(str::to_string))
        }
        "ldap" => {
            let base_dn = trimmed(&form.base_dn).unwrap_or(gatehouse_ldap::config::DEFAULT_BASE_DN);
            let mut cfg = LdapConfig::new(base_dn).map_err(|e| Error::invalid("LDAP settings", e.to_string()))?;
            cfg.search_group = trimmed(&form.search_group).map(str::to_string);
            (cfg.checked_spec(dir).await?, None, None)
        }
        _ => return Err(Error::not_found("provider type", kind).into()),
    };
    let app = dir
        .apps()
        .create_with(&audit, slug, name, launch.as_deref(), Some(spec))
        .await?;
    if let Some(group) = trimmed(&form.group) {
        dir.apps().bind(&audit, &app.slug, group).await?;
    }
    super::settings::settings_page(state, admin, &app, secret).await
}
