//! Trust drift: does the service still trust what Gatehouse signs with?
//!
//! One function per kind. OIDC (now): the issuer and JWKS URL the service is
//! configured with must be Gatehouse's for the application, and a JWKS file
//! the service reads must hold every key Gatehouse publishes (after a key
//! rotation it does not). SAML (when the SAML provider lands): compare the
//! certificate or metadata file with the current SAML signing certificate,
//! and on fix write the current metadata; add it as another arm of
//! [`check`] and [`fix`] keyed on `SsoType::Saml` and `Service::certificate_file`.

use std::collections::BTreeSet;

use gatehouse_core::blueprint_apply::record_event;
use gatehouse_core::{Audit, Directory};
use gatehouse_crypto::signing::SigningAlg;
use serde_json::{Value, json};

use super::{Drift, Service, SsoType, drift, envfile};

fn kids(jwks: &Value) -> BTreeSet<String> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The algorithm the application signs with (RS256 when unknown).
async fn signing_alg(dir: &Directory, s: &Service) -> gatehouse_core::Result<SigningAlg> {
    Ok(dir
        .store()
        .application_by_slug(&s.slug)
        .await?
        .and_then(|a| gatehouse_oidc::config::OidcConfig::from_value(&a.provider_config).ok())
        .map(|c| c.signing_alg)
        .unwrap_or(SigningAlg::Rs256))
}

pub async fn check(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    if s.kind != SsoType::Oidc {
        return Ok(());
    }
    let issuer = gatehouse_oidc::paths::issuer(external_url, &s.slug);
    if let Some(i) = &s.issuer
        && i != &issuer
    {
        drifts.push(drift(
            "trust",
            format!("the service trusts issuer {i}; Gatehouse's is {issuer}"),
            vec![i.clone()],
            false,
        ));
    }
    if let Some(u) = &s.jwks_url {
        let want = format!("{issuer}jwks/");
        if *u != want {
            drifts.push(drift(
                "trust",
                format!("the service fetches keys from {u}; Gatehouse publishes them at {want}"),
                vec![u.clone()],
                false,
            ));
        }
    }
    if let Some(file) = &s.jwks_file {
        let alg = signing_alg(dir, s).await?;
        if dir.key_ring().await?.signer(alg, dir.now()).is_none() {
            drifts.push(drift(
                "trust",
                format!(
                    "Gatehouse has no {} signing key yet for the service to trust",
                    alg.as_str()
                ),
                vec![],
                true,
            ));
            return Ok(());
        }
        let current = kids(&dir.published_jwks().await?);
        let theirs = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .map(|v| kids(&v));
        match theirs {
            None => drifts.push(drift(
                "trust",
                format!("{} is missing or not a JWKS", file.display()),
                vec![],
                true,
            )),
            Some(t) => {
                let missing: Vec<String> = current.difference(&t).cloned().collect();
                if !missing.is_empty() {
                    drifts.push(drift(
                        "trust",
                        format!(
                            "{} lacks Gatehouse's current signing keys (rotated?): {}",
                            file.display(),
                            missing.join(", ")
                        ),
                        missing,
                        true,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Refreshes the trust files of a service; returns what was done.
pub async fn fix(
    dir: &Directory,
    audit: &Audit,
    _external_url: &str,
    s: &Service,
    dry_run: bool,
) -> gatehouse_core::Result<Vec<String>> {
    let mut out = Vec::new();
    if s.kind == SsoType::Oidc
        && let Some(file) = &s.jwks_file
    {
        if !dry_run {
            // The first key is otherwise made at the first token: make it now.
            dir.signing_key(signing_alg(dir, s).await?).await?;
            let jwks = dir.published_jwks().await?;
            let meta = std::fs::metadata(file).ok();
            let text = serde_json::to_string_pretty(&jwks).unwrap_or_default() + "\n";
            let backup = envfile::write_atomic(file, text.as_bytes(), meta.as_ref(), meta.is_some())
                .map_err(|e| gatehouse_core::Error::Refused(format!("cannot write {}: {e}", file.display())))?;
            record_event(
                dir,
                audit,
                super::SSO_FIX,
                None,
                json!({"service": s.name, "application": s.slug, "file": file.display().to_string(),
                       "trust": "jwks", "backup": backup.map(|b| b.display().to_string())}),
            )
            .await?;
        }
        out.push(format!("write the current JWKS to {}", file.display()));
    }
    Ok(out)
}
