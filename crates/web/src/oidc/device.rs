//! The device flow (RFC 8628) over HTTP: the device's request at
//! POST /application/o/device/, and the person's pages at /device, where a
//! signed-in person types the code, sees what asks, and allows or denies.
//! Decisions (opt-in per client, throttling, the gate) are the provider's.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use gatehouse_oidc::paths;
use gatehouse_oidc::service::DeviceOutcome;
use serde::Deserialize;

use super::pages::{DeviceConfirmPage, DevicePage, message, permissions};
use super::reply::{JsonResult, authorization, form, json, provider};
use super::runtime::OidcRuntime;
use crate::errors::PageError;
use crate::pages::{render, render_with_status};
use crate::request::{Caller, SignedIn, csrf_ok};
use crate::state::AppState;

pub const CONFIRM_PATH: &str = "/device/confirm";

const UNKNOWN_CODE: &str = "This code is not valid or has expired. Check the code on your device.";

/// POST /application/o/device/: a device asks for a code pair.
pub async fn device_authorization_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let provider = provider(&state, &rt)?;
    let form = form(&headers, &body)?;
    let body = provider.start_device(authorization(&headers), &form).await?;
    Ok(json(StatusCode::OK, &body))
}

#[derive(Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

/// GET /device: the code form (prefilled from `verification_uri_complete`).
pub async fn verify_get(State(state): State<AppState>, me: SignedIn, Query(q): Query<CodeQuery>) -> Response {
    render(&DevicePage {
        branding: state.branding(),
        csrf: me.session.csrf_token.clone(),
        code: q.code.unwrap_or_default().chars().take(16).collect(),
        error: None,
        action: paths::DEVICE_VERIFY.into(),
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    decision: String,
}

/// POST /device: the code was typed; show what asks.
pub async fn verify_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let provider = rt.provider(&state).ok_or(PageError::Starting)?;
    check_csrf(&me, &form)?;
    let me_pair = (me.session, me.user);
    let outcome = provider
        .device_code_entered(&me_pair, &form.user_code, &caller.anonymous())
        .await?;
    Ok(render_outcome(&state, &me_pair.0.csrf_token, &form.user_code, outcome))
}

/// POST /device/confirm: allow or deny.
pub async fn confirm_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let provider = rt.provider(&state).ok_or(PageError::Starting)?;
    check_csrf(&me, &form)?;
    let me_pair = (me.session, me.user);
    let allow = form.decision == "allow";
    let outcome = provider
        .device_decision(&me_pair, &form.user_code, allow, &caller.anonymous())
        .await?;
    Ok(render_outcome(&state, &me_pair.0.csrf_token, &form.user_code, outcome))
}

fn check_csrf(me: &SignedIn, form: &CodeForm) -> Result<(), PageError> {
    if csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        Ok(())
    } else {
        Err(PageError::Forbidden(
            "The form was not sent from this page. Start again.",
        ))
    }
}

fn code_page(state: &AppState, csrf: &str, code: &str, status: StatusCode, error: String) -> Response {
    render_with_status(
        status,
        &DevicePage {
            branding: state.branding(),
            csrf: csrf.to_string(),
            code: code.chars().take(16).collect(),
            error: Some(error),
            action: paths::DEVICE_VERIFY.into(),
        },
    )
}

fn render_outcome(state: &AppState, csrf: &str, typed: &str, outcome: DeviceOutcome) -> Response {
    match outcome {
        DeviceOutcome::UnknownCode => code_page(state, csrf, typed, StatusCode::OK, UNKNOWN_CODE.into()),
        DeviceOutcome::Throttled { retry_after_secs } => {
            let mut res = code_page(
                state,
                csrf,
                "",
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many wrong codes. Try again in {retry_after_secs} seconds."),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        DeviceOutcome::StepUp { return_to } => Redirect::to(&crate::mfa::step_up_url(&return_to)).into_response(),
        DeviceOutcome::NoAccess { app_name } => message(
            state,
            StatusCode::FORBIDDEN,
            "No access",
            &format!("You may not use {app_name}. Ask an administrator to give you access."),
            true,
        ),
        DeviceOutcome::Confirm(prompt) => render(&DeviceConfirmPage {
            branding: state.branding(),
            csrf: csrf.to_string(),
            code: prompt.code,
            app_name: prompt.app_name,
            username: prompt.username,
            permissions: permissions(&prompt.scopes),
            action: CONFIRM_PATH.into(),
        }),
        DeviceOutcome::Decided {
            allowed: true,
            app_name,
        } => message(
            state,
            StatusCode::OK,
            "Device connected",
            &format!("Your device is now signed in to {app_name}. You can close this page."),
            false,
        ),
        DeviceOutcome::Decided { allowed: false, .. } => message(
            state,
            StatusCode::OK,
            "Request denied",
            "The device was not signed in.",
            false,
        ),
    }
}
