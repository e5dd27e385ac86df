//! Providers once every file has run: Gatehouse stores a provider inside its
//! application, so a new provider no application uses cannot be stored, and
//! each used provider's settings are copied into its application.

use std::collections::HashMap;

use gatehouse_core::ProviderKind;
use serde_json::json;

use crate::error::BlueprintError;
use crate::state::{ProviderDraft, State};

/// The key under which `origins` names the entry of a provider (its pk is
/// not an object's, so it has its own namespace).
pub(super) fn origin_key(provider: impl std::fmt::Display) -> String {
    format!("provider:{provider}")
}

/// Refuses (or, tolerated, warns about) a new provider no application uses.
pub(super) fn check_used(
    before: &State,
    after: &State,
    origins: &HashMap<String, String>,
    allow_unsupported: bool,
    warnings: &mut Vec<String>,
) -> Result<(), BlueprintError> {
    for p in after.providers.iter().filter(|p| p.live) {
        if after.app_of_provider(p.id).is_some() || before.providers.iter().any(|b| b.id == p.id) {
            continue;
        }
        let origin = origins.get(&origin_key(p.id)).cloned().unwrap_or_default();
        if allow_unsupported {
            warnings.push(format!(
                "{origin}: provider '{}' is not used by any application; Gatehouse stores a provider with its application",
                p.name
            ));
            continue;
        }
        return Err(BlueprintError {
            file: origin.split(':').next().unwrap_or_default().to_string(),
            line: origin.split(':').nth(1).and_then(|l| l.parse().ok()).unwrap_or(0),
            col: 1,
            entry: None,
            message: format!("provider '{}' is not used by any application", p.name),
            hint: Some("reference it from an application entry: provider: !KeyOf <its id>".into()),
        });
    }
    Ok(())
}

/// Copies each provider's settings into its application.
pub(super) fn copy_into_apps(st: &mut State) {
    for i in 0..st.apps.len() {
        if !st.apps[i].live || st.apps[i].foreign_provider {
            continue;
        }
        let Some(pid) = st.apps[i].provider else {
            let app = &mut st.apps[i].app;
            app.provider = None;
            app.provider_key = None;
            app.provider_config = json!({});
            app.provider_name = None;
            continue;
        };
        let Some(p) = st.providers.iter().find(|p| p.id == pid) else {
            continue;
        };
        let app = &mut st.apps[i].app;
        // A provider named after its application needs no name of its own.
        app.provider_name = (p.name != app.name).then(|| p.name.clone());
        match &p.draft {
            ProviderDraft::Oidc { cfg, .. } => {
                app.provider = Some(ProviderKind::Oidc);
                app.provider_key = Some(cfg.client_id.clone());
                app.provider_config = cfg.to_value();
            }
            ProviderDraft::Proxy(c) => {
                app.provider = Some(ProviderKind::Proxy);
                if let Ok(spec) = c.provider_spec() {
                    app.provider_key = spec.key;
                    app.provider_config = spec.config;
                }
                if app.launch_url.is_none() && c.mode == gatehouse_proxy::ProxyMode::ForwardSingle {
                    app.launch_url = Some(format!("{}/", c.external_host));
                }
            }
            ProviderDraft::Saml(c) => {
                app.provider = Some(ProviderKind::Saml);
                app.provider_key = Some(c.audience.clone());
                app.provider_config = serde_json::to_value(c).unwrap_or_else(|_| json!({}));
            }
            ProviderDraft::Ldap(c) => {
                app.provider = Some(ProviderKind::Ldap);
                app.provider_key = c.provider_key().ok();
                app.provider_config = c.to_value();
            }
        }
    }
}
