//! A service behind forward-auth: its application must have a proxy provider
//! protecting the host the service is at. A repair creates the application
//! or moves the host, keeping the other proxy settings.

use gatehouse_core::events::action;
use gatehouse_core::{Application, ProviderKind};
use gatehouse_proxy::{ProxyConfig, ProxyMode, ProxySettings};

use super::{Drift, FixError, Fixing, Service, drift, provider_config};

pub(super) fn check(s: &Service, app: &Application, drifts: &mut Vec<Drift>) {
    let Some(cfg) = provider_config(s, app, ProviderKind::Proxy, ProxyConfig::from_value, drifts) else {
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

pub(super) async fn fix(f: &mut Fixing<'_>, host: &str) -> Result<(), FixError> {
    let s = f.s;
    let cfg = ProxyConfig::from_settings(ProxySettings {
        mode: ProxyMode::ForwardSingle,
        external_host: host.to_string(),
        cookie_domain: None,
        skip_paths: vec![],
        basic_auth_user_attribute: None,
        basic_auth_password_attribute: None,
    })?;
    let app = f.dir.apps().by_slug(&s.slug).await?;
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
        let launch_url = format!("{}/", cfg.external_host);
        f.create_app(Some(&launch_url), cfg.provider_spec()?).await?;
        f.note("application_missing", format!("create application {} (proxy)", s.slug));
    } else if f.drifted("external_host") || f.drifted("provider") {
        f.update_provider(cfg.provider_spec()?, action::MODEL_UPDATED).await?;
        f.note("external_host", format!("protect {} for {}", cfg.external_host, s.slug));
    }
    Ok(())
}
