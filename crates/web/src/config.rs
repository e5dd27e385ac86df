//! What the web layer needs to know about its deployment, decided by the
//! binary's settings and handed over as plain values.

use std::net::IpAddr;

use crate::client::TrustedProxies;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Public base URL without trailing slash, e.g. `https://auth.example.com`.
    pub external_url: String,
    pub branding_title: String,
    /// The operator's logo, served at [`crate::LOGO_PATH`].
    pub branding_logo: Option<Logo>,
    pub trusted_proxies: TrustedProxies,
    /// Mail and worker: validity of mailed reset links; `None` when email is not
    /// configured (the forgot-password page then says to ask an administrator).
    pub recovery_email_minutes: Option<i64>,
    /// Every setting as `(name, value, meaning)`, secrets already hidden by
    /// the binary (the admin interface shows them read-only).
    pub settings: Vec<(String, String, String)>,
    /// Where the admin interface finds blueprints and the stack manifest.
    pub blueprints: BlueprintPaths,
    /// Where LDAP clients reach this server (`ldap://HOST:3389`,
    /// `ldaps://HOST:6636`); empty when its LDAP listeners are off.
    pub ldap_urls: Vec<String>,
}

/// The files behind the admin interface's Blueprints and Drift pages.
#[derive(Debug, Clone, Default)]
pub struct BlueprintPaths {
    /// GATEHOUSE_BLUEPRINTS_DIR: blueprints an admin may pick.
    pub dir: Option<std::path::PathBuf>,
    /// Gatehouse's `.env`, read by `!Env` after the process environment.
    pub env_file: Option<std::path::PathBuf>,
    /// GATEHOUSE_STACK_FILE and GATEHOUSE_STACK_ENV_FILE (`sso check`).
    pub stack_file: Option<std::path::PathBuf>,
    pub stack_env_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Logo {
    pub bytes: std::sync::Arc<[u8]>,
    pub content_type: &'static str,
}

impl WebConfig {
    /// Cookies get `Secure` whenever the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.external_url.starts_with("https://")
    }

    pub fn for_tests(external_url: &str) -> Self {
        WebConfig {
            external_url: external_url.trim_end_matches('/').to_string(),
            branding_title: "Gatehouse".into(),
            branding_logo: None,
            trusted_proxies: TrustedProxies::new(Vec::<(IpAddr, u8)>::new()),
            recovery_email_minutes: Some(30),
            settings: vec![("GATEHOUSE_SECRET_KEY".into(), "(set, hidden)".into(), "test".into())],
            blueprints: BlueprintPaths::default(),
            ldap_urls: vec!["ldap://auth.test:3389".into()],
        }
    }
}
