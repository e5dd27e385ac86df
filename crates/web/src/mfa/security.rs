//! The portal's Security page (`/if/user/security/`): authenticators listed,
//! added and removed; recovery codes counted and renewed.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::pages::{AuthenticatorRow, MfaCodesPage, SecurityPage, SecurityTotpPage};
use super::stage::sentence;
use super::{json_error, json_page_error, qr_data_uri};
use crate::errors::PageError;
use crate::pages::render_with_status;
use crate::request::{Caller, Ready, SignedIn, csrf_ok};
use crate::state::AppState;
use gatehouse_core::mfa::TotpAttempt;

pub const SECURITY_PATH: &str = "/if/user/security/";
const TOTP_PATH: &str = "/if/user/security/totp";

#[derive(Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    pending: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct IdForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct PasskeyBody {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    credential: Option<Value>,
}

/// Once a user has a second factor, managing factors (adding, removing,
/// new recovery codes) needs a session that passed MFA: a stolen
/// password alone must not remove the factor that guards it. `Some(page)` is
/// where to send the caller instead (the step-up stage, back to the security page).
async fn step_up_first(directory: &Directory, me: &SignedIn) -> Result<Option<String>, PageError> {
    if me.session.amr.iter().any(|a| a == "mfa") || directory.mfa().authenticators(me.user.id).await?.is_empty() {
        return Ok(None);
    }
    Ok(Some(super::step_up_url(SECURITY_PATH)))
}

const STEP_UP_FIRST: &str = "Confirm your second factor first.";

const BAD_FORM: &str = "The form was not sent from this page. Reload it and try again.";

async fn render_security(
    state: &AppState,
    directory: &Directory,
    me: &SignedIn,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let mfa = directory.mfa().status(&me.user).await?;
    Ok(render_with_status(
        status,
        &SecurityPage {
            branding: state.branding(),
            csrf: me.session.csrf_token.clone(),
            display_name: me.user.display_name(),
            username: me.user.username.clone(),
            logout_url: "/logout".into(),
            authenticators: mfa
                .authenticators
                .iter()
                .map(|a| AuthenticatorRow {
                    id: a.id.to_string(),
                    name: a.name.clone(),
                    kind: a.kind.label(),
                    created: crate::components::When {
                        at: a.created_at,
                        now: directory.now(),
                    },
                    last_used: crate::components::when(a.last_used_at, directory.now()),
                })
                .collect(),
            codes_left: mfa.recovery_codes_left,
            required: mfa.required,
            passkeys: directory.mfa().passkeys_available(),
            notice,
            error,
        },
    ))
}

/// GET /if/user/security/
pub async fn security_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    me: SignedIn,
) -> Result<Response, PageError> {
    // Listing is not managing: the actions on this page step up.
    render_security(&state, &directory, &me, None, None, StatusCode::OK).await
}

fn totp_page(
    state: &AppState,
    me: &SignedIn,
    enrolment: &gatehouse_core::mfa::TotpEnrolment,
    error: Option<String>,
) -> Response {
    render_with_status(
        // A wrong code is an answer, not a bad request (as for passwords).
        StatusCode::OK,
        &SecurityTotpPage {
            branding: state.branding(),
            csrf: me.session.csrf_token.clone(),
            display_name: me.user.display_name(),
            username: me.user.username.clone(),
            logout_url: "/logout".into(),
            error,
            qr_data_uri: qr_data_uri(&enrolment.uri),
            secret: enrolment.secret_base32.clone(),
            pending: enrolment.pending.clone(),
            action: TOTP_PATH.into(),
        },
    )
}

/// GET /if/user/security/totp: a new secret, its QR code and the first-code form.
pub async fn totp_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    me: SignedIn,
) -> Result<Response, PageError> {
    if let Some(to) = step_up_first(&directory, &me).await? {
        return Ok(Redirect::to(&to).into_response());
    }
    if !directory.mfa().may_enrol(&me.user).await? {
        let closed = Some(super::ENROLMENT_CLOSED.to_string());
        return render_security(&state, &directory, &me, None, closed, StatusCode::FORBIDDEN).await;
    }
    let enrolment = directory.mfa().begin_totp(&me.user)?;
    Ok(totp_page(&state, &me, &enrolment, None))
}

fn codes_page(state: &AppState, codes: Vec<String>) -> Response {
    render_with_status(
        StatusCode::OK,
        &MfaCodesPage {
            branding: state.branding(),
            codes,
            continue_url: SECURITY_PATH.into(),
        },
    )
}

/// POST /if/user/security/totp: the first code finishes the enrolment.
pub async fn totp_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<TotpForm>,
) -> Result<Response, PageError> {
    if !csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        return Err(PageError::Forbidden(BAD_FORM));
    }
    if let Some(to) = step_up_first(&directory, &me).await? {
        return Ok(Redirect::to(&to).into_response());
    }
    let audit = caller.audit(me.actor());
    match directory
        .mfa()
        .enrol_totp(&audit, &me.user, &form.name, &form.pending, &form.code)
        .await
    {
        Ok(TotpAttempt::Added {
            recovery_codes: Some(codes),
            ..
        }) => Ok(codes_page(&state, codes)),
        Ok(TotpAttempt::Added { authenticator, .. }) => {
            render_security(
                &state,
                &directory,
                &me,
                Some(format!("Added “{}”.", authenticator.name)),
                None,
                StatusCode::OK,
            )
            .await
        }
        Ok(TotpAttempt::Retry { enrolment, reason }) => Ok(totp_page(&state, &me, &enrolment, Some(sentence(&reason)))),
        Err(gatehouse_core::Error::Refused(why)) => {
            render_security(&state, &directory, &me, None, Some(why), StatusCode::FORBIDDEN).await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /if/user/security/remove
pub async fn remove_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<IdForm>,
) -> Result<Response, PageError> {
    if !csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        return Err(PageError::Forbidden(BAD_FORM));
    }
    if let Some(to) = step_up_first(&directory, &me).await? {
        return Ok(Redirect::to(&to).into_response());
    }
    let Ok(id) = Uuid::parse_str(form.id.trim()) else {
        return render_security(
            &state,
            &directory,
            &me,
            None,
            Some("No such authenticator.".into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    match directory
        .mfa()
        .remove_authenticator(&caller.audit(me.actor()), &me.user, id)
        .await
    {
        Ok(()) => {
            render_security(
                &state,
                &directory,
                &me,
                Some("Authenticator removed.".into()),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(gatehouse_core::Error::NotFound { .. }) => {
            render_security(
                &state,
                &directory,
                &me,
                None,
                Some("No such authenticator.".into()),
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /if/user/security/recovery-codes: ten new codes, the old ones void.
pub async fn codes_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    if !csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        return Err(PageError::Forbidden(BAD_FORM));
    }
    if let Some(to) = step_up_first(&directory, &me).await? {
        return Ok(Redirect::to(&to).into_response());
    }
    match directory
        .mfa()
        .regenerate_recovery_codes(&caller.audit(me.actor()), &me.user)
        .await
    {
        Ok(codes) => Ok(codes_page(&state, codes)),
        Err(gatehouse_core::Error::Refused(why)) => {
            render_security(&state, &directory, &me, None, Some(why), StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /if/user/security/passkey/options (JSON)
pub async fn passkey_options(
    Ready(directory): Ready,
    me: SignedIn,
    _headers: HeaderMap,
    Json(body): Json<PasskeyBody>,
) -> Response {
    if !csrf_ok(&me.session.csrf_token, &body.csrf_token) {
        return json_error(StatusCode::FORBIDDEN, BAD_FORM);
    }
    match step_up_first(&directory, &me).await {
        Ok(None) => {}
        Ok(Some(_)) => return json_error(StatusCode::FORBIDDEN, STEP_UP_FIRST),
        Err(e) => return json_page_error(e),
    }
    match directory.mfa().may_enrol(&me.user).await {
        Ok(true) => {}
        Ok(false) => return json_error(StatusCode::FORBIDDEN, super::ENROLMENT_CLOSED),
        Err(e) => return json_page_error(e.into()),
    }
    match directory
        .mfa()
        .begin_passkey_registration(&me.user, me.session.id)
        .await
    {
        Ok((token, options)) => Json(json!({"token": token, "options": options})).into_response(),
        Err(e) => json_page_error(e.into()),
    }
}

/// POST /if/user/security/passkey (JSON): the new credential.
pub async fn passkey_finish(
    Ready(directory): Ready,
    caller: Caller,
    me: SignedIn,
    Json(body): Json<PasskeyBody>,
) -> Response {
    if !csrf_ok(&me.session.csrf_token, &body.csrf_token) {
        return json_error(StatusCode::FORBIDDEN, BAD_FORM);
    }
    match step_up_first(&directory, &me).await {
        Ok(None) => {}
        Ok(Some(_)) => return json_error(StatusCode::FORBIDDEN, STEP_UP_FIRST),
        Err(e) => return json_page_error(e),
    }
    let credential = body.credential.clone().unwrap_or(Value::Null);
    match directory
        .mfa()
        .finish_passkey_registration(
            &caller.audit(me.actor()),
            &me.user,
            me.session.id,
            &body.token,
            &body.name,
            &credential,
        )
        .await
    {
        // First authenticator: the script shows the new recovery codes, once.
        Ok((_, Some(codes))) => Json(json!({"codes": codes})).into_response(),
        Ok((_, None)) => Json(json!({"redirect": SECURITY_PATH})).into_response(),
        Err(e) => json_page_error(e.into()),
    }
}
