//! Creating, changing and deleting providers. A request's fields become the
//! protocol's settings through the protocol crate's `authentik` translation
//! (the one blueprints use); core's providers service stores them, with one
//! audit event per change. A new provider is used by no application until
//! `core/applications/` names it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_core::fields::FieldError;
use gatehouse_core::invitations::{AUTHORIZATION_EXPLICIT, flow};
use gatehouse_core::providers::ProviderEntry;
use gatehouse_core::{Directory, ProviderKind, ProviderSpec};
use gatehouse_oidc::config::{ClientType, OidcConfig};
use serde_json::{Map, Value};

use super::requests::*;
use super::{LDAPProvider, OAuth2Provider, ProxyProvider, SAMLProvider, base_of, ldap, oauth2, pk, proxy, saml};
use crate::ApiState;
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, from_value};

/// A request's settings as the protocol will store them, and the client
/// secret to show once (an OAuth2 client's, when it was made or changed).
pub struct Built {
    spec: ProviderSpec,
    secret: Option<String>,
}

fn refused(e: FieldError) -> ApiError {
    let message = match e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message,
    };
    ApiError::field(&e.field, message)
}

/// The flows a provider names must be built-in flows of the right kind.
fn check_flows(f: &Map<String, Value>) -> ApiResult<()> {
    for (field, designation) in [
        ("authorization_flow", "authorization"),
        ("invalidation_flow", "invalidation"),
        ("authentication_flow", "authentication"),
    ] {
        let Some(v) = f.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let text = v.as_str().unwrap_or_default();
        // The request model already made it a UUID, so only a pk can match.
        if flow(text).is_none_or(|x| x.designation != designation) {
            return Err(ApiError::field(
                field,
                format!("Invalid pk \"{text}\" - object does not exist."),
            ));
        }
    }
    Ok(())
}

/// OAuth2: the authorization flow picks the consent screen; a confidential
/// client without a secret gets one (shown once); a given secret is hashed.
pub async fn build_oauth2(dir: &Directory, old: Option<&Value>, f: &Map<String, Value>) -> ApiResult<Built> {
    check_flows(f)?;
    let mut cfg = match old {
        Some(v) => OidcConfig::from_value(v).map_err(|e| ApiError::field(e.field, e.reason))?,
        None => OidcConfig::new(gatehouse_crypto::random_token(30), ClientType::Confidential),
    };
    let mut fields = f.clone();
    fields.remove("consent");
    if let Some(flow) = f.get("authorization_flow").and_then(Value::as_str) {
        let explicit = flow == AUTHORIZATION_EXPLICIT.to_string();
        fields.insert(
            "consent".into(),
            Value::from(if explicit { "explicit" } else { "implicit" }),
        );
    }
    gatehouse_oidc::authentik::apply(&mut cfg, &fields).map_err(refused)?;
    let given = f.get("client_secret").and_then(Value::as_str).filter(|s| !s.is_empty());
    let secret = gatehouse_oidc::provision::settle_secret(dir, &mut cfg, given).await?;
    cfg.validate().map_err(|e| ApiError::field(e.field, e.reason))?;
    Ok(Built {
        spec: gatehouse_oidc::provision::spec(&cfg),
        secret,
    })
}

pub async fn build_saml(_dir: &Directory, old: Option<&Value>, f: &Map<String, Value>) -> ApiResult<Built> {
    check_flows(f)?;
    let mut cfg = match old {
        Some(v) => gatehouse_saml::SamlConfig::from_value(v).map_err(|e| ApiError::general(e.to_string()))?,
        None => gatehouse_saml::SamlConfig::blank(),
    };
    let mut notes = Vec::new();
    let acs_field = gatehouse_saml::authentik::apply(&mut cfg, f, &mut notes).map_err(refused)?;
    if cfg.audience.is_empty() {
        return Err(ApiError::field(
            "audience",
            "Gatehouse knows a service provider by its entity id: give it as audience.",
        ));
    }
    let cfg = cfg.validate().map_err(|e| ApiError::field(acs_field, e.to_string()))?;
    Ok(Built {
        spec: cfg.provider_spec(),
        secret: None,
    })
}

pub async fn build_proxy(_dir: &Directory, old: Option<&Value>, f: &Map<String, Value>) -> ApiResult<Built> {
    check_flows(f)?;
    let base = match old {
        Some(v) => gatehouse_proxy::ProxyConfig::from_value(v)?,
        None => gatehouse_proxy::authentik::blank(),
    };
    let cfg = gatehouse_proxy::authentik::apply(&base, f).map_err(refused)?;
    Ok(Built {
        spec: cfg.provider_spec()?,
        secret: None,
    })
}

pub async fn build_ldap(dir: &Directory, old: Option<&Value>, f: &Map<String, Value>) -> ApiResult<Built> {
    check_flows(f)?;
    let base = match old {
        Some(v) => gatehouse_ldap::config::LdapConfig::from_value(v).map_err(|e| ApiError::general(e.to_string()))?,
        None => gatehouse_ldap::config::LdapConfig::new(gatehouse_ldap::config::DEFAULT_BASE_DN)
            .map_err(|e| ApiError::general(e.to_string()))?,
    };
    let cfg = gatehouse_ldap::authentik::apply(&base, f).map_err(refused)?;
    Ok(Built {
        spec: cfg.checked_spec(dir).await?,
        secret: None,
    })
}

/// An OAuth2 provider's answer carries the secret made or set by this request.
fn with_secret(mut p: OAuth2Provider, secret: Option<String>) -> OAuth2Provider {
    p.client_secret = secret;
    p
}

fn no_secret<T>(p: T, _secret: Option<String>) -> T {
    p
}

fn name_of(f: &Map<String, Value>) -> Option<&str> {
    f.get("name").and_then(Value::as_str)
}

/// Declares create, update, partial update and delete of one provider kind.
macro_rules! provider_writes {
    ($create:ident, $update:ident, $partial:ident, $destroy:ident, $kind:expr, $build:ident, $render:ident,
     $reveal:ident, $model:ty, $req:ty, $patched:ty, $path:literal, $item_path:literal,
     $create_op:literal, $update_op:literal, $partial_op:literal, $destroy_op:literal) => {
        #[utoipa::path(post, path = $path, operation_id = $create_op, tag = "providers", request_body = $req,
                            responses((status = 201, body = $model), (status = 400), (status = 403)))]
        pub async fn $create(
            State(state): State<ApiState>,
            Admin(c): Admin,
            Body(f): Body<Map<String, Value>>,
        ) -> ApiResult<(StatusCode, Json<$model>)> {
            let _: $req = from_value(Value::Object(f.clone()))?;
            let built = $build(&c.dir, None, &f).await?;
            let name = name_of(&f).unwrap_or_default();
            let entry = c.dir.providers().create(c.audit(), name, built.spec).await?;
            let shown = $render(&entry, base_of(&entry), &state.host.external_url());
            Ok((StatusCode::CREATED, Json($reveal(shown, built.secret))))
        }

        #[utoipa::path(put, path = $item_path, operation_id = $update_op, tag = "providers",
                            params(("id" = i64, Path)), request_body = $req,
                            responses((status = 200, body = $model), (status = 400), (status = 403), (status = 404)))]
        pub async fn $update(
            State(state): State<ApiState>,
            Admin(c): Admin,
            Path(id): Path<String>,
            Body(f): Body<Map<String, Value>>,
        ) -> ApiResult<Json<$model>> {
            let _: $req = from_value(Value::Object(f.clone()))?;
            change(&state, &c.dir, c.audit(), $kind, &id, f, $build, $render, $reveal).await
        }

        #[utoipa::path(patch, path = $item_path, operation_id = $partial_op, tag = "providers",
                            params(("id" = i64, Path)), request_body = $patched,
                            responses((status = 200, body = $model), (status = 400), (status = 403), (status = 404)))]
        pub async fn $partial(
            State(state): State<ApiState>,
            Admin(c): Admin,
            Path(id): Path<String>,
            Body(f): Body<Map<String, Value>>,
        ) -> ApiResult<Json<$model>> {
            let _: $patched = from_value(Value::Object(f.clone()))?;
            change(&state, &c.dir, c.audit(), $kind, &id, f, $build, $render, $reveal).await
        }

        #[utoipa::path(delete, path = $item_path, operation_id = $destroy_op, tag = "providers",
                            params(("id" = i64, Path)), responses((status = 204), (status = 403), (status = 404)))]
        pub async fn $destroy(Admin(c): Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
            c.dir.providers().delete(c.audit(), $kind, pk(&id)?).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

/// Applies a full or partial update to provider `id` of `kind`.
#[allow(clippy::too_many_arguments)]
async fn change<M, F>(
    state: &ApiState,
    dir: &Directory,
    audit: &gatehouse_core::Audit,
    kind: ProviderKind,
    id: &str,
    f: Map<String, Value>,
    build: impl AsyncFn(&Directory, Option<&Value>, &Map<String, Value>) -> ApiResult<Built>,
    render: F,
    reveal: fn(M, Option<String>) -> M,
) -> ApiResult<Json<M>>
where
    F: Fn(&ProviderEntry, super::Provider, &str) -> M,
{
    let old = dir.providers().get(kind, pk(id)?).await?;
    let built = build(dir, Some(&old.config), &f).await?;
    let entry = dir.providers().update(audit, old.pk, name_of(&f), built.spec).await?;
    let shown = render(&entry, base_of(&entry), &state.host.external_url());
    Ok(Json(reveal(shown, built.secret)))
}

provider_writes!(
    oauth2_create,
    oauth2_update,
    oauth2_partial_update,
    oauth2_destroy,
    ProviderKind::Oidc,
    build_oauth2,
    oauth2,
    with_secret,
    OAuth2Provider,
    OAuth2ProviderRequest,
    PatchedOAuth2ProviderRequest,
    "/providers/oauth2/",
    "/providers/oauth2/{id}/",
    "providers_oauth2_create",
    "providers_oauth2_update",
    "providers_oauth2_partial_update",
    "providers_oauth2_destroy"
);
provider_writes!(
    saml_create,
    saml_update,
    saml_partial_update,
    saml_destroy,
    ProviderKind::Saml,
    build_saml,
    saml,
    no_secret,
    SAMLProvider,
    SAMLProviderRequest,
    PatchedSAMLProviderRequest,
    "/providers/saml/",
    "/providers/saml/{id}/",
    "providers_saml_create",
    "providers_saml_update",
    "providers_saml_partial_update",
    "providers_saml_destroy"
);
provider_writes!(
    proxy_create,
    proxy_update,
    proxy_partial_update,
    proxy_destroy,
    ProviderKind::Proxy,
    build_proxy,
    proxy,
    no_secret,
    ProxyProvider,
    ProxyProviderRequest,
    PatchedProxyProviderRequest,
    "/providers/proxy/",
    "/providers/proxy/{id}/",
    "providers_proxy_create",
    "providers_proxy_update",
    "providers_proxy_partial_update",
    "providers_proxy_destroy"
);
provider_writes!(
    ldap_create,
    ldap_update,
    ldap_partial_update,
    ldap_destroy,
    ProviderKind::Ldap,
    build_ldap,
    ldap,
    no_secret,
    LDAPProvider,
    LDAPProviderRequest,
    PatchedLDAPProviderRequest,
    "/providers/ldap/",
    "/providers/ldap/{id}/",
    "providers_ldap_create",
    "providers_ldap_update",
    "providers_ldap_partial_update",
    "providers_ldap_destroy"
);
