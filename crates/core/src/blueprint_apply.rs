//! Applying a blueprint's plan: every step in ONE write transaction, each with
//! its audit event, so a blueprint applies entirely or not at all.
//!
//! The blueprint crate (`gatehouse-blueprint`) parses and evaluates the YAML and
//! computes the steps against a snapshot of the directory; this module only
//! writes them, through the same checks and event shapes the single-object
//! [`crate::Directory`] services use. The functions take the transaction, so a
//! caller (the bootstrap) can do more in the same one.

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::directory::{Audit, insert_group};
use crate::error::{Error, Result, StoreError};
use crate::events::action;
use crate::model::*;
use crate::store::WriteTx;

/// The applied state of one blueprint file (`gatehouse blueprint list`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlueprintInstance {
    /// The file's path as given (or `embedded:NAME` for shipped blueprints).
    pub path: String,
    /// `metadata.name`.
    pub name: String,
    /// SHA-256 of the file's bytes.
    pub hash: String,
    pub applied_at: Timestamp,
    /// `applied` or `failed`.
    pub result: String,
    pub message: String,
    /// How many steps the last apply made.
    pub changes: i64,
}

/// One change of a plan.
#[derive(Debug, Clone)]
pub enum Op {
    CreateGroup {
        group: Group,
        parent: Option<String>,
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
    /// A new password hash (computed before the transaction).
    SetPassword {
        user_id: Uuid,
        username: String,
        hash: String,
    },
    /// Set the password hash as given (`password_hash` in a blueprint, export round trip).
    SetPasswordHash {
        user_id: Uuid,
        username: String,
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
        fields: Vec<String>,
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

/// Writes every step, in order, with its event, into `tx`. The caller commits.
/// `summarised`: the caller writes one event that records memberships and
/// tokens (the bootstrap), so those steps write none of their own.
pub async fn apply_steps(
    tx: &mut dyn WriteTx,
    audit: &Audit,
    blueprint: &str,
    steps: &[Step],
    now: Timestamp,
    summarised: bool,
) -> std::result::Result<(), StepError> {
    for (index, step) in steps.iter().enumerate() {
        apply_one(tx, audit, blueprint, &step.op, now, summarised)
            .await
            .map_err(|error| StepError {
                index,
                origin: step.origin.clone(),
                error,
            })?;
    }
    Ok(())
}

fn conflict(e: StoreError, kind: &'static str, name: &str) -> Error {
    match e {
        StoreError::Conflict(_) => Error::AlreadyExists {
            kind,
            name: name.to_string(),
        },
        other => Error::Store(other),
    }
}

/// A unique-key conflict of an application: its slug or its provider's key.
fn key_conflict(e: StoreError, app: &Application) -> Error {
    match e {
        StoreError::Conflict(_) => Error::AlreadyExists {
            kind: "provider key (client id / external host) of another application",
            name: app.provider_key.clone().unwrap_or_else(|| app.slug.clone()),
        },
        other => Error::Store(other),
    }
}

async fn apply_one(
    tx: &mut dyn WriteTx,
    audit: &Audit,
    blueprint: &str,
    op: &Op,
    now: Timestamp,
    summarised: bool,
) -> Result<()> {
    let event = |act: &str, user: Option<&str>, mut ctx: Value| {
        if let Some(m) = ctx.as_object_mut().filter(|_| !blueprint.is_empty()) {
            m.insert("blueprint".into(), Value::from(blueprint));
        }
        audit.event(act, user, ctx)
    };
    match op {
        Op::CreateGroup { group, parent } => {
            crate::names::check_group_name(&group.name)?;
            insert_group(tx, audit, group, parent.as_deref(), now).await?;
        }
        Op::UpdateGroup { group, fields } => {
            crate::names::check_group_name(&group.name)?;
            tx.update_group(group)
                .await
                .map_err(|e| conflict(e, "group", &group.name))?;
            tx.append_event(
                event(
                    action::MODEL_UPDATED,
                    None,
                    json!({"model": "group", "pk": group.id, "name": group.name, "fields": fields}),
                ),
                now,
            )
            .await?;
        }
        Op::DeleteGroup(group) => {
            tx.delete_group(group.id).await?;
            tx.append_event(
                event(
                    action::MODEL_DELETED,
                    None,
                    json!({"model": "group", "pk": group.id, "name": group.name}),
                ),
                now,
            )
            .await?;
        }
        Op::CreateUser { user, groups } => {
            crate::names::check_username(&user.username)?;
            if !user.email.is_empty() {
                crate::names::check_email(&user.email)?;
            }
            // The unique index on the lower-cased name refuses a taken username.
            tx.insert_user(user)
                .await
                .map_err(|e| conflict(e, "user", &user.username))?;
            let mut ctx = json!({"model": "user", "pk": user.id, "username": user.username,
                                 "email": user.email, "name": user.name});
            if !groups.is_empty() {
                ctx["groups"] = json!(groups);
            }
            tx.append_event(event(action::MODEL_CREATED, Some(&user.username), ctx), now)
                .await?;
        }
        Op::UpdateUser { user: planned, fields } => {
            // Only the planned fields, onto the row as it is now (locked on
            // PostgreSQL): a password set or a sign-in since the plan's
            // snapshot must survive the apply.
            let mut user = tx
                .user_by_id(planned.id)
                .await?
                .ok_or_else(|| Error::not_found("user", &planned.username))?;
            for field in fields {
                match field.as_str() {
                    "username" => user.username = planned.username.clone(),
                    "email" => user.email = planned.email.clone(),
                    "name" => user.name = planned.name.clone(),
                    "is_active" => user.is_active = planned.is_active,
                    "attributes" => user.attributes = planned.attributes.clone(),
                    _ => {}
                }
            }
            crate::names::check_username(&user.username)?;
            if !user.email.is_empty() {
                crate::names::check_email(&user.email)?;
            }
            tx.update_user(&user)
                .await
                .map_err(|e| conflict(e, "user", &user.username))?;
            if !user.is_active {
                tx.delete_user_sessions(user.id, None).await?;
            }
            tx.append_event(
                event(
                    action::MODEL_UPDATED,
                    Some(&user.username),
                    json!({"model": "user", "pk": user.id, "username": user.username, "fields": fields}),
                ),
                now,
            )
            .await?;
        }
        Op::DeleteUser(user) => {
            tx.delete_user(user.id).await?;
            tx.append_event(
                event(
                    action::MODEL_DELETED,
                    Some(&user.username),
                    json!({"model": "user", "pk": user.id, "username": user.username}),
                ),
                now,
            )
            .await?;
        }
        Op::SetPassword {
            user_id,
            username,
            hash,
        }
        | Op::SetPasswordHash {
            user_id,
            username,
            hash,
        } => {
            let mut user = tx
                .user_by_id(*user_id)
                .await?
                .ok_or_else(|| Error::not_found("user", username))?;
            crate::directory::store_password(tx, audit, &mut user, hash.clone(), None, now).await?;
        }
        Op::AddMembership {
            user_id,
            group_id,
            username,
            group,
            announced,
        } => {
            if tx
                .add_membership(Membership {
                    user_id: *user_id,
                    group_id: *group_id,
                })
                .await?
                && !summarised
                && !announced
            {
                tx.append_event(
                    event(
                        action::MODEL_UPDATED,
                        Some(username),
                        json!({"model": "group", "name": group, "added": username}),
                    ),
                    now,
                )
                .await?;
            }
        }
        Op::RemoveMembership {
            user_id,
            group_id,
            username,
            group,
        } => {
            if tx
                .remove_membership(Membership {
                    user_id: *user_id,
                    group_id: *group_id,
                })
                .await?
            {
                tx.append_event(
                    event(
                        action::MODEL_UPDATED,
                        Some(username),
                        json!({"model": "group", "name": group, "removed": username}),
                    ),
                    now,
                )
                .await?;
            }
        }
        Op::CreateApplication { app, shown } => {
            crate::names::check_slug(&app.slug)?;
            crate::names::check_display_name(&app.name)?;
            if let Some(url) = &app.launch_url {
                crate::names::check_url("launch URL", url)?;
            }
            if tx.application_by_slug(&app.slug).await?.is_some() {
                return Err(Error::AlreadyExists {
                    kind: "application",
                    name: app.slug.clone(),
                });
            }
            tx.insert_application(app).await.map_err(|e| key_conflict(e, app))?;
            tx.append_event(
                event(
                    action::MODEL_CREATED,
                    None,
                    json!({"model": "application", "pk": app.id, "slug": app.slug, "name": app.name,
                           "provider": app.provider.map(|p| p.as_str()), "provider_config": shown}),
                ),
                now,
            )
            .await?;
        }
        Op::UpdateApplication { app, shown, fields } => {
            crate::names::check_slug(&app.slug)?;
            crate::names::check_display_name(&app.name)?;
            if let Some(url) = &app.launch_url {
                crate::names::check_url("launch URL", url)?;
            }
            tx.update_application(app).await.map_err(|e| key_conflict(e, app))?;
            tx.append_event(
                event(
                    action::MODEL_UPDATED,
                    None,
                    json!({"model": "application", "pk": app.id, "slug": app.slug, "fields": fields,
                           "provider_config": shown}),
                ),
                now,
            )
            .await?;
        }
        Op::DeleteApplication(app) => {
            tx.delete_application(app.id).await?;
            tx.append_event(
                event(
                    action::MODEL_DELETED,
                    None,
                    json!({"model": "application", "pk": app.id, "slug": app.slug}),
                ),
                now,
            )
            .await?;
        }
        Op::AddBinding {
            app_id,
            group_id,
            slug,
            group,
        } => {
            if tx
                .add_binding(Binding {
                    application_id: *app_id,
                    group_id: *group_id,
                })
                .await?
            {
                tx.append_event(
                    event(
                        action::MODEL_CREATED,
                        None,
                        json!({"model": "binding", "application": slug, "group": group}),
                    ),
                    now,
                )
                .await?;
            }
        }
        Op::RemoveBinding {
            app_id,
            group_id,
            slug,
            group,
        } => {
            if tx
                .remove_binding(Binding {
                    application_id: *app_id,
                    group_id: *group_id,
                })
                .await?
            {
                tx.append_event(
                    event(
                        action::MODEL_DELETED,
                        None,
                        json!({"model": "binding", "application": slug, "group": group}),
                    ),
                    now,
                )
                .await?;
            }
        }
        Op::CreateToken(token) => {
            tx.insert_api_token(token)
                .await
                .map_err(|e| conflict(e, "token", &token.identifier))?;
            if summarised {
                return Ok(());
            }
            tx.append_event(
                event(
                    action::MODEL_CREATED,
                    None,
                    json!({"model": "token", "pk": token.id, "identifier": token.identifier, "intent": token.intent}),
                ),
                now,
            )
            .await?;
        }
        Op::DeleteToken(token) => {
            tx.delete_api_token(token.id).await?;
            tx.append_event(
                event(
                    action::MODEL_DELETED,
                    None,
                    json!({"model": "token", "pk": token.id, "identifier": token.identifier}),
                ),
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// Records an event that goes with a change outside the database (the SSO
/// repair writing a service's env or trust file), in its own transaction.
pub async fn record_event(
    dir: &crate::Directory,
    audit: &Audit,
    action: &str,
    user: Option<&str>,
    context: Value,
) -> Result<()> {
    let mut tx = dir.store().begin().await?;
    tx.append_event(audit.event(action, user, context), dir.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Appends an event inside a caller's transaction (the bootstrap's summary).
pub async fn append_event(
    tx: &mut dyn WriteTx,
    audit: &Audit,
    action: &str,
    user: Option<&str>,
    context: Value,
    now: Timestamp,
) -> Result<()> {
    tx.append_event(audit.event(action, user, context), now).await?;
    Ok(())
}
