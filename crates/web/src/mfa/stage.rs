//! The second sign-in stage. One flow (the `gatehouse_flow` cookie) carries
//! who passed the password and how (`MfaPending`); this stage adds the second
//! factor and then opens the session (sign-in, step-up) or lets a recovery
//! link go on to the new password.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use gatehouse_core::flow::{Flow, FlowKind, MfaPending, Stage};
use gatehouse_core::mfa::{FactorCheck, SecondFactor, TotpAttempt, combine_amr};
use gatehouse_core::{Actor, Directory, User};
use serde::Deserialize;
use serde_json::{Value, json};

use super::pages::{MfaCodesPage, MfaEnrolPage, MfaStagePage};
use super::{json_error, json_page_error, json_signed_in, qr_data_uri};
use crate::cookies;
use crate::errors::PageError;
use crate::pages::render_with_status;
use crate::request::{Caller, Ready, SignedIn, csrf_ok};
use crate::state::AppState;

pub const MFA_PATH: &str = "/login/mfa";
pub const ENROL_PATH: &str = "/login/mfa/enrol";
pub const STEP_UP_PATH: &str = "/login/mfa/step-up";
const WEBAUTHN_OPTIONS: &str = "/login/mfa/webauthn/options";
const WEBAUTHN_FINISH: &str = "/login/mfa/webauthn";

const WRONG_CODE: &str = "That code is not right, or was already used.";

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub recovery_code: String,
    #[serde(default)]
    pub csrf_token: String,
}

#[derive(Deserialize)]
pub struct EnrolForm {
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
pub struct CeremonyBody {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    credential: Option<Value>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The flow behind the cookie, any kind.
async fn cookie_flow(directory: &Directory, headers: &HeaderMap) -> Result<Option<Flow>, PageError> {
    let Some(token) = cookies::read(headers, cookies::FLOW) else {
        return Ok(None);
    };
    Ok(directory.sign_in().flow(&token).await?)
}

/// The flow at `stage` with its pending user, or `None`.
async fn staged(directory: &Directory, headers: &HeaderMap, stage: Stage) -> Result<Option<(Flow, User)>, PageError> {
    let Some(flow) = cookie_flow(directory, headers).await? else {
        return Ok(None);
    };
    if flow.state.stage != stage {
        return Ok(None);
    }
    let Some(pending) = &flow.state.mfa else {
        return Ok(None);
    };
    let Some(user) = directory.users().by_id(pending.user_id).await?.filter(|u| u.is_active) else {
        return Ok(None);
    };
    Ok(Some((flow, user)))
}

const EXPIRED: &str = "Your sign-in took too long or cookies are disabled. Start again.";

/// Renders the second-factor page for `flow` (sign-in or recovery).
pub async fn render_stage(
    state: &AppState,
    directory: &Directory,
    flow: &Flow,
    user: &User,
    action: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let status_now = directory.mfa().status(user).await?;
    Ok(render_with_status(
        status,
        &MfaStagePage {
            branding: state.branding(),
            csrf: flow.state.csrf.clone(),
            username: user.username.clone(),
            error,
            webauthn: directory.mfa().passkeys_available()
                && status_now.has(gatehouse_core::mfa::AuthenticatorKind::Webauthn),
            totp: status_now.has(gatehouse_core::mfa::AuthenticatorKind::Totp),
            recovery: status_now.recovery_codes_left > 0,
            action: action.into(),
            webauthn_options_url: WEBAUTHN_OPTIONS.into(),
            webauthn_finish_url: WEBAUTHN_FINISH.into(),
            restart_url: (flow.state.kind == FlowKind::Login
                && flow.state.mfa.as_ref().is_some_and(|m| m.replace_session.is_none()))
            .then(|| "/login/restart".to_string()),
        },
    ))
}

/// Checks a typed code (TOTP or recovery) for the flow's user. `Ok(Ok(amr))`
/// when passed, `Ok(Err(response))` with the page to show otherwise.
pub async fn check_typed(
    state: &AppState,
    directory: &Directory,
    caller: &Caller,
    flow: &Flow,
    user: &User,
    form: &CodeForm,
    action: &str,
) -> Result<Result<&'static str, Response>, PageError> {
    let audit = caller.audit(Actor::User(user.username.clone()));
    let factor = if !form.recovery_code.trim().is_empty() {
        SecondFactor::RecoveryCode(form.recovery_code.trim())
    } else {
        SecondFactor::Totp(form.code.trim())
    };
    match directory.mfa().check_second_factor(&audit, user, factor).await? {
        FactorCheck::Passed(amr) => Ok(Ok(amr)),
        FactorCheck::Rejected => Ok(Err(render_stage(
            state,
            directory,
            flow,
            user,
            action,
            Some(WRONG_CODE.into()),
            StatusCode::OK,
        )
        .await?)),
        FactorCheck::Throttled { retry_after_secs } => {
            let msg = format!("Too many failed attempts. Try again in {retry_after_secs} seconds.");
            let mut res = render_stage(
                state,
                directory,
                flow,
                user,
                action,
                Some(msg),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await?;
            if let Ok(v) = retry_after_secs.to_string().parse() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(Err(res))
        }
    }
}

/// What happens once the second factor passed.
enum Done {
    /// Signed in: the session cookie token and where to go.
    SignedIn(String, String),
    /// Recovery: go on to the new password (the page reloads).
    Recovery,
    /// The account changed meanwhile (password reset, disabled): start again.
    Restart,
}

async fn complete(
    directory: &Directory,
    caller: &Caller,
    mut flow: Flow,
    user: &User,
    second: &str,
) -> Result<Done, PageError> {
    let Some(pending) = flow.state.mfa.clone() else {
        return Ok(Done::Restart);
    };
    let amr = combine_amr(&pending.amr, second);
    match flow.state.kind {
        FlowKind::Recovery => {
            flow.state.stage = Stage::SetPassword;
            flow.state.mfa = Some(MfaPending {
                amr,
                passed: true,
                ..pending
            });
            flow.state.ceremony = None;
            directory.sign_in().save_flow(&mut flow).await?;
            Ok(Done::Recovery)
        }
        FlowKind::Login => {
            let audit = caller.audit(Actor::User(user.username.clone()));
            let amr_refs: Vec<&str> = amr.iter().map(String::as_str).collect();
            let started = directory
                .mfa()
                .finish_sign_in(
                    &audit,
                    pending.user_id,
                    pending.password_changed_at,
                    &amr_refs,
                    &caller.client,
                    pending.replace_session,
                )
                .await?;
            directory.sign_in().end_flow(&flow).await?;
            Ok(match started {
                Some((token, _, _)) => Done::SignedIn(token, flow.state.next.clone()),
                None => Done::Restart,
            })
        }
        // A sign-up ends signed in, before any second factor (enrolment follows).
        FlowKind::Enrollment => Ok(Done::Restart),
    }
}

fn restart_page(state: &AppState) -> Response {
    render_with_status(
        StatusCode::CONFLICT,
        &crate::pages::MessagePage {
            branding: state.branding(),
            title: "Sign in again".into(),
            message: "Your account changed while you were signing in. Sign in again.".into(),
            link: Some(("/login".into(), "Go to sign-in".into())),
            status_class: "error",
        },
    )
}

/// GET /login/mfa
pub async fn mfa_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if let Some((flow, user)) = staged(&directory, &headers, Stage::Mfa).await?
        && flow.state.kind == FlowKind::Login
    {
        return render_stage(&state, &directory, &flow, &user, MFA_PATH, None, StatusCode::OK).await;
    }
    if staged(&directory, &headers, Stage::MfaEnrol).await?.is_some() {
        return Ok(Redirect::to(ENROL_PATH).into_response());
    }
    Ok(Redirect::to("/login").into_response())
}

/// POST /login/mfa: a TOTP or recovery code.
pub async fn mfa_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let Some((flow, user)) = staged(&directory, &headers, Stage::Mfa)
        .await?
        .filter(|(f, _)| f.state.kind == FlowKind::Login)
    else {
        return Err(PageError::Forbidden(EXPIRED));
    };
    if !csrf_ok(&flow.state.csrf, &form.csrf_token) {
        return Err(PageError::Forbidden(
            "The form was not sent from this sign-in page. Start again.",
        ));
    }
    let amr = match check_typed(&state, &directory, &caller, &flow, &user, &form, MFA_PATH).await? {
        Ok(amr) => amr,
        Err(page) => return Ok(page),
    };
    Ok(match complete(&directory, &caller, flow, &user, amr).await? {
        Done::SignedIn(token, next) => {
            crate::views::signed_in(&state, &directory, &headers, user.id, &token, &next).await?
        }
        Done::Recovery => Redirect::to("/login").into_response(),
        Done::Restart => restart_page(&state),
    })
}

/// POST /login/mfa/webauthn/options (JSON): a challenge for the flow user's passkeys.
pub async fn webauthn_options(Ready(directory): Ready, headers: HeaderMap, Json(body): Json<CeremonyBody>) -> Response {
    let run = async {
        let Some((mut flow, user)) = staged(&directory, &headers, Stage::Mfa).await? else {
            return Err(PageError::Forbidden(EXPIRED));
        };
        if !csrf_ok(&flow.state.csrf, &body.csrf_token) {
            return Err(PageError::Forbidden("The request was not sent from this sign-in page."));
        }
        let (options, ceremony) = directory.mfa().begin_passkey_authentication(Some(&user)).await?;
        flow.state.ceremony = Some(ceremony);
        directory.sign_in().save_flow(&mut flow).await?;
        Ok(Json(json!({"options": options})).into_response())
    };
    run.await.unwrap_or_else(json_page_error)
}

/// POST /login/mfa/webauthn (JSON): the assertion.
pub async fn webauthn_finish(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<CeremonyBody>,
) -> Response {
    let run = async {
        let Some((mut flow, user)) = staged(&directory, &headers, Stage::Mfa).await? else {
            return Err(PageError::Forbidden(EXPIRED));
        };
        if !csrf_ok(&flow.state.csrf, &body.csrf_token) {
            return Err(PageError::Forbidden("The request was not sent from this sign-in page."));
        }
        // A ceremony is good once.
        let Some(ceremony) = flow.state.ceremony.take() else {
            return Ok(json_error(
                StatusCode::BAD_REQUEST,
                "Start again: the passkey request expired.",
            ));
        };
        directory.sign_in().save_flow(&mut flow).await?;
        let credential = body.credential.clone().unwrap_or(Value::Null);
        let audit = caller.audit(Actor::User(user.username.clone()));
        let passed = directory
            .mfa()
            .finish_passkey_authentication(&audit, &ceremony, &credential)
            .await?;
        let Some(passed) = passed.filter(|p| p.user.id == user.id) else {
            return Ok(json_error(StatusCode::UNAUTHORIZED, "That passkey was not accepted."));
        };
        Ok(match complete(&directory, &caller, flow, &user, passed.amr).await? {
            Done::SignedIn(token, next) => json_signed_in(&state, &directory, &headers, user.id, &token, &next).await?,
            Done::Recovery => Json(json!({"reload": true})).into_response(),
            Done::Restart => json_error(StatusCode::CONFLICT, "Your account changed meanwhile. Sign in again."),
        })
    };
    run.await.unwrap_or_else(json_page_error)
}

fn enrol_page(
    state: &AppState,
    flow: &Flow,
    enrolment: &gatehouse_core::mfa::TotpEnrolment,
    error: Option<String>,
) -> Response {
    render_with_status(
        // A wrong code is an answer, not a bad request (as for passwords).
        StatusCode::OK,
        &MfaEnrolPage {
            branding: state.branding(),
            csrf: flow.state.csrf.clone(),
            error,
            qr_data_uri: qr_data_uri(&enrolment.uri),
            secret: enrolment.secret_base32.clone(),
            pending: enrolment.pending.clone(),
            action: ENROL_PATH.into(),
        },
    )
}

/// GET /login/mfa/enrol: policy requires MFA and the person has none.
pub async fn enrol_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some((flow, user)) = staged(&directory, &headers, Stage::MfaEnrol).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !directory.mfa().may_enrol(&user).await? {
        return Ok(super::enrolment_closed_page(&state));
    }
    let enrolment = directory.mfa().begin_totp(&user)?;
    Ok(enrol_page(&state, &flow, &enrolment, None))
}

/// POST /login/mfa/enrol: the first code; then signed in, with the recovery codes.
pub async fn enrol_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<EnrolForm>,
) -> Result<Response, PageError> {
    let Some((flow, user)) = staged(&directory, &headers, Stage::MfaEnrol).await? else {
        return Err(PageError::Forbidden(EXPIRED));
    };
    if !csrf_ok(&flow.state.csrf, &form.csrf_token) {
        return Err(PageError::Forbidden(
            "The form was not sent from this sign-in page. Start again.",
        ));
    }
    let audit = caller.audit(Actor::User(user.username.clone()));
    let codes = match directory
        .mfa()
        .enrol_totp(&audit, &user, &form.name, &form.pending, &form.code)
        .await
    {
        Ok(TotpAttempt::Added { recovery_codes, .. }) => recovery_codes,
        Ok(TotpAttempt::Retry { enrolment, reason }) => {
            return Ok(enrol_page(&state, &flow, &enrolment, Some(sentence(&reason))));
        }
        Err(gatehouse_core::Error::Refused(_)) => return Ok(super::enrolment_closed_page(&state)),
        Err(e) => return Err(e.into()),
    };
    match complete(&directory, &caller, flow, &user, "otp").await? {
        Done::SignedIn(token, next) => {
            let mut res = render_with_status(
                StatusCode::OK,
                &MfaCodesPage {
                    branding: state.branding(),
                    codes: codes.unwrap_or_default(),
                    continue_url: next,
                },
            );
            // The session starts now; the codes page is where it is handed over.
            let signed = crate::views::signed_in(&state, &directory, &headers, user.id, &token, "/").await?;
            for c in signed.headers().get_all(header::SET_COOKIE) {
                res.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            Ok(res)
        }
        Done::Recovery => Ok(Redirect::to("/login").into_response()),
        Done::Restart => Ok(restart_page(&state)),
    }
}

/// The reason of an `Invalid` error, for people.
/// A reason as a sentence: capitalised, with its full stop.
pub fn sentence(reason: &str) -> String {
    let mut r = reason.to_string();
    if let Some(first) = r.get(..1) {
        r = first.to_uppercase() + &r[1..];
    }
    format!("{r}.")
}

pub fn invalid_reason(e: &gatehouse_core::Error) -> String {
    match e {
        gatehouse_core::Error::Invalid { reason, .. } => sentence(reason),
        other => other.to_string(),
    }
}

/// GET /login/mfa/step-up?next=…: a signed-in person whose session lacks MFA
/// passes a second factor (or enrols one) and comes back with a new session.
pub async fn step_up_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    me: SignedIn,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    let next = q
        .next
        .as_deref()
        .and_then(gatehouse_core::flow::safe_next)
        .unwrap_or_else(|| "/if/user/".into());
    if me.session.amr.iter().any(|a| a == "mfa") {
        return Ok(Redirect::to(&next).into_response());
    }
    let stage = if directory.mfa().authenticators(me.user.id).await?.is_empty() {
        Stage::MfaEnrol
    } else {
        Stage::Mfa
    };
    // The first authenticator only within a window (the password alone is not enough).
    if stage == Stage::MfaEnrol
        && !directory
            .mfa()
            .offer_enrolment(&caller.audit(me.actor()), &me.user)
            .await?
    {
        return Ok(super::enrolment_closed_page(&state));
    }
    let (token, mut flow) = directory.sign_in().begin_flow(FlowKind::Login, Some(&next)).await?;
    flow.state.stage = stage;
    flow.state.identifier = me.user.username.clone();
    flow.state.mfa = Some(MfaPending {
        user_id: me.user.id,
        password_changed_at: me.user.password_changed_at,
        amr: me.session.amr.clone(),
        replace_session: Some(me.session.id),
        passed: false,
    });
    directory.sign_in().save_flow(&mut flow).await?;
    let mut res = Redirect::to(if stage == Stage::Mfa { MFA_PATH } else { ENROL_PATH }).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(cookies::FLOW, &token, None, state.config.secure_cookies()),
    );
    Ok(res)
}

/// The login flow for the passkey button of the identify step.
async fn identify_flow(directory: &Directory, headers: &HeaderMap, csrf: &str) -> Result<Flow, PageError> {
    let flow = cookie_flow(directory, headers)
        .await?
        .filter(|f| f.state.kind == FlowKind::Login)
        .ok_or(PageError::Forbidden(EXPIRED))?;
    if !csrf_ok(&flow.state.csrf, csrf) {
        return Err(PageError::Forbidden("The request was not sent from this sign-in page."));
    }
    Ok(flow)
}

/// POST /login/passkey/options (JSON): a challenge for any discoverable credential.
pub async fn passkey_options(Ready(directory): Ready, headers: HeaderMap, Json(body): Json<CeremonyBody>) -> Response {
    let run = async {
        let mut flow = identify_flow(&directory, &headers, &body.csrf_token).await?;
        let (options, ceremony) = directory.mfa().begin_passkey_authentication(None).await?;
        flow.state.ceremony = Some(ceremony);
        directory.sign_in().save_flow(&mut flow).await?;
        Ok(Json(json!({"options": options})).into_response())
    };
    run.await.unwrap_or_else(json_page_error)
}

/// POST /login/passkey (JSON): signed in by the passkey alone (user
/// verification makes it two factors).
pub async fn passkey_finish(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<CeremonyBody>,
) -> Response {
    let run = async {
        let mut flow = identify_flow(&directory, &headers, &body.csrf_token).await?;
        let Some(ceremony) = flow.state.ceremony.take() else {
            return Ok(json_error(
                StatusCode::BAD_REQUEST,
                "Start again: the passkey request expired.",
            ));
        };
        directory.sign_in().save_flow(&mut flow).await?;
        let credential = body.credential.clone().unwrap_or(Value::Null);
        let Some(passed) = directory
            .mfa()
            .finish_passkey_authentication(&caller.anonymous(), &ceremony, &credential)
            .await?
        else {
            return Ok(json_error(StatusCode::UNAUTHORIZED, "That passkey was not accepted."));
        };
        let audit = caller.audit(Actor::User(passed.user.username.clone()));
        let started = directory
            .mfa()
            .finish_sign_in(
                &audit,
                passed.user.id,
                passed.user.password_changed_at,
                &[passed.amr, "mfa"],
                &caller.client,
                None,
            )
            .await?;
        directory.sign_in().end_flow(&flow).await?;
        Ok(match started {
            Some((token, _, user)) => {
                json_signed_in(&state, &directory, &headers, user.id, &token, &flow.state.next).await?
            }
            None => json_error(StatusCode::CONFLICT, "Your account changed meanwhile. Sign in again."),
        })
    };
    run.await.unwrap_or_else(json_page_error)
}
