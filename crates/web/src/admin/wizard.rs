//! New applications, one form per provider type, each ending on the exact
//! settings to paste into the downstream service. Providers are built by
//! their protocol crates (`gatehouse_oidc::provision`, `ProxyConfig`), the
//! same calls `gatehouse app create` makes; the write is core's.

use axum::extract::{Path, State};
use axum::response::Response;
use gatehouse_oidc::config::{ClientType, OidcConfig, parse_redirect_uri};
use gatehouse_oidc::provision;
use gatehouse_proxy::{ProxyConfig, ProxyMode, ProxySettings};
use serde::Deserialize;

use super::guard::{Admin, AdminForm};
use super::views::{AppNewPage, AppSettingsPage, Setting};
use super::{app_url, chrome};
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
    let base = state.config.external_url.trim_end_matches('/').to_string();
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
        _ => return Err(gatehouse_core::Error::not_found("provider type", kind).into()),
    };
    let app = dir
        .apps()
        .create_with(&audit, slug, name, launch.as_deref(), Some(spec))
        .await?;
    if let Some(group) = trimmed(&form.group) {
        dir.apps().bind(&audit, &app.slug, group).await?;
    }
    Ok(settings_page(state, admin, &app, &base, secret))
}

/// The settings the downstream service needs, for `app` (with its secret
/// when one was just made).
pub(crate) fn settings_page(
    state: &AppState,
    admin: &Admin,
    app: &gatehouse_core::Application,
    base: &str,
    secret: Option<String>,
) -> Response {
    let mut settings = Vec::new();
    let mut snippets = Vec::new();
    let mut add = |label: &str, value: String| {
        settings.push(Setting {
            label: label.into(),
            value,
        })
    };
    match app.provider.map(|p| p.as_str()) {
        Some("oidc") => {
            let issuer = gatehouse_oidc::paths::issuer(base, &app.slug);
            add("Issuer", issuer.clone());
            add("Discovery URL", format!("{issuer}.well-known/openid-configuration"));
            if let Ok(cfg) = provision::config_of(app) {
                add("Client ID", cfg.client_id.clone());
                match &secret {
                    Some(s) => add("Client secret (shown once)", s.clone()),
                    None if cfg.is_public() => {
                        add("Client secret", "none: a public client, PKCE (S256) required".into())
                    }
                    None => add("Client secret", "set; rotate it to see a new one".into()),
                }
                let uris: Vec<String> = cfg.redirect_uris.iter().map(|u| u.url.clone()).collect();
                add("Redirect URIs", uris.join("\n"));
            }
            add(
                "Authorization endpoint",
                format!("{base}{}", gatehouse_oidc::paths::AUTHORIZE),
            );
            add("Token endpoint", format!("{base}{}", gatehouse_oidc::paths::TOKEN));
            add(
                "Userinfo endpoint",
                format!("{base}{}", gatehouse_oidc::paths::USERINFO),
            );
            add("JWKS URL", format!("{issuer}jwks/"));
        }
        Some("proxy") => {
            let host = app.launch_url.clone().unwrap_or_default();
            add("Protected host", host.clone());
            let outpost = format!("{base}{}", gatehouse_proxy::OUTPOST_PREFIX);
            snippets.push((
                "nginx".to_string(),
                format!(
                    "# in the server block of {host} (see deploy/nginx/)\nlocation /outpost.goauthentik.io {{\n    proxy_pass {outpost};\n}}\nlocation / {{\n    auth_request /outpost.goauthentik.io/auth/nginx;\n    error_page 401 = @gatehouse_signin;\n    # … proxy_pass to the service\n}}\nlocation @gatehouse_signin {{\n    return 302 /outpost.goauthentik.io/start?rd=$scheme://$http_host$request_uri;\n}}"
                ),
            ));
            snippets.push((
                "Traefik".to_string(),
                format!(
                    "http:\n  middlewares:\n    gatehouse:\n      forwardAuth:\n        address: {outpost}/auth/traefik\n        trustForwardHeader: false\n        authResponseHeaders: [X-authentik-username, X-authentik-groups, X-authentik-email, X-authentik-name, X-authentik-uid, X-authentik-jwt]\n# full file: deploy/traefik/gatehouse.yml"
                ),
            ));
            snippets.push((
                "Caddy".to_string(),
                format!(
                    "import /etc/caddy/gatehouse.caddy   # deploy/caddy/gatehouse.caddy\n{} {{\n    route {{\n        import gatehouse_forward_auth {}\n        reverse_proxy 127.0.0.1:3000\n    }}\n}}",
                    host.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/'),
                    base.trim_start_matches("https://").trim_start_matches("http://")
                ),
            ));
        }
        _ => {}
    }
    render(&AppSettingsPage {
        branding: state.branding(),
        chrome: chrome(admin, "applications"),
        name: app.name.clone(),
        slug: app.slug.clone(),
        app_url: app_url(&app.slug),
        settings,
        snippets,
    })
}
