//! A service that signs people in with SAML: its application must have a
//! SAML provider with exactly the ACS URLs the service uses and the
//! service's entity id as audience. A repair creates the application or sets
//! both, keeping the other SAML settings.

use gatehouse_core::events::action;
use gatehouse_core::{Application, Directory, ProviderKind};
use gatehouse_saml::SamlConfig;

use super::{Drift, FixError, Fixing, Service, drift, list_drift, provider_config, trust};
use crate::models::saml::default_config;

pub(super) async fn check(
    dir: &Directory,
    external_url: &str,
    s: &Service,
    app: &Application,
    drifts: &mut Vec<Drift>,
) -> gatehouse_core::Result<()> {
    let Some(cfg) = provider_config(s, app, ProviderKind::Saml, SamlConfig::from_value, drifts) else {
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
    drifts.extend(list_drift("acs_urls", "ACS URLs not registered", missing, stale));
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

pub(super) async fn fix(f: &mut Fixing<'_>, audience: &str) -> Result<(), FixError> {
    let s = f.s;
    let app = f.dir.apps().by_slug(&s.slug).await?;
    let existing = app
        .as_ref()
        .filter(|a| a.provider == Some(ProviderKind::Saml))
        .and_then(|a| SamlConfig::from_value(&a.provider_config).ok());
    // Keep the other settings; set what the service sends.
    let mut cfg = existing.clone().unwrap_or_else(default_config);
    cfg.acs_urls = s.acs_urls.clone();
    cfg.audience = audience.to_string();
    let cfg = cfg.validate().map_err(|e| f.failed(e))?;
    if app.is_none() {
        f.create_app(None, cfg.provider_spec()).await?;
        f.note(
            "application_missing",
            format!("create application {} (SAML SP {})", s.slug, cfg.audience),
        );
    } else if existing.as_ref() != Some(&cfg) {
        f.update_provider(cfg.provider_spec(), action::MODEL_UPDATED).await?;
        f.note(
            "acs_urls",
            format!(
                "set ACS URLs of {} to {} and its audience to {}",
                s.slug,
                cfg.acs_urls.join(" "),
                cfg.audience
            ),
        );
    }
    Ok(())
}
