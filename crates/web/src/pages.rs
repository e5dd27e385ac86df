//! Server-rendered pages: sign-in steps, portal, account, recovery and a generic
//! message page. Templates live in `crates/web/templates/` and are checked at
//! compile time by askama; every `{{ value }}` is HTML-escaped.
//!
//! The pages use no inline script or style (the CSP forbids both); all styling is
//! in `/static/gatehouse.css` (see [`crate::assets`]). Every form carries the CSRF
//! token as the hidden field `csrf_token`.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Instance branding shown on every page.
#[derive(Debug, Clone)]
pub struct Branding {
    pub title: String,
    /// Logo image URL (same origin: the CSP allows images from self only).
    /// Without one, the Gatehouse glyph is shown.
    pub logo_url: Option<String>,
}

/// Sign-in step 1: ask for the username or email.
#[derive(Template)]
#[template(path = "login_identify.html")]
pub struct LoginIdentifyPage {
    pub branding: Branding,
    pub csrf: String,
    pub error: Option<String>,
    /// Prefill of the identifier field.
    pub identifier: String,
    /// Form action URL.
    pub action: String,
    /// MFA: offer "Sign in with a passkey".
    pub passkey: bool,
}

/// Sign-in step 2: ask for the password of `identifier`.
#[derive(Template)]
#[template(path = "login_password.html")]
pub struct LoginPasswordPage {
    pub branding: Branding,
    pub csrf: String,
    pub error: Option<String>,
    /// Shown as "Signing in as …"; also sent as hidden field `username`
    /// (autocomplete="username") so password managers pair the credentials.
    pub identifier: String,
    /// Target of the "Not you?" link (back to step 1).
    pub restart_url: String,
    pub action: String,
}

/// Generic page for "Signed out", "No access", errors.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub branding: Branding,
    pub title: String,
    pub message: String,
    /// `(href, label)` of an optional call-to-action link.
    pub link: Option<(String, String)>,
    /// `"info"` or `"error"`.
    pub status_class: &'static str,
}

/// "Sign out of Gatehouse?": what a GET of `/logout` shows (a link from
/// anywhere must not sign anyone out); the button POSTs with the CSRF token.
#[derive(Template)]
#[template(path = "logout_confirm.html")]
pub struct LogoutConfirmPage {
    pub branding: Branding,
    pub csrf: String,
    pub username: String,
    pub action: String,
}

/// The portal: the applications the signed-in person may open.
#[derive(Template)]
#[template(path = "portal.html")]
pub struct PortalPage {
    pub branding: Branding,
    pub csrf: String,
    pub display_name: String,
    pub username: String,
    pub apps: Vec<AppTile>,
    pub account_url: String,
    /// Sign-out is a POST form to this URL.
    pub logout_url: String,
    /// The admin interface, for superusers.
    pub admin_url: Option<String>,
}

/// One application tile on the portal.
#[derive(Debug, Clone)]
pub struct AppTile {
    pub name: String,
    pub slug: String,
    /// `None`: the tile is shown as a non-link card.
    pub launch_url: Option<String>,
    /// First letter of the name, uppercased.
    pub initial: String,
}

/// Number of badge colours (`tile-c0` … `tile-c7`) in the stylesheet.
pub const TILE_COLORS: u32 = 8;

impl AppTile {
    /// CSS class of the initial badge's colour: stable for a slug
    /// (FNV-1a hash, independent of the Rust version), e.g. `"tile-c3"`.
    pub fn color_class(&self) -> String {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.slug.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        format!("tile-c{}", hash % TILE_COLORS)
    }
}

/// The signed-in person's account: password change and sessions.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub branding: Branding,
    pub csrf: String,
    pub display_name: String,
    pub username: String,
    pub email: String,
    pub password_error: Option<String>,
    pub password_notice: Option<String>,
    pub sessions: Vec<SessionRow>,
    pub logout_url: String,
    pub portal_url: String,
    pub password_action: String,
    pub revoke_action: String,
    pub everywhere_action: String,
}

/// One row of the "Active sessions" table.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub created: String,
    pub last_seen: String,
    /// IP address and user-agent summary.
    pub client: String,
    /// The session of this request: labelled "This device", button "Sign out".
    pub current: bool,
}

/// Set a new password after following a recovery link.
#[derive(Template)]
#[template(path = "recovery.html")]
pub struct RecoveryPage {
    pub branding: Branding,
    pub csrf: String,
    pub username: String,
    pub error: Option<String>,
    pub action: String,
}

/// First character of `s`, uppercased, for avatar badges ("?" when empty).
pub fn initial_of(s: &str) -> String {
    s.trim()
        .chars()
        .next()
        .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect())
}

impl LoginPasswordPage {
    fn avatar_initial(&self) -> String {
        initial_of(&self.identifier)
    }
}

impl PortalPage {
    fn avatar_initial(&self) -> String {
        initial_of(&self.display_name)
    }
}

impl AccountPage {
    fn avatar_initial(&self) -> String {
        initial_of(&self.display_name)
    }
}

/// Renders `page` as a 200 HTML response (see [`render_with_status`]).
pub fn render<T: Template>(page: &T) -> Response {
    render_with_status(StatusCode::OK, page)
}

/// Renders `page` as an HTML response with `status`. The pages carry CSRF tokens
/// and personal data, so they are marked `Cache-Control: no-store`. If rendering
/// fails, the error is logged and a plain 500 without details is returned.
pub fn render_with_status<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, page = std::any::type_name::<T>(), "page rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
    }
}
