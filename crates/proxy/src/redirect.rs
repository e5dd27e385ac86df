//! Where browsers are sent: the start of sign-in, the hand-off through
//! Gatehouse's host, the callback, and back to `rd`. `rd` comes from the query
//! string and so from anyone: it is accepted only on a host the application
//! covers, never elsewhere (no open redirect).

use crate::apps::ProxyApp;
use crate::config::ProxyMode;
use crate::url::{Target, encode_component};
use crate::{AUTHORIZE_PATH, OUTPOST_PREFIX};

const MAX_RD_LEN: usize = 4096;

/// The URL to return to after sign-in, normalised: an absolute http(s) URL on a
/// host `app` covers, or a local path taken on `origin` (the host `/start` ran
/// on). `None` for anything else.
pub fn validate_rd(app: &ProxyApp, rd: &str, origin: &str) -> Option<String> {
    if rd.len() > MAX_RD_LEN {
        return None;
    }
    let absolute;
    let rd = if rd.starts_with('/') {
        if rd.starts_with("//") || rd.starts_with("/\\") {
            return None;
        }
        absolute = format!("{origin}{rd}");
        absolute.as_str()
    } else {
        rd
    };
    let target = Target::from_url(rd)?;
    app.covers(&target.authority)
        .then(|| escape_unsafe(&target.to_url(app.scheme)))
}

/// Percent-encodes what may not stand in a `Location` header or a URL as is
/// (non-ASCII, quotes, angle brackets…), leaving existing escapes alone.
pub fn escape_unsafe(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `rd` from `/start`'s raw query string. nginx's snippet appends the original
/// URL unencoded (`?rd=https://host/p?a=1&b=2`), so when `rd` comes first the
/// rest of the query is all of it; an encoded one (Traefik, Caddy, ours) is
/// decoded. Otherwise `parsed`, the query parser's value.
pub fn rd_from_query(raw_query: Option<&str>, parsed: Option<&str>) -> Option<String> {
    let Some(rest) = raw_query.and_then(|q| q.strip_prefix("rd=")) else {
        return parsed.map(str::to_string);
    };
    let lower = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
    if lower.starts_with("http%3a") || lower.starts_with("https%3a") || rest.starts_with("%2F") {
        crate::url::percent_decode(rest).map(|d| d.into_owned())
    } else {
        Some(rest.to_string())
    }
}

/// Where to go when `rd` is missing or refused: the application's front page.
pub fn default_rd(app: &ProxyApp) -> String {
    format!("{}/", app.external_origin())
}

/// The origin a request was made on, as the browser sees it.
pub fn origin_of(app: &ProxyApp, target: &Target<'_>) -> String {
    format!("{}://{}", target.scheme_or(app.scheme).as_str(), target.authority.key())
}

/// Where an unauthenticated browser starts signing in (Traefik and Caddy get
/// this as a redirect; nginx builds the same from its own variables). In
/// domain mode on the external host, which runs the callback for the whole
/// domain; otherwise on the host the request was for.
pub fn start_url(app: &ProxyApp, target: &Target<'_>) -> String {
    let origin = match app.mode() {
        ProxyMode::ForwardDomain => app.external_origin(),
        ProxyMode::ForwardSingle => origin_of(app, target),
    };
    format!(
        "{origin}{OUTPOST_PREFIX}/start?rd={}",
        encode_component(&target.to_url(app.scheme))
    )
}

/// Gatehouse's own page that hands out a code (after sign-in, if needed).
pub fn authorize_url(gatehouse_url: &str, state: &str) -> String {
    format!(
        "{}{AUTHORIZE_PATH}?state={}",
        gatehouse_url.trim_end_matches('/'),
        encode_component(state)
    )
}

/// The callback on the protected host, carrying the code.
pub fn callback_url(origin: &str, code: &str) -> String {
    format!("{origin}{OUTPOST_PREFIX}/callback?code={}", encode_component(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::ProxyApp;
    use crate::config::{ProxyConfig, ProxySettings};

    fn app(mode: ProxyMode, host: &str, domain: Option<&str>) -> ProxyApp {
        let config = ProxyConfig::from_settings(ProxySettings {
            mode,
            external_host: host.into(),
            cookie_domain: domain.map(str::to_string),
            skip_paths: vec![],
            basic_auth_user_attribute: None,
            basic_auth_password_attribute: None,
        })
        .unwrap();
        let spec = config.provider_spec().unwrap();
        ProxyApp::from_application(&gatehouse_core::Application {
            id: uuid::Uuid::new_v4(),
            slug: "app".into(),
            name: "App".into(),
            launch_url: None,
            provider: Some(spec.kind),
            provider_config: spec.config,
            provider_key: spec.key,
            provider_pk: None,
            provider_name: None,
            created_at: gatehouse_core::Timestamp(0),
        })
        .unwrap()
    }

    #[test]
    fn rd_stays_on_the_application_s_hosts() {
        let a = app(ProxyMode::ForwardSingle, "https://app.example.com", None);
        let origin = "https://app.example.com";
        let ok = |rd: &str| validate_rd(&a, rd, origin);
        assert_eq!(
            ok("https://app.example.com/x?y=1").as_deref(),
            Some("https://app.example.com/x?y=1")
        );
        assert_eq!(
            ok("https://APP.example.com:443/x#f").as_deref(),
            Some("https://app.example.com/x")
        );
        assert_eq!(ok("/x?y=1").as_deref(), Some("https://app.example.com/x?y=1"));
        for bad in [
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "https://app.example.com@evil.example/",
            "https://evil.example/https://app.example.com/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "https://app.example.com/\r\nSet-Cookie: x=y",
            "app.example.com/x",
            "",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
        assert_eq!(ok(&format!("https://app.example.com/{}", "a".repeat(5000))), None);
        assert_eq!(
            ok("https://app.example.com/ü?q=\"<x>\"").as_deref(),
            Some("https://app.example.com/%C3%BC?q=%22%3Cx%3E%22"),
            "always a valid Location"
        );
        assert_eq!(default_rd(&a), "https://app.example.com/");

        let d = app(
            ProxyMode::ForwardDomain,
            "https://auth.example.com",
            Some("example.com"),
        );
        assert!(validate_rd(&d, "https://grafana.example.com/d/1", "https://auth.example.com").is_some());
        assert!(validate_rd(&d, "http://example.com/", "https://auth.example.com").is_some());
        assert!(validate_rd(&d, "https://example.org/", "https://auth.example.com").is_none());
        assert!(validate_rd(&d, "https://notexample.com/", "https://auth.example.com").is_none());
    }

    #[test]
    fn rd_from_nginx_unencoded_or_from_our_own_encoded_start_url() {
        let raw = "rd=http://wiki.test:8080/p?a=1&b=2";
        assert_eq!(
            rd_from_query(Some(raw), Some("http://wiki.test:8080/p?a=1")).as_deref(),
            Some("http://wiki.test:8080/p?a=1&b=2")
        );
        let enc = "rd=http%3A%2F%2Fwiki.test%2Fp%3Fa%3D1%26b%3D2";
        assert_eq!(
            rd_from_query(Some(enc), None).as_deref(),
            Some("http://wiki.test/p?a=1&b=2")
        );
        assert_eq!(
            rd_from_query(Some("x=1&rd=http%3A%2F%2Fa"), Some("http://a")).as_deref(),
            Some("http://a")
        );
        assert_eq!(rd_from_query(None, None), None);
    }

    #[test]
    fn start_and_callback_urls() {
        let a = app(ProxyMode::ForwardSingle, "https://app.example.com", None);
        let t = Target::from_url("https://app.example.com/a b".replace(' ', "%20").leak()).unwrap();
        assert_eq!(
            start_url(&a, &t),
            "https://app.example.com/outpost.goauthentik.io/start?rd=https%3A%2F%2Fapp.example.com%2Fa%2520b"
        );
        let d = app(
            ProxyMode::ForwardDomain,
            "https://auth.example.com",
            Some("example.com"),
        );
        let t = Target::from_url("https://grafana.example.com/").unwrap();
        assert!(
            start_url(&d, &t)
                .starts_with("https://auth.example.com/outpost.goauthentik.io/start?rd=https%3A%2F%2Fgrafana")
        );
        assert_eq!(
            authorize_url("http://127.0.0.1:9000/", "s+t"),
            "http://127.0.0.1:9000/application/proxy/authorize/?state=s%2Bt"
        );
        assert_eq!(
            callback_url("https://app.example.com", "c"),
            "https://app.example.com/outpost.goauthentik.io/callback?code=c"
        );
    }
}
