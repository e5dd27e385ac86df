//! `/if/flow/default-enrollment-flow/?itoken=<invitation>`: the sign-up page
//! an invitation link opens (authentik's enrollment flow URL). GET shows the
//! form without spending anything; POST asks core to redeem the invitation,
//! which creates the account and its session in one change, then the person
//! goes on signed in (through MFA enrolment first when policy requires it).
//!
//! An unknown invitation answers 404, an expired or spent one 410.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use gatehouse_core::flow::{Flow, FlowKind};
use gatehouse_core::invitations::{DEFAULT_ENROLLMENT_FLOW, Invitation, InvitationState, SignUp};
use gatehouse_core::{Actor, Directory, Error};
use serde::Deserialize;

use crate::cookies;
use crate::errors::PageError;
use crate::pages::{Branding, MessagePage, render_with_status};
use crate::request::{Caller, Ready, csrf_ok};
use crate::state::AppState;

pub const ENROLL_PATH: &str = "/if/flow/default-enrollment-flow/";

#[derive(Deserialize)]
pub struct EnrollQuery {
    #[serde(default)]
    itoken: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct EnrollForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_repeat: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(askama::Template)]
#[template(path = "enroll.html")]
struct EnrollPage {
    branding: Branding,
    csrf: String,
    action: String,
    error: Option<String>,
    /// Which field the error is about (`""` for none).
    error_field: &'static str,
    username: String,
    name: String,
    email: String,
    fixed_username: Option<String>,
    fixed_name: Option<String>,
    fixed_email: Option<String>,
    min_length: usize,
}

/// What the person typed, to show again after an error (never the password).
#[derive(Default)]
struct Typed {
    username: String,
    name: String,
    email: String,
}

fn form_page(
    state: &AppState,
    directory: &Directory,
    invitation: &Invitation,
    flow: &Flow,
    typed: Typed,
    error: Option<(&'static str, String)>,
) -> Response {
    let fixed = |f: &str| invitation.fixed(f).map(str::to_string);
    let (error_field, error) = match error {
        Some((field, message)) => (field, Some(message)),
        None => ("", None),
    };
    render_with_status(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &EnrollPage {
            branding: state.branding(),
            csrf: flow.state.csrf.clone(),
            action: format!("{ENROLL_PATH}?itoken={}", invitation.id),
            error,
            error_field,
            username: typed.username,
            name: typed.name,
            email: typed.email,
            fixed_username: fixed("username"),
            fixed_name: fixed("name"),
            fixed_email: fixed("email"),
            min_length: directory.password_policy().min_chars,
        },
    )
}

/// The page for a link that cannot be used: 404 unknown, 410 expired or spent.
fn unusable(state: &AppState, found: Option<InvitationState>) -> Response {
    let (status, message) = match found {
        Some(InvitationState::Expired) => (
            StatusCode::GONE,
            "This invitation has expired. Ask the person who invited you for a new one.",
        ),
        Some(InvitationState::Spent) => (
            StatusCode::GONE,
            "This invitation was already used. If that was you, sign in; otherwise ask for a new one.",
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "This invitation link is not valid. Check that you copied all of it, or ask for a new one.",
        ),
    };
    render_with_status(
        status,
        &MessagePage {
            branding: state.branding(),
            title: "Invitation not valid".into(),
            message: message.into(),
            link: Some(("/login".into(), "Go to sign-in".into())),
            status_class: "error",
        },
    )
}

/// The invitation behind the link, when it can be used now; else the page to show.
async fn usable(
    state: &AppState,
    directory: &Directory,
    itoken: &str,
) -> Result<Result<Invitation, Response>, PageError> {
    Ok(
        match directory
            .invitations()
            .for_link(DEFAULT_ENROLLMENT_FLOW, itoken)
            .await?
        {
            Some((invitation, InvitationState::Valid)) => Ok(invitation),
            Some((_, other)) => Err(unusable(state, Some(other))),
            None => Err(unusable(state, None)),
        },
    )
}

/// The links carry the invitation id: keep it out of Referer headers.
fn without_referrer(res: Result<Response, PageError>) -> Response {
    let mut res = res.unwrap_or_else(axum::response::IntoResponse::into_response);
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    res
}

pub async fn enroll_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    Query(q): Query<EnrollQuery>,
) -> Response {
    without_referrer(show(&state, &directory, q).await)
}

async fn show(state: &AppState, directory: &Directory, q: EnrollQuery) -> Result<Response, PageError> {
    let invitation = match usable(state, directory, &q.itoken).await? {
        Ok(i) => i,
        Err(page) => return Ok(page),
    };
    let (token, mut flow) = directory
        .sign_in()
        .begin_flow(FlowKind::Enrollment, q.next.as_deref())
        .await?;
    flow.state.invitation = Some(invitation.id);
    directory.sign_in().save_flow(&mut flow).await?;
    let mut res = form_page(state, directory, &invitation, &flow, Typed::default(), None);
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(cookies::FLOW, &token, None, state.config.secure_cookies()),
    );
    Ok(res)
}

pub async fn enroll_post(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    Query(q): Query<EnrollQuery>,
    headers: HeaderMap,
    Form(form): Form<EnrollForm>,
) -> Response {
    without_referrer(submit(&state, &directory, &caller, &q.itoken, &headers, form).await)
}

async fn submit(
    state: &AppState,
    directory: &Directory,
    caller: &Caller,
    itoken: &str,
    headers: &HeaderMap,
    form: EnrollForm,
) -> Result<Response, PageError> {
    let invitation = match usable(state, directory, itoken).await? {
        Ok(i) => i,
        Err(page) => return Ok(page),
    };
    let flow = match cookies::read(headers, cookies::FLOW) {
        Some(t) => directory.sign_in().flow(&t).await?,
        None => None,
    };
    let Some(flow) = flow.filter(|f| {
        f.state.kind == FlowKind::Enrollment
            && f.state.invitation == Some(invitation.id)
            && csrf_ok(&f.state.csrf, &form.csrf_token)
    }) else {
        return Err(PageError::Forbidden(
            "The form was not sent from this sign-up page. Open the invitation link again.",
        ));
    };
    let typed = Typed {
        username: form.username.clone(),
        name: form.name.clone(),
        email: form.email.clone(),
    };
    if form.password != form.password_repeat {
        let error = Some(("password", "The passwords do not match.".to_string()));
        return Ok(form_page(state, directory, &invitation, &flow, typed, error));
    }
    let sign_up = SignUp {
        username: form.username,
        name: form.name,
        email: form.email,
        password: form.password,
    };
    let who = invitation
        .fixed("username")
        .unwrap_or(sign_up.username.trim())
        .to_string();
    let audit = caller.audit(Actor::User(who));
    match directory
        .invitations()
        .redeem(&audit, invitation.id, sign_up, &caller.client)
        .await
    {
        Ok((token, session, user)) => {
            directory.sign_in().end_flow(&flow).await?;
            let next = flow.state.next.clone();
            // MFA: someone policy requires MFA of enrols before going on.
            let to = if !session.amr.iter().any(|a| a == "mfa") && directory.mfa().required_for(&user).await? {
                crate::mfa::step_up_url(&next)
            } else {
                next
            };
            super::signed_in(state, directory, headers, user.id, &token, &to).await
        }
        Err(Error::Refused(_)) => {
            // Spent or expired since the form was shown (a double submit lands here).
            let now = directory
                .invitations()
                .for_link(DEFAULT_ENROLLMENT_FLOW, itoken)
                .await?;
            Ok(unusable(state, now.map(|(_, s)| s)))
        }
        Err(Error::NotFound { kind: "invitation", .. }) => Ok(unusable(state, None)),
        Err(e) if e.is_caller_error() => {
            let error = Some(form_error(&e));
            Ok(form_page(state, directory, &invitation, &flow, typed, error))
        }
        Err(e) => Err(e.into()),
    }
}

/// The field an error is about and what to tell the person.
fn form_error(e: &Error) -> (&'static str, String) {
    match e {
        Error::PasswordRejected(why) => ("password", format!("That password cannot be used: {why}.")),
        Error::AlreadyExists { name, .. } => ("username", format!("The username '{name}' is taken. Choose another.")),
        Error::Invalid { field, reason } => {
            let field = match *field {
                "username" | "email" | "name" => *field,
                "display name" => "name",
                _ => "",
            };
            (field, format!("{}.", capitalise(reason)))
        }
        other => ("", other.to_string()),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
