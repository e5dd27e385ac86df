//! `authentik_providers_oauth2.oauth2provider` / `gatehouse.oidcprovider`.
//! Field names are authentik's; the settings become the application's
//! `OidcConfig` once an application entry references the provider.

use std::collections::BTreeMap;

use gatehouse_crypto::signing::SigningAlg;
use gatehouse_oidc::config::{ClientType, ConsentMode, MatchingMode, OidcConfig, RedirectUri, SubMode};
use serde_json::Value;

use super::{Attrs, Cx, Model, provider, slugish};
use crate::error::At;
use crate::eval::as_marker;
use crate::state::{ProviderDraft, State};

pub struct OAuth2Model;

/// Stands for a secret given in plain text until apply compares or hashes it.
pub const PENDING_SECRET: &str = "pending:from-blueprint";

/// authentik's `timedelta` text: `hours=1;minutes=30`, `days=30`, `seconds=600`.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total = 0i64;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (unit, n) = part.split_once('=')?;
        let n: f64 = n.trim().parse().ok()?;
        let mult = match unit.trim() {
            "weeks" => 604_800.0,
            "days" => 86_400.0,
            "hours" => 3600.0,
            "minutes" => 60.0,
            "seconds" => 1.0,
            _ => return None,
        };
        total += (n * mult) as i64;
    }
    Some(total)
}

pub fn format_duration(secs: i64) -> String {
    if secs % 86_400 == 0 {
        format!("days={}", secs / 86_400)
    } else if secs % 3600 == 0 {
        format!("hours={}", secs / 3600)
    } else if secs % 60 == 0 {
        format!("minutes={}", secs / 60)
    } else {
        format!("seconds={secs}")
    }
}

pub fn sub_mode_name(m: SubMode) -> &'static str {
    match m {
        SubMode::Hashed => "hashed_user_id",
        SubMode::Uuid => "user_uuid",
        SubMode::Username => "user_username",
        SubMode::Email => "user_email",
    }
}

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
    set_client(cfg, secret, a)?;
    set_uris(cfg, a)?;
    set_tokens(cfg, a)?;
    set_consent(cfg, a)?;
    set_signing(cfg, a)?;
    set_claims(cfg, a)?;
    if let Some(v) = a.bool("allow_plain_pkce")? {
        cfg.allow_plain_pkce = v;
    }
    if let Some(v) = a.bool("device_flow")? {
        cfg.device_flow = v;
    }
    cfg.validate()
        .map_err(|e| a.err("name", format!("invalid OAuth2 provider: {e}")))?;
    Ok(())
}

/// The client's identity, type and (plain-text, hashed at apply) secret.
fn set_client(cfg: &mut OidcConfig, secret: &mut Option<String>, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(v) = a.str("client_id")? {
        cfg.client_id = v;
    }
    if let Some(t) = a.str("client_type")? {
        cfg.client_type = match t.as_str() {
            "confidential" => ClientType::Confidential,
            "public" => ClientType::Public,
            _ => return Err(a.err("client_type", "client_type: confidential or public")),
        };
    }
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

fn set_uris(cfg: &mut OidcConfig, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(v) = a.get("redirect_uris") {
        cfg.redirect_uris = redirect_uris(v).ok_or_else(|| {
            a.err("redirect_uris", "redirect_uris: a list of {matching_mode, url}")
                .hint("- {matching_mode: strict, url: https://app.example.com/callback}")
        })?;
    }
    if let Some(v) = a.get("post_logout_redirect_uris") {
        cfg.post_logout_redirect_uris = v
            .as_array()
            .and_then(|a| a.iter().map(|u| u.as_str().map(str::to_string)).collect())
            .ok_or_else(|| a.err("post_logout_redirect_uris", "expected a list of URLs"))?;
    }
    Ok(())
}

/// Token lifetimes and contents, and the issuer they name.
fn set_tokens(cfg: &mut OidcConfig, a: &Attrs<'_>) -> Result<(), At> {
    for (field, target) in [
        ("access_token_validity", &mut cfg.access_token_validity_secs),
        ("refresh_token_validity", &mut cfg.refresh_token_validity_secs),
    ] {
        if let Some(v) = a.str(field)? {
            *target = parse_duration(&v)
                .ok_or_else(|| a.err(field, format!("{field}: authentik's duration form, e.g. minutes=10")))?;
        }
    }
    if let Some(v) = a.bool("include_claims_in_id_token")? {
        cfg.include_claims_in_id_token = v;
    }
    if let Some(v) = a.str("sub_mode")? {
        cfg.sub_mode = match v.as_str() {
            "hashed_user_id" | "hashed" => SubMode::Hashed,
            "user_uuid" | "uuid" => SubMode::Uuid,
            "user_username" | "username" => SubMode::Username,
            "user_email" | "email" => SubMode::Email,
            other => {
                return Err(a
                    .err("sub_mode", format!("sub_mode '{other}' is not supported"))
                    .hint("hashed_user_id, user_uuid, user_username or user_email"));
            }
        };
    }
    if let Some(v) = a.str("issuer_mode")?
        && v != "per_provider"
    {
        return Err(a
            .err("issuer_mode", "only per_provider issuers are supported")
            .hint("Gatehouse's issuer is /application/o/<slug>/"));
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
            "explicit" => ConsentMode::Explicit,
            _ => return Err(a.err("consent", "consent: implicit or explicit")),
        };
    }
    Ok(())
}

fn set_signing(cfg: &mut OidcConfig, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(v) = a.get("signing_key")
        && !matches!(as_marker(v), Some(("keypair", _)))
    {
        return Err(a.err("signing_key", "signing_key: expected a key pair reference"));
    }
    if let Some(v) = a.str("signing_alg")? {
        cfg.signing_alg =
            SigningAlg::parse(&v).ok_or_else(|| a.err("signing_alg", "signing_alg: RS256, ES256 or EdDSA"))?;
    }
    Ok(())
}

/// Scope mappings (the built-in ones only) and the group → role mapping.
fn set_claims(cfg: &mut OidcConfig, a: &Attrs<'_>) -> Result<(), At> {
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
    if let Some(v) = a.get("role_mapping") {
        let m = v
            .as_object()
            .ok_or_else(|| a.err("role_mapping", "role_mapping: a mapping GROUP: ROLE"))?;
        let mut out = BTreeMap::new();
        for (g, r) in m {
            out.insert(g.clone(), r.as_str().unwrap_or_default().to_string());
        }
        cfg.role_mapping = out;
    }
    Ok(())
}

fn redirect_uris(v: &Value) -> Option<Vec<RedirectUri>> {
    match v {
        // authentik before 2024.8: one URL per line.
        Value::String(s) => Some(
            s.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| gatehouse_oidc::config::parse_redirect_uri(l.trim()))
                .collect(),
        ),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Some(gatehouse_oidc::config::parse_redirect_uri(s)),
                Value::Object(o) => {
                    let url = o.get("url")?.as_str()?.to_string();
                    let mode = match o.get("matching_mode").and_then(Value::as_str).unwrap_or("strict") {
                        "strict" => MatchingMode::Strict,
                        "regex" => MatchingMode::Regex,
                        _ => return None,
                    };
                    Some(RedirectUri {
                        matching_mode: mode,
                        url,
                    })
                }
                _ => None,
            })
            .collect(),
        _ => None,
    }
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
