//! GET/POST /application/o/authorize/: validate, sign in (through the login
//! flow, back to this URL as a local `next`), check access, ask consent when
//! the application wants it, issue the code.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::oauth::model::{AuthCode, Grant};
use gatehouse_core::{Actor, Directory, Session, User};
use gatehouse_crypto::{random_token, sha256_hex};
use gatehouse_oidc::authorize::{self, AuthorizeRequest, Refusal, SessionFacts, Step};
use gatehouse_oidc::params::Params;
use gatehouse_oidc::{Client, paths, scope};
use uuid::Uuid;

use super::pages::{ConsentPage, message, permissions};
use super::runtime::OidcRuntime;
use crate::errors::PageError;
use crate::pages::render_with_status;
use crate::request::{Caller, csrf_ok, current_session, encode};
use crate::state::AppState;

/// How long an authorization code lives (RFC 6749 §4.1.2 recommends ≤ 10 min).
pub const CODE_LIFETIME_SECS: i64 = 60;

pub async fn authorize_get(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<OidcRuntime>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    authorize(&state, &rt, &caller, &parts, query.as_deref().unwrap_or(""), None).await
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
    authorize(&state, &rt, &caller, &parts, text, Some(())).await
}

/// The consent answer in a POST, taken out of the request parameters.
struct ConsentAnswer {
    decision: Option<String>,
    csrf: Option<String>,
}

fn split_consent(p: &Params) -> (Params, ConsentAnswer) {
    let mut rest = Vec::new();
    let mut answer = ConsentAnswer {
        decision: None,
        csrf: None,
    };
    for (k, v) in p.pairs() {
        match k.as_str() {
            "gh_consent" => answer.decision = Some(v.clone()),
            "csrf_token" => answer.csrf = Some(v.clone()),
            _ => rest.push((k.clone(), v.clone())),
        }
    }
    let text = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(rest)
        .finish();
    (Params::parse(&text).unwrap_or_default(), answer)
}

async fn authorize(
    state: &AppState,
    rt: &OidcRuntime,
    caller: &Caller,
    parts: &Parts,
    text: &str,
    posted: Option<()>,
) -> Result<Response, PageError> {
    let dir = state.directory().cloned().ok_or(PageError::Starting)?;
    let bad_page = |msg: &str| message(state, StatusCode::BAD_REQUEST, "Sign-in request refused", msg, true);
    let raw = match Params::parse(text) {
        Ok(p) => p,
        Err(e) => return Ok(bad_page(&e.description)),
    };
    let (params, answer) = match posted {
        Some(()) => split_consent(&raw),
        None => (
            raw,
            ConsentAnswer {
                decision: None,
                csrf: None,
            },
        ),
    };
    let client = match params.get("client_id") {
        Some(id) => rt.client(&dir, id).await?,
        None => None,
    };
    let external = state.config.external_url.clone();
    let req = match authorize::validate(&params, client.as_deref(), |c| c.issuer(&external)) {
        Ok(r) => r,
        Err(Refusal::Page(msg)) => return Ok(bad_page(&msg)),
        Err(Refusal::Redirect(to)) => return Ok(Redirect::to(&to).into_response()),
    };
    let Some(client) = client else {
        return Ok(bad_page("Unknown client."));
    };
    let issuer = client.issuer(&external);
    let session = current_session(&dir, parts).await?;
    let now = dir.now();
    let (may_use, consent_on_file) = match &session {
        Some((_, user)) => (
            dir.access().may_use(user, &client.app).await?,
            dir.oauth()
                .consent(user, &client.app)
                .await?
                .is_some_and(|c| scope::is_subset(&req.scopes, &c.scopes)),
        ),
        None => (false, false),
    };
    let mut consent_now = false;
    if let (Some(decision), Some((s, _))) = (&answer.decision, &session) {
        if !answer.csrf.as_deref().is_some_and(|c| csrf_ok(&s.csrf_token, c)) {
            return Err(PageError::Forbidden(
                "The form was not sent from this consent page. Start again.",
            ));
        }
        if decision != "allow" {
            let e =
                gatehouse_oidc::OAuthError::new(gatehouse_oidc::ErrorCode::AccessDenied, "the user denied the request");
            let to = authorize::error_redirect(&req.redirect_uri, req.state.as_deref(), &issuer, &e);
            return Ok(Redirect::to(&to).into_response());
        }
        consent_now = true;
    }
    let step = authorize::next_step(
        &params,
        &req,
        &client,
        &issuer,
        session.as_ref().map(|(s, _)| SessionFacts {
            auth_time: s.created_at,
        }),
        now,
        may_use,
        consent_on_file,
        consent_now,
    );
    // ---- MFA: a session without a second factor is stepped up, not refused.
    if let (Step::AskConsent | Step::Grant, Some((s, user))) = (&step, &session)
        && dir.mfa().needs_step_up(s, user, &client.app.slug).await?
    {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.pairs())
            .finish();
        let back = format!("{}?{}", paths::AUTHORIZE, query);
        return Ok(Redirect::to(&crate::mfa::step_up_url(&back)).into_response());
    }
    // ---- end MFA
    match step {
        Step::Login { return_to, force } => {
            let mut to = format!("/login?next={}", encode(&return_to));
            if force {
                to.push_str("&force=1");
            }
            Ok(Redirect::to(&to).into_response())
        }
        Step::Refuse(Refusal::Page(msg)) => Ok(bad_page(&msg)),
        Step::Refuse(Refusal::Redirect(to)) => Ok(Redirect::to(&to).into_response()),
        Step::NoAccess => Ok(message(
            state,
            StatusCode::FORBIDDEN,
            "No access",
            &format!(
                "You are signed in, but you may not use {}. Ask an administrator to give you access.",
                client.app.name
            ),
            true,
        )),
        Step::AskConsent => {
            let Some((s, user)) = &session else {
                return Ok(bad_page("Sign in first."));
            };
            Ok(render_with_status(
                StatusCode::OK,
                &ConsentPage {
                    branding: state.branding(),
                    csrf: s.csrf_token.clone(),
                    app_name: client.app.name.clone(),
                    username: user.username.clone(),
                    permissions: permissions(&req.scopes),
                    action: paths::AUTHORIZE.into(),
                    fields: params.pairs().to_vec(),
                },
            ))
        }
        Step::Grant => {
            let Some((s, user)) = &session else {
                return Ok(bad_page("Sign in first."));
            };
            let audit = caller.audit(Actor::User(user.username.clone()));
            if consent_now {
                dir.oauth()
                    .remember_consent(&audit, user, &client.app, &req.scopes)
                    .await?;
            }
            let code = grant(&dir, &audit, &client, &req, s, user).await?;
            Ok(Redirect::to(&authorize::success_redirect(&req, &code, &issuer)).into_response())
        }
    }
}

/// Records the grant and its code; returns the code.
async fn grant(
    dir: &Directory,
    audit: &gatehouse_core::Audit,
    client: &Client,
    req: &AuthorizeRequest,
    session: &Session,
    user: &User,
) -> Result<String, PageError> {
    let now = dir.now();
    let lifetime = if scope::has(&req.scopes, scope::OFFLINE_ACCESS) {
        client.config.refresh_token_validity_secs
    } else {
        client.config.access_token_validity_secs + CODE_LIFETIME_SECS
    };
    let grant = Grant {
        id: Uuid::new_v4(),
        application_id: client.app.id,
        user_id: user.id,
        session_id: Some(session.id),
        scopes: req.scopes.clone(),
        auth_time: session.created_at,
        amr: session.amr.clone(),
        nonce: req.nonce.clone(),
        created_at: now,
        expires_at: now.plus_seconds(lifetime),
        revoked_at: None,
    };
    let code = random_token(32);
    let record = AuthCode {
        code_hash: sha256_hex(code.as_bytes()),
        grant_id: grant.id,
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.pkce.as_ref().map(|(c, _)| c.clone()),
        code_challenge_method: req.pkce.as_ref().map(|(_, m)| m.clone()),
        created_at: now,
        expires_at: now.plus_seconds(CODE_LIFETIME_SECS),
        used_at: None,
    };
    dir.oauth()
        .record_authorization(audit, &client.app, user, &grant, &record)
        .await?;
    Ok(code)
}
