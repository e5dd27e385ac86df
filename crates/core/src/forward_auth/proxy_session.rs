//! Proxy sessions: checked when a forward-auth cache misses. They end with
//! their parent Gatehouse session (`/outpost.goauthentik.io/sign_out` leads
//! to Gatehouse's sign-out).

use gatehouse_crypto::sha256_hex;
use uuid::Uuid;

use super::{ProxyRecord, plausible_token};
use crate::clock::Timestamp;
use crate::context::ForwardAuth;
use crate::error::Result;
use crate::model::{Session, User};

/// A proxy session that is valid now.
#[derive(Debug, Clone)]
pub struct LiveProxySession {
    pub user: User,
    /// The parent Gatehouse session.
    pub session_id: Uuid,
    /// When it ends unless used again: the parent's idle or absolute end,
    /// whichever is first. Caches must not keep a decision past this.
    pub valid_until: Timestamp,
    /// How the parent session was authenticated (the gate's `amr`).
    pub amr: Vec<String>,
}

impl ForwardAuth<'_> {
    /// The proxy session behind a cookie token, for application `app_id`:
    /// `None` when unknown, for another application, or when its parent session
    /// ended or its user is disabled. Use keeps the parent session alive. Whether
    /// the user may still use the application is the caller's second question
    /// (the gate, [`crate::access::AccessSnapshot::gate`]).
    pub async fn session(self, token: &str, app_id: Uuid) -> Result<Option<LiveProxySession>> {
        if !plausible_token(token) {
            return Ok(None);
        }
        let Some(record) = self.store().flow_by_hash(&sha256_hex(token.as_bytes())).await? else {
            return Ok(None);
        };
        if record.expires_at <= self.now() {
            return Ok(None);
        }
        let Some(ProxyRecord::Session {
            app_id: scoped_to,
            user_id,
            session_id,
        }) = ProxyRecord::from_state(&record.state)
        else {
            return Ok(None);
        };
        if scoped_to != app_id {
            return Ok(None);
        }
        // Use keeps the parent alive, as for Gatehouse's own pages.
        let Some((parent, user)) = self.live_parent(user_id, session_id).await? else {
            return Ok(None);
        };
        let idle_end = parent.last_seen.plus_seconds(self.session_policy().idle_secs);
        Ok(Some(LiveProxySession {
            user,
            session_id: parent.id,
            valid_until: idle_end.min(parent.expires_at),
            amr: parent.amr,
        }))
    }

    /// The parent session if it is live (see `Directory::live_session`), with
    /// its user; records the activity.
    pub(crate) async fn live_parent(self, user_id: Uuid, session_id: Uuid) -> Result<Option<(Session, User)>> {
        let parent = self
            .store()
            .sessions(Some(user_id))
            .await?
            .into_iter()
            .find(|s| s.id == session_id);
        match parent {
            Some(parent) => self.sessions().live(parent).await,
            None => Ok(None),
        }
    }
}
