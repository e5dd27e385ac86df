//! A service that signs people in with OpenID Connect: its application must
//! have an OIDC provider registering exactly the redirect URIs the service
//! sends (strict ones; regex ones are left alone), and the client id and
//! secret in the service's env file must be Gatehouse's. A repair sets the
//! URIs, rotates the secret and writes it into the env file.

use std::collections::BTreeMap;

use gatehouse_core::events::action;
use gatehouse_core::{Application, Directory, ProviderKind, ProviderSpec};
use gatehouse_oidc::config::{ClientType, MatchingMode, OidcConfig, parse_redirect_uri};

use super::{Drift, FixError, Fixing, Service, client_env, drift, list_drift, provider_config, trust};

pub(super) async fn check(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    app: &Application,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let Some(cfg) = provider_config(s, app, ProviderKind::Oidc, OidcConfig::from_value, drifts) else {
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
    drifts.extend(list_drift("redirect_uris", "not registered", missing, stale));
    check_client(dir, s, &cfg, drifts).await?;
    trust::check(dir, external_url, s, drifts).await
}

/// The client id and secret in the service's env file.
async fn check_client(
    dir: &Directory,
    s: &Service,
    cfg: &OidcConfig,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let Some((file, id_key, secret_key)) = &s.client else {
        return Ok(());
    };
    let env = match client_env::read(file) {
        Ok(env) => env,
        Err(detail) => {
            // Not secret drift: rotating would only fail on the same file.
            drifts.push(drift("env_file", detail, vec![], false));
            return Ok(());
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
    Ok(())
}

fn spec(cfg: &OidcConfig) -> ProviderSpec {
    ProviderSpec {
        kind: ProviderKind::Oidc,
        key: Some(cfg.client_id.clone()),
        config: cfg.to_value(),
        shown: cfg.shown(),
    }
}

/// What an OIDC repair changes on Gatehouse's side.
struct Repair {
    app_exists: bool,
    /// The stored client, when the application has one.
    existing: Option<OidcConfig>,
    /// The client as repaired.
    cfg: OidcConfig,
    uris_changed: bool,
    rotate: bool,
}

/// Creates the application or sets its redirect URIs and rotates its
/// secret; writes the client id and new secret into the service's env file.
pub(super) async fn fix(f: &mut Fixing<'_>, env: &BTreeMap<String, String>) -> Result<(), FixError> {
    let s = f.s;
    let app = f.dir.apps().by_slug(&s.slug).await?;
    let existing = app
        .as_ref()
        .filter(|a| a.provider == Some(ProviderKind::Oidc))
        .and_then(|a| OidcConfig::from_value(&a.provider_config).ok());
    let mut cfg = existing.clone().unwrap_or_else(|| new_client(s, env));
    let uris_changed = f.drifted("redirect_uris") || existing.is_none();
    if uris_changed {
        cfg.redirect_uris = s.redirect_uris.iter().map(|u| parse_redirect_uri(u)).collect();
    }
    let rotate = f.drifted("client_secret") || existing.is_none() && !cfg.is_public();
    let mut secret = None;
    if rotate && !cfg.is_public() {
        let sec = f.dir.oauth().generate_client_secret();
        cfg.client_secret_hash = Some(f.dir.oauth().hash_client_secret(&sec).await?);
        secret = Some(sec);
    }
    cfg.validate().map_err(|e| f.failed(e))?;
    let updates = env_updates(s, env, &cfg, secret);
    let repair = Repair {
        app_exists: app.is_some(),
        existing,
        cfg,
        uris_changed,
        rotate,
    };
    // The service's file first, then Gatehouse: a failed write leaves the
    // old secret working on both sides, and a failed commit puts the
    // previous file back.
    let written = client_env::write(f, &updates).await?;
    if let Err(e) = commit(f, &repair).await {
        if let Some(w) = &written {
            w.restore();
        }
        return Err(e);
    }
    note(f, &repair);
    Ok(())
}

/// A new confidential client, with the client id the service already has
/// (or the application's slug).
fn new_client(s: &Service, env: &BTreeMap<String, String>) -> OidcConfig {
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

/// The env file's keys to write: the client id where it differs, the new secret.
fn env_updates(
    s: &Service,
    env: &BTreeMap<String, String>,
    cfg: &OidcConfig,
    secret: Option<String>,
) -> Vec<(String, String)> {
    let mut updates = Vec::new();
    let Some((_, id_key, secret_key)) = &s.client else {
        return updates;
    };
    if let Some(k) = id_key
        && env.get(k) != Some(&cfg.client_id)
    {
        updates.push((k.clone(), cfg.client_id.clone()));
    }
    if let (Some(k), Some(sec)) = (secret_key, secret) {
        updates.push((k.clone(), sec));
    }
    updates
}

/// Gatehouse's side: create the application, or update its redirect URIs
/// (keeping the stored secret) and rotate its secret, each with its event.
async fn commit(f: &Fixing<'_>, r: &Repair) -> Result<(), FixError> {
    if !r.app_exists {
        return f.create_app(None, spec(&r.cfg)).await;
    }
    if r.existing.is_none() || r.uris_changed {
        let mut c = r.cfg.clone();
        if let Some(old) = &r.existing {
            c.client_secret_hash = old.client_secret_hash.clone();
        }
        f.update_provider(spec(&c), action::MODEL_UPDATED).await?;
    }
    if r.rotate && r.existing.is_some() {
        f.update_provider(spec(&r.cfg), action::SECRET_ROTATE).await?;
    }
    Ok(())
}

fn note(f: &mut Fixing<'_>, r: &Repair) {
    let s = f.s;
    let slug = &s.slug;
    if !r.app_exists {
        let what = format!("create application {slug} (OIDC client {})", r.cfg.client_id);
        f.note("application_missing", what);
        return;
    }
    if r.uris_changed {
        let what = format!("set redirect URIs of {slug}: {}", s.redirect_uris.join(" "));
        f.note("redirect_uris", what);
    }
    if r.rotate {
        f.note("client_secret", format!("rotate the client secret of {slug}"));
    }
}
