//! OIDC trust: the issuer and JWKS URL the service is configured with, and a
//! JWKS file it reads, which must hold every key Gatehouse publishes.

use std::collections::BTreeSet;
use std::path::Path;

use gatehouse_core::{Audit, Directory};
use gatehouse_crypto::signing::SigningAlg;
use serde_json::{Map, Value, json};

use super::{check_issuer, write_file};
use crate::sso::{Drift, Service, drift};

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
        .apps()
        .by_slug(&s.slug)
        .await?
        .and_then(|a| gatehouse_oidc::config::OidcConfig::from_value(&a.provider_config).ok())
        .map(|c| c.signing_alg)
        .unwrap_or(SigningAlg::Rs256))
}

pub(super) async fn check(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let issuer = gatehouse_oidc::paths::issuer(external_url, &s.slug);
    check_issuer(s, "issuer", &issuer, drifts);
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
        check_jwks_file(dir, s, file, drifts).await?;
    }
    Ok(())
}

async fn check_jwks_file(
    dir: &Directory,
    s: &Service,
    file: &Path,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let alg = signing_alg(dir, s).await?;
    if dir.keys().ring().await?.signer(alg, dir.now()).is_none() {
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
    let current = kids(&dir.keys().published_jwks().await?);
    let theirs = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .map(|v| kids(&v));
    let Some(theirs) = theirs else {
        drifts.push(drift(
            "trust",
            format!("{} is missing or not a JWKS", file.display()),
            vec![],
            true,
        ));
        return Ok(());
    };
    let missing: Vec<String> = current.difference(&theirs).cloned().collect();
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
    Ok(())
}

/// Writes the published JWKS into the service's JWKS file.
pub(super) async fn fix(
    dir: &Directory,
    audit: &Audit,
    s: &Service,
    dry_run: bool,
    out: &mut Vec<String>,
) -> gatehouse_core::Result<()> {
    let Some(file) = &s.jwks_file else {
        return Ok(());
    };
    if !dry_run {
        // The first key is otherwise made at the first token: make it now.
        dir.keys().signing_key(signing_alg(dir, s).await?).await?;
        let jwks = dir.keys().published_jwks().await?;
        let text = serde_json::to_string_pretty(&jwks).unwrap_or_default() + "\n";
        let mut details = Map::new();
        details.insert("trust".into(), json!("jwks"));
        write_file(dir, audit, s, file, &text, details).await?;
    }
    out.push(format!("write the current JWKS to {}", file.display()));
    Ok(())
}
