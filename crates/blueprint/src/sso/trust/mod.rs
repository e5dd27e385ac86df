//! Trust drift: does the service still trust what Gatehouse signs with?
//!
//! One module per kind. `oidc`: the issuer and JWKS URL the service is
//! configured with must be Gatehouse's for the application, and a JWKS file
//! the service reads must hold every key Gatehouse publishes (after a key
//! rotation it does not). `saml`: the IdP entity id the service is
//! configured with, and a certificate (PEM) or IdP metadata file the service
//! reads must hold every certificate Gatehouse publishes in the
//! application's metadata (a rotation publishes the next certificate before
//! it signs, so the file drifts at the rotation, not when the new key starts
//! signing). A repair rewrites the file atomically.

mod oidc;
mod saml;

use std::path::Path;

use gatehouse_core::{Audit, Directory};
use serde_json::{Map, Value, json};

use super::{Drift, Service, SsoType, drift, envfile};

pub use saml::{certs_in, metadata_entity_id, pem, saml_entity_id};

pub async fn check(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    match s.kind {
        SsoType::Saml => saml::check(dir, external_url, s, drifts).await,
        SsoType::Oidc => oidc::check(dir, external_url, s, drifts).await,
        SsoType::Proxy | SsoType::Ldap => Ok(()),
    }
}

/// Refreshes the trust files of a service; returns what was done.
pub async fn fix(
    dir: &Directory,
    audit: &Audit,
    external_url: &str,
    s: &Service,
    dry_run: bool,
) -> gatehouse_core::Result<Vec<String>> {
    let mut out = Vec::new();
    match s.kind {
        SsoType::Saml => saml::fix(dir, audit, external_url, s, dry_run, &mut out).await?,
        SsoType::Oidc => oidc::fix(dir, audit, s, dry_run, &mut out).await?,
        SsoType::Proxy | SsoType::Ldap => {}
    }
    Ok(out)
}

/// The issuer (OIDC) or IdP entity id (SAML) the service is configured with
/// must be Gatehouse's (`ours`); `what` names it.
fn check_issuer(s: &Service, what: &str, ours: &str, drifts: &mut Vec<Drift>) {
    if let Some(i) = &s.issuer
        && i != ours
    {
        drifts.push(drift(
            "trust",
            format!("the service trusts {what} {i}; Gatehouse's is {ours}"),
            vec![i.clone()],
            false,
        ));
    }
}

/// Replaces a trust file the service reads (atomically, the previous one
/// kept as a backup) and records the `sso_fix` event, with `details`.
async fn write_file(
    dir: &Directory,
    audit: &Audit,
    s: &Service,
    file: &Path,
    text: &str,
    details: Map<String, Value>,
) -> gatehouse_core::Result<()> {
    let meta = std::fs::metadata(file).ok();
    let backup = envfile::write_atomic(file, text.as_bytes(), meta.as_ref(), meta.is_some())
        .map_err(|e| gatehouse_core::Error::Refused(format!("cannot write {}: {e}", file.display())))?;
    let mut event = json!({"service": s.name, "application": s.slug, "file": file.display().to_string(),
        "backup": backup.map(|b| b.display().to_string())});
    if let Value::Object(m) = &mut event {
        m.extend(details);
    }
    dir.events().record(audit, super::SSO_FIX, None, event).await?;
    Ok(())
}
