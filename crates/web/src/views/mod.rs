//! One module per page (or step), each with `<page>_get` / `<page>_post`.

pub mod account;
pub mod forgot; // mail and worker
pub mod login;
pub mod logout;
pub mod portal;
pub mod recovery;

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

use crate::cookies;
use crate::state::AppState;

/// The end of a successful sign-in: the session cookie set, the flow cookie
/// cleared, and on to `to` (a local path).
pub(crate) fn signed_in(state: &AppState, directory: &gatehouse_core::Directory, token: &str, to: &str) -> Response {
    let secure = state.config.secure_cookies();
    let mut res = Redirect::to(to).into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookies::set(
            cookies::SESSION,
            token,
            Some(directory.session_policy().absolute_secs),
            secure,
        ),
    );
    h.append(header::SET_COOKIE, cookies::clear(cookies::FLOW, secure));
    res
}
