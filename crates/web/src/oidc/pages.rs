//! The OIDC pages (askama templates `oidc_*.html`, the existing layouts and
//! CSS) and the message pages for refusals.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_oidc::scope;

use crate::pages::{Branding, MessagePage, initial_of, render_with_status};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "oidc_consent.html")]
pub struct ConsentPage {
    pub branding: Branding,
    pub csrf: String,
    pub app_name: String,
    pub username: String,
    pub permissions: Vec<&'static str>,
    pub action: String,
    /// The authorization request, carried through the form.
    pub fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "oidc_device.html")]
pub struct DevicePage {
    pub branding: Branding,
    pub csrf: String,
    pub code: String,
    pub error: Option<String>,
    pub action: String,
}

#[derive(Template)]
#[template(path = "oidc_device_confirm.html")]
pub struct DeviceConfirmPage {
    pub branding: Branding,
    pub csrf: String,
    pub code: String,
    pub app_name: String,
    pub username: String,
    pub permissions: Vec<&'static str>,
    pub action: String,
}

#[derive(Template)]
#[template(path = "oidc_logout.html")]
pub struct LogoutPage {
    pub branding: Branding,
    pub csrf: String,
    pub app_name: String,
    pub username: String,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "oidc_consents.html")]
pub struct ConsentsPage {
    pub branding: Branding,
    pub csrf: String,
    pub display_name: String,
    pub username: String,
    pub logout_url: String,
    pub consents: Vec<ConsentRow>,
    pub notice: Option<String>,
}

impl ConsentsPage {
    fn avatar_initial(&self) -> String {
        initial_of(&self.display_name)
    }
}

pub struct ConsentRow {
    pub slug: String,
    pub name: String,
    pub scopes: String,
    pub since: String,
}

/// What the scopes release, in words.
pub fn permissions(scopes: &[String]) -> Vec<&'static str> {
    let mut out = vec!["Your user identifier"];
    if scope::has(scopes, scope::EMAIL) {
        out.push("Your email address");
    }
    if scope::has(scopes, scope::PROFILE) {
        out.push("Your name, username and groups");
    }
    if scope::has(scopes, scope::OFFLINE_ACCESS) {
        out.push("Access while you are not signed in (until you withdraw it)");
    }
    out
}

/// A message page (errors, "no access", done).
pub fn message(state: &AppState, status: StatusCode, title: &str, message: &str, error: bool) -> Response {
    render_with_status(
        status,
        &MessagePage {
            branding: state.branding(),
            title: title.into(),
            message: message.into(),
            link: Some(("/if/user/".into(), "Go to your applications".into())),
            status_class: if error { "error" } else { "info" },
        },
    )
}
