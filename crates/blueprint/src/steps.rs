//! The changes a plan makes, and how they are written: each step is one of
//! core's single-object writes (`users::insert`, `groups::add_member`, …), the
//! very functions the CLI and the web call, so a blueprint meets the same name
//! rules, reserved accounts and event shapes. All steps of an apply share one
//! [`Tx`]: a blueprint applies entirely or not at all.

use gatehouse_core::apps::{self, AppChange};
use gatehouse_core::groups::{self, GroupChange};
use gatehouse_core::users::{self, UserChange};
use gatehouse_core::{ApiToken, Application, Error, Group, Named, ProviderSpec, Tx, User, events, tokens};
use serde_json::Value;
use uuid::Uuid;

/// One change of a plan.
#[derive(Debug, Clone)]
pub enum Op {
    CreateGroup {
        group: Group,
    },
    UpdateGroup {
        group: Group,
        fields: Vec<String>,
    },
    DeleteGroup(Group),
    /// A new user; `groups`: the groups the plan puts them in (their
    /// memberships follow as `announced` steps, recorded by this event).
    CreateUser {
        user: User,
        groups: Vec<String>,
    },
    UpdateUser {
        user: User,
        fields: Vec<String>,
    },
    DeleteUser(User),
    /// A new password hash (computed before the transaction), or one given as
    /// is (`password_hash`, an export's round trip).
    SetPassword {
        user_id: Uuid,
        hash: String,
    },
    /// `announced`: the user's creation event already records it.
    AddMembership {
        user_id: Uuid,
        group_id: Uuid,
        username: String,
        group: String,
        announced: bool,
    },
    RemoveMembership {
        user_id: Uuid,
        group_id: Uuid,
        username: String,
        group: String,
    },
    CreateApplication {
        app: Application,
        shown: Value,
    },
    UpdateApplication {
        app: Application,
        shown: Value,
    },
    DeleteApplication(Application),
    AddBinding {
        app_id: Uuid,
        group_id: Uuid,
        slug: String,
        group: String,
    },
    RemoveBinding {
        app_id: Uuid,
        group_id: Uuid,
        slug: String,
        group: String,
    },
    CreateToken(ApiToken),
    DeleteToken(ApiToken),
}

/// A change and the blueprint entry it comes from (for error messages).
#[derive(Debug, Clone)]
pub struct Step {
    pub op: Op,
    pub origin: String,
}

/// A step that failed: which one and why. Nothing was committed.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {error}")]
pub struct StepError {
    pub index: usize,
    pub origin: String,
    #[source]
    pub error: Error,
}

/// Writes every step, in order, into `tx` (the caller commits).
/// `summarised`: the caller writes one event that records memberships and
/// tokens (the bootstrap), so those steps write none of their own.
pub async fn apply_steps(tx: &mut Tx<'_>, steps: &[Step], summarised: bool) -> Result<(), StepError> {
    for (index, step) in steps.iter().enumerate() {
        apply_one(tx, &step.op, summarised).await.map_err(|error| StepError {
            index,
            origin: step.origin.clone(),
            error,
        })?;
    }
    Ok(())
}

async fn apply_one(tx: &mut Tx<'_>, op: &Op, summarised: bool) -> gatehouse_core::Result<()> {
    match op {
        Op::CreateGroup { group } => {
            groups::insert(tx, group).await?;
        }
        Op::UpdateGroup { group, fields } => {
            groups::update(tx, group.id, &group_change(group, fields)).await?;
        }
        Op::DeleteGroup(group) => {
            groups::delete(tx, group.id).await?;
        }
        Op::CreateUser { user, groups } => {
            users::insert(tx, user, groups).await?;
        }
        Op::UpdateUser { user, fields } => {
            users::update(tx, user.id, &user_change(user, fields)).await?;
        }
        Op::DeleteUser(user) => {
            // The plan already refused the recovery account (as the CLI does).
            users::delete(tx, user.id, false).await?;
        }
        Op::SetPassword { user_id, hash } => {
            users::store_password(tx, *user_id, hash.clone(), None).await?;
        }
        Op::AddMembership {
            user_id,
            group_id,
            username,
            group,
            announced,
        } => {
            let (g, u) = (named(*group_id, group), named(*user_id, username));
            groups::add_member(tx, g, u, summarised || *announced).await?;
        }
        Op::RemoveMembership {
            user_id,
            group_id,
            username,
            group,
        } => {
            groups::remove_member(tx, named(*group_id, group), named(*user_id, username)).await?;
        }
        Op::CreateApplication { app, shown } => {
            apps::insert(tx, app, shown).await?;
        }
        Op::UpdateApplication { app, shown } => {
            apps::update(tx, app.id, &app_change(app, shown), events::action::MODEL_UPDATED).await?;
        }
        Op::DeleteApplication(app) => apps::delete(tx, app).await?,
        Op::AddBinding {
            app_id,
            group_id,
            slug,
            group,
        } => {
            apps::bind(tx, named(*app_id, slug), named(*group_id, group)).await?;
        }
        Op::RemoveBinding {
            app_id,
            group_id,
            slug,
            group,
        } => {
            apps::unbind(tx, named(*app_id, slug), named(*group_id, group)).await?;
        }
        Op::CreateToken(token) => tokens::insert(tx, token, summarised).await?,
        Op::DeleteToken(token) => tokens::delete(tx, token).await?,
    }
    Ok(())
}

/// Only the planned fields, onto the row as it is now: a password set or a
/// sign-in since the plan's snapshot survives the apply.
fn user_change(user: &User, fields: &[String]) -> UserChange {
    let wants = |f: &str| fields.iter().any(|x| x == f);
    UserChange {
        username: wants("username").then(|| user.username.clone()),
        email: wants("email").then(|| user.email.clone()),
        name: wants("name").then(|| user.name.clone()),
        is_active: wants("is_active").then_some(user.is_active),
        attributes: wants("attributes").then(|| user.attributes.clone()),
    }
}

fn group_change(group: &Group, fields: &[String]) -> GroupChange {
    let wants = |f: &str| fields.iter().any(|x| x == f);
    GroupChange {
        name: wants("name").then(|| group.name.clone()),
        is_superuser: wants("is_superuser").then_some(group.is_superuser),
        parent: wants("parent").then_some(group.parent_id),
        attributes: wants("attributes").then(|| group.attributes.clone()),
    }
}

fn app_change(app: &Application, shown: &Value) -> AppChange {
    AppChange {
        slug: Some(app.slug.clone()),
        name: Some(app.name.clone()),
        launch_url: Some(app.launch_url.clone()),
        provider: app.provider.map(|kind| ProviderSpec {
            kind,
            key: app.provider_key.clone(),
            config: app.provider_config.clone(),
            shown: shown.clone(),
        }),
        attach: None,
        provider_name: Some(app.provider_name.clone()),
    }
}

fn named(id: Uuid, name: &str) -> Named<'_> {
    Named { id, name }
}
