//! Device user codes typed by a signed-in person (RFC 8628 §3.3), guarded
//! against guessing (§5.1): eight letters are few enough to try.
//!
//! A wrong code names no device authorization, so the count of wrong codes is
//! kept for who types them: per browser session (locked after
//! `ThrottlePolicy::device.lock_after`, 5 by default) and per client address
//! (the sign-in address limits), with the sign-in throttle's delays. While
//! either is locked every code is refused, and a *pending* code presented
//! then is denied on the spot: after that many misses a hit is most likely a
//! guess, and a denied code is useless to whoever guessed it (the device gets
//! `access_denied` and starts again). A right code does not reset the count,
//! or a guesser would enter a code of their own between tries.

use serde_json::json;

use crate::audit::Audit;
use crate::context::OAuth;
use crate::error::Result;
use crate::model::{Session, ThrottleRecord, User};
use crate::oauth::action;
use crate::oauth::model::{DeviceCode, DeviceStatus};
use crate::throttle::{Verdict, device_client_key, device_key};

/// What a typed user code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeEntry {
    /// A pending, unexpired device authorization.
    Pending(DeviceCode),
    /// No pending code has this value (counted as a wrong code).
    Unknown,
    /// Too many wrong codes lately: try again after this many seconds.
    Throttled { retry_after_secs: i64 },
}

impl OAuth<'_> {
    /// Looks up a (normalised) user code typed in `session`, throttled per
    /// session and per client address (see the module docs).
    pub async fn enter_user_code(
        self,
        audit: &Audit,
        session: &Session,
        user: &User,
        user_code: &str,
    ) -> Result<CodeEntry> {
        let mut keys = vec![device_key(&session.id.to_string())];
        if let Some(ip) = &audit.client_ip {
            keys.push(device_client_key(ip));
        }
        let now = self.now();
        let records = self.store().throttle_records(&keys).await?;
        match self.throttle_policy().verdict_all(&records, now) {
            Verdict::Wait(secs) => Ok(CodeEntry::Throttled { retry_after_secs: secs }),
            Verdict::Locked { until } => {
                self.deny_guessed(audit, user, user_code).await?;
                Ok(CodeEntry::Throttled {
                    retry_after_secs: ((until.0 - now.0) + 999) / 1000,
                })
            }
            Verdict::Allowed => match self.pending_device_code(user_code).await? {
                Some(code) => Ok(CodeEntry::Pending(code)),
                None => {
                    self.count_wrong_code(audit, user, &keys).await?;
                    Ok(CodeEntry::Unknown)
                }
            },
        }
    }

    /// Counts one wrong code under each key, atomically in the store.
    async fn count_wrong_code(self, audit: &Audit, user: &User, keys: &[String]) -> Result<()> {
        let now = self.now();
        let policy = self.throttle_policy().clone();
        let mut tx = self.store().begin().await?;
        let mut locked: Vec<ThrottleRecord> = Vec::new();
        for key in keys {
            let (floor, lock_after, until) = policy.bump_args(key, now);
            let record = tx.bump_throttle(key, now, floor, lock_after, until).await?;
            if policy.just_locked(&record) {
                locked.push(record);
            }
        }
        for r in locked {
            tx.append_event(
                audit.event(
                    action::SUSPICIOUS_REQUEST,
                    Some(&user.username),
                    json!({"reason": "device code guessing", "key": r.key, "failures": r.failures,
                           "until": r.locked_until}),
                ),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Denies the pending code `user_code`, if there is one (typed while locked).
    async fn deny_guessed(self, audit: &Audit, user: &User, user_code: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let Some(mut code) = tx
            .device_code_by_user_code(user_code)
            .await?
            .filter(|d| d.status == DeviceStatus::Pending && d.expires_at > now)
        else {
            return Ok(());
        };
        code.status = DeviceStatus::Denied;
        tx.update_device_code(&code).await?;
        tx.append_event(
            audit.event(
                action::SUSPICIOUS_REQUEST,
                Some(&user.username),
                json!({"reason": "device code entered after too many wrong ones; denied",
                       "application": code.application_id}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
