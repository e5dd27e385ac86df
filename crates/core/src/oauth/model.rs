//! The OAuth provider's records, as the domain sees them. Codes and tokens are
//! held only as their SHA-256 (`*_hash`).

use serde::Serialize;
use uuid::Uuid;

use crate::clock::Timestamp;

/// One authorization of an application by a user: the family its refresh and
/// access tokens belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub id: Uuid,
    pub application_id: Uuid,
    pub user_id: Uuid,
    /// The browser session it was granted in (OIDC `sid`).
    pub session_id: Option<Uuid>,
    pub scopes: Vec<String>,
    /// When the person authenticated (OIDC `auth_time`).
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    #[serde(skip)]
    pub nonce: Option<String>,
    pub created_at: Timestamp,
    /// No token of the family outlives this.
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Grant {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// An authorization code (single use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub code_hash: String,
    pub grant_id: Uuid,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// A refresh token (rotated on every use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub grant_id: Uuid,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    Consumed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Consumed => "consumed",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceStatus> {
        Some(match s {
            "pending" => DeviceStatus::Pending,
            "approved" => DeviceStatus::Approved,
            "denied" => DeviceStatus::Denied,
            "consumed" => DeviceStatus::Consumed,
            _ => return None,
        })
    }
}

/// An RFC 8628 device authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    pub device_code_hash: String,
    /// Normalised: upper case, no separator (`BCDFGHJK`).
    pub user_code: String,
    pub application_id: Uuid,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub interval_secs: i64,
    pub last_poll_at: Option<Timestamp>,
    pub status: DeviceStatus,
    pub grant_id: Option<Uuid>,
}

/// Remembered explicit consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consent {
    pub user_id: Uuid,
    pub application_id: Uuid,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
}

/// The outcome of spending a single-use record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed<T> {
    /// Spent now, by this caller.
    Fresh(T),
    /// Spent before: a replay.
    AlreadyUsed(T),
}

/// Scopes as stored: space-separated.
pub fn scopes_text(scopes: &[String]) -> String {
    scopes.join(" ")
}

pub fn scopes_from_text(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_string).collect()
}
