//! A proxy provider's settings, checked once when they are given and again when
//! they are loaded (the database may have been edited by hand). Stored in
//! `Application::provider_config` with authentik's field names, so blueprints
//! and exports map one to one.

use gatehouse_core::ProviderSpec;
use gatehouse_core::{Error, ProviderKind, Result};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::url::{Authority, Scheme, Target};

/// At most this many skip-path expressions, each at most this long.
const MAX_SKIP_PATHS: usize = 100;
const MAX_SKIP_PATH_LEN: usize = 1000;
/// Compiled size limit per expression (the regex engine is linear-time; this
/// bounds memory).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// authentik's two forward-auth modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyMode {
    /// One application on one host (`external_host`).
    ForwardSingle,
    /// Every host under `cookie_domain`, with one sign-in; `external_host` is
    /// the host that runs the sign-in callback.
    ForwardDomain,
}

impl ProxyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::ForwardSingle => "forward_single",
            ProxyMode::ForwardDomain => "forward_domain",
        }
    }
}

/// What an operator asks for (the command line's flags).
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub mode: ProxyMode,
    pub external_host: String,
    pub cookie_domain: Option<String>,
    pub skip_paths: Vec<String>,
    pub basic_auth_user_attribute: Option<String>,
    pub basic_auth_password_attribute: Option<String>,
}

/// The stored form, in authentik's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyConfig {
    pub mode: ProxyMode,
    /// `scheme://host[:port]`, normalised, no path.
    pub external_host: String,
    /// Empty unless `forward_domain`; no leading dot.
    #[serde(default)]
    pub cookie_domain: String,
    /// Regular expressions, one per line, for requests that need no sign-in.
    #[serde(default)]
    pub skip_path_regex: String,
    #[serde(default)]
    pub basic_auth_enabled: bool,
    /// User attribute for the Basic user name; empty: the email address.
    #[serde(default)]
    pub basic_auth_user_attribute: String,
    #[serde(default)]
    pub basic_auth_password_attribute: String,
}

impl ProxyConfig {
    /// Checks and normalises what the operator gave.
    pub fn from_settings(s: ProxySettings) -> Result<ProxyConfig> {
        let user_attr = s.basic_auth_user_attribute.unwrap_or_default();
        let password_attr = s.basic_auth_password_attribute.unwrap_or_default();
        if !user_attr.is_empty() && password_attr.is_empty() {
            return Err(Error::invalid(
                "basic auth",
                "--basic-auth-user-attribute needs --basic-auth-password-attribute",
            ));
        }
        let config = ProxyConfig {
            mode: s.mode,
            external_host: s.external_host,
            cookie_domain: s.cookie_domain.unwrap_or_default(),
            skip_path_regex: s.skip_paths.join("\n"),
            basic_auth_enabled: !password_attr.is_empty(),
            basic_auth_user_attribute: user_attr,
            basic_auth_password_attribute: password_attr,
        };
        config.normalised()
    }

    /// Loads stored settings, checking them again.
    pub fn from_value(v: &Value) -> Result<ProxyConfig> {
        let c: ProxyConfig =
            serde_json::from_value(v.clone()).map_err(|e| Error::invalid("proxy provider settings", e.to_string()))?;
        c.normalised()
    }

    fn normalised(mut self) -> Result<ProxyConfig> {
        let (scheme, authority) = parse_external_host(&self.external_host)?;
        let authority = authority.into_owned();
        self.external_host = format!("{}://{}", scheme.as_str(), authority.key());
        self.cookie_domain = self.cookie_domain.trim().trim_start_matches('.').to_ascii_lowercase();
        match self.mode {
            ProxyMode::ForwardSingle if !self.cookie_domain.is_empty() => {
                return Err(Error::invalid(
                    "cookie domain",
                    "only forward_domain mode uses a cookie domain",
                ));
            }
            ProxyMode::ForwardSingle => {}
            ProxyMode::ForwardDomain => {
                check_cookie_domain(&self.cookie_domain)?;
                if !within_domain(authority.host(), &self.cookie_domain) {
                    return Err(Error::invalid(
                        "external host",
                        format!(
                            "in forward_domain mode the external host runs the sign-in callback and must be inside the cookie domain '{}'",
                            self.cookie_domain
                        ),
                    ));
                }
            }
        }
        self.skip_path_regex = self.skip_patterns().map(str::to_string).collect::<Vec<_>>().join("\n");
        compile_skip_paths(&self.skip_path_regex)?;
        for (field, attr) in [
            ("basic auth user attribute", &self.basic_auth_user_attribute),
            ("basic auth password attribute", &self.basic_auth_password_attribute),
        ] {
            if attr.len() > 100 || attr.chars().any(char::is_control) {
                return Err(Error::invalid(field, "at most 100 characters, no control characters"));
            }
        }
        if self.basic_auth_enabled && self.basic_auth_password_attribute.is_empty() {
            return Err(Error::invalid("basic auth", "needs a password attribute"));
        }
        Ok(self)
    }

    /// The non-empty skip-path lines.
    pub fn skip_patterns(&self) -> impl Iterator<Item = &str> {
        self.skip_path_regex
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty())
    }

    /// The scheme and authority of `external_host`.
    pub fn external(&self) -> Result<(Scheme, Authority<'static>)> {
        let (scheme, authority) = parse_external_host(&self.external_host)?;
        Ok((scheme, authority.into_owned()))
    }

    /// What the application is found by: the external host's authority,
    /// unique among proxy providers.
    pub fn lookup_key(&self) -> Result<String> {
        Ok(self.external()?.1.key().to_string())
    }

    /// The provider as the directory stores it. Nothing here is secret.
    pub fn provider_spec(&self) -> Result<ProviderSpec> {
        let config =
            serde_json::to_value(self).map_err(|e| Error::invalid("proxy provider settings", e.to_string()))?;
        Ok(ProviderSpec {
            kind: ProviderKind::Proxy,
            key: Some(self.lookup_key()?),
            shown: config.clone(),
            config,
        })
    }
}

fn parse_external_host(url: &str) -> Result<(Scheme, Authority<'_>)> {
    let bad = |why: &str| Error::invalid("external host", format!("'{url}' {why}"));
    let target = Target::from_url(url.trim_end_matches('/')).ok_or_else(|| bad("is not an http(s) URL"))?;
    if target.path != "/" || target.query.is_some() || url.contains('#') {
        return Err(bad("must be scheme://host[:port], without a path"));
    }
    let scheme = target.scheme.ok_or_else(|| bad("has no scheme"))?;
    Ok((scheme, target.authority))
}

fn check_cookie_domain(domain: &str) -> Result<()> {
    let ok = Authority::parse(domain, None).is_some_and(|a| a.key() == domain)
        && domain.contains('.')
        && !domain.ends_with('.')
        && !domain.starts_with('[');
    if ok {
        Ok(())
    } else if domain.is_empty() {
        Err(Error::invalid(
            "cookie domain",
            "forward_domain mode needs --cookie-domain",
        ))
    } else {
        Err(Error::invalid(
            "cookie domain",
            format!("'{domain}' is not a domain name with at least one dot"),
        ))
    }
}

/// Whether `host` is `domain` or a name under it.
pub fn within_domain(host: &str, domain: &str) -> bool {
    !domain.is_empty()
        && (host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1))
}

/// Compiles the skip-path expressions, naming the first bad one.
pub fn compile_skip_paths(lines: &str) -> Result<Vec<Regex>> {
    let patterns: Vec<&str> = lines.lines().filter(|l| !l.trim().is_empty()).collect();
    if patterns.len() > MAX_SKIP_PATHS {
        return Err(Error::invalid(
            "skip path",
            format!("at most {MAX_SKIP_PATHS} expressions"),
        ));
    }
    patterns
        .into_iter()
        .map(|p| {
            if p.len() > MAX_SKIP_PATH_LEN {
                return Err(Error::invalid(
                    "skip path",
                    format!("an expression is longer than {MAX_SKIP_PATH_LEN} characters"),
                ));
            }
            RegexBuilder::new(p).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| {
                // The engine's message spans lines; a CLI error is one.
                let why = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
                Error::invalid("skip path", format!("'{p}' is not a regular expression: {why}"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: ProxyMode, host: &str, domain: Option<&str>) -> ProxySettings {
        ProxySettings {
            mode,
            external_host: host.into(),
            cookie_domain: domain.map(str::to_string),
            skip_paths: vec![],
            basic_auth_user_attribute: None,
            basic_auth_password_attribute: None,
        }
    }

    #[test]
    fn single_application_settings_are_normalised() {
        let mut s = settings(ProxyMode::ForwardSingle, "HTTPS://App.Example.com:443/", None);
        s.skip_paths = vec!["^/health$".into(), "  ".into(), "^/static/".into()];
        let c = ProxyConfig::from_settings(s).unwrap();
        assert_eq!(c.external_host, "https://app.example.com");
        assert_eq!(c.lookup_key().unwrap(), "app.example.com");
        assert_eq!(c.skip_path_regex, "^/health$\n^/static/");
        let spec = c.provider_spec().unwrap();
        assert_eq!(spec.kind, ProviderKind::Proxy);
        assert_eq!(spec.key.as_deref(), Some("app.example.com"));
        assert_eq!(spec.config["mode"], "forward_single");
        assert_eq!(ProxyConfig::from_value(&spec.config).unwrap(), c);
        let c =
            ProxyConfig::from_settings(settings(ProxyMode::ForwardSingle, "http://app.localtest:8081", None)).unwrap();
        assert_eq!(c.lookup_key().unwrap(), "app.localtest:8081");
    }

    #[test]
    fn bad_settings_are_refused_with_the_field_named() {
        let field = |s: ProxySettings| match ProxyConfig::from_settings(s) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert_eq!(
            field(settings(ProxyMode::ForwardSingle, "app.example.com", None)),
            "external host"
        );
        assert_eq!(
            field(settings(ProxyMode::ForwardSingle, "https://a/x", None)),
            "external host"
        );
        assert_eq!(
            field(settings(ProxyMode::ForwardSingle, "https://u@a", None)),
            "external host"
        );
        assert_eq!(
            field(settings(
                ProxyMode::ForwardSingle,
                "https://a.example.com",
                Some("example.com")
            )),
            "cookie domain"
        );
        assert_eq!(
            field(settings(ProxyMode::ForwardDomain, "https://auth.example.com", None)),
            "cookie domain"
        );
        assert_eq!(
            field(settings(
                ProxyMode::ForwardDomain,
                "https://auth.example.com",
                Some("localhost")
            )),
            "cookie domain"
        );
        assert_eq!(
            field(settings(
                ProxyMode::ForwardDomain,
                "https://auth.other.org",
                Some("example.com")
            )),
            "external host"
        );
        let mut s = settings(ProxyMode::ForwardSingle, "https://a.example.com", None);
        s.skip_paths = vec!["^/ok$".into(), "(".into()];
        assert_eq!(field(s), "skip path");
        let mut s = settings(ProxyMode::ForwardSingle, "https://a.example.com", None);
        s.basic_auth_user_attribute = Some("user".into());
        assert_eq!(field(s), "basic auth");
    }

    #[test]
    fn domain_mode_accepts_hosts_inside_the_cookie_domain() {
        let c = ProxyConfig::from_settings(settings(
            ProxyMode::ForwardDomain,
            "https://auth.example.com",
            Some(".Example.com"),
        ))
        .unwrap();
        assert_eq!(c.cookie_domain, "example.com");
        assert!(within_domain("example.com", "example.com"));
        assert!(within_domain("a.b.example.com", "example.com"));
        assert!(!within_domain("evilexample.com", "example.com"));
        assert!(!within_domain("example.com.evil.org", "example.com"));
        assert!(!within_domain(".example.com", "example.com"));
        assert!(!within_domain("example.com", ""));
    }

    #[test]
    fn basic_auth_is_enabled_by_its_password_attribute() {
        let mut s = settings(ProxyMode::ForwardSingle, "https://a.example.com", None);
        s.basic_auth_password_attribute = Some("app_password".into());
        let c = ProxyConfig::from_settings(s).unwrap();
        assert!(c.basic_auth_enabled);
        assert_eq!(c.basic_auth_user_attribute, "");
    }
}
