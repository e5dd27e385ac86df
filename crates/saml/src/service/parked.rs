//! Requests parked while the person signs in (see the module docs of
//! [`super`]): the core's one-time parking, with SAML's record in it.

use gatehouse_core::{Directory, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long a parked request waits for the person to sign in.
pub const PARK_SECS: i64 = 15 * 60;

/// An SSO or SLO request waiting for sign-in. The `kind` tag keeps it apart
/// from the other records parked in the same table (neither parses as the other).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename = "saml_sso")]
pub struct ParkedRequest {
    pub app_id: Uuid,
    /// Where the answer goes: the ACS URL, or for a logout the SP's logout
    /// URL (maybe empty).
    pub acs_url: String,
    /// The request's ID (None: IdP-initiated).
    pub request_id: Option<String>,
    pub relay_state: Option<String>,
    /// The request wanted a fresh sign-in: sessions older than this do not count.
    pub not_before: Option<Timestamp>,
    /// A LogoutRequest.
    #[serde(default)]
    pub logout: bool,
}

impl ParkedRequest {
    /// Parks it; returns the token of its continue URL.
    pub async fn park(&self, dir: &Directory) -> gatehouse_core::Result<String> {
        dir.parking().park(self, PARK_SECS).await
    }

    /// The request parked under `token` for `app_id`, left in place.
    pub async fn peek(dir: &Directory, token: &str, app_id: Uuid) -> gatehouse_core::Result<Option<ParkedRequest>> {
        Ok(dir
            .parking()
            .peek::<ParkedRequest>(token)
            .await?
            .filter(|p| p.app_id == app_id))
    }

    /// Takes the request parked under `token` for `app_id` (single use).
    pub async fn take(dir: &Directory, token: &str, app_id: Uuid) -> gatehouse_core::Result<Option<ParkedRequest>> {
        Ok(dir
            .parking()
            .take::<ParkedRequest>(token)
            .await?
            .filter(|p| p.app_id == app_id))
    }
}
