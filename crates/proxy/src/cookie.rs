//! The forward-auth cookies: the proxy session (per application, on its host or
//! cookie domain) and the short-lived sign-in state (on the host that ran
//! `/start`, only sent back to the outpost paths). Both `HttpOnly`,
//! `SameSite=Lax` (the callback is a top-level navigation from Gatehouse's
//! host), and `Secure` on https.

use http::{HeaderMap, HeaderValue};

use crate::OUTPOST_PREFIX;
use crate::apps::ProxyApp;

/// Holds the `/start` state token until `/callback`.
pub const STATE_COOKIE: &str = "gatehouse_proxy_state";

/// The value of cookie `name` in the request, borrowed (this runs on every
/// forward-auth check).
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim_start().split_once('=')?;
            (k.trim_end() == name).then(|| v.trim())
        })
        .filter(|v| !v.is_empty())
}

/// The proxy session cookie, for `max_age_secs`.
pub fn session_cookie(app: &ProxyApp, token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    build(
        &app.cookie_name,
        token,
        "/",
        app.cookie_domain(),
        Some(max_age_secs.max(0)),
        secure,
    )
}

pub fn clear_session_cookie(app: &ProxyApp, secure: bool) -> HeaderValue {
    build(&app.cookie_name, "", "/", app.cookie_domain(), Some(0), secure)
}

/// The sign-in state cookie, on the host `/start` ran on.
pub fn state_cookie(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    build(
        STATE_COOKIE,
        token,
        &format!("{OUTPOST_PREFIX}/"),
        None,
        Some(max_age_secs),
        secure,
    )
}

pub fn clear_state_cookie(secure: bool) -> HeaderValue {
    build(STATE_COOKIE, "", &format!("{OUTPOST_PREFIX}/"), None, Some(0), secure)
}

fn build(name: &str, value: &str, path: &str, domain: Option<&str>, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(d) = domain {
        c.push_str("; Domain=");
        c.push_str(d);
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    // Names, tokens (URL-safe base64) and domains are checked printable ASCII.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("gatehouse_proxy_invalid=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1; gatehouse_proxy_x=tok; b=2"));
        h.append("cookie", HeaderValue::from_static("c=3"));
        assert_eq!(read(&h, "gatehouse_proxy_x"), Some("tok"));
        assert_eq!(read(&h, "c"), Some("3"));
        assert_eq!(read(&h, "gatehouse_proxy"), None);
        assert_eq!(read(&h, "missing"), None);
        h.insert("cookie", HeaderValue::from_static("empty=; x = y "));
        assert_eq!(read(&h, "empty"), None);
        assert_eq!(read(&h, "x"), Some("y"));
    }

    #[test]
    fn state_cookie_is_scoped_to_the_outpost_paths() {
        let c = state_cookie("tok", 600, true);
        assert_eq!(
            c.to_str().unwrap(),
            "gatehouse_proxy_state=tok; Path=/outpost.goauthentik.io/; HttpOnly; SameSite=Lax; Max-Age=600; Secure"
        );
        assert!(clear_state_cookie(false).to_str().unwrap().contains("Max-Age=0"));
    }
}
