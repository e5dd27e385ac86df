//! One module per page (or step), each with `<page>_get` / `<page>_post`.

pub mod account;
pub mod enroll;
pub mod forgot;
pub mod login;
pub mod logout;
pub mod portal;
pub mod recovery;

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use crate::cookies;
use crate::errors::PageError;
use crate::state::AppState;

/// The end of a successful sign-in: the session cookie set, the flow cookie
/// cleared, the browser remembered as a known device, and on to `to` (a local path).
pub(crate) async fn signed_in(
    state: &AppState,
    directory: &gatehouse_core::Directory,
    headers: &HeaderMap,
    user_id: Uuid,
    token: &str,
    to: &str,
) -> Result<Response, PageError> {
    let mut res = Redirect::to(to).into_response();
    set_session_cookies(state, directory, headers, user_id, token, res.headers_mut()).await?;
    Ok(res)
}

/// The cookies of a new session on `out` (see [`signed_in`]).
pub(crate) async fn set_session_cookies(
    state: &AppState,
    directory: &gatehouse_core::Directory,
    headers: &HeaderMap,
    user_id: Uuid,
    token: &str,
    out: &mut HeaderMap,
) -> Result<(), PageError> {
    let secure = state.config.secure_cookies();
    out.append(
        header::SET_COOKIE,
        cookies::set(
            cookies::SESSION,
            token,
            Some(directory.session_policy().absolute_secs),
            secure,
        ),
    );
    out.append(header::SET_COOKIE, cookies::clear(cookies::FLOW, secure));
    // This browser's password attempts for this user get a throttle bucket of
    // their own from now on (a stranger's wrong guesses cannot lock it out).
    let previous = cookies::read(headers, cookies::DEVICE);
    if let Some(device) = directory
        .sign_in()
        .issue_device_token(user_id, previous.as_deref())
        .await?
    {
        let lifetime = directory.throttle_policy().known_device_secs;
        out.append(
            header::SET_COOKIE,
            cookies::set(cookies::DEVICE, &device, Some(lifetime), secure),
        );
    }
    Ok(())
}
