//! `authentik_providers_saml.samlprovider` / `gatehouse.samlprovider`.
//! Field names are authentik's; the settings become the application's
//! `SamlConfig` (its `provider_config`, keyed by the SP entity id) once an
//! application entry references the provider.

use gatehouse_saml::keys::SignatureAlg;
use gatehouse_saml::response::SignMode;
use gatehouse_saml::{NameIdKind, SamlConfig};
use serde_json::Value;

use super::oauth2::parse_duration;
use super::{Attrs, Cx, Model, provider};
use crate::error::At;
use crate::eval::as_marker;
use crate::state::{ProviderDraft, State};

pub struct SamlModel;

/// The only digest Gatehouse signs with.
pub const DIGEST_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

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

/// Which of assertion and response a [`SignMode`] signs.
pub fn sign_flags(mode: SignMode) -> (bool, bool) {
    match mode {
        SignMode::Assertion => (true, false),
        SignMode::Response => (false, true),
        SignMode::Both => (true, true),
    }
}

fn name_id(a: &Attrs<'_>, v: &str) -> Result<NameIdKind, At> {
    Ok(match v {
        "persistent" => NameIdKind::Persistent,
        "email" => NameIdKind::Email,
        "transient" => NameIdKind::Transient,
        "unspecified" => NameIdKind::Unspecified,
        "username" => NameIdKind::Username,
        other => {
            return Err(a
                .err("name_id", format!("name_id '{other}' is not supported"))
                .hint("persistent, email, transient, unspecified or username"));
        }
    })
}

fn signature_alg(a: &Attrs<'_>, v: &str) -> Result<SignatureAlg, At> {
    let short = match v {
        "rsa-sha256" => Some(SignatureAlg::RsaSha256),
        "rsa-sha512" => Some(SignatureAlg::RsaSha512),
        "ecdsa-sha256" => Some(SignatureAlg::EcdsaSha256),
        _ => None,
    };
    short.or_else(|| SignatureAlg::from_uri(v)).ok_or_else(|| {
        a.err(
            "signature_algorithm",
            format!("signature_algorithm '{v}' is not supported"),
        )
        .hint(
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256, …#rsa-sha512 or …#ecdsa-sha256 \
                 (SHA-1 and DSA are refused)",
        )
    })
}

fn urls(a: &Attrs<'_>, k: &str) -> Result<Option<Vec<String>>, At> {
    match a.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        )),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| a.err(k, format!("{k}: expected a URL or a list of URLs"))),
        Some(_) => Err(a.err(k, format!("{k}: expected a URL or a list of URLs"))),
    }
}

fn set(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    provider::set_name(cx, i, a)?;
    let ProviderDraft::Saml(c) = &mut cx.st.providers[i].draft else {
        return Err(a.err("name", "this provider is not a SAML provider"));
    };
    let mut c2 = c.clone();
    let acs_field = set_sp(&mut c2, a, cx.notes)?;
    set_name_id(&mut c2, a)?;
    set_signing(&mut c2, a)?;
    set_sp_certs(&mut c2, a)?;
    set_logout(&mut c2, a)?;
    set_validity(&mut c2, a)?;
    check_references(a)?;
    *c = c2
        .validate()
        .map_err(|e| a.err(acs_field, format!("invalid SAML provider: {e}")))?;
    Ok(())
}

/// Where the SP receives responses and what it calls itself; returns the
/// field the ACS URLs came from.
fn set_sp(c: &mut SamlConfig, a: &Attrs<'_>, notes: &mut Vec<String>) -> Result<&'static str, At> {
    // authentik has one ACS URL (`acs_url`); Gatehouse takes several, the first the default.
    let acs_field = if a.has("acs_urls") { "acs_urls" } else { "acs_url" };
    if let Some(list) = urls(a, acs_field)? {
        c.acs_urls = list;
    }
    if let Some(v) = a.str("audience")? {
        c.audience = v;
    }
    if let Some(v) = a.str("issuer")? {
        notes.push(format!(
            "issuer '{v}' is not used: Gatehouse's IdP entity id is <external URL>/application/saml/<slug>/metadata/"
        ));
    }
    if let Some(b) = a.str("sp_binding")? {
        match b.as_str() {
            "post" => {}
            // SAML's Web SSO profile forbids Redirect for responses; SPs accept POST.
            "redirect" => notes.push("sp_binding redirect: Gatehouse sends responses with HTTP-POST".into()),
            other => return Err(a.err("sp_binding", format!("sp_binding '{other}': redirect or post"))),
        }
    }
    Ok(acs_field)
}

/// `name_id`, or authentik's `name_id_mapping` (a managed property mapping).
fn set_name_id(c: &mut SamlConfig, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(v) = a.str("name_id")? {
        c.name_id = name_id(a, &v)?;
        return Ok(());
    }
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

/// What is signed, and with which algorithms.
fn set_signing(c: &mut SamlConfig, a: &Attrs<'_>) -> Result<(), At> {
    let (sa, sr) = (a.bool("sign_assertion")?, a.bool("sign_response")?);
    if sa.is_some() || sr.is_some() {
        let (cur_a, cur_r) = sign_flags(c.sign);
        c.sign = match (sa.unwrap_or(cur_a), sr.unwrap_or(cur_r)) {
            (true, false) => SignMode::Assertion,
            (false, true) => SignMode::Response,
            (true, true) => SignMode::Both,
            (false, false) => {
                let k = if sa == Some(false) {
                    "sign_assertion"
                } else {
                    "sign_response"
                };
                return Err(a
                    .err(
                        k,
                        "Gatehouse always signs: sign_assertion or sign_response must be true",
                    )
                    .hint("sign_assertion: true"));
            }
        };
    }
    if let Some(v) = a.str("signature_algorithm")? {
        c.signing_alg = signature_alg(a, &v)?;
    }
    if let Some(v) = a.str("digest_algorithm")?
        && v != DIGEST_SHA256
        && v != "sha256"
    {
        return Err(a
            .err("digest_algorithm", format!("digest_algorithm '{v}' is not supported"))
            .hint(format!("Gatehouse digests with SHA-256: {DIGEST_SHA256}")));
    }
    Ok(())
}

/// The SP's certificates, and what it must (or may leave unsigned).
fn set_sp_certs(c: &mut SamlConfig, a: &Attrs<'_>) -> Result<(), At> {
    if a.has("sp_certs") {
        // One certificate per item (a PEM text is one item, not one per line).
        c.sp_certs = match a.get("sp_certs") {
            None => vec![],
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| a.err("sp_certs", "sp_certs: a list of PEM or base64 certificates"))?,
            Some(_) => return Err(a.err("sp_certs", "sp_certs: a list of PEM or base64 certificates")),
        };
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
    if let Some(v) = a.bool("want_authn_requests_signed")? {
        c.want_authn_requests_signed = v;
    }
    if let Some(v) = a.bool("allow_unsigned_logout")? {
        c.allow_unsigned_logout = v;
    }
    Ok(())
}

/// Single logout: where and how.
fn set_logout(c: &mut SamlConfig, a: &Attrs<'_>) -> Result<(), At> {
    if a.has("sls_url") {
        c.slo_url = a.str("sls_url")?.filter(|s| !s.is_empty());
    }
    if let Some(b) = a.str("sls_binding")? {
        if b != "redirect" && b != "post" {
            return Err(a.err("sls_binding", "sls_binding: redirect or post"));
        }
        c.slo_binding = Some(b);
    }
    if c.slo_url.is_none() {
        c.slo_binding = None;
    }
    Ok(())
}

/// The assertion's lifetime; authentik's other validity fields are checked only.
fn set_validity(c: &mut SamlConfig, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(v) = a.str("assertion_valid_not_on_or_after")? {
        c.assertion_valid_secs = parse_duration(&v).ok_or_else(|| {
            a.err(
                "assertion_valid_not_on_or_after",
                "assertion_valid_not_on_or_after: authentik's duration form, e.g. minutes=5",
            )
        })?;
    }
    for k in ["assertion_valid_not_before", "session_valid_not_on_or_after"] {
        if let Some(v) = a.str(k)?
            && parse_duration(v.trim_start_matches('-')).is_none()
            && parse_duration(&v.replace("=-", "=")).is_none()
        {
            return Err(a.err(k, format!("{k}: authentik's duration form, e.g. minutes=-5")));
        }
    }
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
