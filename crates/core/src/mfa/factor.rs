//! The second sign-in stage: checking a factor (throttled like passwords,
//! each failure an event) and finishing a sign-in that passed every stage.

use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Mfa;
use crate::error::Result;
use crate::model::{Session, User};
use crate::session::ClientInfo;
use crate::throttle::{Verdict, client_key};

impl Mfa<'_> {
    /// Whether the throttle lets a second-factor attempt for `user` in.
    pub(super) async fn factor_throttle(self, audit: &Audit, user_id: Uuid) -> Result<(Vec<String>, Option<i64>)> {
        let mut keys = vec![mfa_key(user_id)];
        if let Some(ip) = &audit.client_ip {
            keys.push(client_key(ip));
        }
        let now = self.now();
        let records = self.store().throttle_records(&keys).await?;
        let wait = match self.throttle_policy().verdict_all(&records, now) {
            Verdict::Allowed => None,
            Verdict::Wait(secs) => Some(secs),
            Verdict::Locked { until } => Some(((until.0 - now.0) + 999) / 1000),
        };
        Ok((keys, wait))
    }

    /// Counts one failure under each key, atomically in the store (parallel
    /// failures all count); returns the records as written.
    pub(super) async fn bump_factor_throttles(
        self,
        audit: &Audit,
        user: &User,
        keys: &[String],
        event: Option<&str>,
    ) -> Result<Vec<crate::model::ThrottleRecord>> {
        let now = self.now();
        let policy = self.throttle_policy().clone();
        let mut tx = self.begin().await?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let (floor, lock_after, until) = policy.bump_args(key, now);
            let record = tx.bump_throttle(key, now, floor, lock_after, until).await?;
            if policy.just_locked(&record) {
                tx.append_event(
                    audit.event(
                        crate::events::action::LOGIN_LOCKED,
                        Some(&user.username),
                        json!({"key": record.key, "failures": record.failures, "until": record.locked_until}),
                    ),
                    now,
                )
                .await?;
            }
            out.push(record);
        }
        if let Some(method) = event {
            tx.append_event(
                audit.event(action::MFA_FAILED, Some(&user.username), json!({"method": method})),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Checks a typed second factor for `user`: throttled first, then the
    /// TOTP code (each of their TOTP authenticators) or a recovery code.
    pub async fn check_second_factor(
        self,
        audit: &Audit,
        user: &User,
        factor: SecondFactor<'_>,
    ) -> Result<FactorCheck> {
        let (keys, wait) = self.factor_throttle(audit, user.id).await?;
        if let Some(retry_after_secs) = wait {
            return Ok(FactorCheck::Throttled { retry_after_secs });
        }
        // The attempt counts against the account before the code is checked
        // (a success clears it), so a burst of parallel guesses counts in full;
        // guesses racing past a lock another guess just set are not checked.
        let counted = self.bump_factor_throttles(audit, user, &keys[..1], None).await?;
        if let Some(r) = counted.first()
            && let Some(until) = r.locked_until
            && r.failures > self.throttle_policy().account.lock_after
        {
            let now = self.now();
            return Ok(FactorCheck::Throttled {
                retry_after_secs: ((until.0 - now.0) + 999) / 1000,
            });
        }
        let now = self.now();
        let passed = match factor {
            SecondFactor::Totp(text) => {
                let mut ok = None;
                if let Some(code) = totp::parse_code(text) {
                    let config = self.config()?;
                    let step_now = totp::step_at(now.millis() / 1000);
                    for auth in self.authenticators(user.id).await? {
                        if auth.kind != AuthenticatorKind::Totp {
                            continue;
                        }
                        let Some(seed) = config.cipher.open(&auth.secret, &format!("totp:{}", auth.id)) else {
                            tracing::warn!(authenticator = %auth.id, "a TOTP seed does not decrypt (GATEHOUSE_SECRET_KEY changed?)");
                            continue;
                        };
                        if let Some(step) = totp::verify(&seed, code, step_now, auth.last_used_step) {
                            ok = Some((auth.id, step));
                            break;
                        }
                    }
                }
                match ok {
                    Some((id, step)) => {
                        // Spend the step atomically: of two requests with one code, one wins.
                        let mut tx = self.begin().await?;
                        let won = tx.use_totp_step(id, step, now).await?;
                        if won {
                            // Only a success clears the attempt counted above.
                            tx.delete_throttle(&keys[0]).await?;
                        }
                        tx.commit().await?;
                        won.then_some("otp")
                    }
                    None => None,
                }
            }
            SecondFactor::RecoveryCode(text) => {
                let hash = recovery_code_hash(user.id, text);
                let mut tx = self.begin().await?;
                let used = tx.consume_mfa_recovery_code(user.id, &hash, now).await?;
                if used {
                    tx.delete_throttle(&keys[0]).await?;
                    tx.append_event(
                        audit.event(action::RECOVERY_CODE_USED, Some(&user.username), json!({})),
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                    Some("otp")
                } else {
                    None
                }
            }
        };
        match passed {
            Some(amr) => Ok(FactorCheck::Passed(amr)),
            None => {
                let method = match factor {
                    SecondFactor::Totp(_) => "totp",
                    SecondFactor::RecoveryCode(_) => "recovery_code",
                };
                // The account key counted this attempt already.
                self.bump_factor_throttles(audit, user, &keys[1..], Some(method))
                    .await?;
                Ok(FactorCheck::Rejected)
            }
        }
    }

    /// Completes a sign-in that passed every stage: re-reads the user (locked),
    /// refuses when the account changed since the password check (disabled,
    /// password reset), clears the account's throttle, opens a session with
    /// `amr`, and ends `replace` (the session a step-up upgrades), in one
    /// transaction.
    pub async fn finish_sign_in(
        self,
        audit: &Audit,
        user_id: Uuid,
        password_changed_at: Option<Timestamp>,
        amr: &[&str],
        client: &ClientInfo,
        replace: Option<Uuid>,
    ) -> Result<Option<(String, Session, User)>> {
        let mut tx = self.write(audit).await?;
        let Some(mut user) = tx.raw().user_by_id(user_id).await?.filter(|u| u.is_active) else {
            return Ok(None);
        };
        if user.password_changed_at != password_changed_at {
            return Ok(None);
        }
        crate::login::clear_account_throttle(&mut tx, &user).await?;
        tx.raw().delete_throttle(&mfa_key(user.id)).await?;
        if let Some(old) = replace {
            tx.raw().delete_session(old).await?;
        }
        let (token, session) = crate::session::open(&mut tx, &mut user, client, amr).await?;
        tx.commit().await?;
        Ok(Some((token, session, user)))
    }
}
