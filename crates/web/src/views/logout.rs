//! Signing out: `/logout` and authentik's `/if/flow/default-invalidation-flow/`.
//! A GET signs out at once, as the deployment Gatehouse replaces does (services
//! link there); the worst a forged link can do is sign someone out.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::cookies;
use crate::errors::PageError;
use crate::pages::{MessagePage, render};
use crate::request::{Caller, Ready, current_session};
use crate::state::AppState;

pub async fn logout(
    State(state): State<AppState>,
    Ready(directory): Ready,
    caller: Caller,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    if let Some((session, user)) = current_session(&directory, &parts).await? {
        let audit = caller.audit(gatehouse_core::Actor::User(user.username.clone()));
        directory.sessions().end(&audit, &session, &user.username).await?;
    }
    let mut res = render(&MessagePage {
        branding: state.branding(),
        title: "Signed out".into(),
        message: "You have signed out of Gatehouse.".into(),
        link: Some(("/login".into(), "Sign in again".into())),
        status_class: "info",
    })
    .into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(cookies::SESSION, state.config.secure_cookies()),
    );
    Ok(res)
}
