//! The SAML endpoints: each parses HTTP, calls one service of
//! `gatehouse_saml::service` and renders its outcome (the auto-post page,
//! message pages, redirects).

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::Directory;
use gatehouse_saml::service::{Endpoint, Incoming, PostForm, Received, SamlIdp, SloOutcome, SsoOutcome};

use crate::cookies;
use crate::errors::PageError;
use crate::pages::{Branding, MessagePage, render_with_status};
use crate::request::{Caller, current_session, encode};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "saml_post.html")]
struct PostPage {
    branding: Branding,
    app_name: String,
    lead: String,
    action: String,
    field: &'static str,
    value: String,
    relay_state: Option<String>,
}

fn directory(state: &AppState) -> Result<Directory, PageError> {
    state.directory().cloned().ok_or(PageError::Starting)
}

fn page(state: &AppState, status: StatusCode, title: &str, msg: &str) -> Response {
    render_with_status(
        status,
        &MessagePage {
            branding: state.branding(),
            title: title.into(),
            message: msg.into(),
            link: Some(("/if/user/".into(), "Go to your applications".into())),
            status_class: if status.is_success() { "info" } else { "error" },
        },
    )
}

fn not_found(state: &AppState) -> Response {
    page(
        state,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no SAML application at this address.",
    )
}

fn expired(state: &AppState) -> Response {
    page(
        state,
        StatusCode::BAD_REQUEST,
        "Sign-in expired",
        "This sign-in request is no longer valid. Start again from the application.",
    )
}

fn signed_out_page(state: &AppState) -> Response {
    page(state, StatusCode::OK, "Signed out", "You have signed out.")
}

fn post_page(state: &AppState, form: PostForm) -> Response {
    let mut res = render_with_status(
        StatusCode::OK,
        &PostPage {
            branding: state.branding(),
            app_name: form.app_name,
            lead: "Sending you back to the application…".into(),
            action: form.action,
            field: form.field,
            value: form.value,
            relay_state: form.relay_state,
        },
    );
    res.headers_mut()
        .insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

fn form_value(body: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub async fn metadata(
    State(state): State<AppState>,
    Extension(idp): Extension<Arc<SamlIdp>>,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let Some(body) = idp.metadata(&directory(&state)?, &slug).await? else {
        return Ok(not_found(&state));
    };
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(res)
}

fn redirect_binding(query: Option<String>) -> Incoming {
    Incoming::Redirect {
        query: query.unwrap_or_default(),
    }
}

fn post_binding(body: &str) -> Incoming {
    Incoming::Post {
        saml_request: form_value(body, "SAMLRequest"),
        has_response: form_value(body, "SAMLResponse").is_some(),
        relay_state: form_value(body, "RelayState"),
    }
}

fn render_received(state: &AppState, received: Received) -> Response {
    match received {
        Received::NotFound => not_found(state),
        Received::Refused(why) => {
            tracing::info!(reason = why, "SAML request refused");
            page(
                state,
                StatusCode::BAD_REQUEST,
                "SAML request refused",
                &format!("The application sent a request Gatehouse cannot accept: {why}."),
            )
        }
        Received::SignedOut => signed_out_page(state),
        Received::Continue(to) => Redirect::to(&to).into_response(),
    }
}

async fn receive(
    state: &AppState,
    idp: &SamlIdp,
    slug: &str,
    endpoint: Endpoint,
    incoming: Incoming,
) -> Result<Response, PageError> {
    let received = idp.receive(&directory(state)?, slug, endpoint, &incoming).await?;
    Ok(render_received(state, received))
}

/// A message over the HTTP-Redirect binding (in the query string), for `endpoint`.
pub async fn by_redirect(
    endpoint: Endpoint,
    State(state): State<AppState>,
    Extension(idp): Extension<Arc<SamlIdp>>,
    Path(slug): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    receive(&state, &idp, &slug, endpoint, redirect_binding(q)).await
}

/// A message over the HTTP-POST binding (a form field), for `endpoint`.
pub async fn by_post(
    endpoint: Endpoint,
    State(state): State<AppState>,
    Extension(idp): Extension<Arc<SamlIdp>>,
    Path(slug): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    receive(&state, &idp, &slug, endpoint, post_binding(&body)).await
}

/// IdP-initiated sign-in.
pub async fn sso_init(
    State(state): State<AppState>,
    Extension(idp): Extension<Arc<SamlIdp>>,
    Path(slug): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let relay_state = form_value(q.as_deref().unwrap_or(""), "RelayState");
    let received = idp.start_unsolicited(&directory(&state)?, &slug, relay_state).await?;
    Ok(render_received(&state, received))
}

/// After sign-in: the decision, then the signed response posted to the ACS.
pub async fn sso_continue(
    State(state): State<AppState>,
    Extension(idp): Extension<Arc<SamlIdp>>,
    Path(slug): Path<String>,
    caller: Caller,
    RawQuery(q): RawQuery,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let dir = directory(&state)?;
    let (parts, _) = req.into_parts();
    let token = form_value(q.as_deref().unwrap_or(""), "t").unwrap_or_default();
    let session = current_session(&dir, &parts).await?;
    let outcome = idp
        .continue_sso(&dir, &slug, &token, session, &caller.anonymous())
        .await?;
    Ok(match outcome {
        SsoOutcome::NotFound => not_found(&state),
        SsoOutcome::Expired => expired(&state),
        SsoOutcome::SignIn { next, force } => {
            let force = if force { "&force=1" } else { "" };
            Redirect::to(&format!("/login?next={}{force}", encode(&next))).into_response()
        }
        SsoOutcome::StepUp { next } => Redirect::to(&crate::mfa::step_up_url(&next)).into_response(),
        SsoOutcome::Denied { app_name, .. } => page(
            &state,
            StatusCode::FORBIDDEN,
            "No access",
            &format!("You are signed in, but you may not use {app_name}. Ask an administrator to give you access."),
        ),
        SsoOutcome::Post(form) => post_page(&state, form),
    })
}

/// After a LogoutRequest: this browser's session ends, and the SP gets its answer.
pub async fn slo_continue(
    State(state): State<AppState>,
    Extension(idp): Extension<Arc<SamlIdp>>,
    Path(slug): Path<String>,
    caller: Caller,
    RawQuery(q): RawQuery,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let dir = directory(&state)?;
    let (parts, _) = req.into_parts();
    let token = form_value(q.as_deref().unwrap_or(""), "t").unwrap_or_default();
    let session = current_session(&dir, &parts).await?;
    let outcome = idp
        .continue_slo(&dir, &slug, &token, session, &caller.anonymous())
        .await?;
    let mut res = match outcome {
        SloOutcome::NotFound => return Ok(not_found(&state)),
        SloOutcome::Expired => return Ok(expired(&state)),
        SloOutcome::SignedOut => signed_out_page(&state),
        SloOutcome::Post(form) => post_page(&state, form),
        SloOutcome::Redirect(to) => Redirect::to(&to).into_response(),
    };
    let clear = cookies::clear(cookies::SESSION, state.config.secure_cookies());
    res.headers_mut().append(header::SET_COOKIE, clear);
    Ok(res)
}
