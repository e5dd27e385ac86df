//! Applications, each with its provider as an entry of its own (authentik's
//! shape): OAuth2/OIDC, proxy, SAML and LDAP, with authentik's field names.

use gatehouse_core::{Application, ProviderKind};
use gatehouse_ldap::LdapConfig;
use gatehouse_oidc::config::{ClientType, ConsentMode, MatchingMode, OidcConfig};
use gatehouse_proxy::ProxyConfig;
use gatehouse_saml::{NameIdKind, SamlConfig};

use super::Exporter;
use super::writer::{Y, entry, env, env_name, find, ident, keyof, s};
use crate::models::saml::mapping_of_name_id;
use gatehouse_core::fields::format_duration;
use gatehouse_oidc::authentik::sub_mode_name;
use gatehouse_saml::authentik::{DIGEST_SHA256, sign_flags};

type Attrs = Vec<(String, Y)>;

fn provider_entry(model: &str, app: &Application, pid: &str, attrs: Attrs) -> Y {
    entry(
        model,
        Some(pid.to_string()),
        vec![(
            "name".into(),
            s(app.provider_name.clone().unwrap_or_else(|| app.name.clone())),
        )],
        attrs,
    )
}

fn strings(items: &[String]) -> Y {
    Y::List(items.iter().map(|x| s(x.clone())).collect())
}

impl Exporter {
    pub(super) fn applications(&mut self) {
        let apps = std::mem::take(&mut self.c.applications);
        for app in &apps {
            let pid = ident("provider", &app.slug);
            let provider = self.provider(app, &pid);
            let has_provider = provider.is_some();
            self.entries.extend(provider);
            let mut attrs = vec![("name".to_string(), s(app.name.clone()))];
            attrs.push((
                "meta_launch_url".into(),
                app.launch_url.clone().map(Y::Str).unwrap_or(Y::Null),
            ));
            // A provider the export cannot write is left out, so that
            // applying the export leaves it as it is.
            if has_provider {
                attrs.push(("provider".into(), keyof(pid)));
            } else if app.provider.is_none() {
                attrs.push(("provider".into(), Y::Null));
            }
            self.entries.push(entry(
                "authentik_core.application",
                Some(ident("app", &app.slug)),
                vec![("slug".into(), s(app.slug.clone()))],
                attrs,
            ));
        }
        self.c.applications = apps;
    }

    /// The application's provider entry, when its settings can be read.
    fn provider(&mut self, app: &Application, pid: &str) -> Option<Y> {
        let config = &app.provider_config;
        match app.provider? {
            ProviderKind::Oidc => {
                let cfg = OidcConfig::from_value(config).ok()?;
                let attrs = self.oidc_attrs(app, &cfg);
                Some(provider_entry(
                    "authentik_providers_oauth2.oauth2provider",
                    app,
                    pid,
                    attrs,
                ))
            }
            ProviderKind::Proxy => {
                let attrs = proxy_attrs(&ProxyConfig::from_value(config).ok()?);
                Some(provider_entry(
                    "authentik_providers_proxy.proxyprovider",
                    app,
                    pid,
                    attrs,
                ))
            }
            ProviderKind::Saml => {
                let attrs = saml_attrs(&SamlConfig::from_value(config).ok()?);
                Some(provider_entry("authentik_providers_saml.samlprovider", app, pid, attrs))
            }
            ProviderKind::Ldap => {
                let attrs = ldap_attrs(&LdapConfig::from_value(config).ok()?);
                Some(provider_entry("authentik_providers_ldap.ldapprovider", app, pid, attrs))
            }
        }
    }

    /// The client; its secret as an `!Env` reference (only a keyed hash is stored).
    fn oidc_attrs(&mut self, app: &Application, cfg: &OidcConfig) -> Attrs {
        let client_type = match cfg.client_type {
            ClientType::Confidential => "confidential",
            ClientType::Public => "public",
        };
        let mut attrs = vec![
            ("client_id".to_string(), s(cfg.client_id.clone())),
            ("client_type".into(), s(client_type)),
        ];
        if !cfg.is_public() {
            let var = env_name(&app.slug, "CLIENT_SECRET");
            self.needs_env(&var, format!("the client secret of {}", app.slug));
            if self.include_secrets {
                self.notes.push(format!(
                    "application {}: the client secret is stored as a keyed hash and cannot be exported (set {var}, or rotate it)",
                    app.slug
                ));
            }
            attrs.push(("client_secret".into(), env(var)));
        }
        attrs.extend(oidc_settings(cfg));
        attrs
    }
}

/// An OIDC client's settings but its identity and secret.
fn oidc_settings(cfg: &OidcConfig) -> Attrs {
    let redirect_uri = |url: &str, mode: MatchingMode| {
        let mode = match mode {
            MatchingMode::Strict => "strict",
            MatchingMode::Regex => "regex",
        };
        Y::Map(vec![("matching_mode".into(), s(mode)), ("url".into(), s(url))])
    };
    let redirect_uris = cfg
        .redirect_uris
        .iter()
        .map(|r| redirect_uri(&r.url, r.matching_mode))
        .collect();
    let mut attrs = vec![("redirect_uris".to_string(), Y::List(redirect_uris))];
    if !cfg.post_logout_redirect_uris.is_empty() {
        attrs.push((
            "post_logout_redirect_uris".into(),
            strings(&cfg.post_logout_redirect_uris),
        ));
    }
    let flow = match cfg.consent {
        ConsentMode::Implicit => "default-provider-authorization-implicit-consent",
        ConsentMode::Explicit => "default-provider-authorization-explicit-consent",
    };
    attrs.extend([
        ("authorization_flow".into(), find("authentik_flows.flow", "slug", flow)),
        (
            "access_token_validity".into(),
            s(format_duration(cfg.access_token_validity_secs)),
        ),
        (
            "refresh_token_validity".into(),
            s(format_duration(cfg.refresh_token_validity_secs)),
        ),
        ("sub_mode".into(), s(sub_mode_name(cfg.sub_mode))),
        (
            "include_claims_in_id_token".into(),
            Y::Bool(cfg.include_claims_in_id_token),
        ),
        ("signing_alg".into(), s(cfg.signing_alg.as_str())),
    ]);
    if !cfg.role_mapping.is_empty() {
        let roles = cfg
            .role_mapping
            .iter()
            .map(|(g, r)| (g.clone(), s(r.clone())))
            .collect();
        attrs.push(("role_mapping".into(), Y::Map(roles)));
    }
    if cfg.allow_plain_pkce {
        attrs.push(("allow_plain_pkce".into(), Y::Bool(true)));
    }
    if cfg.device_flow {
        attrs.push(("device_flow".into(), Y::Bool(true)));
    }
    attrs
}

fn ldap_attrs(c: &LdapConfig) -> Attrs {
    let mut attrs = vec![
        ("base_dn".to_string(), s(c.base_dn.clone())),
        ("mfa".into(), s(c.mfa.as_str())),
        ("uid_start_number".into(), Y::Int(c.uid_start_number)),
        ("gid_start_number".into(), Y::Int(c.gid_start_number)),
    ];
    if let Some(g) = &c.search_group {
        attrs.push(("search_group".into(), s(g.clone())));
    }
    attrs
}

fn proxy_attrs(c: &ProxyConfig) -> Attrs {
    let mut attrs = vec![
        ("mode".to_string(), s(c.mode.as_str())),
        ("external_host".into(), s(c.external_host.clone())),
    ];
    if !c.cookie_domain.is_empty() {
        attrs.push(("cookie_domain".into(), s(c.cookie_domain.clone())));
    }
    if !c.skip_path_regex.is_empty() {
        attrs.push(("skip_path_regex".into(), s(c.skip_path_regex.clone())));
    }
    if c.basic_auth_enabled {
        attrs.push(("basic_auth_enabled".into(), Y::Bool(true)));
        attrs.push((
            "basic_auth_user_attribute".into(),
            s(c.basic_auth_user_attribute.clone()),
        ));
        attrs.push((
            "basic_auth_password_attribute".into(),
            s(c.basic_auth_password_attribute.clone()),
        ));
    }
    attrs
}

fn saml_attrs(c: &SamlConfig) -> Attrs {
    let mut attrs = vec![];
    if let [one] = c.acs_urls.as_slice() {
        attrs.push(("acs_url".to_string(), s(one.clone())));
    } else {
        attrs.push(("acs_urls".to_string(), strings(&c.acs_urls)));
    }
    attrs.push(("audience".into(), s(c.audience.clone())));
    attrs.push(("sp_binding".into(), s("post")));
    attrs.push(saml_name_id(c.name_id));
    let (sign_assertion, sign_response) = sign_flags(c.sign);
    attrs.extend([
        ("sign_assertion".into(), Y::Bool(sign_assertion)),
        ("sign_response".into(), Y::Bool(sign_response)),
        ("signature_algorithm".into(), s(c.signing_alg.uri())),
        ("digest_algorithm".into(), s(DIGEST_SHA256)),
        (
            "assertion_valid_not_on_or_after".into(),
            s(format_duration(c.assertion_valid_secs)),
        ),
    ]);
    if !c.sp_certs.is_empty() {
        attrs.push(("sp_certs".into(), strings(&c.sp_certs)));
    }
    if c.want_authn_requests_signed {
        attrs.push(("want_authn_requests_signed".into(), Y::Bool(true)));
    }
    if c.allow_unsigned_logout {
        attrs.push(("allow_unsigned_logout".into(), Y::Bool(true)));
    }
    if let Some(u) = &c.slo_url {
        attrs.push(("sls_url".into(), s(u.clone())));
        if let Some(b) = &c.slo_binding {
            attrs.push(("sls_binding".into(), s(b.clone())));
        }
    }
    attrs
}

/// The NameID as authentik writes it: a managed property mapping where
/// there is one (none: authentik's persistent default), else `name_id`.
fn saml_name_id(name_id: NameIdKind) -> (String, Y) {
    match (name_id, mapping_of_name_id(name_id)) {
        (NameIdKind::Persistent, _) => ("name_id_mapping".into(), Y::Null),
        (NameIdKind::Email | NameIdKind::Username, Some(m)) => (
            "name_id_mapping".into(),
            find("authentik_providers_saml.samlpropertymapping", "managed", m),
        ),
        (other, _) => ("name_id".into(), s(other.as_str())),
    }
}
