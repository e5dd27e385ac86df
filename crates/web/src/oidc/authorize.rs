//! GET/POST /application/o/authorize/: parse the request (and the consent
//! page's answer), call `Provider::authorize`, render its outcome.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_oidc::params::Params;
use gatehouse_oidc::paths;
use gatehouse_oidc::service::{AuthorizeOutcome, ConsentAnswer};

use super::pages::{ConsentPage, message, permissions};
use super::runtime::OidcRuntime;
use crate::errors::PageError;
use crate::pages::render_with_status;
use crate::request::{Caller, csrf_ok, current_session, encode};
use crate::state::AppState;

pub async fn authorize_get(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    authorize(&state, &rt, &caller, &parts, query.as_deref().unwrap_or(""), false).await
}

/// POST: an authorization request sent as a form (OIDC Core §3.1.2.1), or the
/// answer of the consent page (`gh_consent` with the session's CSRF token).
pub async fn authorize_post(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    caller: Caller,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| PageError::Forbidden("The request is too large."))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| PageError::Forbidden("The request is not valid."))?;
    authorize(&state, &rt, &caller, &parts, text, true).await
}

async fn authorize(
    state: &AppState,
    rt: &OidcRuntime,
    caller: &Caller,
    parts: &Parts,
    text: &str,
    posted: bool,
) -> Result<Response, PageError> {
    let provider = rt.provider(state).ok_or(PageError::Starting)?;
    let bad_page = |msg: &str| message(state, StatusCode::BAD_REQUEST, "Sign-in request refused", msg, true);
    let raw = match Params::parse(text) {
        Ok(p) => p,
        Err(e) => return Ok(bad_page(&e.description)),
    };
    let (params, form) = match posted {
        true => raw.split(&["gh_consent", "csrf_token"]),
        false => (raw, Params::default()),
    };
    let session = current_session(provider.directory(), parts).await?;
    let answer = match (form.get("gh_consent"), &session) {
        (Some(decision), Some((s, _))) => {
            if !form.get("csrf_token").is_some_and(|c| csrf_ok(&s.csrf_token, c)) {
                return Err(PageError::Forbidden(
                    "The form was not sent from this consent page. Start again.",
                ));
            }
            Some(if decision == "allow" {
                ConsentAnswer::Allow
            } else {
                ConsentAnswer::Deny
            })
        }
        _ => None,
    };
    let outcome = provider
        .authorize(&params, answer, session.as_ref(), &caller.anonymous())
        .await?;
    Ok(match outcome {
        AuthorizeOutcome::Refused(msg) => bad_page(&msg),
        AuthorizeOutcome::Redirect(to) => Redirect::to(&to).into_response(),
        AuthorizeOutcome::SignIn { return_to, force } => {
            let force = if force { "&force=1" } else { "" };
            Redirect::to(&format!("/login?next={}{force}", encode(&return_to))).into_response()
        }
        AuthorizeOutcome::StepUp { return_to } => Redirect::to(&crate::mfa::step_up_url(&return_to)).into_response(),
        AuthorizeOutcome::NoAccess { app_name } => message(
            state,
            StatusCode::FORBIDDEN,
            "No access",
            &format!("You are signed in, but you may not use {app_name}. Ask an administrator to give you access."),
            true,
        ),
        AuthorizeOutcome::AskConsent(prompt) => {
            let Some((s, _)) = &session else {
                return Ok(bad_page("Sign in first."));
            };
            render_with_status(
                StatusCode::OK,
                &ConsentPage {
                    branding: state.branding(),
                    csrf: s.csrf_token.clone(),
                    app_name: prompt.app_name,
                    username: prompt.username,
                    permissions: permissions(&prompt.scopes),
                    action: paths::AUTHORIZE.into(),
                    fields: prompt.fields,
                },
            )
        }
    })
}
