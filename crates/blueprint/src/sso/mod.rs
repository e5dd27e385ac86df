//! SSO drift check and repair across the stack: compares each service of the
//! stack manifest with Gatehouse's configuration and with the files the
//! service reads, and repairs what differs.
//!
//! - [`manifest`] reads the stack manifest; [`envfile`] the services' env files;
//! - `oidc`, `proxy`, `saml` and `ldap` check and repair the
//!   application of a service of their kind; `client_env` writes an OIDC
//!   client's id and secret into the service's env file;
//! - [`trust`] checks and repairs what the service trusts Gatehouse by: OIDC
//!   issuer, JWKS URL and JWKS file; SAML IdP entity id and certificate or
//!   metadata file.
//!
//! This module runs a service's check ([`check_service`]) and repair
//! ([`fix_service`]) and holds what the kinds share.

mod client_env;
pub mod envfile;
mod ldap;
pub mod manifest;
mod oidc;
mod proxy;
mod saml;
pub mod survey;
pub mod trust;

use gatehouse_core::{Application, Audit, Directory, ProviderKind, ProviderSpec};
use serde::Serialize;
use serde_json::Value;

pub use manifest::{Manifest, ManifestError, Service, SsoType, load};
pub use survey::{Survey, survey};

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
    /// `ok` or `drift` ([`survey`] adds [`survey::UNREACHABLE`]).
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

/// The application's provider settings when its provider is of `kind` (and
/// they parse); otherwise a `provider` drift is added.
fn provider_config<T, E>(
    s: &Service,
    app: &Application,
    kind: ProviderKind,
    parse: impl FnOnce(&Value) -> Result<T, E>,
    drifts: &mut Vec<Drift>,
) -> Option<T> {
    let cfg = (app.provider == Some(kind))
        .then(|| parse(&app.provider_config).ok())
        .flatten();
    if cfg.is_none() {
        drifts.push(drift(
            "provider",
            format!(
                "application '{}' has {} provider, the service expects {}",
                s.slug,
                app.provider.map(|p| p.as_str()).unwrap_or("no"),
                kind.as_str()
            ),
            vec![],
            true,
        ));
    }
    cfg
}

/// A list the service and Gatehouse must agree on (redirect URIs, ACS URLs):
/// what the service expects that is not registered (`missing`, described as
/// `missing_label`) and what is registered but not expected.
fn list_drift(kind: &'static str, missing_label: &str, missing: Vec<String>, stale: Vec<String>) -> Option<Drift> {
    if missing.is_empty() && stale.is_empty() {
        return None;
    }
    let mut detail = Vec::new();
    if !missing.is_empty() {
        detail.push(format!("{missing_label}: {}", missing.join(" ")));
    }
    if !stale.is_empty() {
        detail.push(format!("registered but not expected: {}", stale.join(" ")));
    }
    let mut items = missing;
    items.extend(stale);
    Some(drift(kind, detail.join("; "), items, true))
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
            SsoType::Oidc => oidc::check(dir, external_url, s, app, &mut drifts).await?,
            SsoType::Proxy => proxy::check(s, app, &mut drifts),
            SsoType::Saml => saml::check(dir, external_url, s, app, &mut drifts).await?,
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

/// One service's repair under way: the drift found, and the repairs noted.
struct Fixing<'a> {
    dir: &'a Directory,
    audit: &'a Audit,
    s: &'a Service,
    kinds: Vec<&'static str>,
    dry_run: bool,
    done: Vec<Repair>,
}

impl Fixing<'_> {
    fn drifted(&self, kind: &str) -> bool {
        self.kinds.contains(&kind)
    }

    fn note(&mut self, kind: &'static str, action: String) {
        self.done.push(Repair {
            service: self.s.name.clone(),
            kind,
            action,
        });
    }

    /// A repair that failed for a reason of the service's own (its settings, its files).
    fn failed(&self, e: impl std::fmt::Display) -> FixError {
        FixError::Io(format!("service {}: {e}", self.s.name))
    }

    /// Creates the service's application (not in a dry run).
    async fn create_app(&self, launch_url: Option<&str>, spec: ProviderSpec) -> Result<(), FixError> {
        if !self.dry_run {
            let s = self.s;
            self.dir
                .apps()
                .create_with(self.audit, &s.slug, &s.display_name, launch_url, Some(spec))
                .await?;
        }
        Ok(())
    }

    /// Replaces the provider settings of the service's application (not in a dry run).
    async fn update_provider(&self, spec: ProviderSpec, event: &str) -> Result<(), FixError> {
        if !self.dry_run {
            self.dir
                .apps()
                .update_provider(self.audit, &self.s.slug, spec, event)
                .await?;
        }
        Ok(())
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
    if report.drifts.is_empty() {
        return Ok(Vec::new());
    }
    let mut f = Fixing {
        dir,
        audit,
        s,
        kinds: report.drifts.iter().map(|d| d.kind).collect(),
        dry_run,
        done: Vec::new(),
    };
    for d in report.drifts.iter().filter(|d| d.kind == "groups_missing") {
        for g in &d.items {
            if !dry_run {
                dir.groups().create(audit, g, false, None).await?;
            }
            f.note("groups_missing", format!("create group {g}"));
        }
    }
    let env = match &s.client {
        Some((file, _, _)) => client_env::read(file).map_err(|e| f.failed(e))?,
        None => Default::default(),
    };
    match s.kind {
        SsoType::Oidc => oidc::fix(&mut f, &env).await?,
        SsoType::Proxy => {
            let Some(host) = &s.external_host else {
                return Ok(f.done);
            };
            proxy::fix(&mut f, host).await?;
        }
        SsoType::Saml => {
            let (Some(audience), false) = (&s.audience, s.acs_urls.is_empty()) else {
                return Ok(f.done);
            };
            saml::fix(&mut f, audience).await?;
        }
        SsoType::Ldap => ldap::fix(&mut f).await?,
    }
    if f.drifted("trust") {
        for r in trust::fix(dir, audit, external_url, s, dry_run).await? {
            f.note("trust", r);
        }
    }
    for d in report.drifts.iter().filter(|d| !d.fixable) {
        f.note(
            d.kind,
            format!("not repaired: {} (change the service's settings)", d.detail),
        );
    }
    Ok(f.done)
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
