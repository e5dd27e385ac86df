//! Sign-in and recovery flows: the server-side state of a multi-step form,
//! bound to one browser by a random cookie token. Each step checks the flow's
//! CSRF token and stage; a protocol (OIDC, SAML, forward-auth) starts a flow
//! with the local URL to return to.
//!
//! Stages: identify → password → (second factor, or enrolment where policy
//! requires MFA) → done.

use gatehouse_crypto::{random_token, sha256_hex};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context::SignIn;
use crate::error::{Error, Result};
use crate::model::FlowRecord;

/// How long a person has to finish a flow.
pub const FLOW_LIFETIME_SECS: i64 = 30 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    Login,
    Recovery,
    /// Sign-up through an invitation link.
    Enrollment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Identify,
    Password,
    /// Recovery: the key was valid; the person chooses a new password.
    /// Enrollment: the person fills in the sign-up form.
    SetPassword,
    /// A second factor (login, step-up, or a recovery link of a person with one).
    Mfa,
    /// Policy requires MFA of a person who has none: enrol one now.
    MfaEnrol,
}

/// A flow's MFA stage: who passed the first factor and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaPending {
    pub user_id: Uuid,
    /// The password's change time at the check: a reset meanwhile voids the flow.
    pub password_changed_at: Option<crate::clock::Timestamp>,
    /// `amr` so far (`pwd`, or a step-up's session's).
    pub amr: Vec<String>,
    /// Step-up: the session the new one replaces.
    pub replace_session: Option<Uuid>,
    /// Recovery: the second factor was passed.
    #[serde(default)]
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowState {
    pub kind: FlowKind,
    pub stage: Stage,
    /// What the person typed at the identify stage (username or email).
    pub identifier: String,
    /// Recovery: the user whose key was presented.
    pub user_id: Option<Uuid>,
    /// Recovery: the digest of the key, spent when the new password is set.
    pub recovery_key_hash: Option<String>,
    /// A local path to return to when done (see [`safe_next`]).
    pub next: String,
    pub csrf: String,
    /// The MFA stage's state, once the first factor passed.
    #[serde(default)]
    pub mfa: Option<MfaPending>,
    /// A WebAuthn ceremony in progress (server-side state, never sent out).
    #[serde(default)]
    pub ceremony: Option<serde_json::Value>,
    /// Enrollment: the invitation the form is for.
    #[serde(default)]
    pub invitation: Option<Uuid>,
}

/// A flow as loaded for a request.
#[derive(Clone)]
pub struct Flow {
    pub record: FlowRecord,
    pub state: FlowState,
}

/// Accepts only local paths (`/…`, not `//…` or `/\…`, no control characters),
/// so `next` can never send a person to another site. Anything else → `None`.
pub fn safe_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 4096
        && !next.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    ok.then(|| next.to_string())
}

impl SignIn<'_> {
    /// The stages a person must still pass after a correct password, in order:
    /// a second factor for anyone with an authenticator; enrolment for someone
    /// policy requires MFA of and who has none.
    pub async fn stages_after_password(self, user: &crate::model::User) -> Result<Vec<Stage>> {
        if !self.mfa().authenticators(user.id).await?.is_empty() {
            return Ok(vec![Stage::Mfa]);
        }
        if self.mfa().required_for(user).await? {
            return Ok(vec![Stage::MfaEnrol]);
        }
        Ok(Vec::new())
    }

    /// Starts a flow; returns the cookie token (shown once) and the flow.
    pub async fn begin_flow(self, kind: FlowKind, next: Option<&str>) -> Result<(String, Flow)> {
        let token = random_token(32);
        let now = self.now();
        let state = FlowState {
            kind,
            stage: match kind {
                FlowKind::Login => Stage::Identify,
                FlowKind::Recovery | FlowKind::Enrollment => Stage::SetPassword,
            },
            identifier: String::new(),
            user_id: None,
            recovery_key_hash: None,
            next: next.and_then(safe_next).unwrap_or_else(|| "/if/user/".into()),
            csrf: random_token(32),
            mfa: None,
            ceremony: None,
            invitation: None,
        };
        let record = FlowRecord {
            id: Uuid::new_v4(),
            token_hash: sha256_hex(token.as_bytes()),
            state: serde_json::to_value(&state).map_err(|e| Error::invalid("flow", e.to_string()))?,
            created_at: now,
            expires_at: now.plus_seconds(FLOW_LIFETIME_SECS),
        };
        let mut tx = self.store().begin().await?;
        tx.insert_flow(&record).await?;
        tx.commit().await?;
        Ok((token, Flow { record, state }))
    }

    /// The unexpired flow for a cookie token, if any.
    pub async fn flow(self, token: &str) -> Result<Option<Flow>> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let Some(record) = self.store().flow_by_hash(&sha256_hex(token.as_bytes())).await? else {
            return Ok(None);
        };
        if record.expires_at <= self.now() {
            return Ok(None);
        }
        let Ok(state) = serde_json::from_value::<FlowState>(record.state.clone()) else {
            return Ok(None);
        };
        Ok(Some(Flow { record, state }))
    }

    pub async fn save_flow(self, flow: &mut Flow) -> Result<()> {
        flow.record.state = serde_json::to_value(&flow.state).map_err(|e| Error::invalid("flow", e.to_string()))?;
        let mut tx = self.store().begin().await?;
        tx.update_flow(&flow.record).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn end_flow(self, flow: &Flow) -> Result<()> {
        let mut tx = self.store().begin().await?;
        tx.delete_flow(flow.record.id).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_safe() {
        assert_eq!(safe_next("/if/user/").as_deref(), Some("/if/user/"));
        assert_eq!(
            safe_next("/application/o/authorize/?client_id=x&state=y").as_deref(),
            Some("/application/o/authorize/?client_id=x&state=y")
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/%0d%0aSet-Cookie:x",
            "/ok\r\nLocation: https://evil.example",
            "/a b",
            "",
        ] {
            if bad == "/%0d%0aSet-Cookie:x" {
                // Percent-escapes are harmless: they are not decoded into headers.
                assert!(safe_next(bad).is_some());
                continue;
            }
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }
}
