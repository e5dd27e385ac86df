//! Static assets (stylesheet, favicon) compiled into the binary and served at
//! `/static/{name}`. The name is matched against a fixed list, so no file system
//! access and no path traversal is possible.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const STYLESHEET: &[u8] = include_bytes!("../static/gatehouse.css");
const FAVICON: &[u8] = include_bytes!("../static/favicon.svg");
const MFA_SCRIPT: &[u8] = include_bytes!("../static/mfa.js"); // WebAuthn ceremonies
const SAML_POST: &[u8] = include_bytes!("../static/saml-post.js");
const ADMIN_STYLESHEET: &[u8] = include_bytes!("../static/admin.css");
const ADMIN_SCRIPT: &[u8] = include_bytes!("../static/admin.js"); // search as you type
const TIME_SCRIPT: &[u8] = include_bytes!("../static/time.js"); // local times on hover

/// Looks up an embedded asset: `(body, content type)`.
pub fn lookup(name: &str) -> Option<(&'static [u8], &'static str)> {
    match name {
        "gatehouse.css" => Some((STYLESHEET, "text/css; charset=utf-8")),
        "favicon.svg" => Some((FAVICON, "image/svg+xml")),
        "mfa.js" => Some((MFA_SCRIPT, "text/javascript; charset=utf-8")),
        "saml-post.js" => Some((SAML_POST, "text/javascript; charset=utf-8")),
        "admin.css" => Some((ADMIN_STYLESHEET, "text/css; charset=utf-8")),
        "admin.js" => Some((ADMIN_SCRIPT, "text/javascript; charset=utf-8")),
        "time.js" => Some((TIME_SCRIPT, "text/javascript; charset=utf-8")),
        _ => None,
    }
}

/// `GET /static/{name}`.
pub async fn static_asset(Path(name): Path<String>) -> Response {
    match lookup(&name) {
        Some((body, content_type)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "Not found").into_response(),
    }
}
