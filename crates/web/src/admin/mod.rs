//! The admin interface at `/if/admin/` (authentik's path): dashboard, users,
//! groups, applications and events, for superusers only.
//!
//! Handlers parse and render; every decision and every write is a core
//! service call, with the admin as the audit actor and the client address.
//! Access is by type: a handler takes [`guard::Admin`] (GET) or
//! [`guard::AdminForm`] (POST, CSRF checked), so nobody else reaches it.
//! Destructive actions answer their first POST with a confirmation page
//! ([`views::ConfirmPage`]) and act on the second, which says `confirm=yes`.

pub mod access;
pub mod apps;
pub mod blueprints;
pub mod chart;
pub mod dashboard;
pub mod drift;
pub mod events;
pub mod groups;
pub mod guard;
pub mod invitations;
pub mod settings;
pub mod system;
pub mod tail;
pub mod user;
pub mod users;
pub mod views;
pub mod wizard;

use axum::Router;
use axum::routing::{get, post};

use crate::request::encode;
use crate::state::AppState;

/// The admin interface's home.
pub const ADMIN_PATH: &str = "/if/admin/";

/// The routes of the admin interface.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(ADMIN_PATH, get(dashboard::dashboard_get))
        .route("/if/admin", get(|| async { axum::response::Redirect::to(ADMIN_PATH) }))
        .route("/if/admin/users/", get(users::users_get))
        .route("/if/admin/users/new", get(users::new_get).post(users::new_post))
        .route("/if/admin/users/{username}/", get(user::user_get))
        .route("/if/admin/users/{username}/{op}", post(user::action_post))
        .route("/if/admin/groups/", get(groups::groups_get))
        .route("/if/admin/groups/new", post(groups::new_post))
        .route("/if/admin/groups/{name}/", get(groups::group_get))
        .route("/if/admin/groups/{name}/{op}", post(groups::action_post))
        .route("/if/admin/applications/", get(apps::apps_get))
        .route(
            "/if/admin/applications/new/{kind}",
            get(wizard::new_get).post(wizard::new_post),
        )
        .route("/if/admin/applications/{slug}/", get(apps::app_get))
        .route("/if/admin/applications/{slug}/settings", get(apps::settings_get))
        .route("/if/admin/applications/{slug}/{op}", post(apps::action_post))
        .route("/if/admin/events/", get(events::events_get))
        .route("/if/admin/events/stream", get(tail::tail_get))
        .route(system::SYSTEM_PATH, get(system::system_get))
        .route("/if/admin/system/rotate-keys", post(system::rotate_post))
        .route("/if/admin/access/", get(access::access_get))
        .route("/if/admin/access/access.csv", get(access::csv_get))
        .merge(blueprints::pages())
        .route(invitations::INVITATIONS_PATH, get(invitations::invitations_get))
        .route("/if/admin/invitations/new", post(invitations::new_post))
        .route("/if/admin/invitations/{name}/delete", post(invitations::delete_post))
}

/// The page frame for `admin` in navigation `section`.
pub(crate) fn chrome(admin: &guard::Admin, section: &'static str) -> views::Chrome {
    views::Chrome {
        csrf: admin.csrf(),
        username: admin.me.user.username.clone(),
        section,
    }
}

/// A group's admin page.
pub(crate) fn group_url(name: &str) -> String {
    format!("/if/admin/groups/{}/", encode(name))
}

/// An application's admin page.
pub(crate) fn app_url(slug: &str) -> String {
    format!("/if/admin/applications/{}/", encode(slug))
}

/// A user's admin page.
pub(crate) fn user_url(username: &str) -> String {
    format!("/if/admin/users/{}/", encode(username))
}

/// What a confirmation page asks (see [`views::ConfirmPage`]).
pub(crate) struct Confirm {
    pub title: String,
    pub consequence: String,
    /// The form's URL; the POST repeats there with `confirm=yes`.
    pub action: String,
    pub fields: Vec<(String, String)>,
    pub button: String,
    pub back: String,
}

pub(crate) fn confirm_page(
    state: &AppState,
    admin: &guard::Admin,
    section: &'static str,
    c: Confirm,
) -> axum::response::Response {
    crate::pages::render(&views::ConfirmPage {
        branding: state.branding(),
        chrome: chrome(admin, section),
        title: c.title,
        consequence: c.consequence,
        action: c.action,
        fields: c.fields,
        button: c.button,
        back: c.back,
    })
}

/// Events as table rows, with their context as `key=value` pairs.
pub(crate) fn event_rows(events: Vec<gatehouse_core::Event>, now: gatehouse_core::Timestamp) -> Vec<views::EventRow> {
    events
        .into_iter()
        .map(|e| views::EventRow {
            seq: e.seq,
            at: crate::components::When { at: e.at, now },
            detail: match &e.context {
                serde_json::Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            },
            action: e.action,
            actor: e.actor,
            user: e.user.unwrap_or_default(),
            client_ip: e.client_ip.unwrap_or_default(),
        })
        .collect()
}
