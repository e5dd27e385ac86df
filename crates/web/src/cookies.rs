//! Gatehouse's cookies: the session, the in-progress flow and the known-device
//! token (see `gatehouse_core::known_device`). All `HttpOnly`, `SameSite=Lax`,
//! `Path=/`, and `Secure` on https.

use axum::http::{HeaderMap, HeaderValue};

pub const SESSION: &str = "gatehouse_session";
pub const FLOW: &str = "gatehouse_flow";
pub const DEVICE: &str = "gatehouse_device";

/// The value of cookie `name` in the request, if present and not empty (one
/// parser for Gatehouse's own cookies and the forward-auth ones).
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    gatehouse_proxy::cookie::read(headers, name).map(str::to_string)
}

/// A `Set-Cookie` value. `max_age` `None` makes a browser-session cookie.
pub fn set(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    // Tokens are URL-safe base64, so this is always a valid header value.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

pub fn clear(name: &str, secure: bool) -> HeaderValue {
    set(name, "", Some(0), secure)
}
