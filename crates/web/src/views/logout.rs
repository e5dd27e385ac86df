//! Signing out: `/logout` and authentik's `/if/flow/default-invalidation-flow/`.
//!
//! A GET only asks ("Sign out of Gatehouse?"): services and authentik's outpost
//! link here, and so could any other site, so a link must not sign anyone out.
//! The POST signs out when it carries the session's CSRF token (the portal's
//! "Sign out" button and the confirmation send it); without it, the person is
//! asked again.

use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::cookies;
use crate::errors::PageError;
use crate::pages::{LogoutConfirmPage, MessagePage, render, render_with_status};
use crate::request::{Caller, Ready, csrf_ok, current_session};
use crate::state::AppState;

pub const LOGOUT_PATH: &str = "/logout";

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

/// GET: the confirmation, or "signed out" when there is no session.
pub async fn logout_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    match current_session(&directory, &parts).await? {
        Some((session, user)) => Ok(confirm(&state, &session.csrf_token, &user.username, StatusCode::OK)),
        None => Ok(signed_out(&state)),
    }
}

/// POST: signs out with the session's CSRF token; asks again without it.
pub async fn logout_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    let live = match cookies::read(&headers, cookies::SESSION) {
        Some(token) => directory.sessions().get(&token).await?,
        None => None,
    };
    let Some((session, user)) = live else {
        return Ok(signed_out(&state));
    };
    if !csrf_ok(&session.csrf_token, &form.csrf_token) {
        return Ok(confirm(
            &state,
            &session.csrf_token,
            &user.username,
            StatusCode::FORBIDDEN,
        ));
    }
    let audit = caller.audit(gatehouse_core::Actor::User(user.username.clone()));
    directory.sessions().end(&audit, &session, &user.username).await?;
    Ok(signed_out(&state))
}

fn confirm(state: &AppState, csrf: &str, username: &str, status: StatusCode) -> Response {
    render_with_status(
        status,
        &LogoutConfirmPage {
            branding: state.branding(),
            csrf: csrf.into(),
            username: username.into(),
            action: LOGOUT_PATH.into(),
        },
    )
}

fn signed_out(state: &AppState) -> Response {
    let mut res = render(&MessagePage {
        branding: state.branding(),
        title: "Signed out".into(),
        message: "You have signed out of Gatehouse.".into(),
        link: Some(("/login".into(), "Sign in again".into())),
        status_class: "info",
    })
    .into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(cookies::SESSION, state.config.secure_cookies()),
    );
    res
}
