//! `/recovery/use-token/<key>/`: a one-time link from `gatehouse recovery key`.
//! GET shows the form without spending the key (so link previews cannot burn
//! it); POST spends it, sets the new password and signs the person in.
//!
//! MFA: a person with an authenticator must pass it (or use a recovery code)
//! first; the flow remembers that, for this key only, and the new password is
//! refused without it.
//!
//! The key is in the URL (authentik's link format), so these pages send no
//! `Referer` (the request log redacts the key: `crate::redact`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use gatehouse_core::Actor;
use gatehouse_core::flow::{Flow, FlowKind, MfaPending, Stage};
use serde::Deserialize;

use crate::cookies;
use crate::errors::PageError;
use crate::mfa::stage::{CodeForm, check_typed, render_stage};
use crate::pages::{MessagePage, RecoveryPage, render_with_status};
use crate::request::{Caller, Ready, csrf_ok};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct RecoveryForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_repeat: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
}

fn invalid_link(state: &AppState) -> Response {
    render_with_status(
        StatusCode::NOT_FOUND,
        &MessagePage {
            branding: state.branding(),
            title: "Link not valid".into(),
            message:
                "This recovery link is invalid, has expired or was already used. Ask an administrator for a new one."
                    .into(),
            link: Some(("/login".into(), "Go to sign-in".into())),
            status_class: "error",
        },
    )
}

fn form_page(
    state: &AppState,
    key: &str,
    username: &str,
    csrf: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    render_with_status(
        status,
        &RecoveryPage {
            branding: state.branding(),
            csrf: csrf.into(),
            username: username.into(),
            error,
            action: format!("/recovery/use-token/{key}/"),
        },
    )
}

/// The recovery flow of this browser for this key, if any.
async fn key_flow(
    directory: &gatehouse_core::Directory,
    headers: &axum::http::HeaderMap,
    hash: &str,
) -> Result<Option<Flow>, PageError> {
    Ok(match cookies::read(headers, cookies::FLOW) {
        Some(t) => directory
            .sign_in()
            .flow(&t)
            .await?
            .filter(|f| f.state.kind == FlowKind::Recovery && f.state.recovery_key_hash.as_deref() == Some(hash)),
        None => None,
    })
}

/// Whether the person behind `flow` still owes a second factor.
async fn owes_mfa(
    directory: &gatehouse_core::Directory,
    flow: &Flow,
    user: &gatehouse_core::User,
) -> Result<bool, PageError> {
    let has = !directory.mfa().authenticators(user.id).await?.is_empty();
    Ok(has
        && !flow
            .state
            .mfa
            .as_ref()
            .is_some_and(|m| m.passed && m.user_id == user.id))
}

/// Neither the page nor anything it loads or links to may carry its URL on.
fn without_referrer(res: Result<Response, PageError>) -> Response {
    let mut res = res.unwrap_or_else(axum::response::IntoResponse::into_response);
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    res
}

pub async fn recovery_get(
    state: State<AppState>,
    ready: Ready,
    key: Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    without_referrer(show(state, ready, key, headers).await)
}

pub async fn recovery_post(
    state: State<AppState>,
    ready: Ready,
    caller: Caller,
    key: Path<String>,
    headers: axum::http::HeaderMap,
    form: Form<RecoveryForm>,
) -> Response {
    without_referrer(submit(state, ready, caller, key, headers, form).await)
}

async fn show(
    State(state): State<AppState>,
    Ready(directory): Ready,
    Path(key): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    let Some((hash, user)) = directory.recovery().key_user(&key).await? else {
        return Ok(invalid_link(&state));
    };
    // This browser's flow for this key (kept across the MFA step), or a new one.
    let (cookie, mut flow) = match key_flow(&directory, &headers, &hash).await? {
        Some(f) => (None, f),
        None => {
            let (token, mut f) = directory.sign_in().begin_flow(FlowKind::Recovery, None).await?;
            f.state.recovery_key_hash = Some(hash.clone());
            f.state.user_id = Some(user.id);
            directory.sign_in().save_flow(&mut f).await?;
            (Some(token), f)
        }
    };
    let mut res = if owes_mfa(&directory, &flow, &user).await? {
        if flow.state.stage != Stage::Mfa {
            flow.state.stage = Stage::Mfa;
            flow.state.mfa = Some(MfaPending {
                user_id: user.id,
                password_changed_at: user.password_changed_at,
                amr: Vec::new(),
                replace_session: None,
                passed: false,
            });
            directory.sign_in().save_flow(&mut flow).await?;
        }
        let action = format!("/recovery/use-token/{key}/");
        render_stage(&state, &directory, &flow, &user, &action, None, StatusCode::OK).await?
    } else {
        form_page(&state, &key, &user.username, &flow.state.csrf, None, StatusCode::OK)
    };
    if let Some(token) = cookie {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(cookies::FLOW, &token, None, state.config.secure_cookies()),
        );
    }
    Ok(res)
}

async fn submit(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    Path(key): Path<String>,
    headers: axum::http::HeaderMap,
    Form(form): Form<RecoveryForm>,
) -> Result<Response, PageError> {
    let Some((hash, user)) = directory.recovery().key_user(&key).await? else {
        return Ok(invalid_link(&state));
    };
    let flow = key_flow(&directory, &headers, &hash).await?;
    let Some(mut flow) = flow.filter(|f| csrf_ok(&f.state.csrf, &form.csrf_token)) else {
        return Err(PageError::Forbidden(
            "The form was not sent from this recovery page. Open the link again.",
        ));
    };
    if owes_mfa(&directory, &flow, &user).await? {
        let action = format!("/recovery/use-token/{key}/");
        if flow.state.stage != Stage::Mfa || (form.code.trim().is_empty() && form.recovery_code.trim().is_empty()) {
            return render_stage(
                &state,
                &directory,
                &flow,
                &user,
                &action,
                Some("Verify it’s you before choosing a new password.".into()),
                StatusCode::FORBIDDEN,
            )
            .await;
        }
        let code = CodeForm {
            code: form.code.clone(),
            recovery_code: form.recovery_code.clone(),
            csrf_token: form.csrf_token.clone(),
        };
        match check_typed(&state, &directory, &caller, &flow, &user, &code, &action).await? {
            Ok(amr) => {
                flow.state.stage = Stage::SetPassword;
                flow.state.mfa = Some(MfaPending {
                    user_id: user.id,
                    password_changed_at: user.password_changed_at,
                    amr: vec![amr.to_string()],
                    replace_session: None,
                    passed: true,
                });
                directory.sign_in().save_flow(&mut flow).await?;
                return Ok(form_page(
                    &state,
                    &key,
                    &user.username,
                    &flow.state.csrf,
                    None,
                    StatusCode::OK,
                ));
            }
            Err(page) => return Ok(page),
        }
    }
    if form.new_password != form.new_password_repeat {
        return Ok(form_page(
            &state,
            &key,
            &user.username,
            &flow.state.csrf,
            Some("The passwords do not match.".into()),
            StatusCode::BAD_REQUEST,
        ));
    }
    let amr: Vec<String> = match flow.state.mfa.as_ref().filter(|m| m.passed && m.user_id == user.id) {
        Some(m) => gatehouse_core::mfa::combine_amr(&["pwd".to_string()], m.amr.first().map_or("otp", String::as_str)),
        None => vec!["pwd".into()],
    };
    let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
    let audit = caller.audit(Actor::User(user.username.clone()));
    match directory
        .recovery()
        .complete_with(&audit, &hash, &form.new_password, &caller.client, &amr)
        .await
    {
        Ok((token, session, user)) => {
            directory.sign_in().end_flow(&flow).await?;
            // MFA: someone policy requires MFA of, without any, enrols before going on.
            let to = if !session.amr.iter().any(|a| a == "mfa") && directory.mfa().required_for(&user).await? {
                crate::mfa::step_up_url("/if/user/")
            } else {
                "/if/user/".to_string()
            };
            super::signed_in(&state, &directory, &headers, user.id, &token, &to).await
        }
        Err(gatehouse_core::Error::PasswordRejected(why)) => Ok(form_page(
            &state,
            &key,
            &user.username,
            &flow.state.csrf,
            Some(format!("Choose another password: {why}.")),
            StatusCode::BAD_REQUEST,
        )),
        Err(e) if e.is_caller_error() => Ok(invalid_link(&state)),
        Err(e) => Err(e.into()),
    }
}
