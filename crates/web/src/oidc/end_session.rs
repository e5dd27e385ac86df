//! GET/POST /application/o/<slug>/end-session/ (RP-initiated logout): parse
//! the request and the confirmation form's answer, call
//! `Provider::end_session`, render (and clear the session cookie).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_oidc::params::Params;
use gatehouse_oidc::service::EndSessionOutcome;

use super::pages::{LogoutPage, message};
use super::runtime::OidcRuntime;
use crate::cookies;
use crate::errors::PageError;
use crate::pages::render;
use crate::request::{Caller, csrf_ok, current_session};
use crate::state::AppState;

pub async fn end_session(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    caller: Caller,
    Path(slug): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let provider = rt.provider(&state).ok_or(PageError::Starting)?;
    let (parts, body) = req.into_parts();
    let text = if method == Method::POST {
        let bytes: Bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
            .await
            .map_err(|_| PageError::Forbidden("The request is too large."))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| PageError::Forbidden("The request is not valid."))?
    } else {
        query.unwrap_or_default()
    };
    let bad = |msg: &str| message(&state, StatusCode::BAD_REQUEST, "Sign-out request refused", msg, true);
    let (params, form) = match Params::parse(&text) {
        Ok(p) => p.split(&["csrf_token", "gh_logout"]),
        Err(e) => return Ok(bad(&e.description)),
    };
    let session = current_session(provider.directory(), &parts).await?;
    let confirmed = form.get("gh_logout") == Some("yes")
        && session
            .as_ref()
            .zip(form.get("csrf_token"))
            .is_some_and(|((s, _), c)| csrf_ok(&s.csrf_token, c));
    let outcome = provider
        .end_session(&slug, &params, confirmed, session.as_ref(), &caller.anonymous())
        .await?;
    let redirect = match outcome {
        EndSessionOutcome::NotFound => {
            return Ok(message(
                &state,
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such application.",
                true,
            ));
        }
        EndSessionOutcome::Refused(msg) => return Ok(bad(&msg)),
        EndSessionOutcome::Confirm(prompt) => {
            let csrf = session.map(|(s, _)| s.csrf_token).unwrap_or_default();
            return Ok(render(&LogoutPage {
                branding: state.branding(),
                csrf,
                app_name: prompt.app_name,
                username: prompt.username,
                action: prompt.action,
                fields: prompt.fields,
            }));
        }
        EndSessionOutcome::SignedOut { redirect } => redirect,
    };
    let mut res = match redirect {
        Some(to) => Redirect::to(&to).into_response(),
        None => message(
            &state,
            StatusCode::OK,
            "Signed out",
            "You have signed out of Gatehouse.",
            false,
        ),
    };
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(cookies::SESSION, state.config.secure_cookies()),
    );
    Ok(res)
}
