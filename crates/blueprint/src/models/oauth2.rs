//! `authentik_providers_oauth2.oauth2provider` / `gatehouse.oidcprovider`.
//! Field names are authentik's; the settings become the application's
//! `OidcConfig` once an application entry references the provider.

use gatehouse_oidc::config::{ClientType, ConsentMode, OidcConfig};
use serde_json::Value;

use super::{Attrs, Cx, Model, provider, slugish};
use crate::error::At;
use crate::eval::as_marker;
use crate::state::{ProviderDraft, State};

pub struct OAuth2Model;

/// Stands for a secret given in plain text until apply compares or hashes it.
pub const PENDING_SECRET: &str = "pending:from-blueprint";

fn find_rec(st: &State, q: &Attrs<'_>) -> Result<Option<usize>, At> {
    if let Some(found) = provider::by_pk(st, q) {
        return Ok(found);
    }
    let client_id = q.str("client_id")?;
    let name = q.str("name")?;
    if client_id.is_none() && name.is_none() {
        return Err(q.err("name", "a provider is identified by its name or client_id"));
    }
    Ok(provider::position(
        st,
        name.as_deref(),
        |d| matches!(d, ProviderDraft::Oidc { cfg, .. } if client_id.as_ref().is_none_or(|c| *c == cfg.client_id)),
    ))
}

fn set(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    provider::set_name(cx, i, a)?;
    let ProviderDraft::Oidc { cfg, secret } = &mut cx.st.providers[i].draft else {
        return Err(a.err("name", "this provider is not an OAuth2 provider"));
    };
    gatehouse_oidc::authentik::apply(cfg, a).map_err(|e| a.refused(e))?;
    set_secret(cfg, secret, a)?;
    set_consent(cfg, a)?;
    check_references(a)?;
    cfg.validate()
        .map_err(|e| a.err("name", format!("invalid OAuth2 provider: {e}")))?;
    Ok(())
}

/// The client's (plain-text, hashed at apply) secret.
fn set_secret(cfg: &mut OidcConfig, secret: &mut Option<String>, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(s) = a.str("client_secret")? {
        *secret = Some(s);
        if cfg.client_secret_hash.is_none() {
            cfg.client_secret_hash = Some(PENDING_SECRET.into());
        }
    }
    if cfg.is_public() {
        cfg.client_secret_hash = None;
        *secret = None;
    } else if cfg.client_secret_hash.is_none() {
        return Err(a
            .err("client_secret", "a confidential client needs client_secret")
            .hint("client_secret: !Env GRAFANA_CLIENT_SECRET (the service's copy of the secret)"));
    }
    Ok(())
}

/// Consent: authentik's authorization flow (implicit or explicit), or `consent`.
fn set_consent(cfg: &mut OidcConfig, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(v) = a.get("authorization_flow") {
        match as_marker(v) {
            Some(("flow", slug)) => {
                cfg.consent = if slug.contains("explicit") {
                    ConsentMode::Explicit
                } else {
                    ConsentMode::Implicit
                };
            }
            _ => {
                return Err(a
                    .err("authorization_flow", "authorization_flow: expected a flow reference")
                    .hint("!Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]"));
            }
        }
    }
    if let Some(v) = a.str("consent")? {
        cfg.consent = match v.as_str() {
            "implicit" => ConsentMode::Implicit,
            _ => ConsentMode::Explicit,
        };
    }
    Ok(())
}

/// References the API and blueprints name differently: a key pair, the
/// built-in scope mappings.
fn check_references(a: &Attrs<'_>) -> Result<(), At> {
    if let Some(v) = a.get("signing_key")
        && !matches!(as_marker(v), Some(("keypair", _)))
    {
        return Err(a.err("signing_key", "signing_key: expected a key pair reference"));
    }
    if let Some(v) = a.get("property_mappings") {
        let ok = v
            .as_array()
            .is_some_and(|items| items.iter().all(|m| matches!(as_marker(m), Some(("scope", _)))));
        if !ok {
            return Err(a
                .err("property_mappings", "property_mappings: only the built-in scope mappings are supported")
                .hint("!Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-email]]"));
        }
    }
    Ok(())
}

impl Model for OAuth2Model {
    fn name(&self) -> &'static str {
        "authentik_providers_oauth2.oauth2provider"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.oidcprovider"
    }
    fn is_provider(&self) -> bool {
        true
    }
    fn fields(&self) -> &'static [&'static str] {
        &[
            "name",
            "client_id",
            "client_type",
            "client_secret",
            "redirect_uris",
            "post_logout_redirect_uris",
            "access_token_validity",
            "refresh_token_validity",
            "include_claims_in_id_token",
            "sub_mode",
            "issuer_mode",
            "authorization_flow",
            "invalidation_flow",
            "signing_key",
            "property_mappings",
            "consent",
            "signing_alg",
            "role_mapping",
            "allow_plain_pkce",
            "device_flow",
        ]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("access_code_validity", "authorization codes live 60 seconds"),
            ("encryption_key", "Gatehouse does not encrypt ID tokens"),
            ("jwks_sources", "Gatehouse does not accept federated JWTs"),
            ("authentication_flow", "Gatehouse's sign-in flow is built in"),
        ]
    }
    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        Ok(provider::pk_of(st, find_rec(st, q)?))
    }
    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let name = provider::new_name(a)?;
        let client_id = a.str("client_id")?.unwrap_or_else(|| slugish(&name));
        let draft = ProviderDraft::Oidc {
            cfg: OidcConfig::new(client_id, ClientType::Confidential),
            secret: None,
        };
        provider::create(cx, a, name, draft, set)
    }
    fn update(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        provider::update(cx, pkv, a, set)
    }
    fn delete(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        provider::delete(cx, pkv, a)
    }
}
