//! The directory services: every change to users, groups, applications and
//! recovery credentials goes through here, whoever asks (CLI, web, API, worker,
//! blueprints). Each change and its audit event commit in one transaction.

use std::sync::Arc;

use gatehouse_crypto::{PasswordHasher, random_token};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::{self, AccessMatrix, GroupTree};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Result, StoreError};
use crate::events::{ChainReport, ChainVerifier, action};
use crate::model::*;
use crate::names;
use crate::password_policy::PasswordPolicy;
use crate::session::SessionPolicy;
use crate::store::{Store, StoreInfo, WriteTx};
use crate::throttle::ThrottlePolicy;

/// The recovery account created at bootstrap; deleting it needs `force`.
pub const RECOVERY_ADMIN: &str = "akadmin";
/// The superuser group of the stack Gatehouse serves.
pub const ADMIN_GROUP: &str = "admins";

/// Who is asking, for the audit log.
#[derive(Debug, Clone)]
pub struct Audit {
    pub actor: Actor,
    pub client_ip: Option<String>,
}

impl Audit {
    pub fn cli(os_user: impl Into<String>) -> Self {
        Audit {
            actor: Actor::Cli(os_user.into()),
            client_ip: None,
        }
    }

    pub fn system() -> Self {
        Audit {
            actor: Actor::System,
            client_ip: None,
        }
    }

    pub(crate) fn event(&self, action: &str, user: Option<&str>, context: Value) -> NewEvent {
        NewEvent {
            action: action.to_string(),
            actor: self.actor.to_string(),
            user: user.map(str::to_string),
            client_ip: self.client_ip.clone(),
            context,
        }
    }
}

/// A protocol provider for an application, as its protocol crate built it.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    pub key: Option<String>,
    pub config: Value,
    /// The settings as an audit event may show them (secrets masked).
    pub shown: Value,
}

/// What a new user starts with.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub name: String,
}

/// A group member and how they are one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    pub username: String,
    pub name: String,
    pub is_active: bool,
    /// `None` for a direct member; else the nested group they are a member of.
    pub via: Option<String>,
}

/// A group with the names a listing needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupSummary {
    #[serde(flatten)]
    pub group: Group,
    pub parent: Option<String>,
    pub direct_members: usize,
}

/// An application with the names of the groups bound to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppSummary {
    #[serde(flatten)]
    pub app: Application,
    pub bound_groups: Vec<String>,
}

/// A user with the groups they belong to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    pub has_password: bool,
    pub groups: Vec<String>,
    pub inherited_groups: Vec<String>,
    pub is_superuser: bool,
}

/// The directory services.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    sessions: SessionPolicy,
    throttle: ThrottlePolicy,
    // ---- OAuth grants and signing keys: caches for the protocol hot paths
    oauth: Arc<crate::oauth::cache::OAuthCaches>,
    // ---- MFA: the seed cipher and WebAuthn relying party (set by the server)
    mfa: Option<Arc<crate::mfa::MfaConfig>>,
    // ---- end MFA
}

impl Directory {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, hasher: PasswordHasher, policy: PasswordPolicy) -> Self {
        Directory {
            store,
            clock,
            hasher,
            policy,
            sessions: SessionPolicy::default(),
            throttle: ThrottlePolicy::default(),
            oauth: Arc::default(),
            mfa: None, // MFA
        }
    }

    // ---- MFA
    /// Gives the MFA services their key and relying party (the server does;
    /// without it, CLI commands that only list or reset still work).
    pub fn with_mfa(mut self, config: crate::mfa::MfaConfig) -> Self {
        self.mfa = Some(Arc::new(config));
        self
    }

    pub(crate) fn mfa_settings(&self) -> Option<&crate::mfa::MfaConfig> {
        self.mfa.as_deref()
    }
    // ---- end MFA

    // ---- OAuth grants and signing keys
    /// Lets in-process caches (signing keys, OIDC clients, discovery) live until
    /// the store's change sequence moves. Without a feed nothing is cached.
    /// Set once, by the server, before it serves.
    pub fn set_change_feed(&self, feed: Arc<dyn crate::oauth::cache::ChangeFeed>) {
        let _ = self.oauth.feed.set(feed);
    }

    pub(crate) fn oauth_caches(&self) -> &crate::oauth::cache::OAuthCaches {
        &self.oauth
    }
    // ---- end OAuth grants and signing keys

    /// Replaces the session lifetimes and sign-in throttling limits.
    pub fn with_auth_policies(mut self, sessions: SessionPolicy, throttle: ThrottlePolicy) -> Self {
        self.sessions = sessions;
        self.throttle = throttle;
        self
    }

    pub fn session_policy(&self) -> &SessionPolicy {
        &self.sessions
    }

    pub fn throttle_policy(&self) -> &ThrottlePolicy {
        &self.throttle
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    pub async fn info(&self) -> Result<StoreInfo> {
        Ok(self.store.info().await?)
    }

    pub(crate) async fn begin(&self) -> Result<Box<dyn WriteTx>> {
        Ok(self.store.begin().await?)
    }

    // ---- users -------------------------------------------------------------

    pub async fn users(&self) -> Result<Vec<User>> {
        let mut users = self.store.users().await?;
        users.sort_by_cached_key(|u| u.username.to_lowercase());
        Ok(users)
    }

    pub async fn user(&self, username: &str) -> Result<User> {
        self.store
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))
    }

    pub async fn user_detail(&self, username: &str) -> Result<UserDetail> {
        let user = self.user(username).await?;
        let groups = self.store.groups().await?;
        let memberships = self.store.memberships().await?;
        let tree = GroupTree::new(&groups);
        let direct: Vec<usize> = memberships
            .iter()
            .filter(|m| m.user_id == user.id)
            .filter_map(|m| tree.index_of(m.group_id))
            .collect();
        let mut inherited: Vec<usize> = direct
            .iter()
            .flat_map(|&g| tree.self_and_ancestors(g).iter().skip(1).copied())
            .filter(|g| !direct.contains(g))
            .collect();
        inherited.sort_unstable();
        inherited.dedup();
        let is_superuser = direct.iter().chain(&inherited).any(|&g| groups[g].is_superuser);
        let names = |idx: &[usize]| {
            let mut v: Vec<String> = idx.iter().map(|&g| groups[g].name.clone()).collect();
            v.sort();
            v
        };
        Ok(UserDetail {
            has_password: user.has_password(),
            groups: names(&direct),
            inherited_groups: names(&inherited),
            is_superuser,
            user,
        })
    }

    pub async fn create_user(&self, audit: &Audit, new: NewUser) -> Result<User> {
        names::check_username(&new.username)?;
        names::check_email(&new.email)?;
        names::check_display_name(&new.name)?;
        let mut user = User {
            id: Uuid::new_v4(),
            pk: 0,
            username: new.username,
            email: new.email,
            name: new.name,
            is_active: true,
            password_hash: None,
            attributes: json!({}),
            created_at: self.now(),
            last_login: None,
            password_changed_at: None,
        };
        let mut tx = self.begin().await?;
        user.pk = insert_user(&mut *tx, audit, &user, self.now()).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Sets a user's password after checking it against the policy.
    pub async fn set_password(&self, audit: &Audit, username: &str, password: &str) -> Result<()> {
        let user = self.user(username).await?;
        self.policy.check(&user.username, password)?;
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.begin().await?;
        let mut user = tx
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))?;
        store_password(&mut *tx, audit, &mut user, hash, None, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A random password that passes the policy: 20 URL-safe characters.
    pub fn generate_password(&self) -> String {
        random_token(15)
    }

    pub async fn set_active(&self, audit: &Audit, username: &str, active: bool) -> Result<User> {
        let mut tx = self.begin().await?;
        let mut user = tx
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))?;
        if user.is_active != active {
            user.is_active = active;
            tx.update_user(&user).await?;
            let ended = if active {
                0
            } else {
                tx.delete_user_sessions(user.id, None).await?
            };
            tx.append_event(
                audit.event(
                    action::MODEL_UPDATED,
                    Some(&user.username),
                    json!({"model": "user", "pk": user.id, "changes": {"is_active": [!active, active]}, "sessions_ended": ended}),
                ),
                self.now(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    pub async fn delete_user(&self, audit: &Audit, username: &str, force: bool) -> Result<()> {
        let mut tx = self.begin().await?;
        let user = tx
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))?;
        if user.username.eq_ignore_ascii_case(RECOVERY_ADMIN) && !force {
            return Err(Error::Refused(format!(
                "'{RECOVERY_ADMIN}' is the recovery account for everything; refusing to delete it (use --force if you really mean it)"
            )));
        }
        tx.delete_user(user.id).await?;
        tx.append_event(
            audit.event(
                action::MODEL_DELETED,
                Some(&user.username),
                json!({"model": "user", "pk": user.id, "username": user.username}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- groups ------------------------------------------------------------

    pub async fn groups(&self) -> Result<Vec<GroupSummary>> {
        let groups = self.store.groups().await?;
        let memberships = self.store.memberships().await?;
        let mut out: Vec<GroupSummary> = groups
            .iter()
            .map(|g| GroupSummary {
                group: g.clone(),
                parent: g
                    .parent_id
                    .and_then(|p| groups.iter().find(|x| x.id == p))
                    .map(|p| p.name.clone()),
                direct_members: memberships.iter().filter(|m| m.group_id == g.id).count(),
            })
            .collect();
        out.sort_by_cached_key(|g| g.group.name.to_lowercase());
        Ok(out)
    }

    pub async fn create_group(
        &self,
        audit: &Audit,
        name: &str,
        is_superuser: bool,
        parent: Option<&str>,
    ) -> Result<Group> {
        names::check_group_name(name)?;
        let mut tx = self.begin().await?;
        let parent_id = match parent {
            Some(p) => Some(
                tx.group_by_name(p)
                    .await?
                    .ok_or_else(|| Error::not_found("group", p))?
                    .id,
            ),
            None => None,
        };
        let mut group = Group {
            id: Uuid::new_v4(),
            pk: 0,
            name: name.to_string(),
            is_superuser,
            parent_id,
            attributes: json!({}),
            created_at: self.now(),
        };
        group.pk = insert_group(&mut *tx, audit, &group, parent, self.now()).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Changes a group's parent (`None` makes it top-level). Refuses cycles.
    pub async fn set_group_parent(&self, audit: &Audit, name: &str, parent: Option<&str>) -> Result<Group> {
        let mut tx = self.begin().await?;
        let mut group = tx
            .group_by_name(name)
            .await?
            .ok_or_else(|| Error::not_found("group", name))?;
        let parent_id = match parent {
            Some(p) => {
                let parent = tx.group_by_name(p).await?.ok_or_else(|| Error::not_found("group", p))?;
                let tree = GroupTree::new(&tx.groups().await?);
                if tree.would_cycle(group.id, parent.id) {
                    return Err(Error::Refused(format!(
                        "making '{p}' the parent of '{name}' would nest the group inside itself"
                    )));
                }
                Some(parent.id)
            }
            None => None,
        };
        let old = group.parent_id;
        group.parent_id = parent_id;
        tx.update_group(&group).await?;
        tx.append_event(
            audit.event(
                action::MODEL_UPDATED,
                None,
                json!({"model": "group", "pk": group.id, "name": group.name, "changes": {"parent": [old, parent_id]}}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn delete_group(&self, audit: &Audit, name: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let group = tx
            .group_by_name(name)
            .await?
            .ok_or_else(|| Error::not_found("group", name))?;
        if group.name == ADMIN_GROUP {
            return Err(Error::Refused(format!(
                "'{ADMIN_GROUP}' is the superuser group the recovery account depends on; refusing to delete it"
            )));
        }
        let groups = tx.groups().await?;
        if let Some(child) = groups.iter().find(|g| g.parent_id == Some(group.id)) {
            return Err(Error::Refused(format!(
                "group '{}' is nested in '{name}'; move or delete it first",
                child.name
            )));
        }
        tx.delete_group(group.id).await?;
        tx.append_event(
            audit.event(
                action::MODEL_DELETED,
                None,
                json!({"model": "group", "pk": group.id, "name": group.name}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a user to a group. Returns false (and writes nothing) when they already were.
    pub async fn add_member(&self, audit: &Audit, group: &str, username: &str) -> Result<bool> {
        self.change_membership(audit, group, username, true).await
    }

    /// Removes a user from a group. Returns false when they were not a direct member.
    pub async fn remove_member(&self, audit: &Audit, group: &str, username: &str) -> Result<bool> {
        self.change_membership(audit, group, username, false).await
    }

    async fn change_membership(&self, audit: &Audit, group: &str, username: &str, add: bool) -> Result<bool> {
        let mut tx = self.begin().await?;
        let g = tx
            .group_by_name(group)
            .await?
            .ok_or_else(|| Error::not_found("group", group))?;
        let u = tx
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))?;
        let m = Membership {
            user_id: u.id,
            group_id: g.id,
        };
        let changed = if add {
            tx.add_membership(m).await?
        } else {
            tx.remove_membership(m).await?
        };
        if changed {
            let change = if add { "added" } else { "removed" };
            tx.append_event(
                audit.event(
                    action::MODEL_UPDATED,
                    Some(&u.username),
                    json!({"model": "group", "pk": g.id, "name": g.name, "member": {change: u.username}}),
                ),
                self.now(),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(changed)
    }

    /// Direct members, then members of nested groups (with the group they are in).
    pub async fn members(&self, group: &str) -> Result<Vec<Member>> {
        let target = self
            .store
            .group_by_name(group)
            .await?
            .ok_or_else(|| Error::not_found("group", group))?;
        let groups = self.store.groups().await?;
        let tree = GroupTree::new(&groups);
        let Some(target_idx) = tree.index_of(target.id) else {
            return Ok(vec![]);
        };
        let users = self.store.users().await?;
        let memberships = self.store.memberships().await?;
        let mut out: Vec<Member> = Vec::new();
        for m in &memberships {
            let Some(g) = tree.index_of(m.group_id) else {
                continue;
            };
            if !tree.self_and_ancestors(g).contains(&target_idx) {
                continue;
            }
            let Some(u) = users.iter().find(|u| u.id == m.user_id) else {
                continue;
            };
            let via = (g != target_idx).then(|| groups[g].name.clone());
            if let Some(existing) = out.iter_mut().find(|x| x.username == u.username) {
                // A direct membership wins over an inherited one.
                if via.is_none() {
                    existing.via = None;
                }
                continue;
            }
            out.push(Member {
                username: u.username.clone(),
                name: u.name.clone(),
                is_active: u.is_active,
                via,
            });
        }
        out.sort_by(|a, b| {
            (a.via.is_some(), a.username.to_lowercase()).cmp(&(b.via.is_some(), b.username.to_lowercase()))
        });
        Ok(out)
    }

    // ---- applications ------------------------------------------------------

    pub async fn applications(&self) -> Result<Vec<AppSummary>> {
        let apps = self.store.applications().await?;
        let groups = self.store.groups().await?;
        let bindings = self.store.bindings().await?;
        let mut out: Vec<AppSummary> = apps
            .into_iter()
            .map(|app| {
                let mut bound_groups: Vec<String> = bindings
                    .iter()
                    .filter(|b| b.application_id == app.id)
                    .filter_map(|b| groups.iter().find(|g| g.id == b.group_id).map(|g| g.name.clone()))
                    .collect();
                bound_groups.sort();
                AppSummary { app, bound_groups }
            })
            .collect();
        out.sort_by(|a, b| a.app.slug.cmp(&b.app.slug));
        Ok(out)
    }

    pub async fn application(&self, slug: &str) -> Result<AppSummary> {
        self.applications()
            .await?
            .into_iter()
            .find(|a| a.app.slug == slug)
            .ok_or_else(|| Error::not_found("application", slug))
    }

    /// Creates an application without a protocol provider (a portal link);
    /// the protocol features attach providers.
    pub async fn create_application(
        &self,
        audit: &Audit,
        slug: &str,
        name: &str,
        launch_url: Option<&str>,
    ) -> Result<Application> {
        self.create_application_with(audit, slug, name, launch_url, None).await
    }

    /// Creates an application, optionally with its protocol provider.
    pub async fn create_application_with(
        &self,
        audit: &Audit,
        slug: &str,
        name: &str,
        launch_url: Option<&str>,
        provider: Option<ProviderSpec>,
    ) -> Result<Application> {
        names::check_slug(slug)?;
        names::check_display_name(name)?;
        if name.trim().is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        if let Some(url) = launch_url {
            names::check_url("launch URL", url)?;
        }
        let (kind, key, config, shown) = match provider {
            Some(p) => (Some(p.kind), p.key, p.config, p.shown),
            None => (None, None, json!({}), json!(null)),
        };
        let app = Application {
            id: Uuid::new_v4(),
            slug: slug.to_string(),
            name: name.to_string(),
            launch_url: launch_url.map(str::to_string),
            provider: kind,
            provider_config: config,
            provider_key: key,
            created_at: self.now(),
        };
        let mut tx = self.begin().await?;
        if tx.application_by_slug(slug).await?.is_some() {
            return Err(Error::AlreadyExists {
                kind: "application",
                name: slug.to_string(),
            });
        }
        tx.insert_application(&app)
            .await
            .map_err(|e| conflict_as_exists(e, "application", slug))?;
        tx.append_event(
            audit.event(
                action::MODEL_CREATED,
                None,
                json!({"model": "application", "pk": app.id, "slug": app.slug, "name": app.name,
                       "provider": app.provider.map(|p| p.as_str()), "provider_config": shown}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Replaces an application's provider settings (a protocol's `app update`,
    /// a secret rotation). `action` names the event (`model_updated`,
    /// `secret_rotate`); `shown` is what the event may record (no secrets).
    pub async fn update_provider(
        &self,
        audit: &Audit,
        slug: &str,
        spec: ProviderSpec,
        action: &str,
    ) -> Result<Application> {
        let mut tx = self.begin().await?;
        let mut app = tx
            .application_by_slug(slug)
            .await?
            .ok_or_else(|| Error::not_found("application", slug))?;
        app.provider = Some(spec.kind);
        app.provider_config = spec.config;
        app.provider_key = spec.key;
        tx.update_application(&app)
            .await
            .map_err(|e| conflict_as_exists(e, "provider key", slug))?;
        tx.append_event(
            audit.event(
                action,
                None,
                json!({"model": "application", "pk": app.id, "slug": app.slug, "provider_config": spec.shown}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(app)
    }

    /// The application a protocol knows by `key` (OIDC client id, proxy host…).
    pub async fn application_by_provider_key(&self, kind: ProviderKind, key: &str) -> Result<Option<Application>> {
        Ok(self.store.application_by_provider_key(kind, key).await?)
    }

    /// May `user` use `app`? The one access rule, for protocols at sign-in time.
    pub async fn may_use(&self, user: &User, app: &Application) -> Result<bool> {
        Ok(self.applications_for(user).await?.iter().any(|a| a.id == app.id))
    }

    pub async fn delete_application(&self, audit: &Audit, slug: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let app = tx
            .application_by_slug(slug)
            .await?
            .ok_or_else(|| Error::not_found("application", slug))?;
        tx.delete_application(app.id).await?;
        tx.append_event(
            audit.event(
                action::MODEL_DELETED,
                None,
                json!({"model": "application", "pk": app.id, "slug": app.slug}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Restricts an application to a group (and the groups nested in it).
    pub async fn bind(&self, audit: &Audit, slug: &str, group: &str) -> Result<bool> {
        self.change_binding(audit, slug, group, true).await
    }

    pub async fn unbind(&self, audit: &Audit, slug: &str, group: &str) -> Result<bool> {
        self.change_binding(audit, slug, group, false).await
    }

    async fn change_binding(&self, audit: &Audit, slug: &str, group: &str, add: bool) -> Result<bool> {
        let mut tx = self.begin().await?;
        let app = tx
            .application_by_slug(slug)
            .await?
            .ok_or_else(|| Error::not_found("application", slug))?;
        let g = tx
            .group_by_name(group)
            .await?
            .ok_or_else(|| Error::not_found("group", group))?;
        let b = Binding {
            application_id: app.id,
            group_id: g.id,
        };
        let changed = if add {
            tx.add_binding(b).await?
        } else {
            tx.remove_binding(b).await?
        };
        if changed {
            let (act, model) = if add {
                (action::MODEL_CREATED, "binding")
            } else {
                (action::MODEL_DELETED, "binding")
            };
            tx.append_event(
                audit.event(
                    act,
                    None,
                    json!({"model": model, "application": app.slug, "group": g.name}),
                ),
                self.now(),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(changed)
    }

    /// The applications `user` may use, by name.
    pub async fn applications_for(&self, user: &User) -> Result<Vec<Application>> {
        let groups = self.store.groups().await?;
        let memberships: Vec<Membership> = self
            .store
            .memberships()
            .await?
            .into_iter()
            .filter(|m| m.user_id == user.id)
            .collect();
        let mut apps: Vec<Application> = self.store.applications().await?;
        let bindings = self.store.bindings().await?;
        let tree = GroupTree::new(&groups);
        let effective = access::effective_groups(&tree, std::slice::from_ref(user), &memberships);
        let bound = access::bound_groups(&tree, &apps, &bindings);
        let empty = access::GroupSet::default();
        let mine = effective.get(&user.id).unwrap_or(&empty);
        let mut allowed = bound.iter().map(|b| access::may_access(user.is_active, mine, b));
        apps.retain(|_| allowed.next().unwrap_or(false));
        apps.sort_by_cached_key(|a| a.name.to_lowercase());
        Ok(apps)
    }

    /// The user × application matrix, from one snapshot of the directory.
    pub async fn access_matrix(&self) -> Result<AccessMatrix> {
        let (users, groups, memberships, apps, bindings) = (
            self.users().await?,
            self.store.groups().await?,
            self.store.memberships().await?,
            self.applications().await?,
            self.store.bindings().await?,
        );
        let apps: Vec<Application> = apps.into_iter().map(|a| a.app).collect();
        Ok(access::access_matrix(&users, &groups, &memberships, &apps, &bindings))
    }

    // ---- audit log -----------------------------------------------------------

    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        Ok(self.store.events(filter).await?)
    }

    /// Walks the whole chain in batches and names the first broken link.
    /// Events appended while it runs are past the head it read, and ignored.
    pub async fn verify_events(&self) -> Result<ChainReport> {
        let head = self.store.chain_head().await?;
        let mut verifier = ChainVerifier::new(&head);
        let mut after = head.anchor_seq;
        'walk: loop {
            let batch = self.store.events_after(after, 2000).await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for e in batch.iter().take_while(|e| e.seq <= head.head_seq) {
                if !verifier.feed(e) {
                    break 'walk;
                }
            }
            if after >= head.head_seq {
                break;
            }
        }
        Ok(verifier.finish(&head))
    }

    /// Deletes events older than `keep_seconds`, keeping the chain verifiable.
    pub async fn prune_events(&self, audit: &Audit, keep_seconds: i64) -> Result<u64> {
        let before = self.now().minus_seconds(keep_seconds);
        let mut tx = self.begin().await?;
        let pruned = tx.prune_events(before).await?;
        if pruned > 0 {
            tx.append_event(
                audit.event(
                    action::EVENTS_PRUNED,
                    None,
                    json!({"count": pruned, "before": before.millis()}),
                ),
                self.now(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(pruned)
    }
}

pub(crate) fn admin_group(now: Timestamp) -> Group {
    Group {
        id: Uuid::new_v4(),
        pk: 0,
        name: ADMIN_GROUP.into(),
        is_superuser: true,
        parent_id: None,
        attributes: json!({}),
        created_at: now,
    }
}

/// Inserts the user with its event; returns the integer id the store gave it.
pub(crate) async fn insert_user(tx: &mut dyn WriteTx, audit: &Audit, user: &User, now: Timestamp) -> Result<i64> {
    if tx.user_by_name(&user.username).await?.is_some() {
        return Err(Error::AlreadyExists {
            kind: "user",
            name: user.username.clone(),
        });
    }
    let pk = tx
        .insert_user(user)
        .await
        .map_err(|e| conflict_as_exists(e, "user", &user.username))?;
    tx.append_event(
        audit.event(
            action::MODEL_CREATED,
            Some(&user.username),
            json!({"model": "user", "pk": user.id, "username": user.username, "email": user.email, "name": user.name}),
        ),
        now,
    )
    .await?;
    Ok(pk)
}

pub(crate) async fn insert_group(
    tx: &mut dyn WriteTx,
    audit: &Audit,
    group: &Group,
    parent: Option<&str>,
    now: Timestamp,
) -> Result<i64> {
    if tx.group_by_name(&group.name).await?.is_some() {
        return Err(Error::AlreadyExists {
            kind: "group",
            name: group.name.clone(),
        });
    }
    let pk = tx
        .insert_group(group)
        .await
        .map_err(|e| conflict_as_exists(e, "group", &group.name))?;
    tx.append_event(
        audit.event(
            action::MODEL_CREATED,
            None,
            json!({"model": "group", "pk": group.id, "name": group.name, "is_superuser": group.is_superuser, "parent": parent}),
        ),
        now,
    )
    .await?;
    Ok(pk)
}

/// Stores a new password hash and ends the user's sessions (but `keep`, the
/// session of a person changing their own password), with its event.
pub(crate) async fn store_password(
    tx: &mut dyn WriteTx,
    audit: &Audit,
    user: &mut User,
    hash: String,
    keep: Option<Uuid>,
    now: Timestamp,
) -> Result<()> {
    user.password_hash = Some(hash);
    user.password_changed_at = Some(now);
    tx.update_user(user).await?;
    let ended = tx.delete_user_sessions(user.id, keep).await?;
    tx.append_event(
        audit.event(
            action::PASSWORD_SET,
            Some(&user.username),
            json!({"model": "user", "pk": user.id, "sessions_ended": ended}),
        ),
        now,
    )
    .await?;
    Ok(())
}

/// A unique-constraint race (two writers, same name) reads as "already exists".
fn conflict_as_exists(e: StoreError, kind: &'static str, name: &str) -> Error {
    match e {
        StoreError::Conflict(_) => Error::AlreadyExists {
            kind,
            name: name.to_string(),
        },
        other => Error::Store(other),
    }
}
