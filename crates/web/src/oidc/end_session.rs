//! GET/POST /application/o/<slug>/end-session/ (RP-initiated logout). An
//! unregistered `post_logout_redirect_uri` gets an error page, never a
//! redirect. With an `id_token_hint` for the signed-in person, signing out is
//! immediate; otherwise the person confirms (a CSRF-checked form), so a link
//! on another site cannot sign anyone out unasked.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::Actor;
use gatehouse_oidc::claims;
use gatehouse_oidc::end_session::{self, EndSessionError};
use gatehouse_oidc::params::Params;

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
    let dir = state.directory().cloned().ok_or(PageError::Starting)?;
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
    let raw = match Params::parse(&text) {
        Ok(p) => p,
        Err(e) => return Ok(bad(&e.description)),
    };
    let Some(client) = rt.client_by_slug(&dir, &slug).await? else {
        return Ok(message(
            &state,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such application.",
            true,
        ));
    };
    // The confirmation form's own fields are not part of the request.
    let confirmed_csrf = raw.get("csrf_token").map(str::to_string);
    let confirmed = raw.get("gh_logout") == Some("yes");
    let kept: Vec<(String, String)> = raw
        .pairs()
        .iter()
        .filter(|(k, _)| k != "csrf_token" && k != "gh_logout")
        .cloned()
        .collect();
    let params = Params::parse(
        &form_urlencoded::Serializer::new(String::new())
            .extend_pairs(kept.clone())
            .finish(),
    )
    .unwrap_or_default();
    let ring = dir.keys().ring().await?;
    let now = dir.now();
    let decided = end_session::check(&params, &client, |token, jwt| {
        jwt.kid()
            .and_then(|k| ring.by_kid(k, now))
            .is_some_and(|key| jwt.verify_with(token, key).is_ok())
    });
    let plan = match decided {
        Ok(p) => p,
        Err(EndSessionError::Page(msg)) => return Ok(bad(&msg)),
    };
    let done = |res: Response| -> Result<Response, PageError> { Ok(res) };
    if let Some((session, user)) = current_session(&dir, &parts).await? {
        let hinted_me = plan
            .hinted_sub
            .as_deref()
            .is_some_and(|s| s == claims::subject(client.config.sub_mode, &user));
        let confirmed_me = confirmed
            && confirmed_csrf
                .as_deref()
                .is_some_and(|c| csrf_ok(&session.csrf_token, c));
        if !hinted_me && !confirmed_me {
            return done(render(&LogoutPage {
                branding: state.branding(),
                csrf: session.csrf_token.clone(),
                app_name: client.app.name.clone(),
                username: user.username.clone(),
                action: format!("/application/o/{}/end-session/", client.app.slug),
                fields: kept,
            }));
        }
        let audit = caller.audit(Actor::User(user.username.clone()));
        dir.sessions().end(&audit, &session, &user.username).await?;
    }
    let mut res = match &plan.redirect {
        Some(to) => Redirect::to(to).into_response(),
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
    done(res)
}
