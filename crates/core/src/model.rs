//! The directory's records, as the domain sees them.

use std::fmt;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::clock::Timestamp;

/// A person (or service account) in the directory.
#[derive(Clone, Serialize)]
pub struct User {
    pub id: Uuid,
    /// The stable integer id (authentik's `pk`), given by the store on insert
    /// and never reused; LDAP's uidNumber derives from it. 0 before insert.
    pub pk: i64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub is_active: bool,
    /// argon2id PHC string; `None` until a password is set.
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub attributes: Value,
    pub created_at: Timestamp,
    pub last_login: Option<Timestamp>,
    pub password_changed_at: Option<Timestamp>,
}

// Written by hand so a password hash can never reach a log line.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn has_password(&self) -> bool {
        self.password_hash.is_some()
    }

    /// The name to greet and show: the display name, or the username when unset.
    pub fn display_name(&self) -> String {
        if self.name.trim().is_empty() {
            self.username.clone()
        } else {
            self.name.clone()
        }
    }

    /// The stable pseudonymous id protocols hand out (`X-authentik-uid`, the
    /// OIDC `hashed` subject): SHA-256 of the user's UUID, as authentik does.
    pub fn hashed_uid(&self) -> String {
        gatehouse_crypto::sha256_hex(self.id.to_string().as_bytes())
    }
}

/// A group. Membership is inherited upward through `parent`: a member of a child
/// group counts as a member of every ancestor, so access bound to a parent reaches
/// everyone in the groups nested below it.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: Uuid,
    /// As [`User::pk`]; LDAP's gidNumber derives from it.
    pub pk: i64,
    pub name: String,
    pub is_superuser: bool,
    pub parent_id: Option<Uuid>,
    pub attributes: Value,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Membership {
    pub user_id: Uuid,
    pub group_id: Uuid,
}

/// Which protocol an application's provider speaks; set by the protocol features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Oidc,
    Saml,
    Proxy,
    Ldap,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Oidc => "oidc",
            ProviderKind::Saml => "saml",
            ProviderKind::Proxy => "proxy",
            ProviderKind::Ldap => "ldap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "oidc" => ProviderKind::Oidc,
            "saml" => ProviderKind::Saml,
            "proxy" => ProviderKind::Proxy,
            "ldap" => ProviderKind::Ldap,
            _ => return None,
        })
    }
}

/// A service people sign in to. With no bindings it is open to every active user;
/// with bindings, only to members (direct or nested) of a bound group.
#[derive(Debug, Clone, Serialize)]
pub struct Application {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub launch_url: Option<String>,
    pub provider: Option<ProviderKind>,
    /// The provider's settings, owned by its protocol crate (JSON; secrets only as hashes).
    pub provider_config: Value,
    /// What the protocol finds the application by (OIDC client id, proxy external
    /// host, SAML audience); unique per provider kind.
    pub provider_key: Option<String>,
    /// The provider's stable integer id (authentik's provider `pk`), given
    /// when the provider is made; it keeps it when it moves between
    /// applications.
    pub provider_pk: Option<i64>,
    /// The provider's own name; `None`: named after the application.
    pub provider_name: Option<String>,
    pub created_at: Timestamp,
}

/// A provider no application uses (yet): made through the REST API before its
/// application, or detached from one. It keeps its pk when one picks it up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnattachedProvider {
    pub pk: i64,
    pub kind: ProviderKind,
    pub name: String,
    pub key: Option<String>,
    pub config: Value,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Binding {
    pub application_id: Uuid,
    pub group_id: Uuid,
}

/// A one-time sign-in link for a user who lost access. Only the SHA-256 of the key
/// is stored.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryKey {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(skip)]
    pub token_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// A long-lived API token. Only the SHA-256 of the key is stored.
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub identifier: String,
    pub user_id: Uuid,
    pub intent: String,
    #[serde(skip)]
    pub token_hash: String,
    pub created_at: Timestamp,
    /// `None`: the token never expires (authentik's `expiring: false`).
    pub expires_at: Option<Timestamp>,
    pub description: String,
    /// When the token last authenticated a request (updated at most once a minute).
    pub last_used: Option<Timestamp>,
}

impl ApiToken {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator on the command line, by operating-system user name.
    Cli(String),
    /// A signed-in user.
    User(String),
    /// Gatehouse itself (bootstrap, housekeeping).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Cli(os_user) => write!(f, "cli:{os_user}"),
            Actor::User(username) => write!(f, "user:{username}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// An audit event before it is chained.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub action: String,
    pub actor: String,
    /// The user the event is about, if any (for `events --user`).
    pub user: Option<String>,
    pub client_ip: Option<String>,
    pub context: Value,
}

/// A stored audit event: append-only, chained to its predecessor by `prev_hash`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub id: Uuid,
    pub at: Timestamp,
    pub action: String,
    pub actor: String,
    pub user: Option<String>,
    pub client_ip: Option<String>,
    pub context: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The ends of the event chain: its newest link, and the last link pruned away
/// (the genesis hash when nothing was pruned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    pub head_seq: i64,
    pub head_hash: String,
    pub anchor_seq: i64,
    pub anchor_hash: String,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Events about this user or done by them.
    pub user: Option<String>,
    pub action: Option<String>,
    pub since: Option<Timestamp>,
    pub limit: u32,
    /// Events from this client address.
    pub client_ip: Option<String>,
}

/// A signed-in browser. The cookie holds a 256-bit random token; only its
/// SHA-256 is stored, so a database leak does not hand out sessions.
#[derive(Clone, Serialize)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(skip)]
    pub token_hash: String,
    /// Synchroniser token for the forms this session posts.
    #[serde(skip)]
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    /// The absolute end, whatever the activity.
    pub expires_at: Timestamp,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// How the person proved who they are (`pwd`, later `otp`, `hwk`…), RFC 8176 names.
    pub amr: Vec<String>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A sign-in (or recovery) flow in progress, bound to one browser by a cookie
/// token whose SHA-256 is the key. `state` is owned by [`crate::flow`].
#[derive(Clone)]
pub struct FlowRecord {
    pub id: Uuid,
    pub token_hash: String,
    pub state: Value,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Failed sign-in attempts under one key (an account or a client address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleRecord {
    pub key: String,
    pub failures: i64,
    pub window_start: Timestamp,
    pub last_failure: Timestamp,
    pub locked_until: Option<Timestamp>,
}

/// An object by id, with the name its events show (a username, a group name,
/// an application slug): what a write needs of the objects it links.
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    pub id: Uuid,
    pub name: &'a str,
}

impl User {
    pub fn named(&self) -> Named<'_> {
        Named {
            id: self.id,
            name: &self.username,
        }
    }
}

impl Group {
    pub fn named(&self) -> Named<'_> {
        Named {
            id: self.id,
            name: &self.name,
        }
    }
}

impl Application {
    pub fn named(&self) -> Named<'_> {
        Named {
            id: self.id,
            name: &self.slug,
        }
    }

    /// The name of the application's provider, as authentik shows it.
    pub fn provider_display_name(&self) -> String {
        self.provider_name
            .clone()
            .unwrap_or_else(|| format!("Provider for {}", self.name))
    }
}

/// The whole directory as of one read: what export and blueprint plans start from.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub memberships: Vec<Membership>,
    pub applications: Vec<Application>,
    pub bindings: Vec<Binding>,
    pub api_tokens: Vec<ApiToken>,
}
