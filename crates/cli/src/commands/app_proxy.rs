//! `gatehouse app create … --provider proxy`: the forward-auth options of an
//! application (authentik's proxy provider in its forward-auth modes).

use clap::{Args, ValueEnum};
use gatehouse_core::ProviderSpec;
use gatehouse_core::{Directory, ProviderKind};
use gatehouse_proxy::{ProxyConfig, ProxyMode, ProxySettings};

use crate::cli::ProviderChoice;
use crate::failure::{CmdResult, Failure};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum ModeChoice {
    /// One application on one host (--external-host).
    ForwardSingle,
    /// Every host under --cookie-domain, with one sign-in.
    ForwardDomain,
}

/// Options of `--provider proxy`.
#[derive(Debug, Args, Default)]
pub struct ProxyArgs {
    /// Proxy: the application's URL (forward_single), or the host that runs
    /// sign-in for the whole cookie domain (forward_domain), e.g.
    /// https://app.example.com.
    #[arg(long, value_name = "URL")]
    pub external_host: Option<String>,
    /// Proxy: protect one host, or every host under --cookie-domain.
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<ModeChoice>,
    /// Proxy, forward_domain: the domain the session cookie is set for, e.g. example.com.
    #[arg(long, value_name = "DOMAIN")]
    pub cookie_domain: Option<String>,
    /// Proxy: requests whose path (forward_single) or full URL (forward_domain)
    /// matches REGEX need no sign-in (repeat for several).
    #[arg(long = "skip-path", value_name = "REGEX")]
    pub skip_paths: Vec<String>,
    /// Proxy: user attribute for the user part of an `Authorization: Basic`
    /// header (default: the email address).
    #[arg(long, value_name = "ATTRIBUTE")]
    pub basic_auth_user_attribute: Option<String>,
    /// Proxy: user attribute holding the password; sends `Authorization: Basic`.
    #[arg(long, value_name = "ATTRIBUTE")]
    pub basic_auth_password_attribute: Option<String>,
}

impl ProxyArgs {
    fn any_given(&self) -> bool {
        self.external_host.is_some()
            || self.mode.is_some()
            || self.cookie_domain.is_some()
            || !self.skip_paths.is_empty()
            || self.basic_auth_user_attribute.is_some()
            || self.basic_auth_password_attribute.is_some()
    }
}

/// Refuses proxy options on an application without a proxy provider.
pub fn check_unused(args: &ProxyArgs, provider: Option<ProviderChoice>) -> CmdResult {
    if provider != Some(ProviderChoice::Proxy) && args.any_given() {
        return Err(Failure::input(
            "--external-host, --mode, --cookie-domain, --skip-path and --basic-auth-* need --provider proxy",
        ));
    }
    Ok(())
}

/// The proxy provider the options describe, checked (including that no other
/// `forward_domain` application already owns the cookie domain).
pub async fn spec(dir: &Directory, args: &ProxyArgs) -> CmdResult<ProviderSpec> {
    let external_host = args
        .external_host
        .clone()
        .ok_or_else(|| Failure::input("--provider proxy needs --external-host URL"))?;
    let mode = match args.mode.unwrap_or(ModeChoice::ForwardSingle) {
        ModeChoice::ForwardSingle => ProxyMode::ForwardSingle,
        ModeChoice::ForwardDomain => ProxyMode::ForwardDomain,
    };
    let config = ProxyConfig::from_settings(settings(args, mode, external_host))?;
    if mode == ProxyMode::ForwardDomain {
        for other in dir.apps().list().await? {
            let Some(ProviderKind::Proxy) = other.app.provider else {
                continue;
            };
            let Ok(theirs) = ProxyConfig::from_value(&other.app.provider_config) else {
                continue;
            };
            if theirs.mode == ProxyMode::ForwardDomain && theirs.cookie_domain == config.cookie_domain {
                return Err(Failure::input(format!(
                    "application '{}' already authenticates the cookie domain '{}'",
                    other.app.slug, config.cookie_domain
                )));
            }
        }
    }
    Ok(config.provider_spec()?)
}

/// The portal link of a single-application proxy: its external host.
pub fn launch_url(args: &ProxyArgs, provider: Option<ProviderChoice>) -> Option<String> {
    if provider != Some(ProviderChoice::Proxy) || args.mode == Some(ModeChoice::ForwardDomain) {
        return None;
    }
    let config =
        ProxyConfig::from_settings(settings(args, ProxyMode::ForwardSingle, args.external_host.clone()?)).ok()?;
    Some(format!("{}/", config.external_host))
}

fn settings(args: &ProxyArgs, mode: ProxyMode, external_host: String) -> ProxySettings {
    ProxySettings {
        mode,
        external_host,
        cookie_domain: args.cookie_domain.clone(),
        skip_paths: args.skip_paths.clone(),
        basic_auth_user_attribute: args.basic_auth_user_attribute.clone(),
        basic_auth_password_attribute: args.basic_auth_password_attribute.clone(),
    }
}

/// `app show`: the proxy provider's settings, for applications that have one.
pub fn show_rows(app: &gatehouse_core::Application, t: &mut crate::output::Table) {
    if app.provider != Some(ProviderKind::Proxy) {
        return;
    }
    let Ok(config) = ProxyConfig::from_value(&app.provider_config) else {
        t.row([
            "proxy settings".to_string(),
            "not valid (see the server log)".to_string(),
        ]);
        return;
    };
    let or_dash = |s: &str| if s.is_empty() { "-".to_string() } else { s.to_string() };
    t.row(["mode".to_string(), config.mode.as_str().to_string()]);
    t.row(["external host".to_string(), config.external_host.clone()]);
    t.row(["cookie domain".to_string(), or_dash(&config.cookie_domain)]);
    t.row([
        "skip paths".to_string(),
        or_dash(&config.skip_patterns().collect::<Vec<_>>().join("  ")),
    ]);
    let basic = if config.basic_auth_enabled {
        let user = match config.basic_auth_user_attribute.as_str() {
            "" => "(email)",
            attr => attr,
        };
        format!("user {user}, password {}", config.basic_auth_password_attribute)
    } else {
        "-".to_string()
    };
    t.row(["basic auth attributes".to_string(), basic]);
}
