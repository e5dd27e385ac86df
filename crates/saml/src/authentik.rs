//! authentik's SAML provider fields (`authentik_providers_saml.samlprovider`,
//! the REST API's `SAMLProviderRequest`) onto a [`SamlConfig`]: one
//! translation for blueprints and the API. References to other objects
//! (flows, key pairs, property mappings) are left to each door.

use gatehouse_core::fields::{FieldError, Fields, parse_duration};
use serde_json::Value;

use crate::keys::SignatureAlg;
use crate::response::SignMode;
use crate::{NameIdKind, SamlConfig};

/// The only digest Gatehouse signs with.
pub const DIGEST_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Which of assertion and response a [`SignMode`] signs.
pub fn sign_flags(mode: SignMode) -> (bool, bool) {
    match mode {
        SignMode::Assertion => (true, false),
        SignMode::Response => (false, true),
        SignMode::Both => (true, true),
    }
}

/// Applies every plain field `f` gives to `c` (not validated: the caller
/// calls [`SamlConfig::validate`]). Returns the field the ACS URLs came from
/// (for the error a failed validation points at); `notes`: fields accepted
/// but not used.
pub fn apply(c: &mut SamlConfig, f: &dyn Fields, notes: &mut Vec<String>) -> Result<&'static str, FieldError> {
    let acs_field = set_sp(c, f, notes)?;
    if let Some(v) = f.text("name_id")? {
        c.name_id = name_id(&v)?;
    }
    set_signing(c, f)?;
    set_sp_certs(c, f)?;
    set_logout(c, f)?;
    set_validity(c, f)?;
    Ok(acs_field)
}

pub fn name_id(v: &str) -> Result<NameIdKind, FieldError> {
    Ok(match v {
        "persistent" => NameIdKind::Persistent,
        "email" => NameIdKind::Email,
        "transient" => NameIdKind::Transient,
        "unspecified" => NameIdKind::Unspecified,
        "username" => NameIdKind::Username,
        other => {
            return Err(
                FieldError::new("name_id", format!("name_id '{other}' is not supported"))
                    .hint("persistent, email, transient, unspecified or username"),
            );
        }
    })
}

fn signature_alg(v: &str) -> Result<SignatureAlg, FieldError> {
    let short = match v {
        "rsa-sha256" => Some(SignatureAlg::RsaSha256),
        "rsa-sha512" => Some(SignatureAlg::RsaSha512),
        "ecdsa-sha256" => Some(SignatureAlg::EcdsaSha256),
        _ => None,
    };
    short.or_else(|| SignatureAlg::from_uri(v)).ok_or_else(|| {
        FieldError::new(
            "signature_algorithm",
            format!("signature_algorithm '{v}' is not supported"),
        )
        .hint(
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256, …#rsa-sha512 or …#ecdsa-sha256 \
                 (SHA-1 and DSA are refused)",
        )
    })
}

fn urls(f: &dyn Fields, k: &str) -> Result<Option<Vec<String>>, FieldError> {
    match f.value(k) {
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
            .ok_or_else(|| FieldError::new(k, format!("{k}: expected a URL or a list of URLs"))),
        Some(_) => Err(FieldError::new(k, format!("{k}: expected a URL or a list of URLs"))),
    }
}

/// Where the SP receives responses and what it calls itself; returns the
/// field the ACS URLs came from.
fn set_sp(c: &mut SamlConfig, f: &dyn Fields, notes: &mut Vec<String>) -> Result<&'static str, FieldError> {
    // authentik has one ACS URL (`acs_url`); Gatehouse takes several, the first the default.
    let acs_field = if f.present("acs_urls") { "acs_urls" } else { "acs_url" };
    if let Some(list) = urls(f, acs_field)? {
        c.acs_urls = list;
    }
    if let Some(v) = f.text("audience")? {
        c.audience = v;
    }
    if let Some(v) = f.text("issuer")? {
        notes.push(format!(
            "issuer '{v}' is not used: Gatehouse's IdP entity id is <external URL>/application/saml/<slug>/metadata/"
        ));
    }
    if let Some(b) = f.text("sp_binding")? {
        match b.as_str() {
            "post" => {}
            // SAML's Web SSO profile forbids Redirect for responses; SPs accept POST.
            "redirect" => notes.push("sp_binding redirect: Gatehouse sends responses with HTTP-POST".into()),
            other => {
                return Err(FieldError::new(
                    "sp_binding",
                    format!("sp_binding '{other}': redirect or post"),
                ));
            }
        }
    }
    Ok(acs_field)
}

/// What is signed, and with which algorithms.
fn set_signing(c: &mut SamlConfig, f: &dyn Fields) -> Result<(), FieldError> {
    let (sa, sr) = (f.flag("sign_assertion")?, f.flag("sign_response")?);
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
                return Err(FieldError::new(
                    k,
                    "Gatehouse always signs: sign_assertion or sign_response must be true",
                )
                .hint("sign_assertion: true"));
            }
        };
    }
    if let Some(v) = f.text("signature_algorithm")? {
        c.signing_alg = signature_alg(&v)?;
    }
    if let Some(v) = f.text("digest_algorithm")?
        && v != DIGEST_SHA256
        && v != "sha256"
    {
        return Err(
            FieldError::new("digest_algorithm", format!("digest_algorithm '{v}' is not supported"))
                .hint(format!("Gatehouse digests with SHA-256: {DIGEST_SHA256}")),
        );
    }
    Ok(())
}

/// The SP's certificates, and what it must (or may leave unsigned).
fn set_sp_certs(c: &mut SamlConfig, f: &dyn Fields) -> Result<(), FieldError> {
    if f.present("sp_certs") {
        // One certificate per item (a PEM text is one item, not one per line).
        c.sp_certs = match f.value("sp_certs") {
            None => vec![],
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| FieldError::new("sp_certs", "sp_certs: a list of PEM or base64 certificates"))?,
            Some(_) => {
                return Err(FieldError::new(
                    "sp_certs",
                    "sp_certs: a list of PEM or base64 certificates",
                ));
            }
        };
    }
    if let Some(v) = f.flag("want_authn_requests_signed")? {
        c.want_authn_requests_signed = v;
    }
    if let Some(v) = f.flag("allow_unsigned_logout")? {
        c.allow_unsigned_logout = v;
    }
    Ok(())
}

/// Single logout: where and how.
fn set_logout(c: &mut SamlConfig, f: &dyn Fields) -> Result<(), FieldError> {
    if f.present("sls_url") {
        c.slo_url = f.text("sls_url")?.filter(|s| !s.is_empty());
    }
    if let Some(b) = f.text("sls_binding")? {
        if b != "redirect" && b != "post" {
            return Err(FieldError::new("sls_binding", "sls_binding: redirect or post"));
        }
        c.slo_binding = Some(b);
    }
    if c.slo_url.is_none() {
        c.slo_binding = None;
    }
    Ok(())
}

/// The assertion's lifetime; authentik's other validity fields are checked only.
fn set_validity(c: &mut SamlConfig, f: &dyn Fields) -> Result<(), FieldError> {
    if let Some(v) = f.text("assertion_valid_not_on_or_after")? {
        c.assertion_valid_secs = parse_duration(&v).ok_or_else(|| {
            FieldError::new(
                "assertion_valid_not_on_or_after",
                "assertion_valid_not_on_or_after: authentik's duration form, e.g. minutes=5",
            )
        })?;
    }
    for k in ["assertion_valid_not_before", "session_valid_not_on_or_after"] {
        if let Some(v) = f.text(k)?
            && parse_duration(v.trim_start_matches('-')).is_none()
            && parse_duration(&v.replace("=-", "=")).is_none()
        {
            return Err(FieldError::new(
                k,
                format!("{k}: authentik's duration form, e.g. minutes=-5"),
            ));
        }
    }
    Ok(())
}
