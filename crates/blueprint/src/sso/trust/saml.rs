//! SAML trust: the IdP entity id the service is configured with, and a
//! certificate (PEM) or IdP metadata file it reads, which must hold every
//! signing certificate Gatehouse publishes in the application's metadata.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gatehouse_core::{Audit, Directory};
use gatehouse_saml::metadata::{IdpMetadata, idp_metadata};
use gatehouse_saml::service::published_certificates;
use gatehouse_saml::{KeyFamily, SamlConfig};
use serde_json::{Map, json};

use super::{check_issuer, write_file};
use crate::sso::{Drift, Service, drift};

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

fn key_family(cfg: Option<&SamlConfig>) -> KeyFamily {
    cfg.map(|c| c.signing_alg.family()).unwrap_or(KeyFamily::Rsa)
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

pub(super) async fn check(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let entity = saml_entity_id(external_url, &s.slug);
    check_issuer(s, "IdP entity id", &entity, drifts);
    let files: Vec<&PathBuf> = s.certificate_file.iter().chain(s.metadata_file.iter()).collect();
    if files.is_empty() {
        return Ok(());
    }
    let family = key_family(saml_config(dir, s).await?.as_ref());
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
        check_file(s, file, &entity, &current, drifts);
    }
    Ok(())
}

/// One certificate or metadata file against the published certificates.
fn check_file(s: &Service, file: &Path, entity: &str, current: &BTreeSet<String>, drifts: &mut Vec<Drift>) {
    let text = std::fs::read_to_string(file).ok();
    if s.metadata_file.as_deref() == Some(file)
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
        return;
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

/// Writes the published certificates (or the IdP metadata holding them)
/// into each trust file that lacks one (or describes another IdP).
pub(super) async fn fix(
    dir: &Directory,
    audit: &Audit,
    external_url: &str,
    s: &Service,
    dry_run: bool,
    out: &mut Vec<String>,
) -> gatehouse_core::Result<()> {
    let files: Vec<(&PathBuf, &str)> = s
        .certificate_file
        .iter()
        .map(|f| (f, "certificate"))
        .chain(s.metadata_file.iter().map(|f| (f, "metadata")))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let cfg = saml_config(dir, s).await?;
    // The first key is otherwise made at the first sign-in: a fix makes it now.
    let certs = published_certificates(dir, key_family(cfg.as_ref()), !dry_run).await?;
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
                metadata(&entity, &certs, cfg.as_ref())
            } else {
                pem(&certs)
            };
            let mut details = Map::new();
            details.insert("trust".into(), json!(format!("saml_{what}")));
            let fingerprints: Vec<String> = certs.iter().map(|c| fingerprint(c)).collect();
            details.insert("certificates".into(), json!(fingerprints));
            write_file(dir, audit, s, file, &text, details).await?;
        }
        let written = if what == "metadata" {
            "metadata"
        } else {
            "certificate(s)"
        };
        out.push(format!(
            "write the current SAML signing {written} to {}",
            file.display()
        ));
    }
    Ok(())
}

/// The application's IdP metadata, as Gatehouse publishes it.
fn metadata(entity: &str, certs: &[String], cfg: Option<&SamlConfig>) -> String {
    let base = entity.trim_end_matches("/metadata/").to_string();
    let name_id = cfg.map(|c| c.name_id.format());
    let formats: Vec<&str> = name_id.into_iter().collect();
    idp_metadata(&IdpMetadata {
        entity_id: entity,
        sso_redirect: &format!("{base}/sso/binding/redirect/"),
        sso_post: &format!("{base}/sso/binding/post/"),
        slo_redirect: &format!("{base}/slo/binding/redirect/"),
        slo_post: &format!("{base}/slo/binding/post/"),
        certs,
        name_id_formats: &formats,
        want_authn_requests_signed: cfg.is_some_and(|c| c.requests_must_be_signed()),
    })
}
