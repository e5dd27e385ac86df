//! MFA pages: the second sign-in stage (also used by step-up and recovery
//! links), enrolment at sign-in when policy requires it, passkey sign-in
//! without a username, and the portal's Security page. Thin handlers over
//! `gatehouse_core::mfa`; WebAuthn ceremonies speak JSON to `/static/mfa.js`.

pub mod pages;
pub mod security;
pub mod stage;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_core::Directory;
use qrcode::QrCode;
use qrcode::render::svg;

use crate::errors::PageError;
use crate::request::encode;
use crate::state::AppState;

/// Where a session without MFA is sent to be stepped up, coming back to `next`.
pub fn step_up_url(next: &str) -> String {
    format!("{}?next={}", stage::STEP_UP_PATH, encode(next))
}

/// The routes of this feature.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(stage::MFA_PATH, get(stage::mfa_get).post(stage::mfa_post))
        .route("/login/mfa/webauthn/options", post(stage::webauthn_options))
        .route("/login/mfa/webauthn", post(stage::webauthn_finish))
        .route(stage::ENROL_PATH, get(stage::enrol_get).post(stage::enrol_post))
        .route(stage::STEP_UP_PATH, get(stage::step_up_get))
        .route("/login/passkey/options", post(stage::passkey_options))
        .route("/login/passkey", post(stage::passkey_finish))
        .route(security::SECURITY_PATH, get(security::security_get))
        .route(
            "/if/user/security/totp",
            get(security::totp_get).post(security::totp_post),
        )
        .route("/if/user/security/remove", post(security::remove_post))
        .route("/if/user/security/recovery-codes", post(security::codes_post))
        .route("/if/user/security/passkey/options", post(security::passkey_options))
        .route("/if/user/security/passkey", post(security::passkey_finish))
}

/// The otpauth URI as a QR code, an SVG `data:` URI for an `<img>` (the CSP
/// allows `data:` images; no inline markup to trust).
pub fn qr_data_uri(uri: &str) -> String {
    use base64::Engine;
    let svg = match QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    };
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

/// A JSON error for the WebAuthn script.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({"error": message})),
    )
        .into_response()
}

/// JSON for the script: where to go next, with the new session's cookies.
pub async fn json_signed_in(
    state: &AppState,
    directory: &Directory,
    headers: &axum::http::HeaderMap,
    user_id: uuid::Uuid,
    token: &str,
    to: &str,
) -> Result<Response, PageError> {
    let mut res = (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({"redirect": to})),
    )
        .into_response();
    crate::views::set_session_cookies(state, directory, headers, user_id, token, res.headers_mut()).await?;
    Ok(res)
}

/// Why a person who must use MFA cannot add a first authenticator now (issue
/// 13, finding 9: a password alone must not be enough to enrol one).
pub const ENROLMENT_CLOSED: &str = "Your account must use a second factor, and the first one can only be added \
     shortly after your first sign-in or with an administrator's help. Ask an administrator to let you \
     enrol one (they can send you a recovery link, or allow enrolment for an hour).";

/// The page for [`ENROLMENT_CLOSED`] (403, nothing signed in).
pub fn enrolment_closed_page(state: &AppState) -> Response {
    crate::pages::render_with_status(
        StatusCode::FORBIDDEN,
        &crate::pages::MessagePage {
            branding: state.branding(),
            title: "Ask an administrator".into(),
            message: ENROLMENT_CLOSED.into(),
            link: Some(("/login".into(), "Back to sign-in".into())),
            status_class: "error",
        },
    )
}

/// Maps an error of a JSON endpoint: caller errors as their message, others hidden.
pub fn json_page_error(e: PageError) -> Response {
    match e {
        PageError::Core(e) if e.is_caller_error() => json_error(StatusCode::BAD_REQUEST, &e.to_string()),
        PageError::Forbidden(why) => json_error(StatusCode::FORBIDDEN, why),
        PageError::Starting => json_error(StatusCode::SERVICE_UNAVAILABLE, "Gatehouse is starting."),
        PageError::Core(e) => {
            tracing::error!(error = %e, "request failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not complete the request.",
            )
        }
    }
}
