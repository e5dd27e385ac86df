//! `/recovery/forgot/` (and authentik's `/if/flow/default-recovery-flow/`): a
//! person who forgot their password gives a username or email address; if it
//! names an active user with an address, the worker mails a one-time link to
//! `/recovery/use-token/<key>/`. The answer is the same page whether or not
//! anything matched, and the handler only enqueues (no SMTP in the request), so
//! it also takes about the same time. Requests are throttled per account and
//! per client address (`Directory::request_password_reset`).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::Actor;
use gatehouse_core::flow::FlowKind;
use gatehouse_core::jobs::ResetRequest;
use serde::Deserialize;

use crate::cookies;
use crate::errors::PageError;
use crate::pages::{Branding, render_with_status};
use crate::request::{Caller, Ready, csrf_ok};
use crate::state::AppState;

pub const FORGOT_PATH: &str = "/recovery/forgot/";
/// authentik's recovery flow, for bookmarks and links of the replaced deployment.
pub const AUTHENTIK_RECOVERY_PATH: &str = "/if/flow/default-recovery-flow/";

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    pub branding: Branding,
    pub enabled: bool,
    pub sent: bool,
    pub csrf: String,
    pub identifier: String,
    pub minutes: i64,
    pub error: Option<String>,
    pub action: &'static str,
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    csrf_token: String,
}

fn page(state: &AppState, csrf: &str) -> ForgotPage {
    ForgotPage {
        branding: state.branding(),
        enabled: state.config.recovery_email_minutes.is_some(),
        sent: false,
        csrf: csrf.into(),
        identifier: String::new(),
        minutes: state.config.recovery_email_minutes.unwrap_or(0),
        error: None,
        action: FORGOT_PATH,
    }
}

pub async fn forgot_get(State(state): State<AppState>, Ready(directory): Ready) -> Result<Response, PageError> {
    if state.config.recovery_email_minutes.is_none() {
        return Ok(render_with_status(StatusCode::OK, &page(&state, "")));
    }
    let (token, flow) = directory.sign_in().begin_flow(FlowKind::Recovery, None).await?;
    let mut res = render_with_status(StatusCode::OK, &page(&state, &flow.state.csrf));
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(cookies::FLOW, &token, None, state.config.secure_cookies()),
    );
    Ok(res)
}

pub async fn forgot_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    let Some(minutes) = state.config.recovery_email_minutes else {
        return Ok(render_with_status(StatusCode::NOT_FOUND, &page(&state, "")));
    };
    let flow = match cookies::read(&headers, cookies::FLOW) {
        Some(t) => directory
            .sign_in()
            .flow(&t)
            .await?
            .filter(|f| f.state.kind == FlowKind::Recovery),
        None => None,
    };
    let Some(flow) = flow.filter(|f| csrf_ok(&f.state.csrf, &form.csrf_token)) else {
        return Err(PageError::Forbidden(
            "The form was not sent from this page. Open the forgot-password page again.",
        ));
    };
    let identifier: String = form.identifier.trim().chars().take(254).collect();
    if identifier.is_empty() {
        let mut p = page(&state, &flow.state.csrf);
        p.error = Some("Give your username or email address.".into());
        return Ok(render_with_status(StatusCode::BAD_REQUEST, &p));
    }
    let audit = caller.audit(Actor::System);
    match directory
        .jobs()
        .request_password_reset(&audit, &identifier, minutes)
        .await?
    {
        ResetRequest::Accepted => {
            directory.sign_in().end_flow(&flow).await?;
            let mut p = page(&state, "");
            p.sent = true;
            p.identifier = identifier;
            let mut res = render_with_status(StatusCode::OK, &p);
            res.headers_mut().append(
                header::SET_COOKIE,
                cookies::clear(cookies::FLOW, state.config.secure_cookies()),
            );
            Ok(res)
        }
        ResetRequest::TooMany { retry_after_secs } => {
            let mut p = page(&state, &flow.state.csrf);
            p.identifier = identifier;
            p.error = Some(format!(
                "Too many requests from your address. Try again in {retry_after_secs} seconds."
            ));
            let mut res = render_with_status(StatusCode::TOO_MANY_REQUESTS, &p);
            if let Ok(v) = retry_after_secs.to_string().parse() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(res.into_response())
        }
    }
}
