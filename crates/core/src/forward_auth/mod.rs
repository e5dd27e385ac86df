//! Forward-auth state (authentik's "proxy provider"): the sign-in hand-off
//! between a protected host and Gatehouse, the proxy sessions it opens, and a
//! the access decision goes through the one gate ([`crate::access`]).
//!
//! A protected host (`app.example.com`) cannot read Gatehouse's session cookie,
//! so signing in there is a hand-off:
//!
//! 1. `/start` on the protected host stores where to return (`rd`) under a
//!    random state token, which the browser keeps in a cookie on that host
//!    ([`Directory::begin_proxy_sign_in`]);
//! 2. on Gatehouse's host, a signed-in person who may use the application gets a
//!    single-use code bound to that state, valid for a minute
//!    ([`Directory::grant_proxy_code`]);
//! 3. `/callback` on the protected host redeems the code together with the state
//!    cookie and opens a *proxy session* ([`Directory::redeem_proxy_code`]).
//!
//! A proxy session is a child of the Gatehouse session it came from, scoped to
//! one application. It is stored as a flow record (a hashed token with a JSON
//! state and an end), not as a session row, on purpose: the proxy cookie reaches
//! the protected service (proxies forward the `Cookie` header), and a token that
//! service could replay must not open Gatehouse itself or another application.
//! It is valid only while its parent session is: signing out of Gatehouse,
//! revoking the session, changing the password or disabling the user all end it
//! with no extra bookkeeping, and each of those writes an event, which moves the
//! change feed that forward-auth caches follow.
//!
//! Tokens, codes and states are 256-bit random values stored as SHA-256 only.
//! No protocol decisions here (which host, which headers): `gatehouse-proxy`.

mod handoff;
mod proxy_session;

pub use handoff::{CODE_LIFETIME_SECS, ProxyGrant, ProxySignIn, START_LIFETIME_SECS};
pub use proxy_session::LiveProxySession;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// authentik's action name for "a person was let into an application".
pub const AUTHORIZE_APPLICATION: &str = "authorize_application";

/// What a forward-auth flow record holds. The `kind` tag keeps these apart from
/// sign-in flows stored in the same table (neither parses as the other).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub(crate) enum ProxyRecord {
    /// `/start` was visited: where to go back to, and where the callback runs.
    #[serde(rename = "proxy_start")]
    Start {
        app_id: Uuid,
        rd: String,
        callback_origin: String,
    },
    /// A single-use code for one browser (the SHA-256 of its state token).
    #[serde(rename = "proxy_code")]
    Code {
        app_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
        state_hash: String,
        rd: String,
    },
    /// An open proxy session: one application, one parent Gatehouse session.
    #[serde(rename = "proxy_session")]
    Session {
        app_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
    },
}

impl ProxyRecord {
    pub(crate) fn from_state(state: &serde_json::Value) -> Option<ProxyRecord> {
        serde_json::from_value(state.clone()).ok()
    }

    pub(crate) fn to_state(&self) -> crate::Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| crate::Error::invalid("proxy state", e.to_string()))
    }
}

/// Tokens longer than this are not ours (ours are 43 characters).
pub(crate) fn plausible_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowState;

    #[test]
    fn records_and_sign_in_flows_never_parse_as_each_other() {
        let rec = ProxyRecord::Session {
            app_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            session_id: Uuid::new_v4(),
        };
        let state = rec.to_state().unwrap();
        assert!(serde_json::from_value::<FlowState>(state.clone()).is_err());
        assert!(matches!(
            ProxyRecord::from_state(&state),
            Some(ProxyRecord::Session { .. })
        ));
        let login = serde_json::json!({"kind": "login", "stage": "identify", "identifier": "",
            "next": "/", "csrf": "x"});
        assert!(serde_json::from_value::<FlowState>(login.clone()).is_ok());
        assert!(ProxyRecord::from_state(&login).is_none());
    }
}
