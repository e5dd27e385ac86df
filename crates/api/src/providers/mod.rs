//! `providers/{oauth2,saml,proxy,ldap}/`: providers as authentik's API has
//! them, objects of their own with an integer `pk` and a name, made before
//! the application that uses them (`core/applications/` attaches one by
//! `provider: pk`). Reading is here; writing in `write.rs`, through core's
//! providers service. Settings are translated by each protocol crate's
//! `authentik` module (the blueprints' translation); secrets are never shown
//! after creation (client secrets are stored as HMACs only).

use axum::Json;
use axum::extract::{Path, State};
use gatehouse_core::invitations::{AUTHORIZATION_EXPLICIT, AUTHORIZATION_IMPLICIT, INVALIDATION};
use gatehouse_core::providers::ProviderEntry;
use gatehouse_core::{Application, ProviderKind};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ApiState;
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::input::Params;
use crate::paging::{PageParams, paginated};

mod requests;
mod write;

pub use requests::*;
pub use write::*;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Provider {
    pub pk: i64,
    pub name: String,
    pub authentication_flow: Option<Uuid>,
    pub authorization_flow: Uuid,
    pub invalidation_flow: Uuid,
    pub property_mappings: Vec<Uuid>,
    pub component: String,
    pub assigned_application_slug: Option<String>,
    pub assigned_application_name: Option<String>,
    pub assigned_backchannel_application_slug: Option<String>,
    pub assigned_backchannel_application_name: Option<String>,
    pub verbose_name: String,
    pub verbose_name_plural: String,
    pub meta_model_name: String,
}

/// authentik's component, verbose name and model name of a provider kind.
fn names(kind: ProviderKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        ProviderKind::Oidc => (
            "oauth2",
            "OAuth2/OpenID Provider",
            "authentik_providers_oauth2.oauth2provider",
        ),
        ProviderKind::Saml => ("saml", "SAML Provider", "authentik_providers_saml.samlprovider"),
        ProviderKind::Proxy => ("proxy", "Proxy Provider", "authentik_providers_proxy.proxyprovider"),
        ProviderKind::Ldap => ("ldap", "LDAP Provider", "authentik_providers_ldap.ldapprovider"),
    }
}

/// A provider in authentik's common shape.
pub fn base_of(entry: &ProviderEntry) -> Provider {
    base(
        entry.kind,
        entry.pk,
        entry.name.clone(),
        &entry.config,
        entry.application.as_ref(),
    )
}

/// The provider `app` uses, in authentik's common shape, if it has one.
pub fn provider_base(app: &Application) -> Option<Provider> {
    Some(base(
        app.provider?,
        app.provider_pk?,
        app.provider_display_name(),
        &app.provider_config,
        Some(app),
    ))
}

fn base(kind: ProviderKind, pk: i64, name: String, cfg: &Value, app: Option<&Application>) -> Provider {
    let (component, verbose, model) = names(kind);
    let explicit = cfg.get("consent").and_then(Value::as_str) == Some("explicit");
    Provider {
        pk,
        name,
        authentication_flow: None,
        authorization_flow: if explicit {
            AUTHORIZATION_EXPLICIT
        } else {
            AUTHORIZATION_IMPLICIT
        },
        invalidation_flow: INVALIDATION,
        property_mappings: Vec::new(),
        component: format!("ak-provider-{component}-form"),
        assigned_application_slug: app.map(|a| a.slug.clone()),
        assigned_application_name: app.map(|a| a.name.clone()),
        assigned_backchannel_application_slug: None,
        assigned_backchannel_application_name: None,
        verbose_name: verbose.into(),
        verbose_name_plural: format!("{verbose}s"),
        meta_model_name: model.into(),
    }
}

fn text(cfg: &Value, key: &str) -> String {
    cfg.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn seconds(cfg: &Value, key: &str, default: i64) -> String {
    format!("seconds={}", cfg.get(key).and_then(Value::as_i64).unwrap_or(default))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedirectUri {
    pub matching_mode: String,
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(clippy::upper_case_acronyms)]
pub struct OAuth2Provider {
    #[serde(flatten)]
    pub base: Provider,
    pub client_type: String,
    pub client_id: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub access_code_validity: String,
    pub access_token_validity: String,
    pub refresh_token_validity: String,
    pub include_claims_in_id_token: bool,
    pub sub_mode: String,
    pub issuer_mode: String,
    pub signing_key: Option<Uuid>,
    /// Shown once, in the answer to the request that made or changed it.
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SAMLProvider {
    #[serde(flatten)]
    pub base: Provider,
    pub acs_url: String,
    pub audience: String,
    pub sls_url: String,
    pub url_download_metadata: String,
    pub url_issuer: String,
    pub url_unified: String,
    pub url_unified_init: String,
    pub url_sso_post: String,
    pub url_sso_redirect: String,
    pub url_sso_init: String,
    pub url_slo_post: String,
    pub url_slo_redirect: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProxyProvider {
    #[serde(flatten)]
    pub base: Provider,
    pub client_id: String,
    pub internal_host: String,
    pub external_host: String,
    pub mode: String,
    pub cookie_domain: String,
    pub skip_path_regex: String,
    pub basic_auth_enabled: bool,
    pub basic_auth_user_attribute: String,
    pub basic_auth_password_attribute: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub outpost_set: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LDAPProvider {
    #[serde(flatten)]
    pub base: Provider,
    pub base_dn: String,
    pub uid_start_number: i64,
    pub gid_start_number: i64,
    pub outpost_set: Vec<String>,
    pub search_mode: String,
    pub bind_mode: String,
    pub mfa_support: bool,
}

paginated!(PaginatedOAuth2ProviderList, OAuth2Provider);
paginated!(PaginatedSAMLProviderList, SAMLProvider);
paginated!(PaginatedProxyProviderList, ProxyProvider);
paginated!(PaginatedLDAPProviderList, LDAPProvider);

fn oauth2(p: &ProviderEntry, base: Provider, _url: &str) -> OAuth2Provider {
    let cfg = &p.config;
    let redirect_uris = cfg
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|r| RedirectUri {
                    matching_mode: text(r, "matching_mode"),
                    url: text(r, "url"),
                })
                .collect()
        })
        .unwrap_or_default();
    let sub_mode = match text(cfg, "sub_mode").as_str() {
        "uuid" => "user_uuid",
        "username" => "user_username",
        "email" => "user_email",
        _ => "hashed_user_id",
    };
    OAuth2Provider {
        base,
        client_type: text(cfg, "client_type"),
        client_id: text(cfg, "client_id"),
        redirect_uris,
        access_code_validity: "minutes=1".into(),
        access_token_validity: seconds(cfg, "access_token_validity_secs", 300),
        refresh_token_validity: seconds(cfg, "refresh_token_validity_secs", 30 * 86_400),
        include_claims_in_id_token: cfg
            .get("include_claims_in_id_token")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        sub_mode: sub_mode.into(),
        issuer_mode: "per_provider".into(),
        signing_key: None,
        client_secret: None,
    }
}

fn saml(p: &ProviderEntry, base: Provider, url: &str) -> SAMLProvider {
    let cfg = &p.config;
    let acs = cfg
        .get("acs_urls")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The endpoints are the application's: none until one uses the provider.
    let at = |path: &str| match &p.application {
        Some(app) => format!("{}/application/saml/{}/{path}", url.trim_end_matches('/'), app.slug),
        None => String::new(),
    };
    SAMLProvider {
        url_download_metadata: at("metadata/"),
        url_issuer: at("metadata/"),
        url_unified: at("sso/binding/redirect/"),
        url_unified_init: at("sso/binding/init/"),
        url_sso_post: at("sso/binding/post/"),
        url_sso_redirect: at("sso/binding/redirect/"),
        url_sso_init: at("sso/binding/init/"),
        url_slo_post: at("slo/binding/post/"),
        url_slo_redirect: at("slo/binding/redirect/"),
        base,
        acs_url: acs.to_string(),
        audience: text(cfg, "audience"),
        sls_url: text(cfg, "slo_url"),
    }
}

fn proxy(p: &ProviderEntry, base: Provider, _url: &str) -> ProxyProvider {
    let cfg = &p.config;
    let flag = |k: &str| cfg.get(k).and_then(Value::as_bool).unwrap_or(false);
    ProxyProvider {
        base,
        client_id: p.key.clone().unwrap_or_default(),
        internal_host: text(cfg, "internal_host"),
        external_host: text(cfg, "external_host"),
        mode: text(cfg, "mode"),
        cookie_domain: text(cfg, "cookie_domain"),
        skip_path_regex: text(cfg, "skip_path_regex"),
        basic_auth_enabled: flag("basic_auth_enabled"),
        basic_auth_user_attribute: text(cfg, "basic_auth_user_attribute"),
        basic_auth_password_attribute: text(cfg, "basic_auth_password_attribute"),
        redirect_uris: Vec::new(),
        outpost_set: Vec::new(),
    }
}

fn ldap(p: &ProviderEntry, base: Provider, _url: &str) -> LDAPProvider {
    let cfg = &p.config;
    let number = |k: &str, d: i64| cfg.get(k).and_then(Value::as_i64).unwrap_or(d);
    LDAPProvider {
        base,
        base_dn: text(cfg, "base_dn"),
        uid_start_number: number("uid_start_number", 2000),
        gid_start_number: number("gid_start_number", 4000),
        outpost_set: Vec::new(),
        search_mode: "direct".into(),
        bind_mode: "direct".into(),
        mfa_support: text(cfg, "mfa") != "off",
    }
}

/// Declares the list and retrieve handlers of one provider kind.
macro_rules! provider_routes {
    ($list:ident, $retrieve:ident, $kind:expr, $render:ident, $model:ty, $paged:ident,
     $path:literal, $item_path:literal, $list_op:literal, $get_op:literal) => {
        #[utoipa::path(get, path = $path, operation_id = $list_op, tag = "providers",
            params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query),
                ("search" = Option<String>, Query), ("name" = Option<String>, Query)),
            responses((status = 200, body = $paged), (status = 403), (status = 404)))]
        pub async fn $list(State(state): State<ApiState>, Admin(c): Admin, params: Params) -> ApiResult<Json<$paged>> {
            let page = PageParams::from(&params)?;
            let url = state.host.external_url();
            let search = page.search.as_deref().map(str::to_lowercase);
            let entries: Vec<ProviderEntry> = c
                .dir
                .providers()
                .list($kind)
                .await?
                .into_iter()
                .filter(|p| search.as_deref().is_none_or(|s| p.name.to_lowercase().contains(s)))
                .filter(|p| params.get("name").is_none_or(|n| n == p.name))
                .collect();
            let slice = page.slice(entries);
            let results = slice.items.iter().map(|p| $render(p, base_of(p), &url)).collect();
            Ok(Json($paged::new(&page, slice.count, results)?))
        }

        #[utoipa::path(get, path = $item_path, operation_id = $get_op, tag = "providers",
            params(("id" = i64, Path)), responses((status = 200, body = $model), (status = 403), (status = 404)))]
        pub async fn $retrieve(State(state): State<ApiState>, Admin(c): Admin, Path(id): Path<String>) -> ApiResult<Json<$model>> {
            let entry = c.dir.providers().get($kind, pk(&id)?).await?;
            Ok(Json($render(&entry, base_of(&entry), &state.host.external_url())))
        }
    };
}

/// A provider pk from the path; anything else names no provider.
fn pk(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| ApiError::NotFound)
}

provider_routes!(
    oauth2_list,
    oauth2_retrieve,
    ProviderKind::Oidc,
    oauth2,
    OAuth2Provider,
    PaginatedOAuth2ProviderList,
    "/providers/oauth2/",
    "/providers/oauth2/{id}/",
    "providers_oauth2_list",
    "providers_oauth2_retrieve"
);
provider_routes!(
    saml_list,
    saml_retrieve,
    ProviderKind::Saml,
    saml,
    SAMLProvider,
    PaginatedSAMLProviderList,
    "/providers/saml/",
    "/providers/saml/{id}/",
    "providers_saml_list",
    "providers_saml_retrieve"
);
provider_routes!(
    proxy_list,
    proxy_retrieve,
    ProviderKind::Proxy,
    proxy,
    ProxyProvider,
    PaginatedProxyProviderList,
    "/providers/proxy/",
    "/providers/proxy/{id}/",
    "providers_proxy_list",
    "providers_proxy_retrieve"
);
provider_routes!(
    ldap_list,
    ldap_retrieve,
    ProviderKind::Ldap,
    ldap,
    LDAPProvider,
    PaginatedLDAPProviderList,
    "/providers/ldap/",
    "/providers/ldap/{id}/",
    "providers_ldap_list",
    "providers_ldap_retrieve"
);
