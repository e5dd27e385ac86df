//! Who gets in: [`Admin`] is a superuser whose session passed the admin gate
//! (`dir.access().admin`); [`AdminForm`] is an admin's POST whose CSRF token
//! matched. A handler that takes one of them cannot run for anyone else, so
//! no handler checks by hand.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::access::AdminVerdict;
use gatehouse_core::{Audit, Directory};
use serde::de::DeserializeOwned;

use crate::errors::PageError;
use crate::pages::{MessagePage, render_with_status};
use crate::request::{Caller, Ready, SignedIn, csrf_ok};
use crate::state::AppState;

use super::ADMIN_PATH;

/// A superuser, signed in, past the MFA rule.
pub struct Admin {
    pub directory: Directory,
    pub me: SignedIn,
    pub caller: Caller,
}

impl Admin {
    /// Audit context: this admin, from this address.
    pub fn audit(&self) -> Audit {
        self.caller.audit(self.me.actor())
    }

    pub fn csrf(&self) -> String {
        self.me.session.csrf_token.clone()
    }
}

/// The 403 page for a signed-in person who is not an administrator.
pub fn forbidden(state: &AppState) -> Response {
    render_with_status(
        StatusCode::FORBIDDEN,
        &MessagePage {
            branding: state.branding(),
            title: "Administrators only".into(),
            message: "This part of Gatehouse is for administrators. Your account is not one.".into(),
            link: Some(("/if/user/".into(), "Go to your applications".into())),
            status_class: "error",
        },
    )
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let me = SignedIn::from_request_parts(parts, state).await?;
        let Ready(directory) = Ready::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Ok(caller) = Caller::from_request_parts(parts, state).await;
        let verdict = directory
            .access()
            .admin(&me.user, &me.session.amr)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        match verdict {
            AdminVerdict::Allow => Ok(Admin { directory, me, caller }),
            AdminVerdict::Deny => Err(forbidden(state)),
            AdminVerdict::StepUp => {
                // Back to this page after the second factor (a form goes home:
                // its POST cannot be replayed by a redirect).
                let here = match parts.method {
                    axum::http::Method::GET => parts
                        .extensions
                        .get::<OriginalUri>()
                        .map_or_else(|| parts.uri.to_string(), |u| u.0.to_string()),
                    _ => ADMIN_PATH.to_string(),
                };
                Err(Redirect::to(&crate::mfa::step_up_url(&here)).into_response())
            }
        }
    }
}

/// An admin's form, its `csrf_token` checked against the session's before
/// the fields are parsed.
pub struct AdminForm<T>(pub Admin, pub T);

const BAD_FORM: &str = "The form was not sent from this page. Reload it and try again.";

impl<T: DeserializeOwned> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let admin = Admin::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if !csrf_ok(&admin.me.session.csrf_token, &token) {
            return Err(PageError::Forbidden(BAD_FORM).into_response());
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| (StatusCode::BAD_REQUEST, "The form could not be read.").into_response())?;
        Ok(AdminForm(admin, form))
    }
}
