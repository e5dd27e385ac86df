//! The sign-in flow: identify → password → (later: MFA) → back to `next`.
//!
//! The flow's state lives in the database, bound to the browser by the flow
//! cookie; each POST must carry the flow's CSRF token. Unknown users, wrong
//! passwords and disabled accounts all get the same answer.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::flow::{Flow, FlowKind, MfaPending, Stage};
use gatehouse_core::login::PasswordCheck;
use gatehouse_core::{Actor, Directory};
use serde::Deserialize;

use crate::cookies;
use crate::errors::PageError;
use crate::pages::{LoginIdentifyPage, LoginPasswordPage, render_with_status};
use crate::request::{Caller, Ready, csrf_ok, current_session};
use crate::state::AppState;

pub const LOGIN_PATH: &str = "/login";
const PASSWORD_PATH: &str = "/login/password";
const RESTART_PATH: &str = "/login/restart";

/// The same words for every failed sign-in, whatever the reason.
pub const SIGN_IN_FAILED: &str = "The username or password is not correct.";

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Sign in again even with a live session (OIDC `prompt=login`, `max_age`).
    force: Option<String>,
}

#[derive(Deserialize)]
pub struct IdentifyForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

/// The login flow behind the request's cookie, if it is one.
async fn login_flow(directory: &Directory, headers: &axum::http::HeaderMap) -> Result<Option<Flow>, PageError> {
    let Some(token) = cookies::read(headers, cookies::FLOW) else {
        return Ok(None);
    };
    Ok(directory
        .sign_in()
        .flow(&token)
        .await?
        .filter(|f| f.state.kind == FlowKind::Login))
}

/// GET /login (and /if/flow/default-authentication-flow/): the current step.
pub async fn login_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    Query(q): Query<NextQuery>,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    let next = q.next.as_deref().and_then(gatehouse_core::flow::safe_next);
    // Already signed in: single sign-on, straight on (unless asked to sign in again).
    let force = q.force.as_deref().is_some_and(|f| f == "1");
    if !force && current_session(&directory, &parts).await?.is_some() {
        return Ok(Redirect::to(next.as_deref().unwrap_or("/if/user/")).into_response());
    }
    let mut set_cookie = None;
    let mut flow = match login_flow(&directory, &parts.headers).await? {
        Some(mut f) => {
            if let Some(n) = next.as_ref().filter(|n| **n != f.state.next) {
                f.state.next = n.clone();
                f.state.stage = Stage::Identify;
                f.state.mfa = None;
                f.state.ceremony = None;
                directory.sign_in().save_flow(&mut f).await?;
            }
            f
        }
        None => {
            let (token, f) = directory.sign_in().begin_flow(FlowKind::Login, next.as_deref()).await?;
            set_cookie = Some(cookies::set(cookies::FLOW, &token, None, state.config.secure_cookies()));
            f
        }
    };
    if flow.state.stage != Stage::Identify && flow.state.stage != Stage::Password {
        flow.state.stage = Stage::Identify;
        flow.state.mfa = None;
        flow.state.ceremony = None;
        directory.sign_in().save_flow(&mut flow).await?;
    }
    let mut res = render_step(&state, &flow, None, StatusCode::OK);
    if let Some(c) = set_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

fn render_step(state: &AppState, flow: &Flow, error: Option<String>, status: StatusCode) -> Response {
    match flow.state.stage {
        Stage::Password => render_with_status(
            status,
            &LoginPasswordPage {
                branding: state.branding(),
                csrf: flow.state.csrf.clone(),
                error,
                identifier: flow.state.identifier.clone(),
                restart_url: RESTART_PATH.into(),
                action: PASSWORD_PATH.into(),
            },
        ),
        _ => render_with_status(
            status,
            &LoginIdentifyPage {
                branding: state.branding(),
                csrf: flow.state.csrf.clone(),
                error,
                identifier: flow.state.identifier.clone(),
                action: LOGIN_PATH.into(),
                passkey: state.directory().is_some_and(|d| d.mfa().passkeys_available()),
            },
        ),
    }
}

/// The flow for a POST, checked: it exists, is a login flow, and the CSRF token matches.
async fn posted_flow(directory: &Directory, headers: &axum::http::HeaderMap, csrf: &str) -> Result<Flow, PageError> {
    let flow = login_flow(directory, headers).await?.ok_or(PageError::Forbidden(
        "Your sign-in took too long or cookies are disabled. Start again.",
    ))?;
    if !csrf_ok(&flow.state.csrf, csrf) {
        return Err(PageError::Forbidden(
            "The form was not sent from this sign-in page. Start again.",
        ));
    }
    Ok(flow)
}

/// POST /login: the identify step.
pub async fn login_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    headers: axum::http::HeaderMap,
    Form(form): Form<IdentifyForm>,
) -> Result<Response, PageError> {
    let mut flow = posted_flow(&directory, &headers, &form.csrf_token).await?;
    let identifier = form.identifier.trim();
    if identifier.is_empty() || identifier.chars().count() > 254 || identifier.chars().any(char::is_control) {
        flow.state.stage = Stage::Identify;
        return Ok(render_step(
            &state,
            &flow,
            Some("Enter your username or email address.".into()),
            StatusCode::OK,
        ));
    }
    // Whether the user exists is not revealed here: every identifier gets the password step.
    flow.state.identifier = identifier.to_string();
    flow.state.stage = Stage::Password;
    flow.state.mfa = None;
    flow.state.ceremony = None;
    directory.sign_in().save_flow(&mut flow).await?;
    Ok(Redirect::to(LOGIN_PATH).into_response())
}

/// POST /login/password: the password step; on success, the session and `next`.
pub async fn password_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let flow = posted_flow(&directory, &headers, &form.csrf_token).await?;
    if flow.state.stage != Stage::Password {
        return Ok(Redirect::to(LOGIN_PATH).into_response());
    }
    let audit = caller.anonymous();
    let device = cookies::read(&headers, cookies::DEVICE);
    let check = directory
        .sign_in()
        .check_password_on(&audit, &flow.state.identifier, &form.password, device.as_deref())
        .await?;
    let user = match &check {
        PasswordCheck::Accepted { user, .. } => user.clone(),
        PasswordCheck::Rejected => {
            crate::telemetry::count_sign_in("failure");
            return Ok(render_step(&state, &flow, Some(SIGN_IN_FAILED.into()), StatusCode::OK));
        }
        PasswordCheck::Throttled { retry_after_secs } => {
            crate::telemetry::count_sign_in("throttled");
            let msg = format!("Too many failed attempts. Try again in {retry_after_secs} seconds.");
            let mut res = render_step(&state, &flow, Some(msg), StatusCode::TOO_MANY_REQUESTS);
            if let Ok(v) = retry_after_secs.to_string().parse() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(res);
        }
    };
    // MFA: a second factor (or enrolment, where policy requires MFA) before the session.
    if let Some(stage) = directory
        .sign_in()
        .stages_after_password(&user)
        .await?
        .into_iter()
        .next()
    {
        // The first authenticator only within a window (the password alone is not enough).
        if stage == Stage::MfaEnrol
            && !directory
                .mfa()
                .offer_enrolment(&caller.audit(Actor::User(user.username.clone())), &user)
                .await?
        {
            directory.sign_in().end_flow(&flow).await?;
            return Ok(crate::mfa::enrolment_closed_page(&state));
        }
        let mut flow = flow;
        flow.state.stage = stage;
        flow.state.ceremony = None;
        flow.state.mfa = Some(MfaPending {
            user_id: user.id,
            password_changed_at: user.password_changed_at,
            amr: vec!["pwd".into()],
            replace_session: None,
            passed: false,
        });
        directory.sign_in().save_flow(&mut flow).await?;
        let to = if stage == Stage::Mfa {
            crate::mfa::stage::MFA_PATH
        } else {
            crate::mfa::stage::ENROL_PATH
        };
        return Ok(Redirect::to(to).into_response());
    }
    let audit = caller.audit(Actor::User(user.username.clone()));
    let Some((token, _session, _user)) = directory
        .sign_in()
        .start_password_session(&audit, check, &caller.client)
        .await?
    else {
        return Ok(render_step(&state, &flow, Some(SIGN_IN_FAILED.into()), StatusCode::OK));
    };
    directory.sign_in().end_flow(&flow).await?;
    crate::telemetry::count_sign_in("success");
    super::signed_in(&state, &directory, &headers, user.id, &token, &flow.state.next).await
}

/// GET /login/restart: "Not you?" — back to the identify step, same `next`.
pub async fn restart_get(Ready(directory): Ready, headers: axum::http::HeaderMap) -> Result<Response, PageError> {
    if let Some(mut flow) = login_flow(&directory, &headers).await? {
        flow.state.stage = Stage::Identify;
        flow.state.identifier.clear();
        flow.state.mfa = None;
        flow.state.ceremony = None;
        directory.sign_in().save_flow(&mut flow).await?;
    }
    Ok(Redirect::to(LOGIN_PATH).into_response())
}
