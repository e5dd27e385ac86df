//! Multi-factor authentication: authenticators (TOTP, WebAuthn/passkeys),
//! recovery codes, the enforcement policy and the second sign-in stage.
//!
//! Rules kept here, whoever asks (portal, sign-in, recovery link, CLI):
//! - TOTP seeds are sealed with [`cipher::SecretCipher`] (key from
//!   `GATEHOUSE_SECRET_KEY`) and bound to their row's id; a code is good once:
//!   the step it was valid in is stored and only later steps pass, atomically.
//! - Recovery codes are stored as SHA-256 of user id and code, spent with one
//!   conditional update; using one is an event.
//! - Every second-factor failure counts towards the same throttle as passwords
//!   (per account and per address), so codes cannot be guessed faster than
//!   passwords.
//! - A person's first authenticator also creates their ten recovery codes; the
//!   last one removed takes the codes with it.

pub mod cipher;
pub mod enrolment;
pub mod policy;
pub mod totp;
pub mod webauthn;

use std::fmt;
use std::sync::Arc;

use gatehouse_crypto::sha256_hex;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Mfa;
use crate::error::{Error, Result};
use crate::model::{Session, User};
use crate::session::ClientInfo;
use crate::throttle::{Verdict, account_key, client_key};

pub use cipher::SecretCipher;
pub use policy::{MfaMode, MfaPolicy};

/// Audit actions of this feature.
pub mod action {
    pub const AUTHENTICATOR_ADDED: &str = "mfa_authenticator_added";
    pub const AUTHENTICATOR_REMOVED: &str = "mfa_authenticator_removed";
    pub const RECOVERY_CODES_CREATED: &str = "mfa_recovery_codes_created";
    pub const RECOVERY_CODE_USED: &str = "mfa_recovery_code_used";
    pub const MFA_FAILED: &str = "mfa_failed";
    pub const MFA_RESET: &str = "mfa_reset";
    pub const POLICY_CHANGED: &str = "mfa_policy_changed";
}

/// How many recovery codes a person gets.
pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthenticatorKind {
    Totp,
    Webauthn,
}

impl AuthenticatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticatorKind::Totp => "totp",
            AuthenticatorKind::Webauthn => "webauthn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(AuthenticatorKind::Totp),
            "webauthn" => Some(AuthenticatorKind::Webauthn),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuthenticatorKind::Totp => "Authenticator app",
            AuthenticatorKind::Webauthn => "Passkey or security key",
        }
    }
}

/// One enrolled authenticator.
#[derive(Clone, Serialize)]
pub struct Authenticator {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: AuthenticatorKind,
    pub name: String,
    /// TOTP: the sealed seed. WebAuthn: the credential (public key, counter) as JSON.
    #[serde(skip)]
    pub secret: String,
    /// WebAuthn: the credential id, base64url (unique).
    #[serde(skip)]
    pub credential_id: Option<String>,
    /// TOTP: the last step a code was accepted in.
    #[serde(skip)]
    pub last_used_step: Option<i64>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What the server gives the MFA services: the key for seeds, the WebAuthn
/// relying party, the issuer name shown in authenticator apps.
pub struct MfaConfig {
    pub cipher: SecretCipher,
    pub webauthn: Option<::webauthn_rs::Webauthn>,
    pub issuer: String,
}

impl fmt::Debug for MfaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaConfig")
            .field("webauthn", &self.webauthn.is_some())
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A person's MFA at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct MfaStatus {
    pub authenticators: Vec<Authenticator>,
    pub recovery_codes_left: i64,
    /// Whether policy says this person must use MFA to sign in.
    pub required: bool,
}

impl MfaStatus {
    pub fn has(&self, kind: AuthenticatorKind) -> bool {
        self.authenticators.iter().any(|a| a.kind == kind)
    }
    pub fn enrolled(&self) -> bool {
        !self.authenticators.is_empty()
    }
}

/// A TOTP enrolment in progress: the secret to show and the sealed form the
/// page sends back with the first code (nothing is stored until then).
pub struct TotpEnrolment {
    pub secret_base32: String,
    pub uri: String,
    pub pending: String,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrolment(..)")
    }
}

/// A second factor offered at sign-in.
pub enum SecondFactor<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
}

/// The outcome of a second-factor attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum FactorCheck {
    /// Passed; the `amr` value of the method used.
    Passed(&'static str),
    Rejected,
    Throttled {
        retry_after_secs: i64,
    },
}

pub(crate) fn mfa_key(user_id: Uuid) -> String {
    account_key(&format!("mfa:{user_id}"))
}

fn recovery_code_hash(user_id: Uuid, code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha256_hex(format!("{user_id}:{normal}").as_bytes())
}

/// Ten fresh codes: 12 base32 characters (60 bits) each, grouped by four.
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 8];
            let _ = aws_lc_rs::rand::fill(&mut bytes);
            let s = totp::base32_encode(&bytes).to_lowercase(); // 13 characters
            format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
        })
        .collect()
}

/// Trims and bounds an authenticator name.
fn clean_name(name: &str, default: &str) -> Result<String> {
    let name = name.trim();
    if name.chars().any(char::is_control) || name.chars().count() > 64 {
        return Err(Error::invalid("name", "at most 64 characters, no control characters"));
    }
    Ok(if name.is_empty() {
        default.to_string()
    } else {
        name.to_string()
    })
}

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

    /// Whether this session must be stepped up before it may open `app_slug`:
    /// the user must use MFA (policy, or the application requires it) and the
    /// session did not use a second factor.
    pub async fn needs_step_up(self, session: &Session, user: &User, app_slug: &str) -> Result<bool> {
        if session.amr.iter().any(|a| a == "mfa") {
            return Ok(false);
        }
        let policy = self.policy().await?;
        if policy.requires_for_app(app_slug) {
            return Ok(true);
        }
        if policy.mode == MfaMode::Off {
            return Ok(false);
        }
        // A person who has an authenticator passed it at sign-in; a session
        // without one predates the enrolment or the policy.
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

    /// Whether the throttle lets a second-factor attempt for `user` in.
    async fn factor_throttle(self, audit: &Audit, user_id: Uuid) -> Result<(Vec<String>, Option<i64>)> {
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
    async fn bump_factor_throttles(
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

/// `amr` for a sign-in: the first factor's values, the second's, and `mfa`
/// when two different factors were used.
pub fn combine_amr(first: &[String], second: &str) -> Vec<String> {
    let mut out: Vec<String> = first.to_vec();
    if !out.iter().any(|a| a == second) {
        out.push(second.to_string());
    }
    if !out.iter().any(|a| a == "mfa") {
        out.push("mfa".to_string());
    }
    out
}

/// Shared so the Directory can be cloned cheaply.
pub type SharedMfaConfig = Arc<MfaConfig>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_normalised_for_hashing() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 14 && c.matches('-').count() == 2));
        let user = Uuid::new_v4();
        let code = &codes[0];
        assert_eq!(
            recovery_code_hash(user, code),
            recovery_code_hash(user, &code.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_code_hash(user, code), recovery_code_hash(Uuid::new_v4(), code));
    }

    #[test]
    fn amr_combination() {
        assert_eq!(combine_amr(&["pwd".into()], "otp"), vec!["pwd", "otp", "mfa"]);
        assert_eq!(
            combine_amr(&["pwd".into(), "otp".into(), "mfa".into()], "hwk"),
            vec!["pwd", "otp", "mfa", "hwk"]
        );
    }
}
