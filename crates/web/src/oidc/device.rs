//! The device flow (RFC 8628): the device's request at
//! POST /application/o/device/, and the person's pages at /device, where a
//! signed-in person types the code, sees what asks, and allows or denies.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use gatehouse_core::oauth::clients::random_bytes;
use gatehouse_core::oauth::model::{DeviceCode, DeviceStatus, Grant};
use gatehouse_core::{Actor, StoreError};
use gatehouse_crypto::{random_token, sha256_hex};
use gatehouse_oidc::{device, paths, scope};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{DeviceConfirmPage, DevicePage, message, permissions};
use super::reply::{JsonResult, directory, form, json};
use super::runtime::OidcRuntime;
use super::token::authenticate;
use crate::errors::PageError;
use crate::pages::render;
use crate::request::{Caller, Ready, SignedIn, csrf_ok};
use crate::state::AppState;

pub const CONFIRM_PATH: &str = "/device/confirm";

/// POST /application/o/device/: a device asks for a code pair.
pub async fn device_authorization_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let dir = directory(&state)?;
    let form = form(&headers, &body)?;
    let client = authenticate(&rt, dir, &headers, &form).await?;
    let scopes = scope::parse(form.get("scope"));
    let now = dir.now();
    let device_code = random_token(32);
    // A clash of user codes (2^34 space) is retried once with a new code.
    for _ in 0..2 {
        let random = random_bytes();
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&random[..8]);
        let user_code = device::user_code(&eight);
        let record = DeviceCode {
            device_code_hash: sha256_hex(device_code.as_bytes()),
            user_code: user_code.clone(),
            application_id: client.app.id,
            scopes: scopes.clone(),
            created_at: now,
            expires_at: now.plus_seconds(device::LIFETIME_SECS),
            interval_secs: device::INTERVAL_SECS,
            last_poll_at: None,
            status: DeviceStatus::Pending,
            grant_id: None,
        };
        match dir.oauth().start_device(&record).await {
            Ok(()) => {
                let verify = format!("{}{}", state.config.external_url, paths::DEVICE_VERIFY);
                return Ok(json(
                    StatusCode::OK,
                    &device::response(&device_code, &user_code, &verify),
                ));
            }
            Err(gatehouse_core::Error::Store(StoreError::Conflict(_))) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(gatehouse_oidc::OAuthError::server_error().into())
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

fn code_page(state: &AppState, me: &SignedIn, code: &str, error: &str) -> Response {
    crate::pages::render_with_status(
        StatusCode::OK,
        &DevicePage {
            branding: state.branding(),
            csrf: me.session.csrf_token.clone(),
            code: code.chars().take(16).collect(),
            error: Some(error.into()),
            action: paths::DEVICE_VERIFY.into(),
        },
    )
}

const UNKNOWN_CODE: &str = "This code is not valid or has expired. Check the code on your device.";

/// The device request a posted form names: checks the CSRF token, then finds the
/// pending code and its application. `Err(page)` is the answer to show instead.
async fn pending_request(
    state: &AppState,
    dir: &gatehouse_core::Directory,
    me: &SignedIn,
    form: &CodeForm,
) -> Result<Result<(String, DeviceCode, gatehouse_core::Application), Response>, PageError> {
    if !csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        return Err(PageError::Forbidden(
            "The form was not sent from this page. Start again.",
        ));
    }
    let unknown = || Ok(Err(code_page(state, me, &form.user_code, UNKNOWN_CODE)));
    let Some(code) = device::normalize_user_code(&form.user_code) else {
        return unknown();
    };
    let Some(pending) = dir.oauth().pending_device_code(&code).await? else {
        return unknown();
    };
    let Some(app) = dir.apps().by_id(pending.application_id).await? else {
        return unknown();
    };
    Ok(Ok((code, pending, app)))
}

/// POST /device: the code was typed; show what asks.
pub async fn verify_post(
    State(state): State<AppState>,
    Ready(dir): Ready,
    me: SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let (code, pending, app) = match pending_request(&state, &dir, &me, &form).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    if !dir.access().may_use(&me.user, &app).await? {
        return Ok(message(
            &state,
            StatusCode::FORBIDDEN,
            "No access",
            &format!("You may not use {}. Ask an administrator to give you access.", app.name),
            true,
        ));
    }
    Ok(render(&DeviceConfirmPage {
        branding: state.branding(),
        csrf: me.session.csrf_token.clone(),
        code: device::display_user_code(&code),
        app_name: app.name.clone(),
        username: me.user.username.clone(),
        permissions: permissions(&pending.scopes),
        action: CONFIRM_PATH.into(),
    }))
}

/// POST /device/confirm: allow or deny.
pub async fn confirm_post(
    State(state): State<AppState>,
    Ready(dir): Ready,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let (code, pending, app) = match pending_request(&state, &dir, &me, &form).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let audit = caller.audit(Actor::User(me.user.username.clone()));
    let allow = form.decision == "allow";
    if allow && !dir.access().may_use(&me.user, &app).await? {
        return Ok(message(
            &state,
            StatusCode::FORBIDDEN,
            "No access",
            "You may not use this application.",
            true,
        ));
    }
    let now = dir.now();
    let grant = allow.then(|| Grant {
        id: Uuid::new_v4(),
        application_id: app.id,
        user_id: me.user.id,
        session_id: Some(me.session.id),
        scopes: pending.scopes.clone(),
        auth_time: me.session.created_at,
        amr: me.session.amr.clone(),
        nonce: None,
        created_at: now,
        // Refresh tokens are capped by the client's validity within this.
        expires_at: now.plus_seconds(if scope::has(&pending.scopes, scope::OFFLINE_ACCESS) {
            366 * 86_400
        } else {
            86_400
        }),
        revoked_at: None,
    });
    if !dir
        .oauth()
        .decide_device_code(&audit, &code, &me.user, &app, grant)
        .await?
    {
        return Ok(code_page(&state, &me, &form.user_code, UNKNOWN_CODE));
    }
    Ok(if allow {
        message(
            &state,
            StatusCode::OK,
            "Device connected",
            &format!("Your device is now signed in to {}. You can close this page.", app.name),
            false,
        )
    } else {
        message(
            &state,
            StatusCode::OK,
            "Request denied",
            "The device was not signed in.",
            false,
        )
    })
}
