//! `/recovery/use-token/<key>/`: a one-time link from `gatehouse recovery key`.
//! GET shows the form without spending the key (so link previews cannot burn
//! it); POST spends it, sets the new password and signs the person in.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use gatehouse_core::Actor;
use gatehouse_core::flow::FlowKind;
use serde::Deserialize;

use crate::cookies;
use crate::errors::PageError;
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

pub async fn recovery_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let Some((_hash, user)) = directory.recovery_key_user(&key).await? else {
        return Ok(invalid_link(&state));
    };
    // A flow carries the CSRF token for the form.
    let (token, flow) = directory.begin_flow(FlowKind::Recovery, None).await?;
    let mut res = form_page(&state, &key, &user.username, &flow.state.csrf, None, StatusCode::OK);
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(cookies::FLOW, &token, None, state.config.secure_cookies()),
    );
    Ok(res)
}

pub async fn recovery_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    Path(key): Path<String>,
    headers: axum::http::HeaderMap,
    Form(form): Form<RecoveryForm>,
) -> Result<Response, PageError> {
    let flow = match cookies::read(&headers, cookies::FLOW) {
        Some(t) => directory.flow(&t).await?.filter(|f| f.state.kind == FlowKind::Recovery),
        None => None,
    };
    let Some(flow) = flow.filter(|f| csrf_ok(&f.state.csrf, &form.csrf_token)) else {
        return Err(PageError::Forbidden(
            "The form was not sent from this recovery page. Open the link again.",
        ));
    };
    let Some((hash, user)) = directory.recovery_key_user(&key).await? else {
        return Ok(invalid_link(&state));
    };
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
    let audit = caller.audit(Actor::User(user.username.clone()));
    match directory
        .complete_recovery(&audit, &hash, &form.new_password, &caller.client)
        .await
    {
        Ok((token, _session, _user)) => {
            directory.end_flow(&flow).await?;
            Ok(super::signed_in(&state, &directory, &token, "/if/user/"))
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
