//! authentik's proxy provider fields (`authentik_providers_proxy.proxyprovider`,
//! the REST API's `ProxyProviderRequest`) onto a [`ProxyConfig`], in the
//! forward-auth modes Gatehouse serves: one translation for blueprints and
//! the API.

use gatehouse_core::fields::{FieldError, Fields};
use serde_json::Value;

use crate::config::{ProxyConfig, ProxyMode};

/// A provider's settings before any field is applied (authentik's defaults).
pub fn blank() -> ProxyConfig {
    ProxyConfig {
        mode: ProxyMode::ForwardSingle,
        external_host: String::new(),
        cookie_domain: String::new(),
        skip_path_regex: String::new(),
        basic_auth_enabled: false,
        basic_auth_user_attribute: String::new(),
        basic_auth_password_attribute: String::new(),
    }
}

/// `base` with every field `f` gives applied, checked.
pub fn apply(base: &ProxyConfig, f: &dyn Fields) -> Result<ProxyConfig, FieldError> {
    let mut c = base.clone();
    if let Some(m) = f.text("mode")? {
        c.mode = match m.as_str() {
            "forward_single" => ProxyMode::ForwardSingle,
            "forward_domain" => ProxyMode::ForwardDomain,
            "proxy" => {
                return Err(FieldError::new("mode", "mode 'proxy' is not supported").hint(
                    "Gatehouse does forward-auth (forward_single, forward_domain) behind your own reverse proxy",
                ));
            }
            other => return Err(FieldError::new("mode", format!("unknown mode '{other}'"))),
        };
    }
    if let Some(v) = f.text("external_host")? {
        c.external_host = v;
    }
    if let Some(v) = f.text_or_cleared("cookie_domain")? {
        c.cookie_domain = v;
    }
    if let Some(v) = f.text_or_cleared("skip_path_regex")? {
        c.skip_path_regex = v;
    }
    if let Some(v) = f.flag("basic_auth_enabled")? {
        c.basic_auth_enabled = v;
    }
    if let Some(v) = f.text_or_cleared("basic_auth_user_attribute")? {
        c.basic_auth_user_attribute = v;
    }
    if let Some(v) = f.text_or_cleared("basic_auth_password_attribute")? {
        c.basic_auth_password_attribute = v;
    }
    if let Some(h) = f.text("internal_host")?
        && !h.is_empty()
    {
        return Err(FieldError::new(
            "internal_host",
            "internal_host needs mode 'proxy', which is not supported",
        )
        .hint("use forward_single behind your reverse proxy"));
    }
    let v = serde_json::to_value(&c).unwrap_or(Value::Null);
    ProxyConfig::from_value(&v).map_err(|e| FieldError::new("external_host", format!("invalid proxy provider: {e}")))
}
