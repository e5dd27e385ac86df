//! Keyed hashes of high-entropy secrets that must be checked fast (OAuth client
//! secrets on the token endpoint): HMAC-SHA256 under a server key, compared in
//! constant time. Argon2 would cost tens of milliseconds per token request and
//! adds nothing for a 256-bit random secret; the key keeps a stolen database
//! table from being checked offline without the key row as well.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::constant_time_eq;

/// The prefix of a stored keyed hash, naming the scheme.
pub const PREFIX: &str = "hmac-sha256:";

/// `hmac-sha256:<hex>` of `secret` under `key`.
pub fn keyed_hash(key: &[u8], secret: &str) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this branch cannot be taken.
        Err(_) => return String::new(),
    };
    mac.update(secret.as_bytes());
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `secret` hashes to `stored` under `key`, in constant time.
pub fn keyed_hash_matches(key: &[u8], secret: &str, stored: &str) -> bool {
    let computed = keyed_hash(key, secret);
    !stored.is_empty() && constant_time_eq(computed.as_bytes(), stored.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_same_secret_and_key() {
        let h = keyed_hash(b"k1", "s3cret");
        assert!(h.starts_with(PREFIX));
        assert!(keyed_hash_matches(b"k1", "s3cret", &h));
        assert!(!keyed_hash_matches(b"k2", "s3cret", &h));
        assert!(!keyed_hash_matches(b"k1", "s3creT", &h));
        assert!(!keyed_hash_matches(b"k1", "", ""));
        // RFC 4231 test case 2.
        assert_eq!(
            keyed_hash(b"Jefe", "what do ya want for nothing?"),
            "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
