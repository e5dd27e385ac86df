//! Settings of the LDAP server (`GATEHOUSE_LDAP*`), checked once at start
//! like every other setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gatehouse_ldap::{ConnectionLimits, SearchLimits};

use crate::config::ConfigError;
use crate::config::sections::whole_number;

#[derive(Debug, Clone)]
pub struct LdapSettings {
    /// Plain LDAP with StartTLS; `None`: off.
    pub listen: Option<SocketAddr>,
    /// LDAPS; `None`: off.
    pub ldaps_listen: Option<SocketAddr>,
    /// PEM certificate chain and key; unset: generated and kept in the database.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub connections: ConnectionLimits,
    pub search: SearchLimits,
    pub max_pending_binds: usize,
}

/// `get` reads a trimmed, non-empty value; `bad` builds the error for a name.
pub fn parse(
    get: &dyn Fn(&str) -> Option<String>,
    bad: &dyn Fn(&str, &str) -> ConfigError,
) -> Result<LdapSettings, ConfigError> {
    let number = |name: &str, default: u64, min: u64, max: u64| whole_number(get, bad, name, default, min, max);
    let addr = |name: &str, default: &str| -> Result<Option<SocketAddr>, ConfigError> {
        let text = get(name).unwrap_or_else(|| default.into());
        if text == "off" || text == "none" {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| bad(name, &format!("'{text}' is not an address like 0.0.0.0:3389, or 'off'")))
    };
    let tls_cert = get("GATEHOUSE_LDAP_TLS_CERT").map(PathBuf::from);
    let tls_key = get("GATEHOUSE_LDAP_TLS_KEY").map(PathBuf::from);
    if tls_cert.is_some() != tls_key.is_some() {
        return Err(bad(
            "GATEHOUSE_LDAP_TLS_CERT",
            "and GATEHOUSE_LDAP_TLS_KEY go together: set both, or neither (a certificate is then generated)",
        ));
    }
    let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Ok(LdapSettings {
        listen: addr("GATEHOUSE_LDAP_LISTEN", "0.0.0.0:3389")?,
        ldaps_listen: addr("GATEHOUSE_LDAPS_LISTEN", "0.0.0.0:6636")?,
        tls_cert,
        tls_key,
        connections: ConnectionLimits {
            max_message_bytes: as_usize(number(
                "GATEHOUSE_LDAP_MAX_MESSAGE_BYTES",
                65_536,
                1024,
                16 * 1024 * 1024,
            )?),
            max_messages: number("GATEHOUSE_LDAP_MAX_MESSAGES", 100_000, 1, u64::from(u32::MAX))?,
            max_connections: as_usize(number("GATEHOUSE_LDAP_MAX_CONNECTIONS", 1024, 1, 1_000_000)?),
            idle_timeout: Duration::from_secs(600),
        },
        search: SearchLimits {
            max_results: as_usize(number("GATEHOUSE_LDAP_MAX_RESULTS", 1000, 1, 10_000_000)?),
            time_limit: Duration::from_secs(number("GATEHOUSE_LDAP_TIME_LIMIT_SECONDS", 10, 1, 3600)?),
        },
        max_pending_binds: as_usize(number("GATEHOUSE_LDAP_MAX_PENDING_BINDS", 256, 1, 100_000)?),
    })
}

/// Where LDAP clients reach this server, for the admin interface: the host of
/// the public URL with each listener's port (`ldap://…:3389`, `ldaps://…:6636`).
pub fn client_urls(external_url: &str, s: &LdapSettings) -> Vec<String> {
    let authority = external_url.split("://").nth(1).unwrap_or(external_url);
    let authority = authority.split('/').next().unwrap_or(authority);
    // `[::1]:8000` keeps its brackets; `host:8000` loses the port.
    let host = match authority.find(']') {
        Some(end) => &authority[..=end],
        None => authority.split(':').next().unwrap_or(authority),
    };
    [("ldap", s.listen), ("ldaps", s.ldaps_listen)]
        .into_iter()
        .filter_map(|(scheme, addr)| addr.map(|a| format!("{scheme}://{host}:{}", a.port())))
        .collect()
}

/// The rows of `gatehouse settings` (certificate paths shown, never the key).
pub fn shown(s: &LdapSettings) -> Vec<(&'static str, String)> {
    let addr = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_string(), |a| a.to_string());
    let path = |p: &Option<PathBuf>| p.as_ref().map_or_else(|| "-".to_string(), |p| p.display().to_string());
    vec![
        ("GATEHOUSE_LDAP_LISTEN", addr(s.listen)),
        ("GATEHOUSE_LDAPS_LISTEN", addr(s.ldaps_listen)),
        (
            "GATEHOUSE_LDAP_TLS_CERT",
            s.tls_cert.as_ref().map_or_else(
                || "- (generated, in the database)".to_string(),
                |p| p.display().to_string(),
            ),
        ),
        ("GATEHOUSE_LDAP_TLS_KEY", path(&s.tls_key)),
        (
            "GATEHOUSE_LDAP_MAX_MESSAGE_BYTES",
            s.connections.max_message_bytes.to_string(),
        ),
        ("GATEHOUSE_LDAP_MAX_MESSAGES", s.connections.max_messages.to_string()),
        (
            "GATEHOUSE_LDAP_MAX_CONNECTIONS",
            s.connections.max_connections.to_string(),
        ),
        ("GATEHOUSE_LDAP_MAX_RESULTS", s.search.max_results.to_string()),
        (
            "GATEHOUSE_LDAP_TIME_LIMIT_SECONDS",
            s.search.time_limit.as_secs().to_string(),
        ),
        ("GATEHOUSE_LDAP_MAX_PENDING_BINDS", s.max_pending_binds.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> LdapSettings {
        let get = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        let bad = |name: &str, why: &str| ConfigError(format!("{name}: {why}"));
        parse(&get, &bad).unwrap()
    }

    #[test]
    fn client_urls_use_the_public_host_and_each_listener_port() {
        let both = settings(&[]);
        assert_eq!(
            client_urls("https://auth.example.com:8443/", &both),
            ["ldap://auth.example.com:3389", "ldaps://auth.example.com:6636"]
        );
        assert_eq!(
            client_urls("http://[::1]:9000", &both),
            ["ldap://[::1]:3389", "ldaps://[::1]:6636"]
        );
        let plain = settings(&[
            ("GATEHOUSE_LDAPS_LISTEN", "off"),
            ("GATEHOUSE_LDAP_LISTEN", "127.0.0.1:1389"),
        ]);
        assert_eq!(
            client_urls("https://id.example.org", &plain),
            ["ldap://id.example.org:1389"]
        );
        let off = settings(&[("GATEHOUSE_LDAPS_LISTEN", "off"), ("GATEHOUSE_LDAP_LISTEN", "off")]);
        assert!(client_urls("https://id.example.org", &off).is_empty());
    }
}
