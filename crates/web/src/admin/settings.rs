//! The settings page of an application: exactly what to paste into the
//! downstream service, per provider type (after the wizard, after a secret
//! rotation, and on demand). The URLs come from the protocol crates' path
//! helpers, the ones the CLI prints.

use axum::response::Response;
use gatehouse_core::Application;
use gatehouse_ldap::LdapConfig;
use gatehouse_oidc::provision;
use gatehouse_saml::SamlConfig;
use gatehouse_saml::paths::IdpUrls;

use super::app_url;
use super::chrome;
use super::guard::Admin;
use super::views::{AppSettingsPage, Setting};
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

/// The page's content: settings, configuration snippets and downloads.
#[derive(Default)]
struct Sheet {
    settings: Vec<Setting>,
    snippets: Vec<(String, String)>,
    downloads: Vec<(String, String, String)>,
}

impl Sheet {
    fn add(&mut self, label: &str, value: String) {
        self.settings.push(Setting {
            label: label.into(),
            value,
        });
    }
}

/// The settings the downstream service needs, for `app` (with its secret
/// when one was just made).
pub(crate) async fn settings_page(
    state: &AppState,
    admin: &Admin,
    app: &Application,
    secret: Option<String>,
) -> Result<Response, PageError> {
    let base = state.config.external_url.trim_end_matches('/');
    let mut sheet = Sheet::default();
    match app.provider.map(|p| p.as_str()) {
        Some("oidc") => oidc(&mut sheet, app, base, secret),
        Some("proxy") => proxy(&mut sheet, app, base),
        Some("saml") => saml(&mut sheet, admin, app, base).await?,
        Some("ldap") => ldap(&mut sheet, app, &state.config.ldap_urls),
        _ => {}
    }
    Ok(render(&AppSettingsPage {
        branding: state.branding(),
        chrome: chrome(admin, "applications"),
        name: app.name.clone(),
        slug: app.slug.clone(),
        app_url: app_url(&app.slug),
        settings: sheet.settings,
        snippets: sheet.snippets,
        downloads: sheet.downloads,
    }))
}

fn oidc(sheet: &mut Sheet, app: &Application, base: &str, secret: Option<String>) {
    let issuer = gatehouse_oidc::paths::issuer(base, &app.slug);
    sheet.add("Issuer", issuer.clone());
    sheet.add("Discovery URL", format!("{issuer}.well-known/openid-configuration"));
    if let Ok(cfg) = provision::config_of(app) {
        sheet.add("Client ID", cfg.client_id.clone());
        match &secret {
            Some(s) => sheet.add("Client secret (shown once)", s.clone()),
            None if cfg.is_public() => sheet.add("Client secret", "none: a public client, PKCE (S256) required".into()),
            None => sheet.add("Client secret", "set; rotate it to see a new one".into()),
        }
        let uris: Vec<String> = cfg.redirect_uris.iter().map(|u| u.url.clone()).collect();
        sheet.add("Redirect URIs", uris.join("\n"));
    }
    sheet.add(
        "Authorization endpoint",
        format!("{base}{}", gatehouse_oidc::paths::AUTHORIZE),
    );
    sheet.add("Token endpoint", format!("{base}{}", gatehouse_oidc::paths::TOKEN));
    sheet.add(
        "Userinfo endpoint",
        format!("{base}{}", gatehouse_oidc::paths::USERINFO),
    );
    sheet.add("JWKS URL", format!("{issuer}jwks/"));
}

fn proxy(sheet: &mut Sheet, app: &Application, base: &str) {
    let host = app.launch_url.clone().unwrap_or_default();
    sheet.add("Protected host", host.clone());
    let outpost = format!("{base}{}", gatehouse_proxy::OUTPOST_PREFIX);
    sheet.snippets.push((
        "nginx".to_string(),
        format!(
            "# in the server block of {host} (see deploy/nginx/)\nlocation /outpost.goauthentik.io {{\n    proxy_pass {outpost};\n}}\nlocation / {{\n    auth_request /outpost.goauthentik.io/auth/nginx;\n    error_page 401 = @gatehouse_signin;\n    # … proxy_pass to the service\n}}\nlocation @gatehouse_signin {{\n    return 302 /outpost.goauthentik.io/start?rd=$scheme://$http_host$request_uri;\n}}"
        ),
    ));
    sheet.snippets.push((
        "Traefik".to_string(),
        format!(
            "http:\n  middlewares:\n    gatehouse:\n      forwardAuth:\n        address: {outpost}/auth/traefik\n        trustForwardHeader: false\n        authResponseHeaders: [X-authentik-username, X-authentik-groups, X-authentik-email, X-authentik-name, X-authentik-uid, X-authentik-jwt]\n# full file: deploy/traefik/gatehouse.yml"
        ),
    ));
    sheet.snippets.push((
        "Caddy".to_string(),
        format!(
            "import /etc/caddy/gatehouse.caddy   # deploy/caddy/gatehouse.caddy\n{} {{\n    route {{\n        import gatehouse_forward_auth {}\n        reverse_proxy 127.0.0.1:3000\n    }}\n}}",
            host.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/'),
            base.trim_start_matches("https://").trim_start_matches("http://")
        ),
    ));
}

/// The IdP's URLs and the certificate that signs for this application (made
/// now if the ring has none yet, as the metadata endpoint would).
async fn saml(sheet: &mut Sheet, admin: &Admin, app: &Application, base: &str) -> Result<(), PageError> {
    let Ok(cfg) = SamlConfig::from_value(&app.provider_config) else {
        return Ok(());
    };
    let urls = IdpUrls::new(base, &app.slug);
    sheet.add("IdP entity ID and metadata URL", urls.metadata.clone());
    sheet.add("SSO URL (HTTP-Redirect)", urls.sso_redirect);
    sheet.add("SSO URL (HTTP-POST)", urls.sso_post);
    sheet.add("IdP-initiated sign-in", urls.idp_initiated);
    sheet.add("SP entity ID (audience)", cfg.audience.clone());
    sheet.add("ACS URLs", cfg.acs_urls.join("\n"));
    sheet.add("NameID", cfg.name_id.as_str().into());
    let family = cfg.signing_alg.family();
    let certs = gatehouse_saml::service::published_certificates(&admin.directory, family, true).await?;
    if let Some(first) = certs.first() {
        sheet.add(
            "Signing certificate",
            gatehouse_saml::keys::pem_of(first).trim_end().to_string(),
        );
    }
    sheet.downloads.push((
        "Download IdP metadata".into(),
        urls.metadata,
        format!("{}-idp-metadata.xml", app.slug),
    ));
    Ok(())
}

/// Where LDAP clients connect, the tree, and what a Redmine-like service
/// binds as and searches for.
fn ldap(sheet: &mut Sheet, app: &Application, urls: &[String]) {
    let Ok(cfg) = LdapConfig::from_value(&app.provider_config) else {
        return;
    };
    let reach = if urls.is_empty() {
        "LDAP is off on this server (GATEHOUSE_LDAP_LISTEN): run `gatehouse ldap` where clients reach it".into()
    } else {
        urls.join("\n")
    };
    sheet.add("LDAP URLs", reach);
    sheet.add("Base DN", cfg.base_dn.clone());
    sheet.add("Bind DN", cfg.bind_dn_pattern());
    sheet.add("Users", format!("ou=users,{}", cfg.base_dn));
    sheet.add("Groups", format!("ou=groups,{}", cfg.base_dn));
    sheet.add("User search filter", LdapConfig::USER_FILTER.into());
    sheet.add("Login attribute", "uid".into());
    sheet.add(
        "Search account",
        match &cfg.search_group {
            Some(g) => format!("a member of {g} (others see only their own entry)"),
            None => "any account that may bind".into(),
        },
    );
    let mfa = match cfg.mfa {
        gatehouse_ldap::config::MfaMode::Required => "required: every bind sends password;CODE",
        gatehouse_ldap::config::MfaMode::Optional => "optional: whoever uses MFA sends password;CODE",
    };
    sheet.add("MFA", mfa.into());
}
