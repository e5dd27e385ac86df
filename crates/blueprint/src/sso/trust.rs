//! Trust drift: does the service still trust what Gatehouse signs with?
//!
//! One function per kind. OIDC (now): the issuer and JWKS URL the service is
//! configured with must be Gatehouse's for the application, and a JWKS file
//! the service reads must hold every key Gatehouse publishes (after a key
//! rotation it does not). SAML: the IdP entity id the service is configured
//! with, and a certificate (PEM) or IdP metadata file the service reads must
//! hold every certificate Gatehouse publishes in the application's metadata
//! (a rotation publishes the next certificate before it signs, so the file
//! drifts at the rotation, not when the new key starts signing); fix writes
//! the published certificates (or the metadata) atomically.

use std::collections::BTreeSet;

use gatehouse_core::{Audit, Directory};
use gatehouse_crypto::signing::SigningAlg;
use serde_json::{Value, json};

use gatehouse_saml::metadata::{IdpMetadata, idp_metadata};
use gatehouse_saml::service::published_certificates;
use gatehouse_saml::{KeyFamily, SamlConfig};

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
        .apps()
        .by_slug(&s.slug)
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
    if s.kind == SsoType::Saml {
        return check_saml(dir, external_url, s, drifts).await;
    }
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
    external_url: &str,
    s: &Service,
    dry_run: bool,
) -> gatehouse_core::Result<Vec<String>> {
    let mut out = Vec::new();
    if s.kind == SsoType::Saml {
        fix_saml(dir, audit, external_url, s, dry_run, &mut out).await?;
    }
    if s.kind == SsoType::Oidc
        && let Some(file) = &s.jwks_file
    {
        if !dry_run {
            // The first key is otherwise made at the first token: make it now.
            dir.keys().signing_key(signing_alg(dir, s).await?).await?;
            let jwks = dir.keys().published_jwks().await?;
            let meta = std::fs::metadata(file).ok();
            let text = serde_json::to_string_pretty(&jwks).unwrap_or_default() + "\n";
            let backup = envfile::write_atomic(file, text.as_bytes(), meta.as_ref(), meta.is_some())
                .map_err(|e| gatehouse_core::Error::Refused(format!("cannot write {}: {e}", file.display())))?;
            dir.events()
                .record(
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

// ---- SAML --------------------------------------------------------------------

/// The IdP entity id of a SAML application (what its metadata says).
pub fn saml_entity_id(external_url: &str, slug: &str) -> String {
    format!(
        "{}/application/saml/{slug}/metadata/",
        external_url.trim_end_matches('/')
    )
}

/// The SAML settings of the service's application, when it is a SAML one.
async fn saml_config(dir: &Directory, s: &Service) -> gatehouse_core::Result<Option<SamlConfig>> {
    Ok(dir
        .apps()
        .by_slug(&s.slug)
        .await?
        .filter(|a| a.provider == Some(gatehouse_core::ProviderKind::Saml))
        .and_then(|a| SamlConfig::from_value(&a.provider_config).ok()))
}

async fn saml_family(dir: &Directory, s: &Service) -> gatehouse_core::Result<KeyFamily> {
    Ok(saml_config(dir, s)
        .await?
        .map(|c| c.signing_alg.family())
        .unwrap_or(KeyFamily::Rsa))
}

/// Base64 DER certificates in a PEM file (every CERTIFICATE block) or in
/// metadata (every `X509Certificate` element), whitespace removed.
pub fn certs_in(text: &str) -> BTreeSet<String> {
    let clean = |b: &str| b.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let mut out = BTreeSet::new();
    if text.contains("-----BEGIN CERTIFICATE-----") {
        for block in text.split("-----BEGIN CERTIFICATE-----").skip(1) {
            if let Some((body, _)) = block.split_once("-----END CERTIFICATE-----") {
                out.insert(clean(body));
            }
        }
        return out;
    }
    let tag = "X509Certificate";
    let mut from = 0;
    while let Some(rel) = text[from..].find(tag) {
        let i = from + rel;
        from = i + tag.len();
        // Only an opening tag: `<X509Certificate>` or `<ds:X509Certificate …>`.
        let Some(lt) = text[..i].rfind('<') else { continue };
        let name = &text[lt + 1..i];
        if name.starts_with('/') || name.contains(|c: char| c.is_whitespace() || c == '>') {
            continue;
        }
        let Some(gt) = text[from..].find('>') else { break };
        let body = &text[from + gt + 1..];
        let end = body.find('<').unwrap_or(body.len());
        let c = clean(&body[..end]);
        if !c.is_empty() {
            out.insert(c);
        }
    }
    out
}

/// The `entityID` of the first EntityDescriptor in metadata.
pub fn metadata_entity_id(text: &str) -> Option<&str> {
    let start = text.find("entityID=\"")? + "entityID=\"".len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// PEM text of base64 DER certificates.
pub fn pem(certs: &[String]) -> String {
    let mut out = String::new();
    for c in certs {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in c.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

async fn check_saml(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let entity = saml_entity_id(external_url, &s.slug);
    if let Some(i) = &s.issuer
        && *i != entity
    {
        drifts.push(drift(
            "trust",
            format!("the service trusts IdP entity id {i}; Gatehouse's is {entity}"),
            vec![i.clone()],
            false,
        ));
    }
    let files: Vec<&std::path::PathBuf> = s.certificate_file.iter().chain(s.metadata_file.iter()).collect();
    if files.is_empty() {
        return Ok(());
    }
    let family = saml_family(dir, s).await?;
    let current: BTreeSet<String> = published_certificates(dir, family, false).await?.into_iter().collect();
    if current.is_empty() {
        drifts.push(drift(
            "trust",
            format!(
                "Gatehouse has no SAML {} signing key yet for the service to trust",
                family.as_str()
            ),
            vec![],
            true,
        ));
        return Ok(());
    }
    for file in files {
        let text = std::fs::read_to_string(file).ok();
        if Some(file) == s.metadata_file.as_ref()
            && let Some(found) = text.as_deref().and_then(metadata_entity_id)
            && found != entity
        {
            drifts.push(drift(
                "trust",
                format!("{} describes IdP {found}; Gatehouse's is {entity}", file.display()),
                vec![found.to_string()],
                true,
            ));
        }
        let theirs = text.map(|t| certs_in(&t)).filter(|c| !c.is_empty());
        let Some(theirs) = theirs else {
            drifts.push(drift(
                "trust",
                format!("{} is missing or holds no certificate", file.display()),
                vec![],
                true,
            ));
            continue;
        };
        let missing: Vec<String> = current.difference(&theirs).cloned().collect();
        if !missing.is_empty() {
            drifts.push(drift(
                "trust",
                format!(
                    "{} lacks {} of the SAML signing certificates Gatehouse publishes for {} (rotated?)",
                    file.display(),
                    missing.len(),
                    s.slug
                ),
                missing.iter().map(|c| fingerprint(c)).collect(),
                true,
            ));
        }
    }
    Ok(())
}

/// SHA-256 fingerprint of a base64 DER certificate, as SPs show it.
fn fingerprint(b64: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_default();
    let h = sha2::Sha256::digest(&der);
    h.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

async fn fix_saml(
    dir: &Directory,
    audit: &Audit,
    external_url: &str,
    s: &Service,
    dry_run: bool,
    out: &mut Vec<String>,
) -> gatehouse_core::Result<()> {
    let files: Vec<(&std::path::PathBuf, &str)> = s
        .certificate_file
        .iter()
        .map(|f| (f, "certificate"))
        .chain(s.metadata_file.iter().map(|f| (f, "metadata")))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let cfg = saml_config(dir, s).await?;
    let family = cfg.as_ref().map(|c| c.signing_alg.family()).unwrap_or(KeyFamily::Rsa);
    // The first key is otherwise made at the first sign-in: a fix makes it now.
    let certs = published_certificates(dir, family, !dry_run).await?;
    let entity = saml_entity_id(external_url, &s.slug);
    for (file, what) in files {
        let text = std::fs::read_to_string(file).ok();
        let current = text.as_deref().map(certs_in).unwrap_or_default();
        let same_idp = what != "metadata" || text.as_deref().and_then(metadata_entity_id) == Some(entity.as_str());
        if certs.iter().all(|c| current.contains(c)) && !certs.is_empty() && same_idp {
            continue;
        }
        if !dry_run {
            let text = if what == "metadata" {
                let base = entity.trim_end_matches("/metadata/").to_string();
                let name_id = cfg.as_ref().map(|c| c.name_id.format());
                let formats: Vec<&str> = name_id.into_iter().collect();
                idp_metadata(&IdpMetadata {
                    entity_id: &entity,
                    sso_redirect: &format!("{base}/sso/binding/redirect/"),
                    sso_post: &format!("{base}/sso/binding/post/"),
                    slo_redirect: &format!("{base}/slo/binding/redirect/"),
                    slo_post: &format!("{base}/slo/binding/post/"),
                    certs: &certs,
                    name_id_formats: &formats,
                    want_authn_requests_signed: cfg.as_ref().is_some_and(|c| c.requests_must_be_signed()),
                })
            } else {
                pem(&certs)
            };
            let meta = std::fs::metadata(file).ok();
            let backup = envfile::write_atomic(file, text.as_bytes(), meta.as_ref(), meta.is_some())
                .map_err(|e| gatehouse_core::Error::Refused(format!("cannot write {}: {e}", file.display())))?;
            dir.events().record(
                audit,
                super::SSO_FIX,
                None,
                json!({"service": s.name, "application": s.slug, "file": file.display().to_string(),
                       "trust": format!("saml_{what}"), "certificates": certs.iter().map(|c| fingerprint(c)).collect::<Vec<_>>(),
                       "backup": backup.map(|b| b.display().to_string())}),
            )
            .await?;
        }
        out.push(format!(
            "write the current SAML signing {} to {}",
            if what == "metadata" {
                "metadata"
            } else {
                "certificate(s)"
            },
            file.display()
        ));
    }
    Ok(())
}
