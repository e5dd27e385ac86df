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
mod factor;
mod manage;
pub mod policy;
pub mod totp;
pub mod webauthn;

use std::fmt;
use std::sync::Arc;

use gatehouse_crypto::sha256_hex;
use serde::Serialize;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::throttle::account_key;

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
/// What a TOTP enrolment attempt came to.
#[derive(Debug)]
pub enum TotpAttempt {
    /// Stored; `recovery_codes` when it was the person's first authenticator.
    Added {
        authenticator: Authenticator,
        recovery_codes: Option<Vec<String>>,
    },
    /// The code was wrong (or the enrolment expired): try again with this one.
    Retry { enrolment: TotpEnrolment, reason: String },
}

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
