//! Invitations: a link (`/if/flow/<flow>/?itoken=<id>`) that lets a person
//! create their own account. What the inviter fixed (username, email, name,
//! groups) is not the person's to choose; everything else passes the same
//! rules as any new user (names, the password policy). A single-use
//! invitation is spent in the transaction that creates the user, so two
//! submits of one form cannot make two accounts.
//!
//! The model follows authentik's `Invitation` (`stages/invitation/`): a name,
//! an optional expiry, `single_use`, `fixed_data` and the enrollment flow.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Invitations;
use crate::error::{Error, Result};
use crate::model::{Session, User};
use crate::session::ClientInfo;

/// The enrollment flow invitations lead to (authentik's default slug).
pub const DEFAULT_ENROLLMENT_FLOW: &str = "default-enrollment-flow";

/// A flow Gatehouse has, named as authentik names its defaults. Gatehouse's
/// flows are fixed (sign-in and sign-up pages), so they are constants with
/// stable ids, for the API's `flows/instances/` and an invitation's `flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltInFlow {
    pub pk: Uuid,
    pub slug: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    /// authentik's `designation`: `authentication`, `enrollment`, ….
    pub designation: &'static str,
}

pub const FLOWS: &[BuiltInFlow] = &[
    BuiltInFlow {
        pk: Uuid::from_u128(0x6761_7465_686f_7573_0001_0000_0000_0001),
        slug: "default-authentication-flow",
        name: "Default authentication flow",
        title: "Welcome!",
        designation: "authentication",
    },
    BuiltInFlow {
        pk: Uuid::from_u128(0x6761_7465_686f_7573_0001_0000_0000_0002),
        slug: DEFAULT_ENROLLMENT_FLOW,
        name: "Default enrollment flow",
        title: "Create your account",
        designation: "enrollment",
    },
    // The flows a provider names (its consent screen, its sign-out): built
    // in; the implicit one leaves consent to the provider's own setting.
    BuiltInFlow {
        pk: AUTHORIZATION_IMPLICIT,
        slug: "default-provider-authorization-implicit-consent",
        name: "Authorize Application",
        title: "Redirecting to %(app)s",
        designation: "authorization",
    },
    BuiltInFlow {
        pk: AUTHORIZATION_EXPLICIT,
        slug: "default-provider-authorization-explicit-consent",
        name: "Authorize Application",
        title: "Redirecting to %(app)s",
        designation: "authorization",
    },
    BuiltInFlow {
        pk: INVALIDATION,
        slug: "default-provider-invalidation-flow",
        name: "Logged out of application",
        title: "You've logged out of %(app)s.",
        designation: "invalidation",
    },
];

/// The built-in authorization flow without a consent screen.
pub const AUTHORIZATION_IMPLICIT: Uuid = Uuid::from_u128(0x6761_7465_686f_7573_0000_0000_0000_0001);
/// The built-in authorization flow that asks for consent.
pub const AUTHORIZATION_EXPLICIT: Uuid = Uuid::from_u128(0x6761_7465_686f_7573_0000_0000_0000_0003);
/// The built-in invalidation (sign-out) flow.
pub const INVALIDATION: Uuid = Uuid::from_u128(0x6761_7465_686f_7573_0000_0000_0000_0002);

/// The built-in flow with this slug or id.
pub fn flow(slug_or_pk: &str) -> Option<&'static BuiltInFlow> {
    FLOWS
        .iter()
        .find(|f| f.slug == slug_or_pk || f.pk.to_string() == slug_or_pk)
}

/// Audit actions of this feature, as authentik names them: creating and
/// deleting an invitation are `model_created` / `model_deleted` (model
/// `invitation`), a sign-up through one is `invitation_used`.
pub mod action {
    pub const INVITATION_USED: &str = "invitation_used";
}

/// An invitation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    /// authentik's `pk` (`invite_uuid`): the `itoken` of the link.
    pub id: Uuid,
    pub name: String,
    pub expires: Option<Timestamp>,
    pub single_use: bool,
    /// Fields fixed for the new user: `username`, `email`, `name`, `groups`.
    pub fixed_data: Value,
    /// The slug of the enrollment flow.
    pub flow: String,
    /// Who created it (the audit actor, `cli:root`, `user:alice`).
    pub created_by: String,
    pub created_at: Timestamp,
    /// Accounts created with it so far.
    pub uses: i64,
}

/// What an invitation is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    Valid,
    Expired,
    Spent,
}

impl Invitation {
    pub fn state(&self, now: Timestamp) -> InvitationState {
        if self.single_use && self.uses > 0 {
            InvitationState::Spent
        } else if self.expires.is_some_and(|e| e <= now) {
            InvitationState::Expired
        } else {
            InvitationState::Valid
        }
    }

    /// A fixed text field (`username`, `email`, `name`), if the inviter set one.
    pub fn fixed(&self, field: &str) -> Option<&str> {
        self.fixed_data
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The sign-up link: whoever holds it may use it (the `itoken` is the id),
    /// so it is shown to the inviter once and never logged.
    pub fn link(&self, external_url: &str) -> String {
        format!(
            "{}/if/flow/{}/?itoken={}",
            external_url.trim_end_matches('/'),
            self.flow,
            self.id
        )
    }

    /// The groups a person who signs up with this invitation joins.
    pub fn groups(&self) -> Vec<String> {
        self.fixed_data
            .get("groups")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// What an inviter asks for.
#[derive(Debug, Clone, Default)]
pub struct NewInvitation {
    /// Empty: a name is made up from the id.
    pub name: String,
    pub expires: Option<Timestamp>,
    pub single_use: bool,
    pub fixed_data: Value,
    /// Empty: [`DEFAULT_ENROLLMENT_FLOW`].
    pub flow: String,
}

/// `fixed_data` from what an inviter fixes (blank fields are left out) and
/// the groups the new account joins: the CLI and the admin interface fill it
/// the same way.
pub fn fixed_data(username: Option<&str>, email: Option<&str>, name: Option<&str>, groups: &[String]) -> Value {
    let mut fixed = serde_json::Map::new();
    for (key, value) in [("username", username), ("email", email), ("name", name)] {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            fixed.insert(key.into(), Value::from(v));
        }
    }
    if !groups.is_empty() {
        fixed.insert("groups".into(), json!(groups));
    }
    Value::Object(fixed)
}

/// What the person types on the sign-up page (fixed fields are ignored).
#[derive(Clone, Default)]
pub struct SignUp {
    pub username: String,
    pub name: String,
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for SignUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUp")
            .field("username", &self.username)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// Keys `fixed_data` may hold; anything else is refused rather than ignored.
const FIXED_KEYS: &[&str] = &["username", "email", "name", "groups"];

impl Invitations<'_> {
    /// Creates an invitation after checking its fixed data: names that the
    /// user rules accept, groups that exist.
    pub async fn create(self, audit: &Audit, new: NewInvitation) -> Result<Invitation> {
        let now = self.now();
        let id = Uuid::new_v4();
        let mut invitation = Invitation {
            id,
            name: if new.name.is_empty() {
                format!("invite-{}", &id.simple().to_string()[..8])
            } else {
                new.name
            },
            expires: new.expires,
            single_use: new.single_use,
            fixed_data: if new.fixed_data.is_null() {
                json!({})
            } else {
                new.fixed_data
            },
            flow: if new.flow.is_empty() {
                DEFAULT_ENROLLMENT_FLOW.into()
            } else {
                new.flow
            },
            created_by: audit.actor.to_string(),
            created_at: now,
            uses: 0,
        };
        crate::names::check_slug(&invitation.name).map_err(|_| {
            Error::invalid(
                "name",
                "use lower-case letters, digits, '-' and '_' (authentik's invitation names are slugs)",
            )
        })?;
        let Some(enrollment) = flow(&invitation.flow).filter(|f| f.designation == "enrollment") else {
            return Err(Error::not_found("enrollment flow", invitation.flow));
        };
        invitation.flow = enrollment.slug.to_string();
        if invitation.expires.is_some_and(|e| e <= now) {
            return Err(Error::invalid("expires", "the expiry is in the past"));
        }
        check_fixed_data(&invitation.fixed_data)?;
        let mut tx = self.write(audit).await?;
        for group in invitation.groups() {
            if tx.raw().group_by_name(&group).await?.is_none() {
                return Err(Error::not_found("group", group));
            }
        }
        // The unique index on the name refuses a twin.
        tx.raw().insert_invitation(&invitation).await.map_err(|e| match e {
            crate::error::StoreError::Conflict(_) => Error::AlreadyExists {
                kind: "invitation",
                name: invitation.name.clone(),
            },
            other => Error::Store(other),
        })?;
        tx.record(
            crate::events::action::MODEL_CREATED,
            invitation.fixed("username"),
            json!({"model": "invitation", "pk": invitation.id, "name": invitation.name,
                   "single_use": invitation.single_use, "expires": invitation.expires,
                   "fixed_data": invitation.fixed_data}),
        )
        .await?;
        tx.commit().await?;
        Ok(invitation)
    }

    /// Every invitation, newest first.
    pub async fn list(self) -> Result<Vec<Invitation>> {
        let mut all = self.store().invitations().await?;
        all.sort_by_key(|i| std::cmp::Reverse(i.created_at));
        Ok(all)
    }

    /// The invitation with this id (the link's `itoken`) or name.
    pub async fn get(self, id_or_name: &str) -> Result<Invitation> {
        let found = match Uuid::parse_str(id_or_name) {
            Ok(id) => self.store().invitation(id).await?,
            Err(_) => self.list().await?.into_iter().find(|i| i.name == id_or_name),
        };
        found.ok_or_else(|| Error::not_found("invitation", id_or_name))
    }

    pub async fn delete(self, audit: &Audit, id_or_name: &str) -> Result<Invitation> {
        let invitation = self.get(id_or_name).await?;
        let mut tx = self.write(audit).await?;
        if !tx.raw().delete_invitation(invitation.id).await? {
            return Err(Error::not_found("invitation", id_or_name));
        }
        tx.record(
            crate::events::action::MODEL_DELETED,
            None,
            json!({"model": "invitation", "pk": invitation.id, "name": invitation.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(invitation)
    }

    /// The invitation behind a link's `itoken` and its state, without
    /// spending it; `None` when there is no such invitation (or the token is
    /// not one).
    pub async fn for_link(self, flow: &str, itoken: &str) -> Result<Option<(Invitation, InvitationState)>> {
        let Ok(id) = Uuid::parse_str(itoken) else {
            return Ok(None);
        };
        let found = self.store().invitation(id).await?.filter(|i| i.flow == flow);
        Ok(found.map(|i| {
            let state = i.state(self.now());
            (i, state)
        }))
    }

    /// Creates the person's account from an invitation and signs them in, in
    /// one transaction: the invitation is spent (single-use) or counted, the
    /// user created with the fixed fields and the password (policy checked),
    /// put in the fixed groups, and a session opened. An expired or spent
    /// invitation, or any refused field, changes nothing.
    pub async fn redeem(
        self,
        audit: &Audit,
        id: Uuid,
        form: SignUp,
        client: &ClientInfo,
    ) -> Result<(String, Session, User)> {
        let invitation = self
            .store()
            .invitation(id)
            .await?
            .ok_or_else(|| Error::not_found("invitation", id.to_string()))?;
        refuse_unusable(invitation.state(self.now()))?;
        let mut user = User {
            id: Uuid::new_v4(),
            pk: 0,
            username: invitation.fixed("username").unwrap_or(form.username.trim()).to_string(),
            email: invitation.fixed("email").unwrap_or(form.email.trim()).to_string(),
            name: invitation.fixed("name").unwrap_or(form.name.trim()).to_string(),
            is_active: true,
            password_hash: None,
            attributes: json!({"invitation": invitation.id}),
            created_at: self.now(),
            last_login: None,
            password_changed_at: None,
        };
        if user.username.is_empty() {
            return Err(Error::invalid("username", "choose a username"));
        }
        crate::names::check_username(&user.username)?;
        let hash = self.users().hash_new_password(&user.username, &form.password).await?;
        let groups = invitation.groups();

        let mut tx = self.write(audit).await?;
        let now = tx.now();
        if !tx.raw().spend_invitation(invitation.id, now).await? {
            return Err(Error::Refused("this invitation has expired or was already used".into()));
        }
        user.password_hash = Some(hash);
        user.password_changed_at = Some(now);
        user.pk = crate::users::insert(&mut tx, &user, &groups).await?;
        for name in &groups {
            let group = tx
                .raw()
                .group_by_name(name)
                .await?
                .ok_or_else(|| Error::not_found("group", name))?;
            crate::groups::add_member(&mut tx, group.named(), user.named(), true).await?;
        }
        tx.record(
            action::INVITATION_USED,
            Some(&user.username),
            json!({"model": "invitation", "pk": invitation.id, "name": invitation.name,
                   "single_use": invitation.single_use}),
        )
        .await?;
        let (token, session) = crate::session::open(&mut tx, &mut user, client, &["pwd"]).await?;
        tx.commit().await?;
        Ok((token, session, user))
    }
}

fn refuse_unusable(state: InvitationState) -> Result<()> {
    match state {
        InvitationState::Valid => Ok(()),
        InvitationState::Expired => Err(Error::Refused("this invitation has expired".into())),
        InvitationState::Spent => Err(Error::Refused("this invitation was already used".into())),
    }
}

fn check_fixed_data(data: &Value) -> Result<()> {
    let map = data
        .as_object()
        .ok_or_else(|| Error::invalid("fixed_data", "must be an object"))?;
    if let Some(key) = map.keys().find(|k| !FIXED_KEYS.contains(&k.as_str())) {
        return Err(Error::invalid(
            "fixed_data",
            format!("unknown field '{key}' (known: {})", FIXED_KEYS.join(", ")),
        ));
    }
    let text = |k: &str| map.get(k).map(|v| v.as_str().unwrap_or("\u{0}"));
    if let Some(u) = text("username") {
        crate::names::check_username(u)?;
    }
    if let Some(e) = text("email") {
        crate::names::check_email(e)?;
    }
    if let Some(n) = text("name") {
        crate::names::check_display_name(n)?;
    }
    if let Some(g) = map.get("groups")
        && !g.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err(Error::invalid("fixed_data", "groups must be a list of group names"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(single_use: bool, uses: i64, expires: Option<i64>) -> Invitation {
        Invitation {
            id: Uuid::nil(),
            name: "x".into(),
            expires: expires.map(Timestamp),
            single_use,
            fixed_data: json!({"username": "", "email": "a@example.com", "groups": ["g", 3]}),
            flow: DEFAULT_ENROLLMENT_FLOW.into(),
            created_by: "cli:t".into(),
            created_at: Timestamp(0),
            uses,
        }
    }

    #[test]
    fn state_follows_uses_and_expiry() {
        let now = Timestamp(1_000);
        assert_eq!(inv(true, 0, None).state(now), InvitationState::Valid);
        assert_eq!(inv(true, 1, None).state(now), InvitationState::Spent);
        assert_eq!(inv(false, 5, Some(2_000)).state(now), InvitationState::Valid);
        assert_eq!(inv(false, 0, Some(1_000)).state(now), InvitationState::Expired);
    }

    #[test]
    fn fixed_fields_ignore_empty_values_and_non_strings() {
        let i = inv(true, 0, None);
        assert_eq!(i.fixed("username"), None);
        assert_eq!(i.fixed("email"), Some("a@example.com"));
        assert_eq!(i.groups(), vec!["g".to_string()]);
    }

    #[test]
    fn fixed_data_is_checked() {
        assert!(check_fixed_data(&json!({"username": "carol", "groups": ["a"]})).is_ok());
        for bad in [
            json!([]),
            json!({"password": "x"}),
            json!({"username": 3}),
            json!({"email": "nope"}),
            json!({"groups": "a"}),
            json!({"groups": [1]}),
        ] {
            assert!(check_fixed_data(&bad).is_err(), "{bad}");
        }
    }
}
