//! The MFA service's management side: the policy, a person's authenticators
//! (TOTP enrolment, adding and removing, recovery codes) and the reset.

use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::audit::Audit;
use crate::context::Mfa;
use crate::error::{Error, Result};
use crate::model::User;

impl<'a> Mfa<'a> {
    /// The MFA settings, when the server configured them.
    pub fn config(self) -> Result<&'a MfaConfig> {
        self.ctx
            .mfa_settings()
            .ok_or_else(|| Error::Refused("MFA is not configured on this server (GATEHOUSE_SECRET_KEY)".into()))
    }

    /// The enforcement policy in force (the default when none was stored).
    pub async fn policy(self) -> Result<MfaPolicy> {
        match self.store().mfa_policy().await? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| Error::Store(crate::error::StoreError::Corrupt(format!("mfa policy: {e}")))),
            None => Ok(MfaPolicy::default()),
        }
    }

    /// Stores a new policy (groups and applications must exist), with its event.
    pub async fn set_policy(self, audit: &Audit, policy: MfaPolicy) -> Result<MfaPolicy> {
        let mut policy = policy;
        policy.groups.sort();
        policy.groups.dedup();
        policy.apps.sort();
        policy.apps.dedup();
        // Names already in the policy may stand for groups still to come (the
        // default's `admins` before the first start); new names must exist.
        let before = self.policy().await?;
        for g in policy.groups.iter().filter(|g| !before.groups.contains(g)) {
            if self.store().group_by_name(g).await?.is_none() {
                return Err(Error::not_found("group", g));
            }
        }
        for a in policy.apps.iter().filter(|a| !before.apps.contains(a)) {
            if self.store().application_by_slug(a).await?.is_none() {
                return Err(Error::not_found("application", a));
            }
        }
        let text = serde_json::to_string(&policy).map_err(|e| Error::invalid("policy", e.to_string()))?;
        let now = self.now();
        let mut tx = self.begin().await?;
        tx.put_mfa_policy(&text, now).await?;
        tx.append_event(
            audit.event(action::POLICY_CHANGED, None, json!({"before": before, "after": policy})),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// Whether policy requires MFA of this user at sign-in.
    pub async fn required_for(self, user: &User) -> Result<bool> {
        let policy = self.policy().await?;
        if policy.mode == MfaMode::Off {
            return Ok(false);
        }
        let groups = self.store().groups().await?;
        let memberships = self.store().memberships().await?;
        Ok(policy.requires_for_user(user.id, &groups, &memberships))
    }

    pub async fn authenticators(self, user_id: Uuid) -> Result<Vec<Authenticator>> {
        Ok(self.store().mfa_authenticators(user_id).await?)
    }

    pub async fn status(self, user: &User) -> Result<MfaStatus> {
        Ok(MfaStatus {
            authenticators: self.authenticators(user.id).await?,
            recovery_codes_left: self.store().mfa_recovery_codes_left(user.id).await?,
            required: self.required_for(user).await?,
        })
    }

    /// Starts a TOTP enrolment for `user` (nothing stored yet).
    pub fn begin_totp(self, user: &User) -> Result<TotpEnrolment> {
        let config = self.config()?;
        let mut seed = [0u8; totp::SECRET_BYTES];
        aws_lc_rs::rand::fill(&mut seed).map_err(|_| Error::Refused("no randomness".into()))?;
        let pending = config.cipher.seal(&seed, &format!("pending-totp:{}", user.id))?;
        Ok(TotpEnrolment {
            secret_base32: totp::base32_encode(&seed),
            uri: totp::otpauth_uri(&config.issuer, &user.username, &seed),
            pending,
        })
    }

    /// The enrolment shown again (after a wrong first code): same secret.
    pub fn resume_totp(self, user: &User, pending: &str) -> Result<TotpEnrolment> {
        let config = self.config()?;
        let seed = config
            .cipher
            .open(pending, &format!("pending-totp:{}", user.id))
            .ok_or_else(|| Error::invalid("enrolment", "expired or not for this account; start again"))?;
        Ok(TotpEnrolment {
            secret_base32: totp::base32_encode(&seed),
            uri: totp::otpauth_uri(&config.issuer, &user.username, &seed),
            pending: pending.to_string(),
        })
    }

    /// Finishes a TOTP enrolment with the first code. Returns the new recovery
    /// codes when this is the person's first authenticator (shown once).
    pub async fn finish_totp(
        self,
        audit: &Audit,
        user: &User,
        name: &str,
        pending: &str,
        code: &str,
    ) -> Result<(Authenticator, Option<Vec<String>>)> {
        let config = self.config()?;
        let seed = config
            .cipher
            .open(pending, &format!("pending-totp:{}", user.id))
            .ok_or_else(|| Error::invalid("enrolment", "expired or not for this account; start again"))?;
        let code = totp::parse_code(code).ok_or_else(|| Error::invalid("code", "enter the 6 digits the app shows"))?;
        let now = self.now();
        let step = totp::verify(&seed, code, totp::step_at(now.millis() / 1000), None).ok_or_else(|| {
            Error::invalid(
                "code",
                "that code is not right; check the app's clock and try the next one",
            )
        })?;
        let id = Uuid::new_v4();
        let auth = Authenticator {
            id,
            user_id: user.id,
            kind: AuthenticatorKind::Totp,
            name: clean_name(name, "Authenticator app")?,
            secret: config.cipher.seal(&seed, &format!("totp:{id}"))?,
            credential_id: None,
            last_used_step: Some(step),
            created_at: now,
            last_used_at: Some(now),
        };
        let codes = self.add_authenticator(audit, user, &auth).await?;
        Ok((auth, codes))
    }

    /// [`Self::finish_totp`] for a page: a wrong or malformed code gives the
    /// same enrolment back (or a fresh one when it expired) with the reason,
    /// for the person to try again.
    pub async fn enrol_totp(
        self,
        audit: &Audit,
        user: &User,
        name: &str,
        pending: &str,
        code: &str,
    ) -> Result<TotpAttempt> {
        match self.finish_totp(audit, user, name, pending, code).await {
            Ok((authenticator, recovery_codes)) => Ok(TotpAttempt::Added {
                authenticator,
                recovery_codes,
            }),
            Err(Error::Invalid { reason, .. }) => {
                let enrolment = match self.resume_totp(user, pending) {
                    Ok(e) => e,
                    Err(_) => self.begin_totp(user)?,
                };
                Ok(TotpAttempt::Retry { enrolment, reason })
            }
            Err(e) => Err(e),
        }
    }

    /// Stores a verified authenticator with its event; creates recovery codes
    /// with the first one.
    pub(crate) async fn add_authenticator(
        self,
        audit: &Audit,
        user: &User,
        auth: &Authenticator,
    ) -> Result<Option<Vec<String>>> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let Some(current) = tx.user_by_id(user.id).await?.filter(|u| u.is_active) else {
            return Err(Error::not_found("user", &user.username));
        };
        let first = tx.mfa_authenticators(current.id).await?.is_empty();
        if first {
            self.guard_first_enrolment(&mut *tx, &current).await?;
        }
        tx.insert_mfa_authenticator(auth).await?;
        self.announce_enrolment(&mut *tx, audit, &current, auth).await?;
        tx.append_event(
            audit.event(
                action::AUTHENTICATOR_ADDED,
                Some(&current.username),
                json!({"id": auth.id, "kind": auth.kind, "name": auth.name}),
            ),
            now,
        )
        .await?;
        let codes = if first {
            Some(self.store_recovery_codes(&mut *tx, audit, &current).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(codes)
    }

    async fn store_recovery_codes(
        self,
        tx: &mut dyn crate::store::WriteTx,
        audit: &Audit,
        user: &User,
    ) -> Result<Vec<String>> {
        let now = self.now();
        let codes = new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| recovery_code_hash(user.id, c)).collect();
        tx.replace_mfa_recovery_codes(user.id, &hashes, now).await?;
        tx.append_event(
            audit.event(
                action::RECOVERY_CODES_CREATED,
                Some(&user.username),
                json!({"count": codes.len()}),
            ),
            now,
        )
        .await?;
        Ok(codes)
    }

    /// New recovery codes, replacing the old ones (only with an authenticator).
    pub async fn regenerate_recovery_codes(self, audit: &Audit, user: &User) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        if tx.mfa_authenticators(user.id).await?.is_empty() {
            return Err(Error::Refused("add an authenticator first".into()));
        }
        let codes = self.store_recovery_codes(&mut *tx, audit, user).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Removes one of the person's authenticators; with the last one go the
    /// recovery codes.
    pub async fn remove_authenticator(self, audit: &Audit, user: &User, id: Uuid) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let list = tx.mfa_authenticators(user.id).await?;
        let Some(auth) = list.iter().find(|a| a.id == id) else {
            return Err(Error::not_found("authenticator", id.to_string()));
        };
        tx.delete_mfa_authenticator(user.id, id).await?;
        if list.len() == 1 {
            tx.replace_mfa_recovery_codes(user.id, &[], now).await?;
        }
        tx.append_event(
            audit.event(
                action::AUTHENTICATOR_REMOVED,
                Some(&user.username),
                json!({"id": auth.id, "kind": auth.kind, "name": auth.name, "last": list.len() == 1}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Admin recovery: removes every authenticator and recovery code of a user
    /// and ends their sessions. Returns how many authenticators went.
    pub async fn reset(self, audit: &Audit, username: &str) -> Result<u64> {
        let mut tx = self.write(audit).await?;
        let user = crate::users::find(&mut tx, username).await?;
        let removed = tx.raw().delete_user_mfa(user.id).await?;
        let ended = crate::users::end_access(&mut tx, user.id, None).await?;
        let asker = tx.audit().clone();
        self.open_enrolment_after_reset(tx.raw(), &asker, &user).await?;
        tx.record(
            action::MFA_RESET,
            Some(&user.username),
            json!({"authenticators": removed, "sessions_ended": ended.sessions, "grants_revoked": ended.grants}),
        )
        .await?;
        tx.commit().await?;
        Ok(removed)
    }
}
