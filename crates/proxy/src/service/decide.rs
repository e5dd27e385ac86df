//! A decision when the cache misses: the proxy session, then the one gate
//! (active user, bindings, MFA), then the headers with the signed identity,
//! built once for every hit after it.

use gatehouse_core::access::{Ask, Consent, Verdict};
use gatehouse_core::forward_auth::LiveProxySession;
use gatehouse_crypto::signing::SigningAlg;

use super::{DECISION_TTL_MS, Decision, ForwardAuthService, View};
use crate::claims::identity_claims;
use crate::headers::{Identity, Meta, identity_headers, merge_attributes};
use crate::{OUTPOST_NAME, ProxyApp};

/// `X-authentik-meta-version`.
const VERSION: &str = concat!("gatehouse/", env!("CARGO_PKG_VERSION"));
/// The identity token's algorithm: ES256 signs in tens of microseconds where
/// RSA takes a millisecond, and every cache miss signs once.
const JWT_ALG: SigningAlg = SigningAlg::Es256;

/// The decision for `token` on `app`, and until when it may be reused.
pub(super) async fn decide(
    svc: &ForwardAuthService,
    view: &View,
    app: &ProxyApp,
    token: &str,
    now_ms: i64,
) -> gatehouse_core::Result<(Decision, i64)> {
    let reuse_until = now_ms + DECISION_TTL_MS;
    let Some(session) = svc.dir.forward_auth().session(token, app.id).await? else {
        return Ok((Decision::SignIn, reuse_until));
    };
    let until = reuse_until.min(session.valid_until.millis());
    let ask = Ask {
        user: &session.user,
        amr: &session.amr,
        app_id: app.id,
        consent: Consent::NotAsked,
    };
    let groups = match view.access.gate(&ask) {
        Verdict::Allow { groups } => groups,
        // Sign-in again: the hand-off steps the session up.
        Verdict::StepUp | Verdict::AskConsent => return Ok((Decision::SignIn, until)),
        Verdict::Deny(_) => return Ok((Decision::Forbidden, until)),
    };
    let user = &session.user;
    // authentik's `uid`: SHA-256 (hex) of the user id, the same value as the
    // OIDC provider's default `sub`.
    let uid = user.hashed_uid();
    let identity = Identity {
        uid: &uid,
        username: &user.username,
        email: &user.email,
        name: &user.name,
        groups: groups.iter().map(|g| g.name.as_str()).collect(),
        entitlements: Vec::new(),
        attributes: merge_attributes(groups.iter().map(|g| &g.attributes), &user.attributes),
    };
    let jwt = sign(svc, app, &identity, &session, now_ms).await;
    let jwks_url = format!("{}/application/o/{}/jwks/", svc.gatehouse_url, app.slug);
    let meta = Meta {
        jwt: jwt.as_deref(),
        jwks_url: &jwks_url,
        outpost: OUTPOST_NAME,
        provider: &app.name,
        app: &app.slug,
        version: VERSION,
    };
    Ok((Decision::Allow(identity_headers(&app.config, &identity, &meta)), until))
}

/// The signed identity, or `None` (logged) when no key can sign: the request
/// still passes, without `X-authentik-jwt`, rather than locking everyone out.
async fn sign(
    svc: &ForwardAuthService,
    app: &ProxyApp,
    identity: &Identity<'_>,
    session: &LiveProxySession,
    now_ms: i64,
) -> Option<String> {
    let issuer = format!("{}/application/o/{}/", svc.gatehouse_url, app.slug);
    let claims = identity_claims(
        &issuer,
        &app.slug,
        identity,
        &session.session_id.to_string(),
        now_ms.div_euclid(1000),
    );
    let signed = match svc.dir.keys().signing_key(JWT_ALG).await {
        Ok(key) => key.sign_jwt(&claims).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    signed
        .map_err(|error| tracing::error!(%error, application = %app.slug, "cannot sign X-authentik-jwt"))
        .ok()
}
