//! Browser sessions: started at sign-in, checked on every request, ended by
//! sign-out, revocation, a password change or disabling the user.
//!
//! The cookie carries a 256-bit random token; the database holds its SHA-256.
//! Every sign-in creates a new session (a fresh token), so a token planted before
//! sign-in is worthless (no session fixation).

use gatehouse_crypto::{random_token, sha256_hex};
use serde_json::json;
use uuid::Uuid;

use crate::audit::Audit;
use crate::context::Sessions;
use crate::error::{Error, Result};
use crate::events::action;
use crate::model::{Session, User};
use crate::tx::Tx;

/// How long sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle_secs: i64,
    /// No session lives longer than this.
    pub absolute_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_secs: 12 * 3600,
            absolute_secs: 7 * 24 * 3600,
        }
    }
}

/// Activity is written back at most this often per session.
const TOUCH_EVERY_SECS: i64 = 60;

/// What the browser told us about itself, for the session list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session with its owner's name, for listings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionListing {
    #[serde(flatten)]
    pub session: Session,
    pub username: String,
}

impl Sessions<'_> {
    /// The live session for a cookie token, with its user. `None` when unknown,
    /// expired (idle or absolute) or when the user is disabled.
    pub async fn get(self, token: &str) -> Result<Option<(Session, User)>> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let Some(session) = self.store().session_by_hash(&sha256_hex(token.as_bytes())).await? else {
            return Ok(None);
        };
        self.live(session).await
    }

    /// A stored session with its user, if it is still live (before its absolute
    /// end, not idle, user active); records the activity. The one check behind
    /// Gatehouse's own pages and forward-auth's proxy sessions.
    pub(crate) async fn live(self, mut session: Session) -> Result<Option<(Session, User)>> {
        let now = self.now();
        if session.expires_at <= now || session.last_seen.plus_seconds(self.session_policy().idle_secs) <= now {
            return Ok(None);
        }
        let Some(user) = self.store().user_by_id(session.user_id).await?.filter(|u| u.is_active) else {
            return Ok(None);
        };
        if now.millis() - session.last_seen.millis() >= TOUCH_EVERY_SECS * 1000 {
            self.store().touch_session(session.id, now).await?;
            session.last_seen = now;
        }
        Ok(Some((session, user)))
    }

    /// Signs out: ends the session behind this token (`logout` event).
    pub async fn end(self, audit: &Audit, session: &Session, username: &str) -> Result<()> {
        let mut tx = self.write(audit).await?;
        if tx.raw().delete_session(session.id).await? {
            tx.record(action::LOGOUT, Some(username), json!({"session": session.id}))
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Ends one session by id. With `owner`, only if it belongs to that user
    /// (a person revoking their own sessions).
    pub async fn revoke(self, audit: &Audit, id: Uuid, owner: Option<Uuid>) -> Result<()> {
        let sessions = self.store().sessions(owner).await?;
        let Some(session) = sessions.iter().find(|s| s.id == id) else {
            return Err(Error::not_found("session", id.to_string()));
        };
        let user = self.store().user_by_id(session.user_id).await?;
        let username = user.map(|u| u.username).unwrap_or_default();
        let mut tx = self.write(audit).await?;
        if tx.raw().delete_session(id).await? {
            tx.record(action::SESSION_REVOKED, Some(&username), json!({"session": id}))
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Signs a user out everywhere: every browser session ends and every
    /// OAuth grant (refresh tokens, and the access tokens checked against it)
    /// is revoked. Returns how many sessions ended.
    pub async fn revoke_user(self, audit: &Audit, username: &str) -> Result<u64> {
        let mut tx = self.write(audit).await?;
        let user = crate::users::find(&mut tx, username).await?;
        let ended = crate::users::end_access(&mut tx, user.id, None).await?;
        if ended.sessions > 0 || ended.grants > 0 {
            tx.record(
                action::SESSION_REVOKED,
                Some(&user.username),
                json!({"sessions": ended.sessions, "grants_revoked": ended.grants}),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(ended.sessions)
    }

    /// Live sessions, all or one user's, newest first.
    pub async fn list(self, username: Option<&str>) -> Result<Vec<SessionListing>> {
        // One person's sessions need no directory-wide read of the users.
        let (owner, users) = match username {
            Some(name) => {
                let user = self.users().get(name).await?;
                (Some(user.id), vec![user])
            }
            None => (None, self.store().users().await?),
        };
        let now = self.now();
        let idle = self.session_policy().idle_secs;
        Ok(self
            .store()
            .sessions(owner)
            .await?
            .into_iter()
            .filter(|s| s.expires_at > now && s.last_seen.plus_seconds(idle) > now)
            .map(|session| SessionListing {
                username: users
                    .iter()
                    .find(|u| u.id == session.user_id)
                    .map(|u| u.username.clone())
                    .unwrap_or_default(),
                session,
            })
            .collect())
    }

    /// Housekeeping: deletes expired sessions and flows, and announces ended locks.
    pub async fn purge_expired(self) -> Result<(u64, u64)> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let purged = tx
            .delete_expired(now, now.minus_seconds(self.session_policy().idle_secs))
            .await?;
        tx.delete_stale_throttles(now.minus_seconds(self.throttle_policy().window_secs))
            .await?;
        tx.commit().await?;
        self.sign_in().announce_ended_locks().await?;
        Ok(purged)
    }
}

/// Starts a session in the change `tx` (the caller commits), writing the
/// `login` event and the user's last-login time. Returns the cookie token.
pub(crate) async fn open(
    tx: &mut Tx<'_>,
    user: &mut User,
    client: &ClientInfo,
    amr: &[&str],
) -> Result<(String, Session)> {
    let now = tx.now();
    let token = random_token(32);
    let session = Session {
        id: Uuid::new_v4(),
        user_id: user.id,
        token_hash: sha256_hex(token.as_bytes()),
        csrf_token: random_token(32),
        created_at: now,
        last_seen: now,
        expires_at: now.plus_seconds(tx.ctx().session_policy().absolute_secs),
        client_ip: client.ip.clone(),
        user_agent: client.user_agent.as_ref().map(|ua| ua.chars().take(256).collect()),
        amr: amr.iter().map(|s| s.to_string()).collect(),
    };
    tx.raw().insert_session(&session).await?;
    user.last_login = Some(now);
    tx.raw().update_user(user).await?;
    tx.record(
        action::LOGIN,
        Some(&user.username),
        json!({"session": session.id, "amr": session.amr}),
    )
    .await?;
    Ok((token, session))
}

impl Sessions<'_> {
    /// How many sessions are live now (not past their end, not idle too long).
    pub async fn live_count(self) -> Result<i64> {
        let now = self.now();
        let idle_before = now.minus_seconds(self.session_policy().idle_secs);
        Ok(self.store().live_session_count(now, idle_before).await?)
    }
}
