//! Known devices: a browser that completed a sign-in for a user carries a signed
//! token (the web layer's `gatehouse_device` cookie) naming a random device id,
//! the user and when it was issued.
//!
//! Why: the account throttle counts failures per account, before the password
//! is checked, so anyone who knows a username could keep its owner locked out
//! with a few wrong passwords every lock period. A password attempt that comes
//! with a valid token for *that* user is throttled in a bucket of its own
//! (`acct:<user>:dev:<device>`) instead of the account's, so the owner's usual
//! browser still gets in while strangers' guesses stay delayed and locked per
//! account; every attempt is still throttled per client address. A token for
//! one account opens no bucket for another, and a token cannot be made without
//! the server key, so guessing from a known device is throttled as tightly as
//! guessing from anywhere else (Kanidm's softlock and Keycloak's default of no
//! permanent lockout follow the same idea).
//!
//! Tokens are stateless: HMAC-SHA256 under a key derived from the server's
//! client-secret key (`server_secrets`, the same on every node). Lifetime:
//! `ThrottlePolicy::known_device_secs` (0 turns the feature off).

use uuid::Uuid;

use crate::clock::Timestamp;
use crate::context::SignIn;
use crate::error::Result;
use crate::throttle::account_key;

/// Domain separation from the other uses of the server key.
const CONTEXT: &str = "gatehouse known-device v1";

/// The throttle key for password attempts for `user_id` from device `device_id`.
pub fn device_account_key(user_id: Uuid, device_id: &str) -> String {
    account_key(&format!("{user_id}:dev:{device_id}"))
}

/// A verified token's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    pub device_id: String,
    pub user_id: Uuid,
    pub issued: Timestamp,
}

fn parse(token: &str) -> Option<(KnownDevice, &str, &str)> {
    let mut parts = token.split('.');
    let (device, user, issued, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || device.is_empty() || device.len() > 64 {
        return None;
    }
    let issued_secs: i64 = issued.parse().ok()?;
    let known = KnownDevice {
        device_id: device.to_string(),
        user_id: Uuid::parse_str(user).ok()?,
        issued: Timestamp(issued_secs.checked_mul(1000)?),
    };
    let signed = token.get(..token.len() - mac.len() - 1)?;
    Some((known, signed, mac))
}

fn device_mac(key: &[u8], signed: &str) -> String {
    let full = gatehouse_crypto::mac::keyed_hash(key, &format!("{CONTEXT}|{signed}"));
    full.trim_start_matches(gatehouse_crypto::mac::PREFIX).to_string()
}

impl SignIn<'_> {
    /// A token for `user_id`'s browser after a completed sign-in, keeping the
    /// device id of `previous` when that is one of ours (so a device stays one
    /// bucket). `None` when known devices are off.
    pub async fn issue_device_token(self, user_id: Uuid, previous: Option<&str>) -> Result<Option<String>> {
        if self.throttle_policy().known_device_secs <= 0 {
            return Ok(None);
        }
        let key = self.oauth().client_secret_key().await?;
        let device_id = match previous.and_then(parse) {
            Some((known, signed, mac))
                if gatehouse_crypto::constant_time_eq(device_mac(&key[..], signed).as_bytes(), mac.as_bytes()) =>
            {
                known.device_id
            }
            _ => gatehouse_crypto::random_token(16),
        };
        let signed = format!("{device_id}.{}.{}", user_id.simple(), self.now().millis() / 1000);
        let mac = device_mac(&key[..], &signed);
        Ok(Some(format!("{signed}.{mac}")))
    }

    /// The device `token` proves for `user_id`, when it is ours, for that
    /// user and not older than the known-device lifetime.
    pub async fn known_device(self, token: &str, user_id: Uuid) -> Result<Option<KnownDevice>> {
        let lifetime = self.throttle_policy().known_device_secs;
        if lifetime <= 0 {
            return Ok(None);
        }
        let Some((known, signed, mac)) = parse(token) else {
            return Ok(None);
        };
        if known.user_id != user_id || self.now() >= known.issued.plus_seconds(lifetime) {
            return Ok(None);
        }
        let key = self.oauth().client_secret_key().await?;
        let expected = device_mac(&key[..], signed);
        Ok(gatehouse_crypto::constant_time_eq(expected.as_bytes(), mac.as_bytes()).then_some(known))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_strictly() {
        let user = Uuid::new_v4();
        let token = format!("dev1.{}.1700000000.abcdef", user.simple());
        let (known, signed, mac) = parse(&token).unwrap();
        assert_eq!(known.user_id, user);
        assert_eq!(known.issued, Timestamp(1_700_000_000_000));
        assert_eq!(signed, format!("dev1.{}.1700000000", user.simple()));
        assert_eq!(mac, "abcdef");
        for bad in [
            String::new(),
            "a.b.c".into(),
            format!("dev1.{}.x.abc", user.simple()),
            format!(".{}.1.abc", user.simple()),
            format!("d.{}.1.abc.extra", user.simple()),
            "d.not-a-uuid.1.abc".to_string(),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn device_buckets_are_per_user_and_device() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_ne!(device_account_key(a, "d"), device_account_key(b, "d"));
        assert_ne!(device_account_key(a, "d"), device_account_key(a, "e"));
        assert_ne!(device_account_key(a, "d"), account_key(&a.to_string()));
    }
}
