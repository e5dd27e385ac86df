//! Which application a request is for: the proxy providers, indexed by host.
//!
//! A `forward_single` application owns its external host; a `forward_domain`
//! application owns its external host and every host under its cookie domain.
//! An exact host wins over a domain, and a longer domain over a shorter one.

use std::borrow::Cow;
use std::collections::HashMap;

use gatehouse_core::{Application, ProviderKind, Result};
use regex::Regex;
use uuid::Uuid;

use crate::config::{ProxyConfig, ProxyMode, compile_skip_paths, within_domain};
use crate::url::{Authority, Scheme, Target, percent_decode};

/// One proxy provider, ready to answer requests.
#[derive(Debug)]
pub struct ProxyApp {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub config: ProxyConfig,
    /// The external host's scheme and authority.
    pub scheme: Scheme,
    pub authority: Authority<'static>,
    /// The proxy session cookie's name (per application, so that a domain
    /// cookie and a host cookie never collide).
    pub cookie_name: String,
    skip: Vec<Regex>,
}

impl ProxyApp {
    pub fn from_application(app: &Application) -> Result<ProxyApp> {
        let config = ProxyConfig::from_value(&app.provider_config)?;
        let (scheme, authority) = config.external()?;
        let skip = compile_skip_paths(&config.skip_path_regex)?;
        let id_hex = app.id.simple().to_string();
        Ok(ProxyApp {
            id: app.id,
            slug: app.slug.clone(),
            name: app.name.clone(),
            cookie_name: format!("gatehouse_proxy_{}", &id_hex[..12]),
            config,
            scheme,
            authority,
            skip,
        })
    }

    pub fn mode(&self) -> ProxyMode {
        self.config.mode
    }

    /// The cookie domain in `forward_domain` mode.
    pub fn cookie_domain(&self) -> Option<&str> {
        match self.config.mode {
            ProxyMode::ForwardDomain => Some(self.config.cookie_domain.as_str()),
            ProxyMode::ForwardSingle => None,
        }
    }

    /// `scheme://authority` of the external host.
    pub fn external_origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority.key())
    }

    /// Whether `authority` is a host this application answers for.
    pub fn covers(&self, authority: &Authority<'_>) -> bool {
        authority.key() == self.authority.key()
            || authority.host() == self.authority.host()
            || self.cookie_domain().is_some_and(|d| within_domain(authority.host(), d))
    }

    /// Whether the request needs no sign-in. As authentik: single-application
    /// mode matches the path, domain mode the whole URL. A path with dot
    /// segments or encoded separators never skips: the service behind the
    /// proxy may resolve it to somewhere else than the expression saw.
    pub fn skips(&self, target: &Target<'_>) -> bool {
        if self.skip.is_empty() {
            return false;
        }
        let Some(path) = canonical_path(target.path) else {
            return false;
        };
        let subject: Cow<'_, str> = match self.config.mode {
            ProxyMode::ForwardSingle => path,
            ProxyMode::ForwardDomain => {
                let mut url = format!(
                    "{}://{}{}",
                    target.scheme_or(self.scheme).as_str(),
                    target.authority.key(),
                    path
                );
                if let Some(q) = target.query {
                    url.push('?');
                    url.push_str(q);
                }
                Cow::Owned(url)
            }
        };
        self.skip.iter().any(|r| r.is_match(&subject))
    }
}

/// The decoded path, or `None` when decoding or the service's own path
/// resolution could change which resource it names.
fn canonical_path(raw: &str) -> Option<Cow<'_, str>> {
    let lower_has = |needle: &str| {
        raw.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    if raw.contains('\\') || lower_has("%2f") || lower_has("%5c") || lower_has("%00") {
        return None;
    }
    let decoded = percent_decode(raw)?;
    let suspicious = decoded.chars().any(char::is_control)
        || decoded.split('/').any(|seg| {
            let seg = seg.split(';').next().unwrap_or(seg);
            seg == "." || seg == ".."
        });
    (!suspicious).then_some(decoded)
}

/// The proxy applications, indexed by host.
#[derive(Debug, Default)]
pub struct AppTable {
    apps: Vec<ProxyApp>,
    by_authority: HashMap<String, usize>,
    /// Hosts without a port, where that is unambiguous.
    by_host: HashMap<String, usize>,
    /// Cookie domains of `forward_domain` applications, longest first.
    domains: Vec<(String, usize)>,
}

impl AppTable {
    /// The table of every application with a proxy provider. Applications whose
    /// stored settings no longer check are left out and returned with the reason.
    pub fn new(applications: &[Application]) -> (AppTable, Vec<(String, gatehouse_core::Error)>) {
        let mut table = AppTable::default();
        let mut skipped = Vec::new();
        let mut host_count: HashMap<String, usize> = HashMap::new();
        for app in applications.iter().filter(|a| a.provider == Some(ProviderKind::Proxy)) {
            match ProxyApp::from_application(app) {
                Ok(p) => table.apps.push(p),
                Err(e) => skipped.push((app.slug.clone(), e)),
            }
        }
        for (i, app) in table.apps.iter().enumerate() {
            table.by_authority.entry(app.authority.key().to_string()).or_insert(i);
            *host_count.entry(app.authority.host().to_string()).or_default() += 1;
            if let Some(d) = app.cookie_domain() {
                table.domains.push((d.to_string(), i));
            }
        }
        for (i, app) in table.apps.iter().enumerate() {
            let host = app.authority.host();
            if host_count.get(host) == Some(&1) {
                table.by_host.insert(host.to_string(), i);
            }
        }
        table
            .domains
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        (table, skipped)
    }

    /// The application for a request's host.
    pub fn resolve(&self, authority: &Authority<'_>) -> Option<&ProxyApp> {
        let i = self
            .by_authority
            .get(authority.key())
            .or_else(|| self.by_host.get(authority.host()))
            .copied()
            .or_else(|| {
                self.domains
                    .iter()
                    .find(|(d, _)| within_domain(authority.host(), d))
                    .map(|(_, i)| *i)
            })?;
        self.apps.get(i)
    }

    pub fn get(&self, id: Uuid) -> Option<&ProxyApp> {
        self.apps.iter().find(|a| a.id == id)
    }

    pub fn len(&self) -> usize {
        self.apps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::Timestamp;

    use super::*;
    use crate::config::ProxySettings;

    pub(crate) fn proxy_app(
        slug: &str,
        mode: ProxyMode,
        host: &str,
        domain: Option<&str>,
        skip: &[&str],
    ) -> Application {
        let config = ProxyConfig::from_settings(ProxySettings {
            mode,
            external_host: host.into(),
            cookie_domain: domain.map(str::to_string),
            skip_paths: skip.iter().map(|s| s.to_string()).collect(),
            basic_auth_user_attribute: None,
            basic_auth_password_attribute: None,
        })
        .unwrap();
        let spec = config.provider_spec().unwrap();
        Application {
            id: Uuid::new_v4(),
            slug: slug.into(),
            name: slug.to_uppercase(),
            launch_url: None,
            provider: Some(spec.kind),
            provider_config: spec.config,
            provider_key: spec.key,
            provider_pk: None,
            provider_name: None,
            created_at: Timestamp(0),
        }
    }

    fn auth(s: &str) -> Authority<'_> {
        Authority::parse(s, None).unwrap()
    }

    #[test]
    fn hosts_resolve_exact_first_then_longest_domain() {
        let single = proxy_app("wiki", ProxyMode::ForwardSingle, "https://wiki.example.com", None, &[]);
        let domain = proxy_app(
            "all",
            ProxyMode::ForwardDomain,
            "https://auth.example.com",
            Some("example.com"),
            &[],
        );
        let inner = proxy_app(
            "lab",
            ProxyMode::ForwardDomain,
            "https://auth.lab.example.com",
            Some("lab.example.com"),
            &[],
        );
        let ported = proxy_app("dev", ProxyMode::ForwardSingle, "http://dev.localtest:8081", None, &[]);
        let mut broken = proxy_app("broken", ProxyMode::ForwardSingle, "https://b.example.com", None, &[]);
        broken.provider_config = serde_json::json!({"mode": "nonsense"});
        let (table, skipped) = AppTable::new(&[single, domain, inner, ported, broken]);
        assert_eq!(table.len(), 4);
        assert_eq!(skipped.len(), 1);
        let slug = |h: &str| table.resolve(&auth(h)).map(|a| a.slug.clone());
        assert_eq!(slug("wiki.example.com").as_deref(), Some("wiki"));
        assert_eq!(slug("WIKI.example.com:443").as_deref(), Some("wiki"));
        assert_eq!(
            slug("wiki.example.com:8443").as_deref(),
            Some("wiki"),
            "same host, other port"
        );
        assert_eq!(slug("grafana.example.com").as_deref(), Some("all"));
        assert_eq!(slug("example.com").as_deref(), Some("all"));
        assert_eq!(slug("x.lab.example.com").as_deref(), Some("lab"));
        assert_eq!(slug("dev.localtest:8081").as_deref(), Some("dev"));
        assert_eq!(slug("dev.localtest:9999").as_deref(), Some("dev"));
        assert_eq!(slug("example.org"), None);
        assert_eq!(slug("evilexample.com"), None);
        let all = table.resolve(&auth("auth.example.com")).unwrap();
        assert!(all.covers(&auth("x.example.com")));
        assert!(!all.covers(&auth("example.org")));
        assert!(all.cookie_name.starts_with("gatehouse_proxy_") && all.cookie_name.len() == 28);
    }

    #[test]
    fn skip_paths_match_the_path_or_the_whole_url_and_refuse_tricks() {
        let app = ProxyApp::from_application(&proxy_app(
            "wiki",
            ProxyMode::ForwardSingle,
            "https://wiki.example.com",
            None,
            &["^/health$", "^/public/"],
        ))
        .unwrap();
        let t = |url: &'static str| Target::from_url(url).unwrap();
        assert!(app.skips(&t("https://wiki.example.com/health")));
        assert!(
            app.skips(&t("https://wiki.example.com/health?full=1")),
            "the query is not part of the path"
        );
        assert!(app.skips(&t("https://wiki.example.com/public/logo.png")));
        assert!(
            app.skips(&t("https://wiki.example.com/%70ublic/logo.png")),
            "decoded as authentik does"
        );
        assert!(!app.skips(&t("https://wiki.example.com/")));
        assert!(!app.skips(&t("https://wiki.example.com/healthz")));
        for trick in [
            "https://wiki.example.com/public/../admin",
            "https://wiki.example.com/public/%2e%2e/admin",
            "https://wiki.example.com/public/..;/admin",
            "https://wiki.example.com/public/.%2E/admin",
            "https://wiki.example.com/public%2F..%2Fadmin",
            "https://wiki.example.com/public/x%00",
            "https://wiki.example.com/public/%0d%0a",
            "https://wiki.example.com/public/%zz",
        ] {
            assert!(!app.skips(&t(trick)), "{trick}");
        }

        let domain = ProxyApp::from_application(&proxy_app(
            "all",
            ProxyMode::ForwardDomain,
            "https://auth.example.com",
            Some("example.com"),
            &["^https://status\\.example\\.com/"],
        ))
        .unwrap();
        assert!(domain.skips(&t("https://status.example.com/anything?x=1")));
        assert!(!domain.skips(&t("https://wiki.example.com/anything")));
    }
}
