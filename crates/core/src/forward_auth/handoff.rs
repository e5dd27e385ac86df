//! The sign-in hand-off between a protected host and Gatehouse: start state,
//! single-use code, proxy session (see the module docs of `forward_auth`).

use gatehouse_crypto::{constant_time_eq, random_token, sha256_hex};
use serde_json::json;
use uuid::Uuid;

use super::{AUTHORIZE_APPLICATION, ProxyRecord, plausible_token};
use crate::access::{Consent, Verdict};
use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::ForwardAuth;
use crate::error::Result;
use crate::model::{Actor, Application, FlowRecord, ProviderKind, Session, User};

/// How long a person has from `/start` to finishing sign-in.
pub const START_LIFETIME_SECS: i64 = 30 * 60;
/// How long a code lives between Gatehouse's redirect and `/callback`.
pub const CODE_LIFETIME_SECS: i64 = 60;

/// What Gatehouse answers a signed-in person coming from `/start`.
pub enum ProxyGrant {
    /// Go to `callback_origin` + `/outpost.goauthentik.io/callback?code=…`.
    Granted { code: String, callback_origin: String },
    /// The access rule keeps this person out of the application.
    Denied { app: Application },
    /// Unknown or expired state, or the application is gone: start again.
    Expired,
    /// MFA: the session must pass a second factor first (then come back).
    StepUp,
}

/// A redeemed code: the proxy session's cookie token and where to go.
pub struct ProxySignIn {
    pub token: String,
    pub rd: String,
    pub user: User,
    /// The parent session's absolute end (the cookie's lifetime).
    pub expires_at: Timestamp,
}

// Both carry a one-time secret (a code, a cookie token): their `Debug` leaves it out.
impl std::fmt::Debug for ProxyGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyGrant::Granted { callback_origin, .. } => f
                .debug_struct("Granted")
                .field("callback_origin", callback_origin)
                .finish_non_exhaustive(),
            ProxyGrant::Denied { app } => f.debug_struct("Denied").field("app", &app.slug).finish(),
            ProxyGrant::Expired => f.write_str("Expired"),
            ProxyGrant::StepUp => f.write_str("StepUp"),
        }
    }
}

impl std::fmt::Debug for ProxySignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySignIn")
            .field("rd", &self.rd)
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl ForwardAuth<'_> {
    /// `/start`: remembers where to return after sign-in and where the callback
    /// will run; returns the state token for the browser's cookie. `rd` and
    /// `callback_origin` are validated by the caller (`gatehouse-proxy`).
    pub async fn begin_sign_in(self, app_id: Uuid, rd: &str, callback_origin: &str) -> Result<String> {
        let token = random_token(32);
        let record = ProxyRecord::Start {
            app_id,
            rd: rd.to_string(),
            callback_origin: callback_origin.to_string(),
        };
        self.insert_proxy_record(&token, &record, self.now().plus_seconds(START_LIFETIME_SECS))
            .await?;
        Ok(token)
    }

    /// On Gatehouse's host: a single-use code for the application `/start` was
    /// for, if `user` may use it. The code is bound to the state token, so only
    /// the browser that visited `/start` can redeem it (no login CSRF).
    pub async fn grant_code(self, session: &Session, user: &User, state_token: &str) -> Result<ProxyGrant> {
        if !plausible_token(state_token) {
            return Ok(ProxyGrant::Expired);
        }
        let state_hash = sha256_hex(state_token.as_bytes());
        let Some(record) = self.store().flow_by_hash(&state_hash).await? else {
            return Ok(ProxyGrant::Expired);
        };
        if record.expires_at <= self.now() {
            return Ok(ProxyGrant::Expired);
        }
        let Some(ProxyRecord::Start {
            app_id,
            rd,
            callback_origin,
        }) = ProxyRecord::from_state(&record.state)
        else {
            return Ok(ProxyGrant::Expired);
        };
        let Some(app) = self.proxy_application(app_id).await? else {
            return Ok(ProxyGrant::Expired);
        };
        match self
            .access()
            .check(user, &session.amr, app.id, Consent::NotAsked)
            .await?
        {
            Verdict::Allow { .. } => {}
            Verdict::StepUp | Verdict::AskConsent => return Ok(ProxyGrant::StepUp),
            Verdict::Deny(_) => return Ok(ProxyGrant::Denied { app }),
        }
        let code = random_token(32);
        let grant = ProxyRecord::Code {
            app_id,
            user_id: user.id,
            session_id: session.id,
            state_hash,
            rd,
        };
        self.insert_proxy_record(&code, &grant, self.now().plus_seconds(CODE_LIFETIME_SECS))
            .await?;
        Ok(ProxyGrant::Granted { code, callback_origin })
    }

    /// `/callback`: redeems `code` (once) with the browser's state token, for the
    /// application of the host it arrived on, and opens a proxy session. `None`
    /// when the code is unknown, expired, used, meant for another browser or
    /// application, or when the person can no longer use the application.
    pub async fn redeem_code(
        self,
        audit: &Audit,
        code: &str,
        state_token: &str,
        app_id: Uuid,
    ) -> Result<Option<ProxySignIn>> {
        if !plausible_token(code) || !plausible_token(state_token) {
            return Ok(None);
        }
        let now = self.now();
        let code_hash = sha256_hex(code.as_bytes());
        // Checks first, on a plain read; the transaction below consumes the code
        // atomically, so a code raced to twice still opens one session.
        let Some(record) = self.store().flow_by_hash(&code_hash).await? else {
            return Ok(None);
        };
        let Some(ProxyRecord::Code {
            app_id: granted_for,
            user_id,
            session_id,
            state_hash,
            rd,
        }) = ProxyRecord::from_state(&record.state)
        else {
            return Ok(None);
        };
        let state_ok = constant_time_eq(state_hash.as_bytes(), sha256_hex(state_token.as_bytes()).as_bytes());
        let checked = if state_ok && granted_for == app_id && record.expires_at > now {
            self.live_parent(user_id, session_id).await?
        } else {
            None
        };
        let ready = match checked {
            Some((parent, user)) => match self.proxy_application(app_id).await? {
                Some(app)
                    if self
                        .access()
                        .check(&user, &parent.amr, app.id, Consent::NotAsked)
                        .await?
                        .is_allowed() =>
                {
                    Some((parent, user, app))
                }
                _ => None,
            },
            None => None,
        };
        let mut tx = self.store().begin().await?;
        let consumed = tx.consume_flow(&code_hash, now).await?;
        // A code that fails its checks is spent all the same.
        let (parent, user, app) = match (consumed, ready) {
            (Some(consumed), Some(ready)) if consumed.id == record.id => ready,
            _ => {
                tx.commit().await?;
                return Ok(None);
            }
        };
        tx.consume_flow(&state_hash, now).await?;
        let token = random_token(32);
        let session = ProxyRecord::Session {
            app_id,
            user_id,
            session_id,
        };
        tx.insert_flow(&FlowRecord {
            id: Uuid::new_v4(),
            token_hash: sha256_hex(token.as_bytes()),
            state: session.to_state()?,
            created_at: now,
            expires_at: parent.expires_at,
        })
        .await?;
        // The person is known now: the event is theirs.
        let audit = Audit::new(Actor::User(user.username.clone()), audit.client_ip.clone());
        tx.append_event(
            audit.event(
                AUTHORIZE_APPLICATION,
                Some(&user.username),
                json!({"application": app.slug, "provider": "proxy", "session": parent.id}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(ProxySignIn {
            token,
            rd,
            user,
            expires_at: parent.expires_at,
        }))
    }

    /// The application with a proxy provider and this id, if it still exists.
    async fn proxy_application(self, app_id: Uuid) -> Result<Option<Application>> {
        Ok(self
            .store()
            .applications()
            .await?
            .into_iter()
            .find(|a| a.id == app_id && a.provider == Some(ProviderKind::Proxy)))
    }

    async fn insert_proxy_record(self, token: &str, record: &ProxyRecord, expires_at: Timestamp) -> Result<()> {
        let flow = FlowRecord {
            id: Uuid::new_v4(),
            token_hash: sha256_hex(token.as_bytes()),
            state: record.to_state()?,
            created_at: self.now(),
            expires_at,
        };
        let mut tx = self.store().begin().await?;
        tx.insert_flow(&flow).await?;
        tx.commit().await?;
        Ok(())
    }
}
