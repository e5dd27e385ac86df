//! "My account": change password, see and revoke sessions.

use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::cookies;
use crate::errors::PageError;
use crate::pages::{AccountPage, SessionRow, render_with_status};
use crate::request::{Caller, Ready, SignedIn, csrf_ok};
use crate::state::AppState;

pub const ACCOUNT_PATH: &str = "/if/user/account/";
const PASSWORD_PATH: &str = "/if/user/account/password";
const REVOKE_PATH: &str = "/if/user/account/sessions/revoke";
pub const EVERYWHERE_PATH: &str = "/if/user/account/sessions/revoke-all";

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_repeat: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn account_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    me: SignedIn,
) -> Result<Response, PageError> {
    render_account(&state, &directory, &me, None, None, StatusCode::OK).await
}

async fn render_account(
    state: &AppState,
    directory: &gatehouse_core::Directory,
    me: &SignedIn,
    password_error: Option<String>,
    password_notice: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let sessions = directory.sessions().list(Some(&me.user.username)).await?;
    let rows = sessions
        .into_iter()
        .map(|l| {
            let s = l.session;
            let client = [s.client_ip.clone(), s.user_agent.as_deref().map(summarise_agent)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
            SessionRow {
                id: s.id.to_string(),
                created: s.created_at.to_rfc3339(),
                last_seen: s.last_seen.to_rfc3339(),
                client: if client.is_empty() { "unknown".into() } else { client },
                current: s.id == me.session.id,
            }
        })
        .collect();
    Ok(render_with_status(
        status,
        &AccountPage {
            branding: state.branding(),
            csrf: me.session.csrf_token.clone(),
            display_name: me.user.display_name(),
            username: me.user.username.clone(),
            email: me.user.email.clone(),
            password_error,
            password_notice,
            sessions: rows,
            logout_url: "/logout".into(),
            portal_url: "/if/user/".into(),
            password_action: PASSWORD_PATH.into(),
            revoke_action: REVOKE_PATH.into(),
            everywhere_action: EVERYWHERE_PATH.into(),
        },
    ))
}

/// "Firefox on Linux"-style summary of a user agent string.
fn summarise_agent(ua: &str) -> String {
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/", "curl/", "python-requests/"]
        .iter()
        .find(|b| ua.contains(*b))
        .map(|b| b.trim_end_matches('/').replace("Edg", "Edge"))
        .unwrap_or_else(|| "Browser".into());
    let os = ["Windows", "Android", "iPhone", "Mac OS X", "Linux"]
        .iter()
        .find(|o| ua.contains(*o))
        .map(|o| o.replace("Mac OS X", "macOS"));
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser,
    }
}

pub async fn password_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    if !csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        return Err(PageError::Forbidden(
            "The form was not sent from your account page. Reload it and try again.",
        ));
    }
    if form.new_password != form.new_password_repeat {
        return render_account(
            &state,
            &directory,
            &me,
            Some("The new passwords do not match.".into()),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let audit = caller.audit(me.actor());
    match directory
        .users()
        .change_own_password(&audit, &me.session, &form.current_password, &form.new_password)
        .await
    {
        Ok(()) => {
            render_account(
                &state,
                &directory,
                &me,
                None,
                Some("Your password was changed. Your other sessions were signed out.".into()),
                StatusCode::OK,
            )
            .await
        }
        Err(e) if e.is_caller_error() => {
            render_account(
                &state,
                &directory,
                &me,
                Some(capitalise(&e.to_string())),
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub async fn revoke_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    if !csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        return Err(PageError::Forbidden(
            "The form was not sent from your account page. Reload it and try again.",
        ));
    }
    let id = Uuid::parse_str(&form.session_id)
        .map_err(|_| PageError::Core(gatehouse_core::Error::invalid("session", "not a session id")))?;
    let audit = caller.audit(me.actor());
    directory.sessions().revoke(&audit, id, Some(me.user.id)).await?;
    if id == me.session.id {
        // Revoking this device is signing out.
        let mut res = Redirect::to("/login").into_response();
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::clear(cookies::SESSION, state.config.secure_cookies()),
        );
        return Ok(res);
    }
    Ok(Redirect::to(ACCOUNT_PATH).into_response())
}

#[derive(Deserialize)]
pub struct EverywhereForm {
    #[serde(default)]
    csrf_token: String,
}

/// "Sign out everywhere": every session of this person ends and every OAuth
/// grant is revoked (the same service as `gatehouse session revoke --user`).
pub async fn revoke_all_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<EverywhereForm>,
) -> Result<Response, PageError> {
    if !csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        return Err(PageError::Forbidden(
            "The form was not sent from your account page. Reload it and try again.",
        ));
    }
    let audit = caller.audit(me.actor());
    directory.sessions().revoke_user(&audit, &me.user.username).await?;
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(cookies::SESSION, state.config.secure_cookies()),
    );
    Ok(res)
}
