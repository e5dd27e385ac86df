//! The admin pages' data, one struct per template (`templates/admin/`).
//! Handlers fill them; templates only lay them out. Values marked `|safe`
//! in a template are made here from numbers ([`crate::components::When`],
//! the SVG charts), never from what a person typed.

use askama::Template;

use crate::components::{MaybeWhen, When};
use crate::pages::Branding;

/// What every admin page shows around its content: navigation, the
/// signed-in admin, the sign-out form's CSRF token.
pub struct Chrome {
    pub csrf: String,
    pub username: String,
    /// The navigation entry this page belongs to (`dashboard`, `users`…).
    pub section: &'static str,
}

impl Chrome {
    /// `aria-current` for a navigation entry.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section { "page" } else { "false" }
    }
}

/// A notice after a change ("User created."), or an error.
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub day_chart: String,
    pub week_chart: String,
    pub day_totals: (i64, i64),
    pub week_totals: (i64, i64),
    pub counts: Vec<(&'static str, String, &'static str)>,
    pub locks: Vec<LockRow>,
    pub workers: Vec<WorkerRow>,
    pub queued: usize,
    pub dead: usize,
    pub keys: Vec<KeyRow>,
    pub version: &'static str,
    /// SSO drift at the last check, when a stack manifest is configured.
    pub drift: Option<super::drift::DriftCard>,
}

pub struct LockRow {
    pub kind: &'static str,
    pub subject: String,
    pub failures: i64,
    pub until: When,
}

pub struct WorkerRow {
    pub id: String,
    pub host: String,
    pub version: String,
    pub heartbeat: When,
    pub stopped: bool,
}

pub struct KeyRow {
    pub kid: String,
    pub purpose: String,
    pub status: &'static str,
    pub age: String,
    pub created: When,
    /// When a `next` key starts signing, or this key stops being published.
    pub next: MaybeWhen,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub q: String,
    pub rows: Vec<UserListRow>,
    pub summary: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

pub struct UserListRow {
    pub username: String,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub has_mfa: bool,
    pub last_login: MaybeWhen,
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
pub struct UserNewPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub error: Option<String>,
    pub username: String,
    pub name: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
pub struct UserPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub flash: Option<Flash>,
    pub username: String,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub superuser: bool,
    pub has_password: bool,
    pub created: When,
    pub last_login: MaybeWhen,
    pub mfa: Vec<(String, &'static str, When)>,
    pub groups: Vec<String>,
    pub inherited_groups: Vec<String>,
    pub reach: Vec<ReachRow>,
    pub sessions: Vec<SessionRow>,
    pub grants: Vec<GrantRow>,
    pub events: Vec<EventRow>,
    /// `(label, value)` shown once: a generated password or a recovery link.
    pub once: Option<(String, String)>,
}

pub struct ReachRow {
    pub name: String,
    pub slug: String,
    pub allowed: bool,
    pub why: String,
}

pub struct SessionRow {
    pub id: String,
    pub client: String,
    pub created: When,
    pub last_seen: When,
    pub mfa: bool,
}

pub struct GrantRow {
    pub id: String,
    pub application: String,
    pub scopes: String,
    pub created: When,
    pub expires: When,
}

pub struct EventRow {
    pub seq: i64,
    pub at: When,
    pub action: String,
    pub actor: String,
    pub user: String,
    pub client_ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
pub struct GroupsPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub flash: Option<Flash>,
    pub rows: Vec<GroupTreeRow>,
}

pub struct GroupTreeRow {
    pub name: String,
    /// Nesting depth, 0 for a top-level group (indentation class `depth-N`).
    pub depth: usize,
    pub superuser: bool,
    pub members: usize,
    pub apps: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/group.html")]
pub struct GroupPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub flash: Option<Flash>,
    pub name: String,
    pub parent: Option<String>,
    pub superuser: bool,
    pub direct: Vec<(String, String, bool)>,
    pub inherited: Vec<(String, String, String)>,
    pub apps: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/apps.html")]
pub struct AppsPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub rows: Vec<AppRow>,
}

pub struct AppRow {
    pub slug: String,
    pub name: String,
    pub provider: &'static str,
    pub groups: Vec<String>,
    pub launch_url: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/events.html")]
pub struct EventsPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub user: String,
    pub action: String,
    pub since: String,
    pub address: String,
    pub rows: Vec<EventRow>,
    /// The newest event's number, where the live tail starts (0: none).
    pub latest: i64,
    /// Whether a filter is set (the live tail shows every event, so it is
    /// offered only without one).
    pub filtered: bool,
    /// `(ok, sentence)` from walking the chain.
    pub chain: (bool, String),
}

/// "Are you sure?": what will happen, and the button that does it (the same
/// form again, with `confirm=yes`).
#[derive(Template)]
#[template(path = "admin/confirm.html")]
pub struct ConfirmPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub title: String,
    pub consequence: String,
    pub action: String,
    pub fields: Vec<(String, String)>,
    pub button: String,
    pub back: String,
}

/// A provider type's form in the new-application wizard.
#[derive(Template)]
#[template(path = "admin/app_new.html")]
pub struct AppNewPage {
    pub branding: Branding,
    pub chrome: Chrome,
    /// `oidc`, `proxy`, `saml`, `ldap`, or anything else for the choice of type.
    pub kind: String,
    pub error: Option<String>,
    pub name: String,
    pub slug: String,
    pub launch_url: String,
    pub redirect_uris: String,
    pub public: bool,
    pub external_host: String,
    pub group: String,
    /// SAML: the SP's entity ID and ACS URLs (one a line).
    pub audience: String,
    pub acs_urls: String,
    /// LDAP: where the tree starts, and who may search all of it.
    pub base_dn: String,
    pub search_group: String,
}

/// The settings to paste downstream, after creating an application or
/// rotating its secret.
#[derive(Template)]
#[template(path = "admin/app_settings.html")]
pub struct AppSettingsPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub name: String,
    pub slug: String,
    pub app_url: String,
    pub settings: Vec<Setting>,
    /// `(server, configuration)` for a forward-auth application.
    pub snippets: Vec<(String, String)>,
    /// `(label, URL, file name)`: files to download (SAML metadata).
    pub downloads: Vec<(String, String, String)>,
}

pub struct Setting {
    pub label: String,
    pub value: String,
}

/// One application: provider, bound groups, secret rotation.
#[derive(Template)]
#[template(path = "admin/app.html")]
pub struct AppPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub flash: Option<Flash>,
    pub name: String,
    pub slug: String,
    pub provider: &'static str,
    pub confidential: bool,
    pub groups: Vec<String>,
}

/// The access heat map.
#[derive(Template)]
#[template(path = "admin/access.html")]
pub struct AccessPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub group: String,
    pub app: String,
    pub summary: String,
    /// `(slug, name, users on this page who may use it)`.
    pub applications: Vec<(String, String, usize)>,
    pub rows: Vec<HeatRow>,
    pub prev: Option<String>,
    pub next: Option<String>,
}

pub struct HeatRow {
    pub username: String,
    pub active: bool,
    /// How many of the listed applications the user may use.
    pub reach: usize,
    pub cells: Vec<bool>,
}

/// Keys and policy.
#[derive(Template)]
#[template(path = "admin/system.html")]
pub struct SystemPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub flash: Option<Flash>,
    pub keys: Vec<KeyRow>,
    pub mfa_mode: &'static str,
    pub mfa_groups: Vec<String>,
    pub mfa_apps: Vec<String>,
    pub version: &'static str,
    /// `(name, value, meaning)`, secrets hidden.
    pub settings: Vec<(String, String, String)>,
}

/// Invitations: the list with each one's state, a form for a new one, and
/// the new link, shown once.
#[derive(Template)]
#[template(path = "admin/invitations.html")]
pub struct InvitationsPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub flash: Option<Flash>,
    /// `(name, link)` of the invitation just made.
    pub created: Option<(String, String)>,
    pub rows: Vec<InvitationRow>,
    pub groups: Vec<String>,
    /// The form as sent, when it comes back with an error.
    pub form_group: String,
    pub form_email: String,
    /// `(value, label, selected)` of the validity choice.
    pub expiry_options: Vec<(&'static str, &'static str, bool)>,
}

pub struct InvitationRow {
    pub name: String,
    /// `open`, `spent` or `expired`.
    pub state: &'static str,
    pub groups: String,
    pub email: String,
    pub single_use: bool,
    pub uses: i64,
    pub expires: MaybeWhen,
    pub created: When,
    pub created_by: String,
}
