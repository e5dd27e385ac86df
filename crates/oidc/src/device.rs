//! The device authorization grant (RFC 8628): user codes, the authorization
//! response and each poll's answer.

use gatehouse_core::Timestamp;
use gatehouse_core::oauth::model::{DeviceCode, DeviceStatus};
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};

/// How long a device code lives.
pub const LIFETIME_SECS: i64 = 600;
/// The minimum poll interval (RFC 8628 §3.2 default).
pub const INTERVAL_SECS: i64 = 5;
/// Consonants only (RFC 8628 §6.1): no vowels, so no words; 20^8 ≈ 2^34.
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A user code from random bytes (8 characters).
pub fn user_code(random: &[u8; 8]) -> String {
    random
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// What a person typed, normalised (upper case, separators and spaces gone);
/// `None` when it cannot be a user code.
pub fn normalize_user_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == 8 && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// `BCDF-GHJK`.
pub fn display_user_code(code: &str) -> String {
    match code.get(..4).zip(code.get(4..)) {
        Some((a, b)) => format!("{a}-{b}"),
        None => code.to_string(),
    }
}

/// Whether `client` may use the device grant: an application opts in
/// (`device_flow`); others get RFC 8628's `unauthorized_client`.
pub fn check_enabled(client: &Client) -> Result<(), OAuthError> {
    if client.config.device_flow {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the device flow is not enabled for this client",
        ))
    }
}

/// Public clients may start the flow (TVs, CLIs); confidential ones authenticate.
pub fn response(device_code: &str, user_code: &str, verification_uri: &str) -> Value {
    let shown = display_user_code(user_code);
    json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?code={shown}"),
        "expires_in": LIFETIME_SECS,
        "interval": INTERVAL_SECS,
    })
}

/// The answer to one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Approved and now spent: issue tokens.
    Issue,
    Refuse(OAuthError),
}

/// Decides a poll and updates the record (last poll time; approved → consumed).
pub fn poll(code: &mut DeviceCode, client: &Client, now: Timestamp) -> Poll {
    let refuse = |c: ErrorCode, d: &'static str| Poll::Refuse(OAuthError::new(c, d));
    if let Err(e) = check_enabled(client) {
        return Poll::Refuse(e);
    }
    if code.application_id != client.app.id {
        return refuse(ErrorCode::InvalidGrant, "the device code was issued to another client");
    }
    if code.expires_at <= now {
        return refuse(ErrorCode::ExpiredToken, "the device code has expired");
    }
    let too_fast = code
        .last_poll_at
        .is_some_and(|t| now.millis() - t.millis() < code.interval_secs * 1000);
    code.last_poll_at = Some(now);
    match code.status {
        DeviceStatus::Pending if too_fast => refuse(ErrorCode::SlowDown, "polling too fast"),
        DeviceStatus::Pending => refuse(ErrorCode::AuthorizationPending, "the user has not decided yet"),
        DeviceStatus::Denied => refuse(ErrorCode::AccessDenied, "the user denied the request"),
        DeviceStatus::Consumed => refuse(ErrorCode::InvalidGrant, "the device code was already used"),
        DeviceStatus::Approved => {
            code.status = DeviceStatus::Consumed;
            Poll::Issue
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::claims::tests::client;

    #[test]
    fn user_codes_normalise() {
        let c = user_code(&[0, 1, 2, 3, 4, 5, 6, 255]);
        assert_eq!(c.len(), 8);
        assert_eq!(
            normalize_user_code(&display_user_code(&c).to_lowercase()),
            Some(c.clone())
        );
        assert_eq!(normalize_user_code("ABCD-EFGH"), None, "vowels are never in a code");
        assert_eq!(normalize_user_code("BCD"), None);
    }

    #[test]
    fn polls() {
        let mut c = client(true);
        c.config.device_flow = true;
        let mut d = DeviceCode {
            device_code_hash: "h".into(),
            user_code: "BCDFGHJK".into(),
            application_id: c.app.id,
            scopes: vec![],
            created_at: Timestamp(0),
            expires_at: Timestamp(600_000),
            interval_secs: 5,
            last_poll_at: None,
            status: DeviceStatus::Pending,
            grant_id: None,
        };
        let code = |p: Poll| match p {
            Poll::Refuse(e) => e.code,
            Poll::Issue => ErrorCode::ServerError,
        };
        assert_eq!(code(poll(&mut d, &c, Timestamp(1000))), ErrorCode::AuthorizationPending);
        assert_eq!(code(poll(&mut d, &c, Timestamp(2000))), ErrorCode::SlowDown);
        d.status = DeviceStatus::Approved;
        d.grant_id = Some(Uuid::nil());
        assert_eq!(poll(&mut d, &c, Timestamp(10_000)), Poll::Issue);
        assert_eq!(d.status, DeviceStatus::Consumed);
        assert_eq!(code(poll(&mut d, &c, Timestamp(20_000))), ErrorCode::InvalidGrant);
        assert_eq!(code(poll(&mut d, &c, Timestamp(700_000))), ErrorCode::ExpiredToken);
        c.config.device_flow = false;
        assert_eq!(code(poll(&mut d, &c, Timestamp(30_000))), ErrorCode::UnauthorizedClient);
        assert_eq!(check_enabled(&c).unwrap_err().code, ErrorCode::UnauthorizedClient);
    }
}
