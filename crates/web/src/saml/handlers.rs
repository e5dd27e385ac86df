//! The SAML endpoints. Protocol work is `gatehouse_saml`'s; records are
//! `gatehouse_core::saml`'s.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::saml::ParkedRequest;
use gatehouse_core::{Actor, Application, Directory, Timestamp};
use gatehouse_saml::SamlConfig;
use gatehouse_saml::binding::{self, RawQuery as SamlQuery};
use gatehouse_saml::dsig::Verifier;
use gatehouse_saml::metadata::{IdpMetadata, idp_metadata};
use gatehouse_saml::request::{Embedded, Request, read_request};
use gatehouse_saml::response::{self, Assertion, authn_context_class};
use gatehouse_saml::xml::Limits;

use super::SamlRuntime;
use crate::cookies;
use crate::errors::PageError;
use crate::pages::{Branding, MessagePage, render_with_status};
use crate::request::{Caller, current_session, encode};
use crate::state::AppState;

/// Largest XML message accepted (after base64 and inflation).
pub const MAX_XML_BYTES: usize = 64 * 1024;
/// A request older than this is refused as expired.
pub const MAX_AGE_MS: i64 = 5 * 60 * 1000;
/// A request this far in the future is accepted (clock skew).
pub const MAX_SKEW_MS: i64 = 90 * 1000;
/// RelayState longer than this is refused (SAML bindings cap it at 80 bytes; SPs exceed that).
const MAX_RELAY_STATE: usize = 2048;

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

struct Ctx {
    dir: Directory,
    app: Application,
    cfg: SamlConfig,
    /// `EXTERNAL/application/saml/<slug>`
    base: String,
}

impl Ctx {
    fn entity_id(&self) -> String {
        format!("{}/metadata/", self.base)
    }
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

fn refused(state: &AppState, why: &str) -> Response {
    tracing::info!(reason = why, "SAML request refused");
    page(
        state,
        StatusCode::BAD_REQUEST,
        "SAML request refused",
        &format!("The application sent a request Gatehouse cannot accept: {why}."),
    )
}

async fn load(state: &AppState, slug: &str) -> Result<Result<Ctx, Response>, PageError> {
    let dir = state.directory().cloned().ok_or(PageError::Starting)?;
    let Some((app, cfg)) = dir.saml().application(slug).await? else {
        return Ok(Err(page(
            state,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no SAML application at this address.",
        )));
    };
    let base = format!("{}/application/saml/{}", state.config.external_url, app.slug);
    Ok(Ok(Ctx { dir, app, cfg, base }))
}

macro_rules! ctx_or_return {
    ($state:expr, $slug:expr) => {
        match load(&$state, &$slug).await? {
            Ok(c) => c,
            Err(r) => return Ok(r),
        }
    };
}

// ---- metadata ------------------------------------------------------------------

pub async fn metadata(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<SamlRuntime>>,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let ctx = ctx_or_return!(state, slug);
    let (_, certs) = ctx.dir.saml().signer(&rt.keys, ctx.cfg.signing_alg.family()).await?;
    let entity = ctx.entity_id();
    let (sso_r, sso_p, slo_r, slo_p) = (
        format!("{}/sso/binding/redirect/", ctx.base),
        format!("{}/sso/binding/post/", ctx.base),
        format!("{}/slo/binding/redirect/", ctx.base),
        format!("{}/slo/binding/post/", ctx.base),
    );
    let body = idp_metadata(&IdpMetadata {
        entity_id: &entity,
        sso_redirect: &sso_r,
        sso_post: &sso_p,
        slo_redirect: &slo_r,
        slo_post: &slo_p,
        certs: &certs,
        name_id_formats: &[ctx.cfg.name_id.format()],
        want_authn_requests_signed: ctx.cfg.requests_must_be_signed(),
    });
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(res)
}

// ---- receiving requests ---------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Sso,
    Slo,
    Both,
}

enum Incoming {
    Redirect(String),
    Post(String),
}

pub async fn sso_redirect(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    receive(&state, &slug, Endpoint::Sso, Incoming::Redirect(q.unwrap_or_default())).await
}

pub async fn sso_post(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    receive(&state, &slug, Endpoint::Sso, Incoming::Post(body)).await
}

pub async fn slo_redirect(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    receive(&state, &slug, Endpoint::Slo, Incoming::Redirect(q.unwrap_or_default())).await
}

pub async fn slo_post(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    receive(&state, &slug, Endpoint::Slo, Incoming::Post(body)).await
}

pub async fn any_get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    receive(&state, &slug, Endpoint::Both, Incoming::Redirect(q.unwrap_or_default())).await
}

pub async fn any_post(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    receive(&state, &slug, Endpoint::Both, Incoming::Post(body)).await
}

fn form_value(body: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Decodes, verifies and checks a request; parks it and sends the browser on.
async fn receive(state: &AppState, slug: &str, endpoint: Endpoint, incoming: Incoming) -> Result<Response, PageError> {
    let ctx = ctx_or_return!(state, slug);
    let certs = ctx.cfg.certs();
    let verifier: Option<&dyn Verifier> = if certs.is_empty() { None } else { Some(&certs) };
    let limits = Limits {
        max_bytes: MAX_XML_BYTES,
        ..Limits::default()
    };
    // A LogoutResponse (an SP answering a logout): nothing to do but say so.
    let (xml, relay_state, query_signed) = match &incoming {
        Incoming::Redirect(q) => {
            let raw = match SamlQuery::parse(q) {
                Ok(r) => r,
                Err(e) => return Ok(refused(state, &e.to_string())),
            };
            if raw.raw("SAMLResponse").is_some() && endpoint != Endpoint::Sso {
                return Ok(signed_out_page(state));
            }
            let Some(msg) = raw.get("SAMLRequest") else {
                return Ok(refused(state, "no SAMLRequest parameter"));
            };
            let xml = match binding::decode_redirect(&msg, MAX_XML_BYTES) {
                Ok(x) => x,
                Err(e) => return Ok(refused(state, &e.to_string())),
            };
            let signed = match (raw.is_signed(), verifier) {
                (true, Some(v)) => match raw.verify("SAMLRequest", v) {
                    Ok(()) => true,
                    Err(e) => return Ok(refused(state, &e.to_string())),
                },
                _ => false,
            };
            (xml, raw.get("RelayState"), signed)
        }
        Incoming::Post(body) => {
            if form_value(body, "SAMLResponse").is_some() && endpoint != Endpoint::Sso {
                return Ok(signed_out_page(state));
            }
            let Some(msg) = form_value(body, "SAMLRequest") else {
                return Ok(refused(state, "no SAMLRequest field"));
            };
            let xml = match binding::decode_post(&msg, MAX_XML_BYTES) {
                Ok(x) => x,
                Err(e) => return Ok(refused(state, &e.to_string())),
            };
            (xml, form_value(body, "RelayState"), false)
        }
    };
    if relay_state.as_ref().is_some_and(|r| r.len() > MAX_RELAY_STATE) {
        return Ok(refused(state, "RelayState is too long"));
    }
    let (req, embedded) = match read_request(&xml, limits, verifier) {
        Ok(r) => r,
        Err(e) => return Ok(refused(state, &e.to_string())),
    };
    let signed = query_signed || embedded == Embedded::Verified;
    if ctx.cfg.requests_must_be_signed() && !signed {
        return Ok(refused(
            state,
            "the request is not signed, and this application's requests must be",
        ));
    }
    // Anyone can build an unsigned LogoutRequest: only an SP allowed to may sign people out with one.
    if matches!(req, Request::Logout(_)) && !signed && !ctx.cfg.allow_unsigned_logout {
        return Ok(refused(
            state,
            "the logout request is not signed, and this application may not send unsigned ones",
        ));
    }
    if let Some(issuer) = req.issuer()
        && issuer != ctx.cfg.audience
    {
        return Ok(refused(
            state,
            "the request's Issuer is not this application's service provider",
        ));
    }
    let (kind_ok, paths) = match (&req, endpoint) {
        (Request::Authn(_), Endpoint::Sso | Endpoint::Both) => {
            (true, ["sso/binding/redirect/", "sso/binding/post/", ""])
        }
        (Request::Logout(_), Endpoint::Slo | Endpoint::Both) => {
            (true, ["slo/binding/redirect/", "slo/binding/post/", ""])
        }
        _ => (false, ["", "", ""]),
    };
    if !kind_ok {
        return Ok(refused(state, "this endpoint does not take that kind of message"));
    }
    // A signed message must name where it is going (SAML bindings 3.4.5.2,
    // 3.5.5.2): else a request signed for another IdP endpoint could be replayed here.
    match req.destination() {
        Some(dest) if !paths.iter().any(|p| dest == format!("{}/{p}", ctx.base)) => {
            return Ok(refused(state, "the request's Destination is not this endpoint"));
        }
        None if signed => {
            return Ok(refused(state, "the request is signed but has no Destination"));
        }
        _ => {}
    }
    let now = ctx.dir.now().millis();
    let instant = req.issue_instant();
    if instant < now - MAX_AGE_MS {
        return Ok(refused(state, "the request has expired (IssueInstant too old)"));
    }
    if instant > now + MAX_SKEW_MS {
        return Ok(refused(state, "the request's IssueInstant is in the future"));
    }
    let until = Timestamp(instant + MAX_AGE_MS + MAX_SKEW_MS);
    if !ctx
        .dir
        .saml()
        .claim_request_id(ctx.app.id, req.issuer().unwrap_or(""), req.id(), until)
        .await?
    {
        return Ok(refused(state, "this request was already used (replayed request ID)"));
    }
    match req {
        Request::Authn(a) => {
            if a.protocol_binding
                .as_deref()
                .is_some_and(|b| b != gatehouse_saml::metadata::BINDING_POST)
            {
                return Ok(refused(state, "only the HTTP-POST binding is supported for responses"));
            }
            let acs = match ctx.cfg.acs_for(a.acs_url.as_deref(), a.acs_index) {
                Ok(u) => u.to_string(),
                Err(e) => return Ok(refused(state, &e.to_string())),
            };
            let parked = ParkedRequest {
                app_id: ctx.app.id,
                acs_url: acs,
                request_id: Some(a.id),
                relay_state,
                not_before: a.force_authn.then(|| ctx.dir.now()),
                logout: false,
            };
            let token = ctx.dir.saml().park(&parked).await?;
            Ok(Redirect::to(&format!("/application/saml/{}/sso/continue/?t={token}", ctx.app.slug)).into_response())
        }
        Request::Logout(l) => {
            let parked = ParkedRequest {
                app_id: ctx.app.id,
                acs_url: ctx.cfg.slo_url.clone().unwrap_or_default(),
                request_id: Some(l.id),
                relay_state,
                not_before: None,
                logout: true,
            };
            let token = ctx.dir.saml().park(&parked).await?;
            Ok(Redirect::to(&format!("/application/saml/{}/slo/continue/?t={token}", ctx.app.slug)).into_response())
        }
    }
}

/// IdP-initiated sign-in: an unsolicited response to the default ACS URL.
pub async fn sso_init(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let ctx = ctx_or_return!(state, slug);
    let relay_state = form_value(q.as_deref().unwrap_or(""), "RelayState").filter(|r| r.len() <= MAX_RELAY_STATE);
    let parked = ParkedRequest {
        app_id: ctx.app.id,
        acs_url: ctx.cfg.acs_urls.first().cloned().unwrap_or_default(),
        request_id: None,
        relay_state,
        not_before: None,
        logout: false,
    };
    let token = ctx.dir.saml().park(&parked).await?;
    Ok(Redirect::to(&format!("/application/saml/{}/sso/continue/?t={token}", ctx.app.slug)).into_response())
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

// ---- answering -----------------------------------------------------------------

/// After sign-in: the access decision, then the signed response, posted to the ACS.
pub async fn sso_continue(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<SamlRuntime>>,
    Path(slug): Path<String>,
    caller: Caller,
    RawQuery(q): RawQuery,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let ctx = ctx_or_return!(state, slug);
    let (parts, _) = req.into_parts();
    let token = form_value(q.as_deref().unwrap_or(""), "t").unwrap_or_default();
    let Some(parked) = ctx
        .dir
        .saml()
        .parked(&token)
        .await?
        .filter(|p| p.app_id == ctx.app.id && !p.logout)
    else {
        return Ok(expired(&state));
    };
    let session = current_session(&ctx.dir, &parts).await?;
    let fresh_enough = |s: &gatehouse_core::Session| parked.not_before.is_none_or(|t| s.created_at >= t);
    let here = format!("/application/saml/{}/sso/continue/?t={}", ctx.app.slug, encode(&token));
    let Some((session, user)) = session.filter(|(s, _)| fresh_enough(s)) else {
        let mut to = format!("/login?next={}", encode(&here));
        if parked.not_before.is_some() {
            to.push_str("&force=1");
        }
        return Ok(Redirect::to(&to).into_response());
    };
    // MFA: an application that requires a second factor steps a password-only
    // session up (and comes back here), as OIDC and forward-auth do.
    if ctx.dir.mfa().needs_step_up(&session, &user, &ctx.app.slug).await? {
        return Ok(Redirect::to(&crate::mfa::step_up_url(&here)).into_response());
    }
    let Some(parked) = ctx.dir.saml().unpark(&token).await? else {
        return Ok(expired(&state));
    };
    let audit = caller.audit(Actor::User(user.username.clone()));
    let Some(subject) = ctx
        .dir
        .saml()
        .authorize(
            &audit,
            &ctx.app,
            &ctx.cfg,
            &user,
            &session,
            parked.request_id.as_deref(),
        )
        .await?
    else {
        return Ok(page(
            &state,
            StatusCode::FORBIDDEN,
            "No access",
            &format!(
                "You are signed in, but you may not use {}. Ask an administrator to give you access.",
                ctx.app.name
            ),
        ));
    };
    let (key, _) = ctx.dir.saml().signer(&rt.keys, ctx.cfg.signing_alg.family()).await?;
    let attrs = response::standard_attributes(
        &subject.username,
        &subject.email,
        &subject.name,
        &subject.uid,
        &subject.groups,
    );
    let (response_id, assertion_id) = (gatehouse_saml::new_id(), gatehouse_saml::new_id());
    let issuer = ctx.entity_id();
    let a = Assertion {
        response_id: &response_id,
        assertion_id: &assertion_id,
        issuer: &issuer,
        acs_url: &parked.acs_url,
        in_response_to: parked.request_id.as_deref(),
        audience: &ctx.cfg.audience,
        name_id: &subject.name_id,
        name_id_format: ctx.cfg.name_id.format(),
        session_index: &subject.session_index,
        authn_instant: session.created_at.millis(),
        authn_context: authn_context_class(&session.amr, state.config.secure_cookies()),
        session_not_on_or_after: Some(session.expires_at.millis()),
        attributes: &attrs,
        now: ctx.dir.now().millis(),
        valid_secs: ctx.cfg.assertion_valid_secs,
    };
    let xml = response::signed_response(&a, ctx.cfg.sign, key.as_ref(), ctx.cfg.signing_alg)
        .map_err(|e| PageError::Core(gatehouse_core::Error::Refused(format!("SAML signing: {e}"))))?;
    Ok(post_page(
        &state,
        &ctx.app.name,
        &parked.acs_url,
        "SAMLResponse",
        binding::encode_post(&xml),
        parked.relay_state,
    ))
}

fn post_page(
    state: &AppState,
    app_name: &str,
    action: &str,
    field: &'static str,
    value: String,
    relay_state: Option<String>,
) -> Response {
    let mut res = render_with_status(
        StatusCode::OK,
        &PostPage {
            branding: state.branding(),
            app_name: app_name.to_string(),
            lead: "Sending you back to the application…".into(),
            action: action.to_string(),
            field,
            value,
            relay_state,
        },
    );
    res.headers_mut()
        .insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

/// After a LogoutRequest: ends this browser's Gatehouse session and answers the SP.
pub async fn slo_continue(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<SamlRuntime>>,
    Path(slug): Path<String>,
    caller: Caller,
    RawQuery(q): RawQuery,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    let ctx = ctx_or_return!(state, slug);
    let (parts, _) = req.into_parts();
    let token = form_value(q.as_deref().unwrap_or(""), "t").unwrap_or_default();
    let Some(parked) = ctx
        .dir
        .saml()
        .unpark(&token)
        .await?
        .filter(|p| p.app_id == ctx.app.id && p.logout)
    else {
        return Ok(expired(&state));
    };
    if let Some((session, user)) = current_session(&ctx.dir, &parts).await? {
        let audit = caller.audit(Actor::User(user.username.clone()));
        ctx.dir.sessions().end(&audit, &session, &user.username).await?;
    }
    let clear = cookies::clear(cookies::SESSION, state.config.secure_cookies());
    let mut res = if parked.acs_url.is_empty() {
        signed_out_page(&state)
    } else {
        let (key, _) = ctx.dir.saml().signer(&rt.keys, ctx.cfg.signing_alg.family()).await?;
        let id = gatehouse_saml::new_id();
        let xml = response::logout_response_xml(
            &id,
            &ctx.entity_id(),
            &parked.acs_url,
            parked.request_id.as_deref().unwrap_or(""),
            response::STATUS_SUCCESS,
            ctx.dir.now().millis(),
        );
        let sign_err =
            |e: gatehouse_saml::Error| PageError::Core(gatehouse_core::Error::Refused(format!("SAML signing: {e}")));
        if ctx.cfg.slo_binding.as_deref() == Some("post") {
            let signed =
                gatehouse_saml::dsig::sign_element(&xml, &id, key.as_ref(), ctx.cfg.signing_alg).map_err(sign_err)?;
            post_page(
                &state,
                &ctx.app.name,
                &parked.acs_url,
                "SAMLResponse",
                binding::encode_post(&signed),
                parked.relay_state,
            )
        } else {
            let query = binding::signed_redirect_query(
                "SAMLResponse",
                &xml,
                parked.relay_state.as_deref(),
                key.as_ref(),
                ctx.cfg.signing_alg,
            )
            .map_err(sign_err)?;
            let sep = if parked.acs_url.contains('?') { '&' } else { '?' };
            Redirect::to(&format!("{}{sep}{query}", parked.acs_url)).into_response()
        }
    };
    res.headers_mut().append(header::SET_COOKIE, clear);
    Ok(res)
}
