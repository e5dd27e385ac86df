//! SSO drift check and repair across the stack: compares each service of the
//! stack manifest with Gatehouse's configuration and with the files the
//! service reads, and repairs what differs.
//!
//! Trust checks are per kind ([`trust`]): OIDC compares the issuer, the JWKS
//! URL and a stored JWKS file with the current signing keys; SAML compares
//! the IdP entity id and a certificate or metadata file with the signing
//! certificates the application's metadata publishes.

pub mod envfile;
mod ldap;
pub mod manifest;
pub mod trust;

use gatehouse_core::ProviderSpec;
use gatehouse_core::events::action;
use gatehouse_core::{Application, Audit, Directory, ProviderKind};
use gatehouse_oidc::config::{ClientType, MatchingMode, OidcConfig, parse_redirect_uri};
use gatehouse_proxy::{ProxyConfig, ProxyMode, ProxySettings};
use gatehouse_saml::keys::SignatureAlg;
use gatehouse_saml::{NameIdKind, SamlConfig, SignMode};
use serde::Serialize;
use serde_json::json;

pub use manifest::{Manifest, ManifestError, Service, SsoType, load};

/// The action name of a repair outside the database (env or trust file).
pub const SSO_FIX: &str = "sso_fix";

/// One kind of drift found for a service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Drift {
    /// `application_missing`, `provider`, `redirect_uris`, `external_host`,
    /// `acs_urls`, `audience`, `client_id`, `client_secret`, `trust`, `groups_missing`.
    pub kind: &'static str,
    pub detail: String,
    /// The items concerned (URIs, groups).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Whether `sso fix` repairs it (otherwise the service's own settings must change).
    pub fixable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub service: String,
    pub application: String,
    #[serde(rename = "type")]
    pub kind: SsoType,
    /// `ok` or `drift`.
    pub status: &'static str,
    pub drifts: Vec<Drift>,
}

fn drift(kind: &'static str, detail: impl Into<String>, items: Vec<String>, fixable: bool) -> Drift {
    Drift {
        kind,
        detail: detail.into(),
        items,
        fixable,
    }
}

/// Checks one service.
pub async fn check_service(dir: &Directory, external_url: &str, s: &Service) -> gatehouse_core::Result<Report> {
    let mut drifts = Vec::new();
    let app = dir.apps().by_slug(&s.slug).await?;
    match &app {
        None => drifts.push(drift(
            "application_missing",
            format!("application '{}' does not exist", s.slug),
            vec![],
            true,
        )),
        Some(app) => match s.kind {
            SsoType::Oidc => check_oidc(dir, external_url, s, app, &mut drifts).await?,
            SsoType::Proxy => check_proxy(s, app, &mut drifts),
            SsoType::Saml => check_saml(dir, external_url, s, app, &mut drifts).await?,
            SsoType::Ldap => ldap::check(s, app, &mut drifts),
        },
    }
    if app.is_none() && matches!(s.kind, SsoType::Oidc | SsoType::Saml) {
        // The service's own files can still be checked against the issuer.
        trust::check(dir, external_url, s, &mut drifts).await?;
    }
    let mut missing = Vec::new();
    for g in &s.groups {
        if dir.groups().by_name(g).await?.is_none() {
            missing.push(g.clone());
        }
    }
    if !missing.is_empty() {
        drifts.push(drift(
            "groups_missing",
            format!("groups used by the role mapping do not exist: {}", missing.join(", ")),
            missing,
            true,
        ));
    }
    Ok(Report {
        service: s.name.clone(),
        application: s.slug.clone(),
        kind: s.kind,
        status: if drifts.is_empty() { "ok" } else { "drift" },
        drifts,
    })
}

async fn check_oidc(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    app: &Application,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let Some(cfg) = (app.provider == Some(ProviderKind::Oidc))
        .then(|| OidcConfig::from_value(&app.provider_config).ok())
        .flatten()
    else {
        drifts.push(drift(
            "provider",
            format!(
                "application '{}' has {} provider, the service expects oidc",
                s.slug,
                app.provider.map(|p| p.as_str()).unwrap_or("no")
            ),
            vec![],
            true,
        ));
        return Ok(());
    };
    let missing: Vec<String> = s
        .redirect_uris
        .iter()
        .filter(|u| !cfg.redirect_uri_allowed(u))
        .cloned()
        .collect();
    let stale: Vec<String> = cfg
        .redirect_uris
        .iter()
        .filter(|r| r.matching_mode == MatchingMode::Strict && !s.redirect_uris.contains(&r.url))
        .map(|r| r.url.clone())
        .collect();
    if !missing.is_empty() || !stale.is_empty() {
        let mut detail = Vec::new();
        if !missing.is_empty() {
            detail.push(format!("not registered: {}", missing.join(" ")));
        }
        if !stale.is_empty() {
            detail.push(format!("registered but not expected: {}", stale.join(" ")));
        }
        let mut items = missing.clone();
        items.extend(stale);
        drifts.push(drift("redirect_uris", detail.join("; "), items, true));
    }
    if let Some((file, id_key, secret_key)) = &s.client {
        let env = match read_env(file) {
            Ok(env) => env,
            Err(detail) => {
                // Not secret drift: rotating would only fail on the same file.
                drifts.push(drift("env_file", detail, vec![], false));
                return trust::check(dir, external_url, s, drifts).await;
            }
        };
        if let Some(k) = id_key {
            match env.get(k) {
                Some(v) if *v == cfg.client_id => {}
                Some(v) => drifts.push(drift(
                    "client_id",
                    format!(
                        "{} has {k}={v}, Gatehouse's client id is {}",
                        file.display(),
                        cfg.client_id
                    ),
                    vec![],
                    true,
                )),
                None => drifts.push(drift(
                    "client_id",
                    format!("{} has no {k}", file.display()),
                    vec![],
                    true,
                )),
            }
        }
        if let (Some(k), Some(stored)) = (secret_key, cfg.client_secret_hash.as_deref()) {
            let ok = match env.get(k) {
                Some(v) => dir.oauth().client_secret_matches(v, stored).await?,
                None => false,
            };
            if !ok {
                drifts.push(drift(
                    "client_secret",
                    format!(
                        "{k} in {} does not match Gatehouse's client secret (compared through the stored hash)",
                        file.display()
                    ),
                    vec![],
                    true,
                ));
            }
        }
    }
    trust::check(dir, external_url, s, drifts).await
}

fn check_proxy(s: &Service, app: &Application, drifts: &mut Vec<Drift>) {
    let cfg = (app.provider == Some(ProviderKind::Proxy))
        .then(|| ProxyConfig::from_value(&app.provider_config).ok())
        .flatten();
    let Some(cfg) = cfg else {
        drifts.push(drift(
            "provider",
            format!(
                "application '{}' has {} provider, the service expects proxy",
                s.slug,
                app.provider.map(|p| p.as_str()).unwrap_or("no")
            ),
            vec![],
            true,
        ));
        return;
    };
    if let Some(want) = &s.external_host {
        let want = want.trim_end_matches('/');
        if want != cfg.external_host {
            drifts.push(drift(
                "external_host",
                format!("Gatehouse protects {}, the service is at {want}", cfg.external_host),
                vec![want.to_string()],
                true,
            ));
        }
    }
}

async fn check_saml(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    app: &Application,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let Some(cfg) = (app.provider == Some(ProviderKind::Saml))
        .then(|| SamlConfig::from_value(&app.provider_config).ok())
        .flatten()
    else {
        drifts.push(drift(
            "provider",
            format!(
                "application '{}' has {} provider, the service expects saml",
                s.slug,
                app.provider.map(|p| p.as_str()).unwrap_or("no")
            ),
            vec![],
            true,
        ));
        return Ok(());
    };
    // ACS URLs match exactly (as the IdP matches them).
    let missing: Vec<String> = s
        .acs_urls
        .iter()
        .filter(|u| !cfg.acs_urls.contains(u))
        .cloned()
        .collect();
    let stale: Vec<String> = cfg
        .acs_urls
        .iter()
        .filter(|u| !s.acs_urls.contains(u))
        .cloned()
        .collect();
    if !missing.is_empty() || !stale.is_empty() {
        let mut detail = Vec::new();
        if !missing.is_empty() {
            detail.push(format!("ACS URLs not registered: {}", missing.join(" ")));
        }
        if !stale.is_empty() {
            detail.push(format!("registered but not expected: {}", stale.join(" ")));
        }
        let mut items = missing;
        items.extend(stale);
        drifts.push(drift("acs_urls", detail.join("; "), items, true));
    }
    if let Some(want) = &s.audience
        && *want != cfg.audience
    {
        drifts.push(drift(
            "audience",
            format!(
                "Gatehouse's audience for {} is {}, the service's entity id is {want}",
                s.slug, cfg.audience
            ),
            vec![want.clone()],
            true,
        ));
    }
    trust::check(dir, external_url, s, drifts).await
}

fn saml_spec(cfg: &SamlConfig) -> ProviderSpec {
    let config = serde_json::to_value(cfg).unwrap_or_default();
    ProviderSpec {
        kind: ProviderKind::Saml,
        key: Some(cfg.audience.clone()),
        shown: config.clone(),
        config,
    }
}

/// Checks every service (or one).
pub async fn check(
    dir: &Directory,
    external_url: &str,
    m: &Manifest,
    only: Option<&str>,
) -> gatehouse_core::Result<Vec<Report>> {
    let mut out = Vec::new();
    for s in m.services.iter().filter(|s| only.is_none_or(|o| o == s.name)) {
        out.push(check_service(dir, external_url, s).await?);
    }
    Ok(out)
}

/// One repair done (or, in a dry run, to do).
#[derive(Debug, Clone, Serialize)]
pub struct Repair {
    pub service: String,
    pub kind: &'static str,
    pub action: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(transparent)]
    Core(#[from] gatehouse_core::Error),
    #[error("{0}")]
    Io(String),
}

impl From<gatehouse_core::StoreError> for FixError {
    fn from(e: gatehouse_core::StoreError) -> Self {
        FixError::Core(e.into())
    }
}

fn oidc_spec(cfg: &OidcConfig) -> ProviderSpec {
    ProviderSpec {
        kind: ProviderKind::Oidc,
        key: Some(cfg.client_id.clone()),
        config: cfg.to_value(),
        shown: cfg.shown(),
    }
}

/// Repairs one service's drift. Idempotent: a clean service is left alone.
pub async fn fix_service(
    dir: &Directory,
    audit: &Audit,
    external_url: &str,
    s: &Service,
    dry_run: bool,
) -> Result<Vec<Repair>, FixError> {
    let report = check_service(dir, external_url, s).await?;
    let mut done = Vec::new();
    let mut note = |kind: &'static str, action: String| {
        done.push(Repair {
            service: s.name.clone(),
            kind,
            action,
        })
    };
    let kinds: Vec<&str> = report.drifts.iter().map(|d| d.kind).collect();
    if kinds.is_empty() {
        return Ok(done);
    }
    if kinds.contains(&"groups_missing") {
        for d in report.drifts.iter().filter(|d| d.kind == "groups_missing") {
            for g in &d.items {
                if !dry_run {
                    dir.groups().create(audit, g, false, None).await?;
                }
                note("groups_missing", format!("create group {g}"));
            }
        }
    }
    // The env file's current values.
    let env = match &s.client {
        Some((f, _, _)) => read_env(f).map_err(|e| FixError::Io(format!("service {}: {e}", s.name)))?,
        None => Default::default(),
    };
    let mut env_updates: Vec<(String, String)> = Vec::new();
    match s.kind {
        SsoType::Oidc => {
            let app = dir.apps().by_slug(&s.slug).await?;
            let existing = app
                .as_ref()
                .filter(|a| a.provider == Some(ProviderKind::Oidc))
                .and_then(|a| OidcConfig::from_value(&a.provider_config).ok());
            let mut cfg = match &existing {
                Some(c) => c.clone(),
                None => {
                    let id = s
                        .client
                        .as_ref()
                        .and_then(|(_, k, _)| k.as_ref())
                        .and_then(|k| env.get(k))
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .unwrap_or_else(|| s.slug.clone());
                    OidcConfig::new(id, ClientType::Confidential)
                }
            };
            let uris_changed = kinds.contains(&"redirect_uris") || existing.is_none();
            if uris_changed {
                cfg.redirect_uris = s.redirect_uris.iter().map(|u| parse_redirect_uri(u)).collect();
            }
            let rotate = kinds.contains(&"client_secret") || existing.is_none() && !cfg.is_public();
            let mut secret = None;
            if rotate && !cfg.is_public() {
                let sec = dir.oauth().generate_client_secret();
                cfg.client_secret_hash = Some(dir.oauth().hash_client_secret(&sec).await?);
                secret = Some(sec);
            }
            cfg.validate()
                .map_err(|e| FixError::Io(format!("service {}: {e}", s.name)))?;
            if let Some((_, id_key, secret_key)) = &s.client {
                if let Some(k) = id_key
                    && env.get(k) != Some(&cfg.client_id)
                {
                    env_updates.push((k.clone(), cfg.client_id.clone()));
                }
                if let (Some(k), Some(sec)) = (secret_key, &secret) {
                    env_updates.push((k.clone(), sec.clone()));
                }
            }
            // The service's file first, then Gatehouse: a failed write leaves
            // the old secret working on both sides, and a failed commit puts
            // the previous file back.
            let written = write_env_updates(dir, audit, s, &env_updates, dry_run, &mut note).await?;
            let committed = oidc_fix_commit(dir, audit, s, &app, &existing, &cfg, uris_changed, rotate, dry_run).await;
            if let Err(e) = committed {
                if let Some(w) = &written {
                    w.restore();
                }
                return Err(e);
            }
            if app.is_none() {
                note(
                    "application_missing",
                    format!("create application {} (OIDC client {})", s.slug, cfg.client_id),
                );
            } else if existing.is_none() || uris_changed || rotate {
                if uris_changed {
                    note(
                        "redirect_uris",
                        format!("set redirect URIs of {}: {}", s.slug, s.redirect_uris.join(" ")),
                    );
                }
                if rotate {
                    note("client_secret", format!("rotate the client secret of {}", s.slug));
                }
            }
        }
        SsoType::Proxy => {
            let Some(host) = &s.external_host else {
                return Ok(done);
            };
            let cfg = ProxyConfig::from_settings(ProxySettings {
                mode: ProxyMode::ForwardSingle,
                external_host: host.clone(),
                cookie_domain: None,
                skip_paths: vec![],
                basic_auth_user_attribute: None,
                basic_auth_password_attribute: None,
            })?;
            let app = dir.apps().by_slug(&s.slug).await?;
            let keep = app
                .as_ref()
                .filter(|a| a.provider == Some(ProviderKind::Proxy))
                .and_then(|a| ProxyConfig::from_value(&a.provider_config).ok());
            let cfg = match keep {
                // Keep the other settings; move the host.
                Some(mut old) => {
                    old.external_host = cfg.external_host.clone();
                    ProxyConfig::from_value(&serde_json::to_value(&old).unwrap_or_default())?
                }
                None => cfg,
            };
            if app.is_none() {
                if !dry_run {
                    dir.apps()
                        .create_with(
                            audit,
                            &s.slug,
                            &s.display_name,
                            Some(&format!("{}/", cfg.external_host)),
                            Some(cfg.provider_spec()?),
                        )
                        .await?;
                }
                note("application_missing", format!("create application {} (proxy)", s.slug));
            } else if kinds.contains(&"external_host") || kinds.contains(&"provider") {
                if !dry_run {
                    dir.apps()
                        .update_provider(audit, &s.slug, cfg.provider_spec()?, action::MODEL_UPDATED)
                        .await?;
                }
                note("external_host", format!("protect {} for {}", cfg.external_host, s.slug));
            }
        }
        SsoType::Saml => {
            let (Some(audience), false) = (&s.audience, s.acs_urls.is_empty()) else {
                return Ok(done);
            };
            let app = dir.apps().by_slug(&s.slug).await?;
            let existing = app
                .as_ref()
                .filter(|a| a.provider == Some(ProviderKind::Saml))
                .and_then(|a| SamlConfig::from_value(&a.provider_config).ok());
            // Keep the other settings; set what the service sends.
            let mut cfg = existing.clone().unwrap_or(SamlConfig {
                acs_urls: vec![],
                audience: String::new(),
                name_id: NameIdKind::Persistent,
                sign: SignMode::Assertion,
                signing_alg: SignatureAlg::RsaSha256,
                sp_certs: vec![],
                want_authn_requests_signed: false,
                slo_url: None,
                slo_binding: None,
                assertion_valid_secs: 300,
                allow_unsigned_logout: false,
            });
            cfg.acs_urls = s.acs_urls.clone();
            cfg.audience = audience.clone();
            let cfg = cfg
                .validate()
                .map_err(|e| FixError::Io(format!("service {}: {e}", s.name)))?;
            if app.is_none() {
                if !dry_run {
                    dir.apps()
                        .create_with(audit, &s.slug, &s.display_name, None, Some(saml_spec(&cfg)))
                        .await?;
                }
                note(
                    "application_missing",
                    format!("create application {} (SAML SP {})", s.slug, cfg.audience),
                );
            } else if existing.as_ref() != Some(&cfg) {
                if !dry_run {
                    dir.apps()
                        .update_provider(audit, &s.slug, saml_spec(&cfg), action::MODEL_UPDATED)
                        .await?;
                }
                note(
                    "acs_urls",
                    format!(
                        "set ACS URLs of {} to {} and its audience to {}",
                        s.slug,
                        cfg.acs_urls.join(" "),
                        cfg.audience
                    ),
                );
            }
        }
        SsoType::Ldap => {
            if let Some((kind, what)) = ldap::fix(dir, audit, s, dry_run).await? {
                note(kind, what);
            }
        }
    }
    if kinds.contains(&"trust") {
        for r in trust::fix(dir, audit, external_url, s, dry_run).await? {
            note("trust", r);
        }
    }
    for d in report.drifts.iter().filter(|d| !d.fixable) {
        note(
            d.kind,
            format!("not repaired: {} (change the service's settings)", d.detail),
        );
    }
    Ok(done)
}

/// A service's env file: missing is empty; unreadable (permissions, a
/// directory, a symbolic link) is an error naming the file.
fn read_env(file: &std::path::Path) -> Result<std::collections::BTreeMap<String, String>, String> {
    match envfile::read(file) {
        Ok(env) => Ok(env),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

/// A rewritten env file, and how to put the previous one back.
struct WrittenEnv {
    file: std::path::PathBuf,
    backup: Option<std::path::PathBuf>,
}

impl WrittenEnv {
    fn restore(&self) {
        let restored = match &self.backup {
            Some(b) => std::fs::read(b).and_then(|old| {
                let meta = std::fs::symlink_metadata(&self.file).ok();
                envfile::write_atomic(&self.file, &old, meta.as_ref(), false).map(|_| ())
            }),
            None => std::fs::remove_file(&self.file),
        };
        if let Err(e) = restored {
            tracing::error!(file = %self.file.display(), error = %e, "could not restore the previous env file");
        }
    }
}

/// Writes the service's new client id/secret (one `sso_fix` event).
async fn write_env_updates(
    dir: &Directory,
    audit: &Audit,
    s: &Service,
    updates: &[(String, String)],
    dry_run: bool,
    note: &mut impl FnMut(&'static str, String),
) -> Result<Option<WrittenEnv>, FixError> {
    let Some((file, _, _)) = &s.client else {
        return Ok(None);
    };
    if updates.is_empty() {
        return Ok(None);
    }
    let keys: Vec<String> = updates.iter().map(|(k, _)| k.clone()).collect();
    note(
        "client_secret",
        format!("write {} to {}", keys.join(", "), file.display()),
    );
    if dry_run {
        return Ok(None);
    }
    let pairs: Vec<(&str, &str)> = updates.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let backup = envfile::write_keys(file, &pairs)
        .map_err(|e| FixError::Io(format!("service {}: cannot write {}: {e}", s.name, file.display())))?;
    let written = WrittenEnv {
        file: file.clone(),
        backup: backup.clone(),
    };
    let recorded = dir
        .events()
        .record(
            audit,
            SSO_FIX,
            None,
            json!({"service": s.name, "application": s.slug, "file": file.display().to_string(),
               "keys": keys, "backup": backup.map(|b| b.display().to_string())}),
        )
        .await;
    if let Err(e) = recorded {
        written.restore();
        return Err(e.into());
    }
    Ok(Some(written))
}

/// Gatehouse's side of an OIDC repair: create the application, or update its
/// redirect URIs and rotate its secret.
#[allow(clippy::too_many_arguments)]
async fn oidc_fix_commit(
    dir: &Directory,
    audit: &Audit,
    s: &Service,
    app: &Option<Application>,
    existing: &Option<OidcConfig>,
    cfg: &OidcConfig,
    uris_changed: bool,
    rotate: bool,
    dry_run: bool,
) -> Result<(), FixError> {
    if dry_run {
        return Ok(());
    }
    if app.is_none() {
        dir.apps()
            .create_with(audit, &s.slug, &s.display_name, None, Some(oidc_spec(cfg)))
            .await?;
        return Ok(());
    }
    if existing.is_none() || uris_changed {
        let mut c = cfg.clone();
        if let Some(old) = existing {
            c.client_secret_hash = old.client_secret_hash.clone();
        }
        dir.apps()
            .update_provider(audit, &s.slug, oidc_spec(&c), action::MODEL_UPDATED)
            .await?;
    }
    if rotate && existing.is_some() {
        dir.apps()
            .update_provider(audit, &s.slug, oidc_spec(cfg), action::SECRET_ROTATE)
            .await?;
    }
    Ok(())
}

/// Repairs every service (or one).
pub async fn fix(
    dir: &Directory,
    audit: &Audit,
    external_url: &str,
    m: &Manifest,
    only: Option<&str>,
    dry_run: bool,
) -> Result<Vec<Repair>, FixError> {
    let mut out = Vec::new();
    for s in m.services.iter().filter(|s| only.is_none_or(|o| o == s.name)) {
        out.extend(fix_service(dir, audit, external_url, s, dry_run).await?);
    }
    Ok(out)
}
