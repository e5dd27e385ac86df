//! One user's page (`/if/admin/users/{username}/`) and its actions, one
//! POST route per user whose last segment names the action.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::EventFilter;
use gatehouse_core::users::UserChange;
use serde::Deserialize;

use super::guard::{Admin, AdminForm};
use super::views::{EventRow, Flash, GrantRow, ReachRow, SessionRow, UserPage};
use super::{Confirm, chrome, confirm_page, event_rows, user_url};
use crate::components::{When, when};
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

/// Events shown on a user's page.
const RECENT_EVENTS: u32 = 20;
/// How long an admin-made recovery link works.
const RECOVERY_MINUTES: i64 = 60;

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// The notice after an action, from `?done=`.
fn done_flash(done: &str) -> Option<Flash> {
    let text = match done {
        "created" => "User created.",
        "saved" => "Changes saved.",
        "disabled" => "User disabled: their sessions and grants ended.",
        "enabled" => "User enabled.",
        "revoked" => "Every session and OAuth grant of this user ended.",
        "mfa-reset" => "Second factors removed; the user can enrol a new one.",
        "mailed" => "A recovery mail is on its way.",
        "grant-revoked" => "The grant was revoked.",
        "group-added" => "Added to the group.",
        "group-removed" => "Removed from the group.",
        _ => return None,
    };
    Some(Flash {
        ok: true,
        text: text.into(),
    })
}

pub(crate) async fn render_user(
    state: &AppState,
    admin: &Admin,
    username: &str,
    flash: Option<Flash>,
    once: Option<(String, String)>,
) -> Result<Response, PageError> {
    let dir = &admin.directory;
    let now = dir.now();
    let detail = dir.users().detail(username).await?;
    let user = &detail.user;
    let reach = dir
        .access()
        .reach(user)
        .await?
        .into_iter()
        .map(|r| ReachRow {
            why: match (r.allowed, r.bound.is_empty()) {
                (true, true) => "open to every active user (no group bound)".into(),
                (true, false) => format!("through {}", r.via.join(", ")),
                (false, _) if !user.is_active => "the account is disabled".into(),
                (false, _) => format!("bound to {}, not a member", r.bound.join(", ")),
            },
            name: r.application.name,
            slug: r.application.slug,
            allowed: r.allowed,
        })
        .collect();
    let sessions = dir
        .sessions()
        .list(Some(&user.username))
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.session.id.to_string(),
            client: [s.session.client_ip.clone(), s.session.user_agent.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            created: When {
                at: s.session.created_at,
                now,
            },
            last_seen: When {
                at: s.session.last_seen,
                now,
            },
            mfa: s.session.amr.iter().any(|a| a == "mfa"),
        })
        .collect();
    let apps = dir.apps().list().await?;
    let grants = dir
        .oauth()
        .live_grants(user)
        .await?
        .into_iter()
        .map(|g| GrantRow {
            id: g.id.to_string(),
            application: apps
                .iter()
                .find(|a| a.app.id == g.application_id)
                .map_or_else(|| g.application_id.to_string(), |a| a.app.name.clone()),
            scopes: g.scopes.join(" "),
            created: When { at: g.created_at, now },
            expires: When { at: g.expires_at, now },
        })
        .collect();
    let filter = EventFilter {
        user: Some(user.username.clone()),
        limit: RECENT_EVENTS,
        ..Default::default()
    };
    let events: Vec<EventRow> = event_rows(dir.events().list(&filter).await?, now);
    let mfa = dir
        .mfa()
        .authenticators(user.id)
        .await?
        .into_iter()
        .map(|a| (a.name, a.kind.label(), When { at: a.created_at, now }))
        .collect();
    Ok(render(&UserPage {
        branding: state.branding(),
        chrome: chrome(admin, "users"),
        flash,
        username: user.username.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        active: user.is_active,
        superuser: detail.is_superuser,
        has_password: detail.has_password,
        created: When {
            at: user.created_at,
            now,
        },
        last_login: when(user.last_login, now),
        mfa,
        groups: detail.groups.clone(),
        inherited_groups: detail.inherited_groups.clone(),
        reach,
        sessions,
        grants,
        events,
        once,
    }))
}

/// GET /if/admin/users/{username}/
pub async fn user_get(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    render_user(&state, &admin, &username, done_flash(&q.done), None).await
}

#[derive(Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    grant: String,
}

/// What a destructive action will do, for its confirmation page:
/// `(title, consequence, button)`.
fn consequence(op: &str, username: &str) -> Option<(String, String, String)> {
    let (title, what, button) = match op {
        "disable" => (
            "Disable",
            format!(
                "{username} will be signed out everywhere, every OAuth grant revoked, and no sign-in will work until an administrator enables the account again."
            ),
            "Disable user",
        ),
        "revoke-sessions" => (
            "Sign out everywhere",
            format!(
                "Every browser session of {username} ends and every OAuth grant (refresh tokens, and access tokens checked against them) is revoked. They can sign in again."
            ),
            "Revoke all sessions",
        ),
        "revoke-grant" => (
            "End an OAuth grant of",
            format!(
                "The application loses the refresh token of this grant, and its access tokens stop passing introspection and userinfo. {username} stays signed in to Gatehouse; the application can ask again."
            ),
            "Revoke grant",
        ),
        "reset-mfa" => (
            "Reset second factors",
            format!(
                "Every authenticator and recovery code of {username} is deleted and their sessions end. They can enrol a new authenticator at their next sign-in."
            ),
            "Reset MFA",
        ),
        _ => return None,
    };
    Some((format!("{title} {username}?"), what, button.to_string()))
}

/// POST /if/admin/users/{username}/{op}
pub async fn action_post(
    State(state): State<AppState>,
    Path((username, op)): Path<(String, String)>,
    AdminForm(admin, form): AdminForm<ActionForm>,
) -> Result<Response, PageError> {
    if form.confirm != "yes"
        && let Some((title, what, button)) = consequence(&op, &username)
    {
        let confirm = Confirm {
            title,
            consequence: what,
            action: format!("{}{op}", user_url(&username)),
            fields: vec![("grant".into(), form.grant.clone())],
            button,
            back: user_url(&username),
        };
        return Ok(confirm_page(&state, &admin, "users", confirm));
    }
    let dir = &admin.directory;
    let audit = admin.audit();
    let done = |what: &str| Ok(Redirect::to(&format!("{}?done={what}", user_url(&username))).into_response());
    let outcome = match op.as_str() {
        "edit" => {
            let change = UserChange {
                name: Some(form.name.trim().to_string()),
                email: Some(form.email.trim().to_string()),
                ..UserChange::default()
            };
            dir.users().update(&audit, &username, &change).await.map(|_| "saved")
        }
        "disable" => dir
            .users()
            .set_active(&audit, &username, false)
            .await
            .map(|_| "disabled"),
        "enable" => dir.users().set_active(&audit, &username, true).await.map(|_| "enabled"),
        "revoke-sessions" => dir.sessions().revoke_user(&audit, &username).await.map(|_| "revoked"),
        "reset-mfa" => dir.mfa().reset(&audit, &username).await.map(|_| "mfa-reset"),
        "revoke-grant" => match uuid::Uuid::parse_str(form.grant.trim()) {
            Ok(id) => dir
                .oauth()
                .revoke_user_grant(&audit, &username, id)
                .await
                .map(|_| "grant-revoked"),
            Err(_) => Err(gatehouse_core::Error::not_found("grant", form.grant.clone())),
        },
        "recovery-mail" => {
            let minutes = state.config.recovery_email_minutes.unwrap_or(RECOVERY_MINUTES);
            dir.jobs()
                .queue_recovery_mail(&audit, &username, minutes)
                .await
                .map(|_| "mailed")
        }
        "recovery-link" => {
            let (key, _) = dir.recovery().create_key(&audit, &username, RECOVERY_MINUTES).await?;
            let link = format!(
                "{}/recovery/use-token/{key}/",
                state.config.external_url.trim_end_matches('/')
            );
            let label = format!("Recovery link for {username} (works once, for {RECOVERY_MINUTES} minutes)");
            return render_user(&state, &admin, &username, None, Some((label, link))).await;
        }
        "password" => {
            let generated = form.password.is_empty();
            let password = if generated {
                dir.users().generate_password()
            } else {
                form.password.clone()
            };
            match dir.users().set_password(&audit, &username, &password).await {
                Ok(()) if generated => {
                    let label = format!("New password for {username} (shown once)");
                    return render_user(&state, &admin, &username, None, Some((label, password))).await;
                }
                other => other.map(|()| "saved"),
            }
        }
        "add-group" => dir
            .groups()
            .add_member(&audit, form.group.trim(), &username)
            .await
            .map(|_| "group-added"),
        "remove-group" => dir
            .groups()
            .remove_member(&audit, form.group.trim(), &username)
            .await
            .map(|_| "group-removed"),
        _ => return Err(PageError::Core(gatehouse_core::Error::not_found("action", op))),
    };
    match outcome {
        Ok(what) => done(what),
        Err(e) if e.is_caller_error() => {
            let flash = Some(Flash {
                ok: false,
                text: e.to_string(),
            });
            render_user(&state, &admin, &username, flash, None).await
        }
        Err(e) => Err(e.into()),
    }
}
