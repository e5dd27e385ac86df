//! The browser's side of forward-auth: `/start`, Gatehouse's code hand-off,
//! `/callback` and `/sign_out` (see `gatehouse_core::forward_auth` for the
//! dance). The outpost pages run on the protected host (proxied to us); the
//! hand-off runs on Gatehouse's own host, behind its sign-in.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::forward_auth::{ProxyGrant, START_LIFETIME_SECS};
use gatehouse_proxy::url::Scheme;
use gatehouse_proxy::{ProxyApp, Target, cookie, redirect};
use serde::Deserialize;

use gatehouse_proxy::ForwardAuthService;
use gatehouse_proxy::service::View;

use super::Service;
use crate::errors::PageError;
use crate::pages::{MessagePage, render_with_status};
use crate::request::{Caller, Ready, SignedIn};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct StartQuery {
    rd: Option<String>,
}

#[derive(Deserialize)]
pub struct StateQuery {
    #[serde(default)]
    state: String,
}

#[derive(Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// GET `/outpost.goauthentik.io/start?rd=…`: remember `rd`, set the state
/// cookie on this host, and go to Gatehouse for a code.
pub async fn start_get(
    State(state): State<AppState>,
    Extension(svc): Extension<Arc<Service>>,
    Ready(_): Ready,
    Query(q): Query<StartQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (live, view) = live_view(&svc, &state).await?;
    let Some((app, target)) = app_for(&view, &headers) else {
        return Ok(no_application(&state));
    };
    let origin = redirect::origin_of(app, &target);
    let rd = redirect::rd_from_query(uri.query(), q.rd.as_deref())
        .and_then(|rd| redirect::validate_rd(app, &rd, &origin))
        .unwrap_or_else(|| redirect::default_rd(app));
    let token = live
        .directory()
        .forward_auth()
        .begin_sign_in(app.id, &rd, &origin)
        .await?;
    let mut res = found(&redirect::authorize_url(live.gatehouse_url(), &token));
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie::state_cookie(&token, START_LIFETIME_SECS, is_https(app, &target)),
    );
    Ok(res)
}

/// GET `/application/proxy/authorize/?state=…` on Gatehouse's host: a signed-in
/// person who may use the application gets a code, on its way to `/callback`.
/// Others are sent to sign in first (by [`SignedIn`]) and come back here.
pub async fn authorize_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    me: SignedIn,
    Query(q): Query<StateQuery>,
    uri: Uri,
) -> Result<Response, PageError> {
    match directory
        .forward_auth()
        .grant_code(&me.session, &me.user, &q.state)
        .await?
    {
        // MFA: through the second factor and back here.
        ProxyGrant::StepUp => {
            let back = uri.path_and_query().map_or("/", |p| p.as_str());
            Ok(found(&crate::mfa::step_up_url(back)))
        }
        ProxyGrant::Granted { code, callback_origin } => Ok(found(&redirect::callback_url(&callback_origin, &code))),
        ProxyGrant::Denied { app } => Ok(message(
            &state,
            StatusCode::FORBIDDEN,
            "No access",
            format!("Your account does not have access to {}.", app.name),
            Some(("/if/user/".into(), "Go to your applications".into())),
        )),
        ProxyGrant::Expired => Ok(message(
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in took too long or was already used. Go back to the application and try again.".into(),
            Some(("/if/user/".into(), "Go to your applications".into())),
        )),
    }
}

/// GET `/outpost.goauthentik.io/callback?code=…`: redeem the code with this
/// browser's state cookie, set the proxy session cookie, go to `rd`.
pub async fn callback_get(
    State(state): State<AppState>,
    Extension(svc): Extension<Arc<Service>>,
    Ready(_): Ready,
    caller: Caller,
    Query(q): Query<CodeQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (live, view) = live_view(&svc, &state).await?;
    let Some((app, target)) = app_for(&view, &headers) else {
        return Ok(no_application(&state));
    };
    let secure = is_https(app, &target);
    let state_token = cookie::read(&headers, cookie::STATE_COOKIE).unwrap_or("");
    let redeemed = live
        .directory()
        .forward_auth()
        .redeem_code(&caller.anonymous(), &q.code, state_token, app.id)
        .await?;
    let Some(sign_in) = redeemed else {
        let restart = redirect::default_rd(app);
        let mut res = message(
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in link not valid",
            "This sign-in link has expired, was already used, or was opened in another browser.".into(),
            Some((restart, "Try again".into())),
        );
        res.headers_mut()
            .append(header::SET_COOKIE, cookie::clear_state_cookie(secure));
        return Ok(res);
    };
    let origin = redirect::origin_of(app, &target);
    let rd = redirect::validate_rd(app, &sign_in.rd, &origin).unwrap_or_else(|| redirect::default_rd(app));
    let max_age = (sign_in.expires_at.millis() - live.directory().now().millis()) / 1000;
    let mut res = found(&rd);
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie::session_cookie(app, &sign_in.token, max_age, secure),
    );
    h.append(header::SET_COOKIE, cookie::clear_state_cookie(secure));
    Ok(res)
}

/// GET or POST `/outpost.goauthentik.io/sign_out` (authentik's outpost path,
/// on the protected host): clears this host's proxy cookie and sends the
/// browser to Gatehouse's `/logout`, which asks before it signs out everywhere.
/// This host cannot check a Gatehouse CSRF token, and any site can link or post
/// here, so it ends nothing itself: a forged request only makes this host ask
/// Gatehouse again (which answers at once while the Gatehouse session lives).
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(svc): Extension<Arc<Service>>,
    Ready(_): Ready,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (live, view) = live_view(&svc, &state).await?;
    let Some((app, target)) = app_for(&view, &headers) else {
        return Ok(no_application(&state));
    };
    let mut res = found(&format!("{}/logout", live.gatehouse_url()));
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie::clear_session_cookie(app, is_https(app, &target)),
    );
    Ok(res)
}

/// A 302 to `url`, which is built from checked parts; should it still not be
/// a valid header value, a 400 rather than a panic.
fn found(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn live_view<'a>(svc: &'a Service, state: &AppState) -> Result<(&'a ForwardAuthService, Arc<View>), PageError> {
    let live = svc.get(state).ok_or(PageError::Starting)?;
    let view = live.view().await?;
    Ok((live, view))
}

fn app_for<'v>(view: &'v View, headers: &'v HeaderMap) -> Option<(&'v ProxyApp, Target<'v>)> {
    let target = Target::for_outpost_page(headers)?;
    let app = view.apps.resolve(&target.authority)?;
    Some((app, target))
}

fn is_https(app: &ProxyApp, target: &Target<'_>) -> bool {
    target.scheme_or(app.scheme) == Scheme::Https
}

fn no_application(state: &AppState) -> Response {
    message(
        state,
        StatusCode::NOT_FOUND,
        "Not found",
        "No application is configured for this address.".into(),
        None,
    )
}

fn message(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: String,
    link: Option<(String, String)>,
) -> Response {
    render_with_status(
        status,
        &MessagePage {
            branding: state.branding(),
            title: title.into(),
            message,
            link,
            status_class: "error",
        },
    )
}
