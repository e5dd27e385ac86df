//! SSO drift of a service that signs people in over LDAP: the application
//! must exist with an LDAP provider, serving the base DN the service is
//! configured with (`sso.base_dn` in the manifest), and searchable by the
//! group the service's account is in (`sso.search_group`).

use gatehouse_core::events::action;
use gatehouse_core::{Application, ProviderKind};
use gatehouse_ldap::LdapConfig;
use gatehouse_ldap::config::DEFAULT_BASE_DN;

use super::manifest::Service;
use super::{Drift, FixError, Fixing, drift, provider_config};

/// What the application's LDAP settings should be (the stored ones, with the
/// manifest's base DN and search group).
fn wanted(s: &Service, app: Option<&Application>) -> Result<LdapConfig, String> {
    let stored = app
        .filter(|a| a.provider == Some(ProviderKind::Ldap))
        .and_then(|a| LdapConfig::from_value(&a.provider_config).ok());
    let mut cfg = match stored {
        Some(c) => c,
        None => LdapConfig::new(DEFAULT_BASE_DN).map_err(|e| e.to_string())?,
    };
    if let Some(base) = &s.base_dn {
        cfg.base_dn = base.clone();
    }
    if let Some(g) = &s.search_group {
        cfg.search_group = Some(g.clone());
    }
    cfg.check().map_err(|e| format!("service {}: {e}", s.name))?;
    Ok(cfg)
}

pub(super) fn check(s: &Service, app: &Application, drifts: &mut Vec<Drift>) {
    let Some(cfg) = provider_config(s, app, ProviderKind::Ldap, LdapConfig::from_value, drifts) else {
        return;
    };
    if let Some(base) = &s.base_dn {
        let same = LdapConfig::new(base)
            .ok()
            .and_then(|want| want.provider_key().ok())
            .is_some_and(|want| cfg.provider_key().ok().as_deref() == Some(want.as_str()));
        if !same {
            drifts.push(drift(
                "base_dn",
                format!(
                    "application '{}' serves {}, the service uses {base}",
                    s.slug, cfg.base_dn
                ),
                vec![base.clone()],
                true,
            ));
        }
    }
    if let Some(g) = &s.search_group
        && !cfg
            .search_group
            .as_deref()
            .is_some_and(|have| have.eq_ignore_ascii_case(g))
    {
        drifts.push(drift(
            "search_group",
            format!(
                "members of {g} should search application '{}', whose search group is {}",
                s.slug,
                cfg.search_group.as_deref().unwrap_or("none (everyone)")
            ),
            vec![g.clone()],
            true,
        ));
    }
}

/// Creates the application or corrects its LDAP settings.
pub(super) async fn fix(f: &mut Fixing<'_>) -> Result<(), FixError> {
    let s = f.s;
    let app = f.dir.apps().by_slug(&s.slug).await?;
    let cfg = wanted(s, app.as_ref()).map_err(FixError::Io)?;
    let spec = cfg.provider_spec().map_err(|e| FixError::Io(e.to_string()))?;
    let unchanged = app
        .as_ref()
        .is_some_and(|a| a.provider == Some(ProviderKind::Ldap) && a.provider_config == spec.config);
    if unchanged {
        return Ok(());
    }
    if app.is_none() {
        f.create_app(None, spec).await?;
        let what = format!("create application {} (LDAP tree {})", s.slug, cfg.base_dn);
        f.note("application_missing", what);
    } else {
        f.update_provider(spec, action::MODEL_UPDATED).await?;
        let what = format!(
            "set the LDAP settings of {}: base DN {}, search group {}",
            s.slug,
            cfg.base_dn,
            cfg.search_group.as_deref().unwrap_or("none")
        );
        f.note("provider", what);
    }
    Ok(())
}
