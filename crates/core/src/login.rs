//! Checking a password sign-in: throttling first (before any hash is computed),
//! then the password, with the same work and the same answer for an unknown
//! user, a disabled user and a wrong password.

use serde_json::json;

use crate::audit::Audit;
use crate::context::SignIn;
use crate::error::Result;
use crate::events::action;
use crate::model::{ThrottleRecord, User};
use crate::session::ClientInfo;
use crate::throttle::{Verdict, account_key, client_key, unknown_account_key};

/// The outcome of one password attempt.
#[derive(Debug)]
pub enum PasswordCheck {
    /// Right password. `rehash` is a fresh hash when the stored one uses older
    /// parameters; [`Directory::start_password_session`] stores it.
    /// `had_failures`: the account had failed attempts recorded, which the
    /// sign-in clears.
    Accepted {
        user: Box<User>,
        rehash: Option<String>,
        had_failures: bool,
    },
    /// Unknown user, disabled user or wrong password: callers must not tell which.
    Rejected,
    /// Too many recent failures: try again after this many seconds.
    Throttled { retry_after_secs: i64 },
}

impl SignIn<'_> {
    /// Finds the user a person means by `identifier`: a username, or an email
    /// address that belongs to exactly one user.
    pub async fn find_user(self, identifier: &str) -> Result<Option<User>> {
        if let Some(u) = self.store().user_by_name(identifier).await? {
            return Ok(Some(u));
        }
        if !identifier.contains('@') {
            return Ok(None);
        }
        let wanted = identifier.to_lowercase();
        let mut matches = self
            .store()
            .users()
            .await?
            .into_iter()
            .filter(|u| u.email.to_lowercase() == wanted);
        Ok(match (matches.next(), matches.next()) {
            (Some(u), None) => Some(u),
            _ => None,
        })
    }

    pub async fn check_password(self, audit: &Audit, identifier: &str, password: &str) -> Result<PasswordCheck> {
        self.check(audit, identifier, password, None, None).await
    }

    /// As [`Self::check_password`], for a protocol other than the web: `via`
    /// (`ldap`) goes into the `login_failed` event.
    pub async fn check_password_via(
        self,
        audit: &Audit,
        identifier: &str,
        password: &str,
        via: &str,
    ) -> Result<PasswordCheck> {
        self.check(audit, identifier, password, None, Some(via)).await
    }

    /// [`Self::check_password`] from a browser that may carry a known-device
    /// token: when it is valid for the user, the account part of the throttle
    /// is that device's own bucket (see `crate::known_device`).
    pub async fn check_password_on(
        self,
        audit: &Audit,
        identifier: &str,
        password: &str,
        device_token: Option<&str>,
    ) -> Result<PasswordCheck> {
        self.check(audit, identifier, password, device_token, None).await
    }

    async fn check(
        self,
        audit: &Audit,
        identifier: &str,
        password: &str,
        device_token: Option<&str>,
        via: Option<&str>,
    ) -> Result<PasswordCheck> {
        let user = self.find_user(identifier).await?;
        let device = match (&user, device_token) {
            (Some(u), Some(t)) => self.known_device(t, u.id).await?,
            _ => None,
        };
        let acct = match (&user, &device) {
            (Some(u), Some(d)) => crate::known_device::device_account_key(u.id, &d.device_id),
            (Some(u), None) => account_key(&u.id.to_string()),
            (None, _) => unknown_account_key(identifier),
        };
        let mut keys = vec![acct];
        if let Some(ip) = &audit.client_ip {
            keys.push(client_key(ip));
        }
        let now = self.now();
        let records = self.store().throttle_records(&keys).await?;
        self.announce_ended_locks_among(&records).await?;
        match self.throttle_policy().verdict_all(&records, now) {
            Verdict::Allowed => {}
            Verdict::Wait(secs) => return Ok(PasswordCheck::Throttled { retry_after_secs: secs }),
            Verdict::Locked { until } => {
                return Ok(PasswordCheck::Throttled {
                    retry_after_secs: ((until.0 - now.0) + 999) / 1000,
                });
            }
        }

        let verdict = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
            Some(hash) => self.hasher().verify(password, hash).await?,
            None => {
                self.hasher().verify_dummy(password).await?;
                gatehouse_crypto::PasswordVerdict::Mismatch
            }
        };
        let reason = match &user {
            None => Some("unknown_user"),
            Some(u) if !verdict.is_match() => Some(if u.password_hash.is_none() {
                "no_password"
            } else {
                "wrong_password"
            }),
            Some(u) if !u.is_active => Some("user_disabled"),
            Some(_) => None,
        };
        if let Some(reason) = reason {
            self.record_failure(audit, identifier, user.as_ref(), &keys, reason, via)
                .await?;
            return Ok(PasswordCheck::Rejected);
        }
        let Some(user) = user else {
            return Ok(PasswordCheck::Rejected);
        };
        // The device's own failures end with its right password.
        if device.is_some() && records.iter().any(|r| r.key == keys[0]) {
            let mut tx = self.store().begin().await?;
            tx.delete_throttle(&keys[0]).await?;
            tx.commit().await?;
        }
        let rehash = match verdict {
            gatehouse_crypto::PasswordVerdict::MatchNeedsRehash => Some(self.hasher().hash(password).await?),
            _ => None,
        };
        Ok(PasswordCheck::Accepted {
            had_failures: records.iter().any(|r| r.key == keys[0]),
            user: Box::new(user),
            rehash,
        })
    }

    async fn record_failure(
        self,
        audit: &Audit,
        identifier: &str,
        user: Option<&User>,
        keys: &[String],
        reason: &str,
        via: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        let policy = self.throttle_policy().clone();
        let mut tx = self.store().begin().await?;
        let mut locked = Vec::new();
        for key in keys {
            // Counted in SQL: parallel wrong passwords all count.
            let (floor, lock_after, until) = policy.bump_args(key, now);
            let record = tx.bump_throttle(key, now, floor, lock_after, until).await?;
            if policy.just_locked(&record) {
                locked.push(record);
            }
        }
        let username = user.map(|u| u.username.as_str());
        let mut context = json!({"reason": reason, "identifier": identifier.chars().take(150).collect::<String>()});
        if let Some(via) = via {
            context["via"] = json!(via);
        }
        tx.append_event(audit.event(action::LOGIN_FAILED, username, context), now)
            .await?;
        for r in locked {
            tx.append_event(
                audit.event(
                    action::LOGIN_LOCKED,
                    username,
                    json!({"key": r.key, "failures": r.failures, "until": r.locked_until}),
                ),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The throttle records under these keys (what the admin pages and tests read).
    pub async fn throttle_records(self, keys: &[String]) -> Result<Vec<ThrottleRecord>> {
        Ok(self.store().throttle_records(keys).await?)
    }

    /// Completes a password sign-in: stores an upgraded hash, clears the account's
    /// failure count and starts the session, in one transaction. `None` when the
    /// account changed since the check (disabled, deleted, password reset): the
    /// user is read again, locked, inside the transaction.
    pub async fn start_password_session(
        self,
        audit: &Audit,
        check: PasswordCheck,
        client: &ClientInfo,
    ) -> Result<Option<(String, crate::model::Session, User)>> {
        let PasswordCheck::Accepted {
            user: checked, rehash, ..
        } = check
        else {
            return Ok(None);
        };
        let mut tx = self.write(audit).await?;
        let Some(mut user) = still_as_checked(&mut tx, &checked).await? else {
            return Ok(None);
        };
        if let Some(hash) = rehash {
            user.password_hash = Some(hash);
        }
        clear_account_throttle(&mut tx, &user).await?;
        let (token, session) = crate::session::open(&mut tx, &mut user, client, &["pwd"]).await?;
        tx.commit().await?;
        Ok(Some((token, session, user)))
    }

    /// Announces (once) the end of locks among these records.
    async fn announce_ended_locks_among(self, records: &[ThrottleRecord]) -> Result<()> {
        let now = self.now();
        let ended: Vec<&ThrottleRecord> = records
            .iter()
            .filter(|r| r.locked_until.is_some_and(|u| u <= now))
            .collect();
        if ended.is_empty() {
            return Ok(());
        }
        let mut tx = self.store().begin().await?;
        for r in ended {
            // Of two requests finding the same ended lock, only one announces it.
            if tx.delete_throttle(&r.key).await? {
                tx.append_event(
                    Audit::system().event(
                        action::LOGIN_UNLOCKED,
                        None,
                        json!({"key": r.key, "locked_until": r.locked_until}),
                    ),
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Announces every lock that has ended (housekeeping).
    pub async fn announce_ended_locks(self) -> Result<()> {
        let ended = self.store().ended_locks(self.now()).await?;
        self.announce_ended_locks_among(&ended).await
    }
}

/// The account a password check accepted, read again inside the change:
/// `None` when it changed since (disabled, deleted, a new password).
pub(crate) async fn still_as_checked(tx: &mut crate::tx::Tx<'_>, checked: &User) -> Result<Option<User>> {
    Ok(tx
        .raw()
        .user_by_id(checked.id)
        .await?
        .filter(|u| u.is_active && u.password_hash == checked.password_hash))
}

/// Clears the throttle of an account after a successful sign-in (inside the
/// session's change). The client address keeps its count: otherwise an
/// attacker could reset it by signing in to an account of their own.
pub(crate) async fn clear_account_throttle(tx: &mut crate::tx::Tx<'_>, user: &User) -> Result<()> {
    tx.raw().delete_throttle(&account_key(&user.id.to_string())).await?;
    Ok(())
}
