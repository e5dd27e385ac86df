//! The SAML provider in blueprints (`authentik_providers_saml.samlprovider`)
//! and the SAML arm of the SSO drift check and repair, against a real
//! database (SQLite; the export round trip with SAML runs in blueprints.rs on
//! both backends).

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use gatehouse_blueprint::plan::{Options, Source, plan, prepare};
use gatehouse_blueprint::{apply, export, sso};
use gatehouse_core::keys::KeyPurpose;
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::{Audit, Directory, EventFilter, FixedClock, ProviderKind, Store, Timestamp};
use gatehouse_crypto::{HashParams, PasswordHasher};
use gatehouse_saml::{KeyFamily, NameIdKind, SamlConfig, SignMode, SignatureAlg};
use gatehouse_store::{ConnectOptions, SqlStore};
use serde_json::json;

struct Db {
    /// The storage itself, for assertions on what was written.
    store: Arc<SqlStore>,
    dir: Directory,
    clock: Arc<FixedClock>,
    _tmp: tempfile::TempDir,
}

async fn sqlite() -> Db {
    sqlx::any::install_default_drivers();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("gh.db").display());
    let store = SqlStore::connect(&url, ConnectOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    let clock = Arc::new(FixedClock::new(Timestamp(1_790_000_000_000)));
    let store = Arc::new(store);
    let dir = Directory::new(
        store.clone(),
        clock.clone(),
        PasswordHasher::new(
            HashParams {
                m_cost_kib: 64,
                t_cost: 1,
                p_cost: 1,
            },
            2,
        )
        .unwrap(),
        PasswordPolicy::default(),
    );
    Db {
        store,
        dir,
        clock,
        _tmp: tmp,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn opts() -> Options<'static> {
    Options {
        allow_unsupported: false,
        context: Default::default(),
        env: &no_env,
    }
}

fn audit() -> Audit {
    Audit::cli("tester")
}

async fn apply_text(db: &Db, text: &str) -> Result<gatehouse_blueprint::Applied, String> {
    let p = plan(&db.dir, &[Source::from_text("test.yaml", text)], &opts())
        .await
        .map_err(|e| e.to_string())?;
    apply(&db.dir, &audit(), &p).await.map_err(|e| e.to_string())
}

/// An authentik-style SAML provider as authentik's own blueprints write it.
fn authentik_doc(acs: &str) -> String {
    format!(
        r#"version: 1
metadata:
  name: wiki-saml
entries:
  - model: authentik_providers_saml.samlprovider
    id: wiki-provider
    identifiers:
      name: Wiki
    attrs:
      acs_url: {acs}
      audience: https://wiki.example.com/saml/metadata
      issuer: authentik
      sp_binding: redirect
      name_id_mapping: !Find [authentik_providers_saml.samlpropertymapping, [managed, goauthentik.io/providers/saml/email]]
      property_mappings:
        - !Find [authentik_providers_saml.samlpropertymapping, [managed, goauthentik.io/providers/saml/upn]]
      sign_assertion: true
      sign_response: true
      signature_algorithm: http://www.w3.org/2001/04/xmldsig-more#rsa-sha512
      digest_algorithm: http://www.w3.org/2001/04/xmlenc#sha256
      assertion_valid_not_before: minutes=-5
      assertion_valid_not_on_or_after: minutes=10
      session_valid_not_on_or_after: minutes=86400
      authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
      invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]
      signing_kp: !Find [authentik_crypto.certificatekeypair, [name, authentik Self-signed Certificate]]
      verification_kp: null
  - model: authentik_core.application
    identifiers:
      slug: wiki
    attrs:
      name: Wiki
      provider: !KeyOf wiki-provider
"#
    )
}

#[tokio::test]
async fn saml_provider_applies_with_authentik_fields() {
    let db = sqlite().await;
    let r = apply_text(&db, &authentik_doc("https://wiki.example.com/saml/acs"))
        .await
        .unwrap();
    assert!(r.changes.iter().any(|c| c.action == "create" && c.name == "wiki"));
    let app = db.store.application_by_slug("wiki").await.unwrap().unwrap();
    assert_eq!(app.provider, Some(ProviderKind::Saml));
    assert_eq!(
        app.provider_key.as_deref(),
        Some("https://wiki.example.com/saml/metadata")
    );
    let cfg = SamlConfig::from_value(&app.provider_config).unwrap();
    assert_eq!(cfg.acs_urls, vec!["https://wiki.example.com/saml/acs".to_string()]);
    assert_eq!(cfg.audience, "https://wiki.example.com/saml/metadata");
    assert_eq!(cfg.name_id, NameIdKind::Email);
    assert_eq!(cfg.sign, SignMode::Both);
    assert_eq!(cfg.signing_alg, SignatureAlg::RsaSha512);
    assert_eq!(cfg.assertion_valid_secs, 600);
    // The core service sees it as a SAML application.
    let idp = gatehouse_saml::service::SamlIdp::new(EXTERNAL);
    assert!(idp.application(&db.dir, "wiki").await.unwrap().is_some());
    // Applying it again changes nothing.
    let again = apply_text(&db, &authentik_doc("https://wiki.example.com/saml/acs"))
        .await
        .unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

#[tokio::test]
async fn saml_plan_shows_the_field_diff() {
    let db = sqlite().await;
    apply_text(&db, &authentik_doc("https://wiki.example.com/saml/acs"))
        .await
        .unwrap();
    let text = authentik_doc("https://wiki.example.com/saml/acs-new")
        .replace("sign_response: true", "sign_response: false")
        .replace("minutes=10", "minutes=5");
    let p = plan(&db.dir, &[Source::from_text("test.yaml", &text)], &opts())
        .await
        .unwrap();
    let (_, changes) = p.steps(&prepare(&db.dir, &p, false).await.unwrap());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].action, changes[0].name.as_str()), ("update", "wiki"));
    let f: Vec<(&str, serde_json::Value, serde_json::Value)> = changes[0]
        .fields
        .iter()
        .map(|f| (f.field.as_str(), f.from.clone(), f.to.clone()))
        .collect();
    assert_eq!(
        f,
        vec![
            (
                "acs_urls",
                json!(["https://wiki.example.com/saml/acs"]),
                json!(["https://wiki.example.com/saml/acs-new"])
            ),
            ("assertion_valid_secs", json!(600), json!(300)),
            ("sign", json!("both"), json!("assertion")),
        ]
    );
    // A plan writes nothing.
    let app = db.store.application_by_slug("wiki").await.unwrap().unwrap();
    assert_eq!(
        SamlConfig::from_value(&app.provider_config).unwrap().acs_urls,
        vec!["https://wiki.example.com/saml/acs".to_string()]
    );
}

/// The line and column of `needle` in the document (1-based), as errors give them.
fn at(text: &str, needle: &str) -> String {
    let (i, line) = text.lines().enumerate().find(|(_, l)| l.contains(needle)).unwrap();
    format!("test.yaml:{}:{}:", i + 1, line.find(needle).unwrap() + 1)
}

/// `test.yaml:LINE:` of the line holding `needle` (errors point at the value).
fn line_of(text: &str, needle: &str) -> String {
    let i = text.lines().position(|l| l.contains(needle)).unwrap();
    format!("test.yaml:{}:", i + 1)
}

#[tokio::test]
async fn unsupported_saml_fields_are_errors_with_line_and_hint() {
    let db = sqlite().await;
    let base = authentik_doc("https://wiki.example.com/saml/acs");
    // A field Gatehouse does not have.
    let text = base.replace(
        "      issuer: authentik\n",
        "      issuer: authentik\n      encryption_kp: null\n",
    );
    let e = apply_text(&db, &text).await.unwrap_err();
    assert!(e.starts_with(&at(&text, "encryption_kp")), "{e}");
    assert!(
        e.contains("field encryption_kp is not supported (hint: Gatehouse does not encrypt assertions)"),
        "{e}"
    );
    // Values Gatehouse refuses.
    for (from, to, field, hint) in [
        (
            "xmldsig-more#rsa-sha512",
            "xmldsig#rsa-sha1",
            "signature_algorithm",
            "SHA-1 and DSA are refused",
        ),
        (
            "xmlenc#sha256",
            "xmlenc#sha512",
            "digest_algorithm",
            "Gatehouse digests with SHA-256",
        ),
        (
            "sign_response: true",
            "sign_response: false",
            "sign_assertion",
            "sign_assertion: true",
        ),
        (
            "verification_kp: null",
            "verification_kp: !Find [authentik_crypto.certificatekeypair, [name, sp]]",
            "verification_kp",
            "sp_certs",
        ),
        (
            "goauthentik.io/providers/saml/email]]",
            "goauthentik.io/providers/saml/ms-windowsaccountname]]",
            "name_id_mapping",
            "managed email, username or uid",
        ),
    ] {
        let mut text = base.replace(from, to);
        if field == "sign_assertion" {
            text = text.replace("sign_assertion: true", "sign_assertion: false");
        }
        let e = apply_text(&db, &text).await.unwrap_err();
        assert!(e.starts_with(&line_of(&text, &format!("{field}:"))), "{field}: {e}");
        assert!(e.contains(hint), "{field}: {e}");
    }
    // A broken ACS URL names the field.
    let text = base.replace(
        "acs_url: https://wiki.example.com/saml/acs",
        "acs_url: javascript:alert(1)",
    );
    let e = apply_text(&db, &text).await.unwrap_err();
    assert!(e.contains("invalid SAML provider"), "{e}");
    assert!(e.starts_with(&line_of(&text, "acs_url:")), "{e}");
    // Nothing was applied.
    assert!(db.store.application_by_slug("wiki").await.unwrap().is_none());
    // The model is known under Gatehouse's name too, and an unknown field is suggested.
    let g = "version: 1\nentries:\n  - model: gatehouse.samlprovider\n    identifiers: {name: X}\n    attrs: {acs_url: https://x.example.com/acs, audeince: x}\n";
    let e = apply_text(&db, g).await.unwrap_err();
    assert!(
        e.contains("unknown field audeince") && e.contains("did you mean audience?"),
        "{e}"
    );
}

#[tokio::test]
async fn the_sp_entity_id_is_unique() {
    let db = sqlite().await;
    apply_text(&db, &authentik_doc("https://wiki.example.com/saml/acs"))
        .await
        .unwrap();
    let other = authentik_doc("https://wiki2.example.com/saml/acs")
        .replace("name: Wiki", "name: Wiki2")
        .replace("slug: wiki", "slug: wiki2");
    let e = apply_text(&db, &other).await.unwrap_err();
    assert!(e.contains("provider key"), "{e}");
    assert!(db.store.application_by_slug("wiki2").await.unwrap().is_none());
}

#[tokio::test]
async fn saml_export_round_trip_and_authentik_names() {
    let (a, b) = (sqlite().await, sqlite().await);
    apply_text(&a, &authentik_doc("https://wiki.example.com/saml/acs"))
        .await
        .unwrap();
    let first = export::export(&a.dir, false).await.unwrap();
    for want in [
        "model: authentik_providers_saml.samlprovider",
        "acs_url: https://wiki.example.com/saml/acs",
        "signature_algorithm: http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "sign_response: true",
        "goauthentik.io/providers/saml/email",
        "provider: !KeyOf provider-wiki",
    ] {
        assert!(first.yaml.contains(want), "{want}:\n{}", first.yaml);
    }
    apply_text(&b, &first.yaml).await.unwrap();
    let second = export::export(&b.dir, false).await.unwrap();
    assert_eq!(first.yaml, second.yaml);
    let (x, y) = (
        a.store.application_by_slug("wiki").await.unwrap().unwrap(),
        b.store.application_by_slug("wiki").await.unwrap().unwrap(),
    );
    assert_eq!(x.provider_config, y.provider_config);
    assert_eq!(x.provider_key, y.provider_key);
    // Re-applying the export to its source changes nothing.
    assert!(apply_text(&a, &first.yaml).await.unwrap().changes.is_empty());
}

const EXTERNAL: &str = "https://id.example.com";

fn manifest(dir: &std::path::Path, trust: &str) -> sso::Manifest {
    std::fs::write(dir.join(".env"), "WIKI_URL=https://wiki.example.com\n").unwrap();
    let text = format!(
        "version: 1\nservices:\n  - name: wiki\n    sso:\n      type: saml\n      acs_urls: [\"${{WIKI_URL}}/saml/acs\"]\n      audience: \"${{WIKI_URL}}/saml/metadata\"\n      trust:\n{trust}"
    );
    let path = dir.join("stack.yaml");
    std::fs::write(&path, text).unwrap();
    sso::load(&path, None).unwrap()
}

async fn kinds(db: &Db, m: &sso::Manifest) -> Vec<&'static str> {
    let r = sso::check(&db.dir, EXTERNAL, m, None).await.unwrap();
    r[0].drifts.iter().map(|d| d.kind).collect()
}

async fn fix_events(db: &Db) -> usize {
    db.dir
        .events()
        .list(&EventFilter {
            user: None,
            action: Some(sso::SSO_FIX.into()),
            since: None,
            limit: 100,
            client_ip: None,
        })
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn sso_saml_certificate_file_follows_rotation() {
    let db = sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), "        certificate_file: certs/idp.pem\n");
    // Nothing yet: the application is missing and there is no key to trust.
    assert_eq!(kinds(&db, &m).await, vec!["application_missing", "trust"]);
    let done = sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, false).await.unwrap();
    assert!(done.iter().any(|r| r.kind == "application_missing"), "{done:?}");
    let app = db.store.application_by_slug("wiki").await.unwrap().unwrap();
    let cfg = SamlConfig::from_value(&app.provider_config).unwrap();
    assert_eq!(cfg.acs_urls, vec!["https://wiki.example.com/saml/acs".to_string()]);
    assert_eq!(
        app.provider_key.as_deref(),
        Some("https://wiki.example.com/saml/metadata")
    );
    let file = tmp.path().join("certs/idp.pem");
    let first = std::fs::read_to_string(&file).unwrap();
    assert_eq!(first.matches("BEGIN CERTIFICATE").count(), 1);
    assert!(kinds(&db, &m).await.is_empty());
    // The service keeps its file private.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();

    // A rotation publishes the next certificate at once: the file drifts now.
    db.dir
        .keys()
        .rotate(&audit(), &[KeyPurpose::Saml(KeyFamily::Rsa)], 3600)
        .await
        .unwrap();
    let r = sso::check(&db.dir, EXTERNAL, &m, None).await.unwrap();
    assert_eq!(r[0].status, "drift");
    assert_eq!(r[0].drifts.len(), 1, "{:?}", r[0].drifts);
    assert_eq!(r[0].drifts[0].kind, "trust");
    assert!(
        r[0].drifts[0]
            .detail
            .contains("lacks 1 of the SAML signing certificates")
    );
    let events = fix_events(&db).await;
    // A dry run writes nothing.
    sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, true).await.unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first);
    let done = sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, false).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(fix_events(&db).await, events + 1);
    let second = std::fs::read_to_string(&file).unwrap();
    assert_eq!(second.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(
        second.contains(first.lines().nth(1).unwrap()),
        "the old certificate is kept while it signs"
    );
    let backup = tmp.path().join("certs/idp.pem.bak");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), first);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o640);
    // A second run changes nothing.
    assert!(kinds(&db, &m).await.is_empty());
    assert!(
        sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(fix_events(&db).await, events + 1);

    // Past the switch and the retirement, only the new certificate is published:
    // a file with both still holds every published one (no drift).
    db.clock.advance_seconds(3600 + 25 * 3600);
    assert!(kinds(&db, &m).await.is_empty());
}

#[tokio::test]
async fn sso_saml_metadata_file_acs_and_audience() {
    let db = sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(
        tmp.path(),
        "        metadata_file: idp-metadata.xml\n        issuer: https://id.example.com/application/saml/wiki/metadata/\n",
    );
    apply_text(
        &db,
        &authentik_doc("https://wiki.example.com/old/acs").replace(
            "audience: https://wiki.example.com/saml/metadata",
            "audience: https://wiki.example.com/old",
        ),
    )
    .await
    .unwrap();
    assert_eq!(kinds(&db, &m).await, vec!["acs_urls", "audience", "trust"]);
    sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, false).await.unwrap();
    let app = db.store.application_by_slug("wiki").await.unwrap().unwrap();
    let cfg = SamlConfig::from_value(&app.provider_config).unwrap();
    assert_eq!(cfg.acs_urls, vec!["https://wiki.example.com/saml/acs".to_string()]);
    assert_eq!(cfg.audience, "https://wiki.example.com/saml/metadata");
    // The other settings are kept.
    assert_eq!(cfg.signing_alg, SignatureAlg::RsaSha512);
    let md = std::fs::read_to_string(tmp.path().join("idp-metadata.xml")).unwrap();
    assert!(
        md.contains("entityID=\"https://id.example.com/application/saml/wiki/metadata/\""),
        "{md}"
    );
    assert!(md.contains("X509Certificate"), "{md}");
    assert!(kinds(&db, &m).await.is_empty());
    // A service trusting another IdP entity id is reported, not "repaired".
    let m2 = manifest(
        tmp.path(),
        "        metadata_file: idp-metadata.xml\n        issuer: authentik\n",
    );
    let r = sso::check(&db.dir, EXTERNAL, &m2, None).await.unwrap();
    assert_eq!(r[0].drifts.len(), 1);
    assert!(!r[0].drifts[0].fixable);
    // A wrong provider kind is drift too.
    let m3 = {
        let text = "version: 1\nservices:\n  - name: grafana\n    application: wiki\n    sso:\n      type: oidc\n      redirect_uris: [https://g.example.com/cb]\n";
        let p = tmp.path().join("oidc.yaml");
        std::fs::write(&p, text).unwrap();
        sso::load(&p, None).unwrap()
    };
    let r = sso::check(&db.dir, EXTERNAL, &m3, None).await.unwrap();
    assert_eq!(r[0].drifts[0].kind, "provider");
    // A SAML service needs its ACS URLs and audience.
    let p = tmp.path().join("bad.yaml");
    std::fs::write(&p, "version: 1\nservices:\n  - name: x\n    sso: {type: saml}\n").unwrap();
    let e = sso::load(&p, None).unwrap_err();
    assert!(e.message.contains("needs acs_urls and audience"), "{e}");
}

#[test]
fn certificates_are_read_from_pem_and_metadata() {
    use gatehouse_blueprint::sso::trust::{certs_in, pem};
    let certs = vec!["QUJD".repeat(40), "REVG".to_string()];
    let p = pem(&certs);
    assert_eq!(certs_in(&p), certs.iter().cloned().collect());
    let md = "<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n  QUJD\n  REVG\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><X509Certificate a=\"b\">WFla</X509Certificate>";
    assert_eq!(
        certs_in(md),
        ["QUJDREVG".to_string(), "WFla".to_string()].into_iter().collect()
    );
    assert!(certs_in("nothing here").is_empty());
}

#[tokio::test]
async fn sp_certificates_from_a_file_require_signed_requests() {
    let db = sqlite().await;
    let g = gatehouse_saml::SamlKey::generate(KeyFamily::Rsa, "sp", 1_790_000_000).unwrap();
    let cert = g.key.cert_b64().to_string();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("sp.pem"), sso::trust::pem(std::slice::from_ref(&cert))).unwrap();
    let bp = tmp.path().join("sp.yaml");
    std::fs::write(
        &bp,
        authentik_doc("https://wiki.example.com/saml/acs").replace(
            "      verification_kp: null\n",
            "      verification_kp: !Find [authentik_crypto.certificatekeypair, [name, wiki-sp]]\n      sp_certs: [!File sp.pem]\n",
        ),
    )
    .unwrap();
    let p = plan(&db.dir, &[Source::read(&bp).unwrap()], &opts()).await.unwrap();
    apply(&db.dir, &audit(), &p).await.unwrap();
    let app = db.store.application_by_slug("wiki").await.unwrap().unwrap();
    let cfg = SamlConfig::from_value(&app.provider_config).unwrap();
    assert_eq!(cfg.sp_certs.len(), 1);
    assert!(cfg.requests_must_be_signed());
    assert_eq!(cfg.certs().len(), 1);
    // A certificate that does not parse is refused.
    std::fs::write(
        tmp.path().join("sp.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let Err(e) = plan(&db.dir, &[Source::read(&bp).unwrap()], &opts()).await else {
        panic!("a broken SP certificate was accepted");
    };
    assert!(e.to_string().contains("SP certificate does not parse"), "{e}");
}

#[tokio::test]
async fn sso_saml_metadata_follows_the_external_url() {
    let db = sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), "        metadata_file: idp-metadata.xml\n");
    sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, false).await.unwrap();
    assert!(kinds(&db, &m).await.is_empty());
    // Gatehouse moved: the metadata file describes the old IdP.
    let moved = "https://login.example.org";
    let r = sso::check(&db.dir, moved, &m, None).await.unwrap();
    assert_eq!(r[0].drifts.len(), 1, "{:?}", r[0].drifts);
    assert!(
        r[0].drifts[0]
            .detail
            .contains("describes IdP https://id.example.com/application/saml/wiki/metadata/")
    );
    sso::fix(&db.dir, &audit(), moved, &m, None, false).await.unwrap();
    let md = std::fs::read_to_string(tmp.path().join("idp-metadata.xml")).unwrap();
    assert!(
        md.contains("entityID=\"https://login.example.org/application/saml/wiki/metadata/\""),
        "{md}"
    );
    assert!(
        md.contains("https://login.example.org/application/saml/wiki/sso/binding/redirect/"),
        "{md}"
    );
    assert!(sso::check(&db.dir, moved, &m, None).await.unwrap()[0].drifts.is_empty());
    assert!(
        sso::fix(&db.dir, &audit(), moved, &m, None, false)
            .await
            .unwrap()
            .is_empty()
    );
}

fn oidc_manifest(dir: &std::path::Path) -> sso::Manifest {
    let text = "version: 1\nservices:\n  - name: grafana\n    sso:\n      type: oidc\n      redirect_uris: [\"https://grafana.example.com/login/generic_oauth\"]\n      client:\n        env_file: grafana.env\n        client_id_key: GF_CLIENT_ID\n        client_secret_key: GF_CLIENT_SECRET\n";
    let path = dir.join("stack.yaml");
    std::fs::write(&path, text).unwrap();
    sso::load(&path, None).unwrap()
}

#[tokio::test]
async fn sso_unreadable_env_file_is_reported_and_no_secret_is_rotated() {
    let db = sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let m = oidc_manifest(tmp.path());
    sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, false).await.unwrap();
    let env = tmp.path().join("grafana.env");
    let written = std::fs::read_to_string(&env).unwrap();
    assert!(written.contains("GF_CLIENT_SECRET="), "{written}");
    assert!(kinds(&db, &m).await.is_empty());
    let secret_hash = || async {
        db.store
            .application_by_slug("grafana")
            .await
            .unwrap()
            .unwrap()
            .provider_config["client_secret_hash"]
            .clone()
    };
    let before = secret_hash().await;

    // A directory where the file should be: unreadable, not "secret differs".
    std::fs::remove_file(&env).unwrap();
    std::fs::create_dir(&env).unwrap();
    assert_eq!(kinds(&db, &m).await, vec!["env_file"]);
    let e = sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
    assert_eq!(secret_hash().await, before, "nothing rotated");

    // A symbolic link in its place is refused the same way.
    std::fs::remove_dir(&env).unwrap();
    let real = tmp.path().join("real.env");
    std::fs::write(&real, &written).unwrap();
    std::os::unix::fs::symlink(&real, &env).unwrap();
    assert_eq!(kinds(&db, &m).await, vec!["env_file"]);
    assert!(sso::fix(&db.dir, &audit(), EXTERNAL, &m, None, false).await.is_err());
    assert_eq!(secret_hash().await, before);
    assert_eq!(std::fs::read_to_string(&real).unwrap(), written);
}

#[tokio::test]
async fn an_update_planned_on_a_stale_snapshot_keeps_a_newer_password() {
    use gatehouse_blueprint::steps::{Op, Step, apply_steps};
    let db = sqlite().await;
    apply_text(
        &db,
        "version: 1\nentries:\n  - model: authentik_core.user\n    identifiers: {username: ann}\n    attrs: {email: ann@example.com, name: Ann}\n",
    )
    .await
    .unwrap();
    // The plan's snapshot is taken now …
    let mut stale = db.store.user_by_name("ann").await.unwrap().unwrap();
    assert!(stale.password_hash.is_none());
    // … then the person sets a password before the apply writes.
    db.dir
        .users()
        .set_password(&audit(), "ann", "Quiet-Harbour-Lamp-62")
        .await
        .unwrap();
    stale.email = "ann@new.example.com".into();
    let steps = [Step {
        op: Op::UpdateUser {
            user: stale,
            fields: vec!["email".into()],
        },
        origin: "test.yaml:2".into(),
    }];
    let mut tx = db.dir.write(&audit().from_blueprint("test")).await.unwrap();
    apply_steps(&mut tx, &steps, false).await.unwrap();
    tx.commit().await.unwrap();
    let now = db.store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!(now.email, "ann@new.example.com");
    assert!(now.password_hash.is_some(), "the newer password survives");
    assert!(now.password_changed_at.is_some());
}

#[tokio::test]
async fn export_hides_basic_auth_passwords_kept_in_user_attributes() {
    let db = sqlite().await;
    apply_text(
        &db,
        r#"version: 1
entries:
  - model: authentik_providers_proxy.proxyprovider
    id: legacy
    identifiers: {name: legacy}
    attrs:
      external_host: https://legacy.example.com
      basic_auth_enabled: true
      basic_auth_user_attribute: upstream_user
      basic_auth_password_attribute: upstream_password
  - model: authentik_core.application
    identifiers: {slug: legacy}
    attrs: {name: Legacy, provider: !KeyOf legacy}
  - model: authentik_core.user
    identifiers: {username: ann}
    attrs:
      email: ann@example.com
      attributes: {upstream_user: ann, upstream_password: hunter2-upstream}
"#,
    )
    .await
    .unwrap();
    let plain = export::export(&db.dir, false).await.unwrap();
    assert!(!plain.yaml.contains("hunter2-upstream"), "{}", plain.yaml);
    let var = plain
        .env
        .iter()
        .find(|(_, what)| what.contains("upstream_password"))
        .map(|(v, _)| v.clone())
        .expect("an !Env reference for the password attribute");
    assert!(plain.yaml.contains(&format!("!Env {var}")), "{}", plain.yaml);
    assert!(plain.yaml.contains("upstream_user: ann"), "other attributes stay");
    let with = export::export(&db.dir, true).await.unwrap();
    assert!(with.yaml.contains("hunter2-upstream"));
}

/// Issue 13, finding 10: unsigned LogoutRequests are refused unless the
/// provider allows them; the blueprint field sets it and export keeps it.
#[tokio::test]
async fn allow_unsigned_logout_is_a_blueprint_field() {
    let (a, b) = (sqlite().await, sqlite().await);
    apply_text(&a, &authentik_doc("https://wiki.example.com/saml/acs"))
        .await
        .unwrap();
    let stored = |db: &Db| {
        let dir = db.dir.clone();
        async move {
            let app = dir.apps().by_slug("wiki").await.unwrap().unwrap();
            SamlConfig::from_value(&app.provider_config)
                .unwrap()
                .allow_unsigned_logout
        }
    };
    assert!(!stored(&a).await, "off by default");
    let allowing = authentik_doc("https://wiki.example.com/saml/acs").replace(
        "      verification_kp: null\n",
        "      verification_kp: null\n      allow_unsigned_logout: true\n",
    );
    apply_text(&a, &allowing).await.unwrap();
    assert!(stored(&a).await);
    let exported = export::export(&a.dir, false).await.unwrap();
    assert!(
        exported.yaml.contains("allow_unsigned_logout: true"),
        "{}",
        exported.yaml
    );
    apply_text(&b, &exported.yaml).await.unwrap();
    assert!(stored(&b).await);
}
