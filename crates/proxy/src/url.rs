//! Which URL a proxied request is for, from the headers each proxy sends, and
//! the little URL handling forward-auth needs. Parsing is strict: anything
//! unusual (user info, control characters, odd ports) is refused rather than
//! guessed at, since these values choose an application and a redirect.

use std::borrow::Cow;

use http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn parse(s: &str) -> Option<Scheme> {
        if s.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else if s.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A normalised authority: lower-case host without a trailing dot, then
/// `:port` unless the port is the scheme's default (80 and 443 both, when the
/// scheme is unknown). Borrowed when the input is already normal, which is the
/// usual case, so the per-request lookup does not allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority<'a> {
    key: Cow<'a, str>,
    host_len: usize,
}

impl<'a> Authority<'a> {
    pub fn parse(raw: &'a str, scheme: Option<Scheme>) -> Option<Authority<'a>> {
        if raw.is_empty() || raw.len() > 262 {
            return None;
        }
        let (host, port) = split_host_port(raw)?;
        if !valid_host(host) {
            return None;
        }
        let host_trimmed = host.strip_suffix('.').unwrap_or(host);
        if host_trimmed.is_empty() {
            return None;
        }
        let default = match (port, scheme) {
            (Some(p), Some(s)) => p == s.default_port(),
            (Some(p), None) => p == 80 || p == 443,
            (None, _) => true,
        };
        let keep_port = port.filter(|_| !default);
        let normal = host_trimmed.len() == host.len()
            && !host.bytes().any(|b| b.is_ascii_uppercase())
            && (port.is_none() || keep_port.is_some())
            && port_text_is_canonical(raw, host.len(), keep_port);
        let host_len = host_trimmed.len();
        let key = if normal {
            Cow::Borrowed(raw)
        } else {
            let mut k = host_trimmed.to_ascii_lowercase();
            if let Some(p) = keep_port {
                k.push(':');
                k.push_str(&p.to_string());
            }
            Cow::Owned(k)
        };
        Some(Authority { key, host_len })
    }

    /// `host` or `host:port`, normalised.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The host alone, normalised.
    pub fn host(&self) -> &str {
        &self.key[..self.host_len]
    }

    pub fn into_owned(self) -> Authority<'static> {
        Authority {
            key: Cow::Owned(self.key.into_owned()),
            host_len: self.host_len,
        }
    }
}

/// `:0080` is port 80 but not a canonical spelling; rebuild such keys.
fn port_text_is_canonical(raw: &str, host_len: usize, port: Option<u16>) -> bool {
    match port {
        None => raw.len() == host_len,
        // The port parsed as non-zero: canonical unless it has leading zeros.
        Some(_) => !raw[host_len..].starts_with(":0"),
    }
}

fn split_host_port(raw: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if raw.starts_with('[') {
        let end = raw.find(']')?;
        let (h, rest) = raw.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if rest.is_empty() => (h, None),
            None => return None,
        }
    } else {
        match raw.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (raw, None),
        }
    };
    let port = match port {
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(p.parse::<u16>().ok().filter(|p| *p != 0)?)
        }
        None => None,
    };
    Some((host, port))
}

/// A DNS name, an IPv4 address or a bracketed IPv6 literal. No user info,
/// no percent-escapes, nothing that could end the authority early.
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|v6| !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'));
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !host.starts_with('.')
        && !host.contains("..")
}

/// The URL a proxied request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    /// `None` when the proxy did not say (then the application's own scheme applies).
    pub scheme: Option<Scheme>,
    pub authority: Authority<'a>,
    /// The path as sent (starts with `/`), without the query.
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// An absolute `http(s)://authority/path?query` URL (a fragment is dropped).
    pub fn from_url(url: &'a str) -> Option<Target<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = Scheme::parse(scheme)?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(end);
        let authority = Authority::parse(authority, Some(scheme))?;
        let (path, query) = split_path_query(path_and_query)?;
        Some(Target {
            scheme: Some(scheme),
            authority,
            path,
            query,
        })
    }

    /// From a scheme (if known), a `Host`-style authority and a request URI.
    pub fn from_parts(scheme: Option<Scheme>, host: &'a str, uri: &'a str) -> Option<Target<'a>> {
        let authority = Authority::parse(host, scheme)?;
        let (path, query) = split_path_query(uri)?;
        Some(Target {
            scheme,
            authority,
            path,
            query,
        })
    }

    /// What nginx's `auth_request` says: `X-Original-URL` (authentik's snippet
    /// sets it to `$scheme://$http_host$request_uri`), else the `X-Forwarded-*`
    /// headers, else `Host`.
    pub fn for_nginx(headers: &'a HeaderMap) -> Option<Target<'a>> {
        match header(headers, "x-original-url") {
            Some(url) => Target::from_url(url),
            None => Target::for_forwarded(headers),
        }
    }

    /// What Traefik's `forwardAuth` and Caddy's `forward_auth` send:
    /// `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-Uri`, with
    /// `Host` and `/` as fallbacks.
    pub fn for_forwarded(headers: &'a HeaderMap) -> Option<Target<'a>> {
        let scheme = first(header(headers, "x-forwarded-proto")).and_then(Scheme::parse);
        let host = first(header(headers, "x-forwarded-host")).or_else(|| header(headers, "host"))?;
        let uri = header(headers, "x-forwarded-uri").unwrap_or("/");
        Target::from_parts(scheme, host, uri)
    }

    /// For the outpost's own pages (`/start`, `/callback`, `/sign_out`), proxied
    /// to Gatehouse: the host the browser used.
    pub fn for_outpost_page(headers: &'a HeaderMap) -> Option<Target<'a>> {
        Target::for_nginx(headers)
    }

    /// The scheme, or `fallback` when the proxy did not say.
    pub fn scheme_or(&self, fallback: Scheme) -> Scheme {
        self.scheme.unwrap_or(fallback)
    }

    /// `scheme://authority/path?query`.
    pub fn to_url(&self, fallback: Scheme) -> String {
        let mut s = format!(
            "{}://{}{}",
            self.scheme_or(fallback).as_str(),
            self.authority.key(),
            self.path
        );
        if let Some(q) = self.query {
            s.push('?');
            s.push_str(q);
        }
        s
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The first entry of a comma-separated list (proxies append).
fn first(value: Option<&str>) -> Option<&str> {
    value
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Splits `/path?query#fragment`; the path must be absolute and printable.
fn split_path_query(s: &str) -> Option<(&str, Option<&str>)> {
    let s = s.split('#').next().unwrap_or("");
    if s.len() > 8192 || s.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    let (path, query) = match s.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (s, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    if !path.starts_with('/') {
        return None;
    }
    Some((path, query))
}

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes `%XX` escapes; `None` for a malformed escape or non-UTF-8 result.
pub fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn authorities_are_normalised_and_borrowed_when_already_normal() {
        let a = Authority::parse("app.example.com", Some(Scheme::Https)).unwrap();
        assert!(matches!(a.key, Cow::Borrowed(_)));
        assert_eq!((a.key(), a.host()), ("app.example.com", "app.example.com"));
        let a = Authority::parse("App.Example.COM.:443", Some(Scheme::Https)).unwrap();
        assert_eq!(a.key(), "app.example.com");
        let a = Authority::parse("app.localtest:8081", None).unwrap();
        assert!(matches!(a.key, Cow::Borrowed(_)));
        assert_eq!((a.key(), a.host()), ("app.localtest:8081", "app.localtest"));
        assert_eq!(
            Authority::parse("app:443", Some(Scheme::Http)).unwrap().key(),
            "app:443"
        );
        assert_eq!(Authority::parse("app:80", None).unwrap().key(), "app");
        assert_eq!(Authority::parse("app:0080", None).unwrap().key(), "app");
        assert_eq!(Authority::parse("app:08081", None).unwrap().key(), "app:8081");
        assert_eq!(Authority::parse("[::1]:9000", None).unwrap().host(), "[::1]");
        assert_eq!(
            Authority::parse("127.0.0.1:9000", None).unwrap().key(),
            "127.0.0.1:9000"
        );
        for bad in [
            "",
            "user@app.example.com",
            "app.example.com:",
            "app.example.com:99999",
            "app.example.com:0",
            "app.example.com:x",
            "app example.com",
            "app\r\n.example.com",
            "app.example.com/evil",
            "app.example.com\\evil",
            "%61pp.example.com",
            ".example.com",
            "a..b",
            "[::1",
            "[::1]x",
            ".",
        ] {
            assert!(Authority::parse(bad, None).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn targets_from_urls_and_forwarded_headers() {
        let t = Target::from_url("https://App.example.com/a/b?x=1&y=2#frag").unwrap();
        assert_eq!(t.scheme, Some(Scheme::Https));
        assert_eq!(t.authority.key(), "app.example.com");
        assert_eq!((t.path, t.query), ("/a/b", Some("x=1&y=2")));
        assert_eq!(t.to_url(Scheme::Http), "https://app.example.com/a/b?x=1&y=2");
        let t = Target::from_url("http://app.localtest:8081").unwrap();
        assert_eq!((t.path, t.query), ("/", None));
        for bad in [
            "ftp://app/",
            "//app/",
            "app/",
            "https://u:p@app/",
            "https://app/a b",
            "https://app/\r\nX: y",
            "https://app?x",
            "javascript:alert(1)",
        ] {
            if bad == "https://app?x" {
                assert_eq!(Target::from_url(bad).unwrap().query, Some("x"));
                continue;
            }
            assert!(Target::from_url(bad).is_none(), "{bad:?}");
        }

        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("gatehouse:9000"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("app.example.com, proxy.internal"),
        );
        h.insert("x-forwarded-uri", HeaderValue::from_static("/x?y=1"));
        let t = Target::for_forwarded(&h).unwrap();
        assert_eq!(t.to_url(Scheme::Http), "https://app.example.com/x?y=1");
        // nginx: X-Original-URL wins.
        h.insert("x-original-url", HeaderValue::from_static("http://other.example.com/z"));
        assert_eq!(
            Target::for_nginx(&h).unwrap().to_url(Scheme::Https),
            "http://other.example.com/z"
        );
        // Only a Host header: the path is unknown, so "/".
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("app.example.com"));
        let t = Target::for_nginx(&h).unwrap();
        assert_eq!((t.scheme, t.path), (None, "/"));
        assert_eq!(t.to_url(Scheme::Https), "https://app.example.com/");
        assert!(Target::for_forwarded(&HeaderMap::new()).is_none());
    }

    #[test]
    fn percent_encoding_round_trips() {
        let s = "https://app.example.com/a b?x=1&y=ü#f";
        let e = encode_component(s);
        assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        assert_eq!(percent_decode(&e).unwrap(), s);
        assert_eq!(percent_decode("/a%2"), None);
        assert_eq!(percent_decode("/a%zz"), None);
        assert_eq!(percent_decode("/%ff"), None);
        assert!(matches!(percent_decode("/plain").unwrap(), Cow::Borrowed(_)));
    }
}
