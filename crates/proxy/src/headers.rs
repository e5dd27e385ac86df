//! The identity headers a protected service receives: authentik's set, so
//! that downstream configuration keeps working, built once per decision.
//!
//! Every value is sanitised: control characters (CR, LF, NUL, …) become spaces,
//! so no value can end its header or start another; values are capped in size
//! (a proxy refuses oversized auth responses). Non-ASCII text is passed as
//! UTF-8, as authentik does. Extra headers come from the `additionalHeaders`
//! attribute of the user's groups and the user (the user's win); their names
//! must be plain tokens and may not touch the identity headers, cookies,
//! credentials, framing or forwarding headers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use crate::config::ProxyConfig;

pub const USERNAME: &str = "x-authentik-username";
pub const GROUPS: &str = "x-authentik-groups";
pub const ENTITLEMENTS: &str = "x-authentik-entitlements";
pub const EMAIL: &str = "x-authentik-email";
pub const NAME: &str = "x-authentik-name";
pub const UID: &str = "x-authentik-uid";
pub const JWT: &str = "x-authentik-jwt";
pub const META_JWKS: &str = "x-authentik-meta-jwks";
pub const META_OUTPOST: &str = "x-authentik-meta-outpost";
pub const META_PROVIDER: &str = "x-authentik-meta-provider";
pub const META_APP: &str = "x-authentik-meta-app";
pub const META_VERSION: &str = "x-authentik-meta-version";

/// Every identity header, in the order they are set.
pub const IDENTITY_HEADERS: [&str; 12] = [
    USERNAME,
    GROUPS,
    ENTITLEMENTS,
    EMAIL,
    NAME,
    UID,
    JWT,
    META_JWKS,
    META_OUTPOST,
    META_PROVIDER,
    META_APP,
    META_VERSION,
];

/// The largest header value sent (nginx's default buffer for a whole auth
/// response is 4–8 KiB; authentik's snippet raises it to 32 KiB).
pub const MAX_VALUE_BYTES: usize = 8192;
/// At most this many `additionalHeaders`.
pub const MAX_EXTRA_HEADERS: usize = 32;

/// Who the person is, as the headers tell it.
#[derive(Debug, Clone, Default)]
pub struct Identity<'a> {
    pub uid: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub groups: Vec<&'a str>,
    pub entitlements: Vec<&'a str>,
    /// The groups' attributes merged, then the user's on top ([`merge_attributes`]).
    pub attributes: Map<String, Value>,
}

/// About the application and the outpost.
#[derive(Debug, Clone, Default)]
pub struct Meta<'a> {
    /// The signed identity, if a signing key is available.
    pub jwt: Option<&'a str>,
    pub jwks_url: &'a str,
    pub outpost: &'static str,
    pub provider: &'a str,
    pub app: &'a str,
    pub version: &'static str,
}

/// The headers for an allowed request.
pub fn identity_headers(config: &ProxyConfig, id: &Identity<'_>, meta: &Meta<'_>) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(16);
    let mut set = |name: &'static str, value: HeaderValue| {
        h.insert(HeaderName::from_static(name), value);
    };
    set(USERNAME, sanitise_value(id.username));
    set(GROUPS, sanitise_value(&join_capped(&id.groups)));
    set(ENTITLEMENTS, sanitise_value(&join_capped(&id.entitlements)));
    set(EMAIL, sanitise_value(id.email));
    set(NAME, sanitise_value(id.name));
    set(UID, sanitise_value(id.uid));
    // Always present, if empty: see [`blank_identity_headers`].
    set(
        JWT,
        sanitise_value(meta.jwt.filter(|j| j.len() <= MAX_VALUE_BYTES).unwrap_or("")),
    );
    set(META_JWKS, sanitise_value(meta.jwks_url));
    set(META_OUTPOST, static_value(meta.outpost));
    set(META_PROVIDER, sanitise_value(meta.provider));
    set(META_APP, sanitise_value(meta.app));
    set(META_VERSION, static_value(meta.version));
    if let Some(extra) = id.attributes.get("additionalHeaders").and_then(Value::as_object) {
        for (name, value) in extra.iter().take(MAX_EXTRA_HEADERS) {
            let (Some(name), Some(value)) = (extra_header_name(name), scalar_text(value)) else {
                continue;
            };
            h.insert(name, sanitise_value(&value));
        }
    }
    if let Some(auth) = basic_auth(config, id) {
        h.insert(http::header::AUTHORIZATION, auth);
    }
    h
}

/// Static text as a header value without a copy: cloning it on every cache
/// hit then touches no shared reference count.
fn static_value(s: &'static str) -> HeaderValue {
    if s.bytes().all(|b| (b' '..0x7f).contains(&b)) {
        HeaderValue::from_static(s)
    } else {
        sanitise_value(s)
    }
}

/// Every identity header, empty: the answer for a skipped path. Sending them
/// empty rather than leaving them out matters to Caddy 2.6, whose
/// `copy_headers` sets a header the answer lacks to its unexpanded
/// placeholder text; nginx drops empty ones, Traefik copies them empty.
pub fn blank_identity_headers() -> HeaderMap {
    let mut h = HeaderMap::with_capacity(IDENTITY_HEADERS.len());
    for name in IDENTITY_HEADERS {
        h.insert(HeaderName::from_static(name), HeaderValue::from_static(""));
    }
    h
}

/// A header value with control characters replaced by spaces, trimmed and
/// cut (at a character boundary) to [`MAX_VALUE_BYTES`].
pub fn sanitise_value(s: &str) -> HeaderValue {
    let mut out = String::with_capacity(s.len().min(MAX_VALUE_BYTES));
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_VALUE_BYTES {
            break;
        }
        out.push(c);
    }
    let out = out.trim();
    if out.is_empty() {
        return HeaderValue::from_static("");
    }
    // Only visible characters, spaces and UTF-8 remain: always a valid value.
    HeaderValue::from_bytes(out.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `a|b|c`, leaving out whole names past the size cap rather than cutting one.
fn join_capped(items: &[&str]) -> String {
    let mut out = String::new();
    for item in items {
        let extra = item.len() + usize::from(!out.is_empty());
        if out.len() + extra > MAX_VALUE_BYTES {
            break;
        }
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(item);
    }
    out
}

/// Names an attribute may set: 1–64 letters, digits and dashes, none of the
/// headers that carry identity, credentials, cookies, framing or forwarding.
pub fn extra_header_name(name: &str) -> Option<HeaderName> {
    let ok_chars = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok_chars {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    const RESERVED: &[&str] = &[
        "host",
        "cookie",
        "set-cookie",
        "set-cookie2",
        "authorization",
        "www-authenticate",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "location",
        "refresh",
        "forwarded",
        "x-real-ip",
        "x-original-url",
        "x-original-uri",
        "expect",
        "via",
        "date",
        "server",
        "strict-transport-security",
        "cache-control",
        "vary",
    ];
    const RESERVED_PREFIXES: &[&str] = &[
        "x-authentik-",
        "x-forwarded-",
        "proxy-",
        "content-",
        "sec-",
        "access-control-",
    ];
    if RESERVED.contains(&lower.as_str()) || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return None;
    }
    HeaderName::from_bytes(lower.as_bytes()).ok()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Authorization: Basic …` from the user's attributes, when the provider asks
/// for it and the password attribute is set. The user part is the user
/// attribute, or the email when none is configured. Credentials are never
/// "sanitised" into something else: unusable ones are left out.
fn basic_auth(config: &ProxyConfig, id: &Identity<'_>) -> Option<HeaderValue> {
    if !config.basic_auth_enabled {
        return None;
    }
    let password = id
        .attributes
        .get(&config.basic_auth_password_attribute)
        .and_then(scalar_text)?;
    let user = if config.basic_auth_user_attribute.is_empty() {
        id.email.to_string()
    } else {
        id.attributes
            .get(&config.basic_auth_user_attribute)
            .and_then(scalar_text)?
    };
    if user.contains(':') || user.chars().chain(password.chars()).any(char::is_control) {
        return None;
    }
    let value = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
    HeaderValue::from_str(&value).ok()
}

/// authentik's attribute merge: each group's attributes in turn, then the
/// user's; objects merge key by key (recursively), anything else is replaced.
pub fn merge_attributes<'a>(groups: impl IntoIterator<Item = &'a Value>, user: &'a Value) -> Map<String, Value> {
    let mut out = Map::new();
    for attrs in groups.into_iter().chain(std::iter::once(user)) {
        if let Value::Object(m) = attrs {
            merge_into(&mut out, m);
        }
    }
    out
}

fn merge_into(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge_into(existing, incoming),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{ProxyMode, ProxySettings};

    fn config(basic: Option<(&str, &str)>) -> ProxyConfig {
        ProxyConfig::from_settings(ProxySettings {
            mode: ProxyMode::ForwardSingle,
            external_host: "https://app.example.com".into(),
            cookie_domain: None,
            skip_paths: vec![],
            basic_auth_user_attribute: basic.map(|b| b.0.to_string()).filter(|s| !s.is_empty()),
            basic_auth_password_attribute: basic.map(|b| b.1.to_string()),
        })
        .unwrap()
    }

    fn meta() -> Meta<'static> {
        Meta {
            jwt: Some("a.b.c"),
            jwks_url: "https://auth.example.com/application/o/app/jwks/",
            outpost: "gatehouse-embedded-outpost",
            provider: "App",
            app: "app",
            version: "0.1.0",
        }
    }

    #[test]
    fn the_full_authentik_header_set() {
        let id = Identity {
            uid: "u-1",
            username: "alice",
            email: "alice@example.com",
            name: "Alice Zoë",
            groups: vec!["admins", "staff"],
            entitlements: vec![],
            attributes: Map::new(),
        };
        let h = identity_headers(&config(None), &id, &meta());
        for name in IDENTITY_HEADERS {
            assert!(h.contains_key(name), "{name}");
        }
        assert_eq!(h[GROUPS], "admins|staff");
        assert_eq!(h[ENTITLEMENTS], "");
        assert_eq!(
            h[NAME].as_bytes(),
            "Alice Zoë".as_bytes(),
            "UTF-8 passes as authentik sends it"
        );
        assert_eq!(h[META_OUTPOST], "gatehouse-embedded-outpost");
        assert!(!h.contains_key("authorization"));
        let no_jwt = Meta { jwt: None, ..meta() };
        assert_eq!(identity_headers(&config(None), &id, &no_jwt)[JWT], "", "present, empty");
        let blank = blank_identity_headers();
        assert_eq!(blank.len(), IDENTITY_HEADERS.len());
        assert!(blank.values().all(|v| v.is_empty()));
    }

    #[test]
    fn values_cannot_break_out_of_their_header() {
        let v = sanitise_value("Alice\r\nSet-Cookie: evil=1\0\u{7f}\u{85}");
        assert_eq!(v, "Alice  Set-Cookie: evil=1");
        assert!(!v.as_bytes().iter().any(|b| *b == b'\r' || *b == b'\n' || *b == 0));
        let huge = "é".repeat(10_000);
        let v = sanitise_value(&huge);
        assert!(v.len() <= MAX_VALUE_BYTES && v.len() >= MAX_VALUE_BYTES - 1);
        assert!(std::str::from_utf8(v.as_bytes()).is_ok(), "cut at a character boundary");
        let many: Vec<String> = (0..2000).map(|i| format!("group-{i:04}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let joined = join_capped(&refs);
        assert!(joined.len() <= MAX_VALUE_BYTES);
        assert!(joined.split('|').all(|g| g.len() == 10), "whole names only");
        let jwt = "x".repeat(MAX_VALUE_BYTES + 1);
        let id = Identity::default();
        let big = Meta {
            jwt: Some(&jwt),
            ..meta()
        };
        assert_eq!(identity_headers(&config(None), &id, &big)[JWT], "");
    }

    #[test]
    fn additional_headers_from_attributes_are_filtered() {
        let group = json!({"additionalHeaders": {"X-Team": "ops", "X-Level": 1}});
        let user = json!({"additionalHeaders": {
            "X-Level": 3,
            "X-Note": "line1\r\nX-Injected: yes",
            "X-authentik-username": "root",
            "Set-Cookie": "session=stolen",
            "Authorization": "Bearer x",
            "X-Forwarded-For": "1.2.3.4",
            "Content-Length": "0",
            "Bad Name": "x",
            "X-Ünicode": "x",
            "X-Obj": {"a": 1},
        }});
        let id = Identity {
            username: "alice",
            attributes: merge_attributes([&group], &user),
            ..Identity::default()
        };
        let h = identity_headers(&config(None), &id, &meta());
        assert_eq!(h["x-team"], "ops");
        assert_eq!(h["x-level"], "3", "the user's attributes win");
        assert_eq!(h["x-note"], "line1  X-Injected: yes");
        assert_eq!(h[USERNAME], "alice");
        for refused in [
            "set-cookie",
            "authorization",
            "x-forwarded-for",
            "content-length",
            "x-obj",
        ] {
            assert!(!h.contains_key(refused), "{refused}");
        }
        assert!(!h.contains_key("x-injected"));
    }

    #[test]
    fn basic_auth_from_attributes() {
        let attrs = merge_attributes([], &json!({"app_user": "alice", "app_pass": "s3cr:et"}));
        let id = Identity {
            email: "alice@example.com",
            attributes: attrs,
            ..Identity::default()
        };
        let h = identity_headers(&config(Some(("app_user", "app_pass"))), &id, &meta());
        assert_eq!(
            h["authorization"],
            format!("Basic {}", STANDARD.encode("alice:s3cr:et"))
        );
        let h = identity_headers(&config(Some(("", "app_pass"))), &id, &meta());
        assert_eq!(
            h["authorization"],
            format!("Basic {}", STANDARD.encode("alice@example.com:s3cr:et"))
        );
        let h = identity_headers(&config(Some(("app_user", "missing"))), &id, &meta());
        assert!(!h.contains_key("authorization"));
        let bad = Identity {
            attributes: merge_attributes([], &json!({"u": "a:b", "p": "x"})),
            ..Identity::default()
        };
        assert!(!identity_headers(&config(Some(("u", "p"))), &bad, &meta()).contains_key("authorization"));
    }

    #[test]
    fn attributes_merge_deeply_with_the_user_last() {
        let a = json!({"x": {"a": 1, "b": 1}, "l": [1]});
        let b = json!({"x": {"b": 2}, "l": [2]});
        let u = json!({"x": {"c": 3}});
        let m = merge_attributes([&a, &b], &u);
        assert_eq!(Value::Object(m), json!({"x": {"a": 1, "b": 2, "c": 3}, "l": [2]}));
    }
}
