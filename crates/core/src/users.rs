//! Users: the service every entry point calls, and the single-object writes
//! it (and blueprint apply) is built from. The name rules, the reserved
//! recovery account, the password policy and the shape of each event live
//! here and nowhere else.

use gatehouse_crypto::random_token;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::access::GroupTree;
use crate::audit::Audit;
use crate::context::Users;
use crate::error::{Error, Result, StoreError};
use crate::events::action;
use crate::login::PasswordCheck;
use crate::model::{Session, User};
use crate::names;
use crate::tx::Tx;

/// The recovery account created at bootstrap; deleting it needs `force`.
pub const RECOVERY_ADMIN: &str = "akadmin";

/// What a new user starts with.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub name: String,
}

/// A change to a user's fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub attributes: Option<Value>,
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

/// A search for the admin user list: `text` in username, name or email
/// (case-insensitive; empty: everyone), one page of at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct UserSearch {
    pub text: String,
    pub offset: u64,
    pub limit: u32,
}

/// A user of a search result, with whether they have a second factor.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub user: User,
    pub has_mfa: bool,
}

/// The largest page a search returns.
pub const MAX_PAGE: u32 = 200;

impl Users<'_> {
    /// Every user, by username.
    pub async fn list(self) -> Result<Vec<User>> {
        let mut users = self.store().users().await?;
        users.sort_by_cached_key(|u| u.username.to_lowercase());
        Ok(users)
    }

    /// One page of users matching `query`, with their MFA state; the total
    /// counts every match. Paged in SQL, so a large directory costs one page.
    /// One page of the admin search, by username, with each user's MFA
    /// state, and how many match in all; the REST API's listing query, so
    /// the matching rule (wildcards taken literally) is the same for both.
    pub async fn search(self, search: &UserSearch) -> Result<(Vec<UserRow>, u64)> {
        let text = search.text.trim();
        let query = crate::listing::UserQuery {
            search: (!text.is_empty()).then(|| text.to_string()),
            window: crate::listing::Window {
                offset: search.offset,
                limit: search.limit.clamp(1, MAX_PAGE),
            },
            ..Default::default()
        };
        let page = self.store().user_page(&query).await?;
        let ids: Vec<Uuid> = page.items.iter().map(|u| u.id).collect();
        let with_mfa = self.store().users_with_mfa(&ids).await?;
        let rows = page
            .items
            .into_iter()
            .map(|user| UserRow {
                has_mfa: with_mfa.contains(&user.id),
                user,
            })
            .collect();
        Ok((rows, page.count))
    }

    pub async fn get(self, username: &str) -> Result<User> {
        self.store()
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))
    }

    pub async fn by_id(self, id: Uuid) -> Result<Option<User>> {
        Ok(self.store().user_by_id(id).await?)
    }

    pub async fn detail(self, username: &str) -> Result<UserDetail> {
        let user = self.get(username).await?;
        let groups = self.store().groups().await?;
        let memberships = self.store().user_memberships(user.id).await?;
        let tree = GroupTree::new(&groups);
        let direct: Vec<usize> = memberships.iter().filter_map(|m| tree.index_of(m.group_id)).collect();
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

    pub async fn create(self, audit: &Audit, new: NewUser) -> Result<User> {
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
        let mut tx = self.write(audit).await?;
        user.pk = insert(&mut tx, &user, &[]).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes the given fields of a user.
    pub async fn update(self, audit: &Audit, username: &str, change: &UserChange) -> Result<User> {
        let mut tx = self.write(audit).await?;
        let id = find(&mut tx, username).await?.id;
        let user = update(&mut tx, id, change).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The hash of a new password for `username`, after checking it against
    /// the policy: every way of setting a password (CLI, recovery link,
    /// portal, blueprint) comes through here.
    pub async fn hash_new_password(self, username: &str, password: &str) -> Result<String> {
        self.password_policy().check(username, password)?;
        Ok(self.hasher().hash(password).await?)
    }

    /// Sets a user's password after checking it against the policy.
    pub async fn set_password(self, audit: &Audit, username: &str, password: &str) -> Result<()> {
        let user = self.get(username).await?;
        let hash = self.hash_new_password(&user.username, password).await?;
        let mut tx = self.write(audit).await?;
        store_password(&mut tx, user.id, hash, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores an imported password hash as given: Gatehouse's argon2id PHC
    /// string or one of the Django formats authentik keeps (`pbkdf2_sha256$…`,
    /// `argon2$argon2id$…`, `bcrypt_sha256$…`, `scrypt$…`). The password is
    /// unknown here, so the policy cannot apply; the first right sign-in
    /// replaces the hash with a fresh argon2id one. Unknown formats are refused.
    pub async fn set_password_hash(self, audit: &Audit, username: &str, hash: &str) -> Result<()> {
        check_password_hash(hash)?;
        let mut tx = self.write(audit).await?;
        let id = find(&mut tx, username).await?.id;
        store_password(&mut tx, id, hash.to_string(), None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A random password that passes the policy: 20 URL-safe characters.
    pub fn generate_password(self) -> String {
        random_token(15)
    }

    /// Enables or disables a user; disabling ends their sessions and grants.
    pub async fn set_active(self, audit: &Audit, username: &str, active: bool) -> Result<User> {
        let change = UserChange {
            is_active: Some(active),
            ..UserChange::default()
        };
        self.update(audit, username, &change).await
    }

    /// Deletes a user; the recovery account only with `force`.
    pub async fn delete(self, audit: &Audit, username: &str, force: bool) -> Result<()> {
        let mut tx = self.write(audit).await?;
        let id = find(&mut tx, username).await?.id;
        delete(&mut tx, id, force).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the password of the session's user after checking the current
    /// one (throttled like a sign-in). Other sessions of the user and their
    /// OAuth grants end; this session stays.
    pub async fn change_own_password(
        self,
        audit: &Audit,
        session: &Session,
        current: &str,
        new_password: &str,
    ) -> Result<()> {
        let user = self
            .by_id(session.user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", session.user_id.to_string()))?;
        match self.sign_in().check_password(audit, &user.username, current).await? {
            PasswordCheck::Accepted { .. } => {}
            PasswordCheck::Rejected => {
                return Err(Error::invalid("current password", "it is not your current password"));
            }
            PasswordCheck::Throttled { retry_after_secs } => {
                return Err(Error::Refused(format!(
                    "too many wrong passwords; try again in {retry_after_secs} seconds"
                )));
            }
        }
        if current == new_password {
            return Err(Error::PasswordRejected(
                "the new password must differ from the current one".into(),
            ));
        }
        let hash = self.hash_new_password(&user.username, new_password).await?;
        let mut tx = self.write(audit).await?;
        store_password(&mut tx, user.id, hash, Some(session.id)).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The user with this name, read (and locked on PostgreSQL) in the change.
pub(crate) async fn find(tx: &mut Tx<'_>, username: &str) -> Result<User> {
    tx.raw()
        .user_by_name(username)
        .await?
        .ok_or_else(|| Error::not_found("user", username))
}

async fn find_id(tx: &mut Tx<'_>, id: Uuid) -> Result<User> {
    tx.raw()
        .user_by_id(id)
        .await?
        .ok_or_else(|| Error::not_found("user", id.to_string()))
}

/// Refuses a password hash Gatehouse could not verify (see
/// [`Users::set_password_hash`]); blueprints check with it too.
pub fn check_password_hash(hash: &str) -> Result<()> {
    gatehouse_crypto::check_stored_hash(hash).map_err(|e| Error::invalid("password hash", e.to_string()))
}

fn check_fields(user: &User) -> Result<()> {
    names::check_username(&user.username)?;
    names::check_email(&user.email)?;
    names::check_display_name(&user.name)
}

/// Creates `user` as given (its id chosen by the caller; `pk` is ignored).
/// `groups` names the groups the caller will put them in, for the event.
/// Returns the stable integer id the user was given.
pub async fn insert(tx: &mut Tx<'_>, user: &User, groups: &[String]) -> Result<i64> {
    check_fields(user)?;
    // The unique index on the lower-cased name refuses a twin, racing or not.
    let pk = tx
        .raw()
        .insert_user(user)
        .await
        .map_err(|e| conflict(e, &user.username))?;
    let mut ctx = json!({"model": "user", "pk": user.id, "username": user.username,
                         "email": user.email, "name": user.name});
    if !groups.is_empty() {
        ctx["groups"] = json!(groups);
    }
    tx.record(action::MODEL_CREATED, Some(&user.username), ctx).await?;
    Ok(pk)
}

/// Applies `change` to the user with this id, onto the row as it is now (so a
/// password set or a sign-in meanwhile survives). Disabling ends the user's
/// sessions and grants. Writes nothing when nothing changes.
pub async fn update(tx: &mut Tx<'_>, id: Uuid, change: &UserChange) -> Result<User> {
    let mut user = find_id(tx, id).await?;
    let mut changes = Map::new();
    let mut set = |field: &str, old: Value, new: Value| {
        if old != new {
            changes.insert(field.into(), json!([old, new]));
        }
    };
    if let Some(v) = &change.username {
        set("username", json!(user.username), json!(v));
        user.username = v.clone();
    }
    if let Some(v) = &change.email {
        set("email", json!(user.email), json!(v));
        user.email = v.clone();
    }
    if let Some(v) = &change.name {
        set("name", json!(user.name), json!(v));
        user.name = v.clone();
    }
    if let Some(v) = change.is_active {
        set("is_active", json!(user.is_active), json!(v));
        user.is_active = v;
    }
    if let Some(v) = &change.attributes {
        // Attribute values may hold secrets (basic-auth passwords): name the change only.
        if *v != user.attributes {
            changes.insert("attributes".into(), json!("changed"));
        }
        user.attributes = v.clone();
    }
    if changes.is_empty() {
        return Ok(user);
    }
    check_fields(&user)?;
    tx.raw()
        .update_user(&user)
        .await
        .map_err(|e| conflict(e, &user.username))?;
    let mut ctx = json!({"model": "user", "pk": user.id, "username": user.username, "changes": changes});
    if change.is_active == Some(false) && changes.contains_key("is_active") {
        let ended = end_access(tx, user.id, None).await?;
        ctx["sessions_ended"] = json!(ended.sessions);
        ctx["grants_revoked"] = json!(ended.grants);
    }
    tx.record(action::MODEL_UPDATED, Some(&user.username), ctx).await?;
    Ok(user)
}

/// Stores a new password hash (already checked against the policy, or
/// imported) and ends everything issued under the old one: the user's
/// sessions (but `keep`, the session of a person changing their own
/// password) and their OAuth grants.
pub async fn store_password(tx: &mut Tx<'_>, id: Uuid, hash: String, keep: Option<Uuid>) -> Result<User> {
    let mut user = find_id(tx, id).await?;
    user.password_hash = Some(hash);
    user.password_changed_at = Some(tx.now());
    tx.raw().update_user(&user).await?;
    let ended = end_access(tx, user.id, keep).await?;
    tx.record(
        action::PASSWORD_SET,
        Some(&user.username),
        json!({"model": "user", "pk": user.id, "sessions_ended": ended.sessions, "grants_revoked": ended.grants}),
    )
    .await?;
    Ok(user)
}

/// Deletes the user with this id; the recovery account only with `force`.
pub async fn delete(tx: &mut Tx<'_>, id: Uuid, force: bool) -> Result<User> {
    let user = find_id(tx, id).await?;
    if user.username.eq_ignore_ascii_case(RECOVERY_ADMIN) && !force {
        return Err(Error::Refused(format!(
            "'{RECOVERY_ADMIN}' is the recovery account for everything; refusing to delete it (use --force if you really mean it)"
        )));
    }
    tx.raw().delete_user(user.id).await?;
    tx.record(
        action::MODEL_DELETED,
        Some(&user.username),
        json!({"model": "user", "pk": user.id, "username": user.username}),
    )
    .await?;
    Ok(user)
}

/// What [`end_access`] ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ended {
    pub sessions: u64,
    pub grants: u64,
}

/// Ends a user's browser sessions (but `keep`) and revokes every OAuth grant
/// (its refresh tokens, and the access tokens introspection and userinfo
/// check against it): after a password change, an MFA reset, a disable or a
/// "sign out everywhere", nothing issued before keeps working. The caller's
/// event records the counts.
pub async fn end_access(tx: &mut Tx<'_>, user_id: Uuid, keep: Option<Uuid>) -> Result<Ended> {
    let now = tx.now();
    let sessions = tx.raw().delete_user_sessions(user_id, keep).await?;
    let grants = tx.raw().revoke_user_grants(user_id, None, now).await?;
    Ok(Ended { sessions, grants })
}

fn exists(username: &str) -> Error {
    Error::AlreadyExists {
        kind: "user",
        name: username.to_string(),
    }
}

fn conflict(e: StoreError, username: &str) -> Error {
    match e {
        StoreError::Conflict(_) => exists(username),
        other => Error::Store(other),
    }
}
