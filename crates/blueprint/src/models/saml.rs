//! `authentik_providers_saml.samlprovider` / `gatehouse.samlprovider`.
//! Field names are authentik's; the settings become the application's
//! `SamlConfig` (its `provider_config`, keyed by the SP entity id) once an
//! application entry references the provider.

use gatehouse_saml::{NameIdKind, SamlConfig};
use serde_json::Value;

use super::{Attrs, Cx, Model, provider};
use crate::error::At;
use crate::eval::as_marker;
use crate::state::{ProviderDraft, State};

pub struct SamlModel;

/// authentik's managed SAML property mappings Gatehouse knows, by the last
/// part of their `managed` name, and the NameID each gives.
pub fn name_id_of_mapping(managed: &str) -> Option<NameIdKind> {
    match managed.rsplit('/').next().unwrap_or_default() {
        "email" => Some(NameIdKind::Email),
        "username" => Some(NameIdKind::Username),
        "uid" => Some(NameIdKind::Persistent),
        _ => None,
    }
}

/// The managed mapping written for a NameID on export (None: no mapping,
/// authentik's default of a persistent pseudonym).
pub fn mapping_of_name_id(n: NameIdKind) -> Option<&'static str> {
    match n {
        NameIdKind::Email => Some("goauthentik.io/providers/saml/email"),
        NameIdKind::Username | NameIdKind::Unspecified => Some("goauthentik.io/providers/saml/username"),
        NameIdKind::Persistent | NameIdKind::Transient => None,
    }
}

/// A SAML provider's settings before an entry (or an SSO repair) sets them:
/// authentik's defaults, without ACS URL and audience.
pub fn default_config() -> SamlConfig {
    SamlConfig::blank()
}

fn find_rec(st: &State, q: &Attrs<'_>) -> Result<Option<usize>, At> {
    if let Some(found) = provider::by_pk(st, q) {
        return Ok(found);
    }
    let audience = q.str("audience")?;
    let name = q.str("name")?;
    if audience.is_none() && name.is_none() {
        return Err(q.err(
            "name",
            "a SAML provider is identified by its name or audience (SP entity id)",
        ));
    }
    Ok(provider::position(
        st,
        name.as_deref(),
        |d| matches!(d, ProviderDraft::Saml(c) if audience.as_ref().is_none_or(|a| *a == c.audience)),
    ))
}

fn set(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    provider::set_name(cx, i, a)?;
    let ProviderDraft::Saml(c) = &mut cx.st.providers[i].draft else {
        return Err(a.err("name", "this provider is not a SAML provider"));
    };
    let mut c2 = c.clone();
    let acs_field = gatehouse_saml::authentik::apply(&mut c2, a, cx.notes).map_err(|e| a.refused(e))?;
    if !a.has("name_id") {
        set_name_id_mapping(&mut c2, a)?;
    }
    check_references(a)?;
    *c = c2
        .validate()
        .map_err(|e| a.err(acs_field, format!("invalid SAML provider: {e}")))?;
    Ok(())
}

/// authentik's `name_id_mapping` (a managed property mapping), unless
/// `name_id` names the NameID itself.
fn set_name_id_mapping(c: &mut SamlConfig, a: &Attrs<'_>) -> Result<(), At> {
    if !a.has("name_id_mapping") {
        return Ok(());
    }
    c.name_id = match a.get("name_id_mapping") {
        None => NameIdKind::Persistent,
        Some(v) => match as_marker(v) {
            Some(("samlmapping", m)) => name_id_of_mapping(m).ok_or_else(|| {
                a.err("name_id_mapping", format!("name_id_mapping '{m}' is not supported"))
                    .hint("the managed email, username or uid mapping, or name_id: persistent|email|transient|username")
            })?,
            _ => {
                return Err(a
                    .err("name_id_mapping", "name_id_mapping: expected a managed SAML property mapping")
                    .hint(
                        "!Find [authentik_providers_saml.samlpropertymapping, [managed, goauthentik.io/providers/saml/email]]",
                    ));
            }
        },
    };
    Ok(())
}

/// Flows, key pair and property mappings: references accepted as authentik
/// writes them, though Gatehouse's own are built in.
fn check_references(a: &Attrs<'_>) -> Result<(), At> {
    for k in ["authorization_flow", "invalidation_flow"] {
        if let Some(v) = a.get(k)
            && !matches!(as_marker(v), Some(("flow", _)))
        {
            return Err(a
                .err(k, format!("{k}: expected a flow reference"))
                .hint("!Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]"));
        }
    }
    if let Some(v) = a.get("verification_kp")
        && !(a.has("sp_certs") && matches!(as_marker(v), Some(("keypair", _))))
    {
        return Err(a
            .err(
                "verification_kp",
                "verification_kp: Gatehouse needs the SP's certificate itself",
            )
            .hint("give it as sp_certs: [!File sp-cert.pem] (a key pair reference alone cannot be resolved)"));
    }
    if let Some(v) = a.get("signing_kp")
        && !matches!(as_marker(v), Some(("keypair", _)))
    {
        return Err(a
            .err("signing_kp", "signing_kp: expected a key pair reference")
            .hint("SAML signing keys are managed with `gatehouse key rotate --kind saml`"));
    }
    if let Some(v) = a.get("property_mappings") {
        let ok = v
            .as_array()
            .is_some_and(|items| items.iter().all(|m| matches!(as_marker(m), Some(("samlmapping", _)))));
        if !ok {
            return Err(a
                .err(
                    "property_mappings",
                    "property_mappings: only authentik's managed SAML mappings are accepted",
                )
                .hint("Gatehouse's attributes are fixed (email, name, username, uid, groups)"));
        }
    }
    Ok(())
}

impl Model for SamlModel {
    fn name(&self) -> &'static str {
        "authentik_providers_saml.samlprovider"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.samlprovider"
    }
    fn is_provider(&self) -> bool {
        true
    }
    fn fields(&self) -> &'static [&'static str] {
        &[
            "name",
            "acs_url",
            "acs_urls",
            "audience",
            "issuer",
            "sp_binding",
            "name_id",
            "name_id_mapping",
            "sign_assertion",
            "sign_response",
            "signature_algorithm",
            "digest_algorithm",
            "sp_certs",
            "verification_kp",
            "want_authn_requests_signed",
            "allow_unsigned_logout",
            "sls_url",
            "sls_binding",
            "assertion_valid_not_before",
            "assertion_valid_not_on_or_after",
            "session_valid_not_on_or_after",
            "authorization_flow",
            "invalidation_flow",
            "signing_kp",
            "property_mappings",
        ]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("encryption_kp", "Gatehouse does not encrypt assertions"),
            (
                "default_relay_state",
                "IdP-initiated sign-in is not supported; the SP starts with an AuthnRequest",
            ),
            (
                "authn_context_class_ref_mapping",
                "the AuthnContextClassRef is fixed (PasswordProtectedTransport)",
            ),
            ("sign_logout_request", "logout messages are signed like responses"),
            ("logout_method", "single logout is front-channel"),
            ("authentication_flow", "Gatehouse's sign-in flow is built in"),
            ("backchannel_providers", "Gatehouse has no backchannel providers"),
        ]
    }
    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        Ok(provider::pk_of(st, find_rec(st, q)?))
    }
    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let name = provider::new_name(a)?;
        if !a.has("acs_url") && !a.has("acs_urls") {
            return Err(a
                .err("name", "a SAML provider needs acs_url")
                .hint("acs_url: https://sp.example.com/saml/acs"));
        }
        if a.str("audience")?.is_none() {
            return Err(a
                .err("name", "a SAML provider needs audience (the SP's entity id)")
                .hint("audience: https://sp.example.com/saml/metadata"));
        }
        provider::create(cx, a, name, ProviderDraft::Saml(default_config()), set)
    }
    fn update(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        provider::update(cx, pkv, a, set)
    }
    fn delete(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        provider::delete(cx, pkv, a)
    }
}
