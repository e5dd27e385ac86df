//! Encryption of MFA secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256)
//! from `GATEHOUSE_SECRET_KEY`. The stored form is `v1.` + base64url(nonce ‖
//! ciphertext ‖ tag); the record's id is bound in as associated data, so a
//! ciphertext copied onto another row does not decrypt.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

const PREFIX: &str = "v1.";
const INFO: &[u8] = b"gatehouse mfa secrets v1";

/// The cipher for MFA secrets. Holds key material: no `Debug` of its contents.
pub struct SecretCipher {
    key: LessSafeKey,
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(..)")
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl SecretCipher {
    /// Derives the key from the configured secret key (any string; the server
    /// generates 256 random bits on first start).
    pub fn from_secret_key(secret_key: &str) -> Result<Self> {
        if secret_key.trim().len() < 16 {
            return Err(Error::invalid("GATEHOUSE_SECRET_KEY", "must be at least 16 characters"));
        }
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"gatehouse");
        let prk = salt.extract(secret_key.as_bytes());
        let mut bytes = [0u8; 32];
        prk.expand(&[INFO], Len(32))
            .and_then(|okm| okm.fill(&mut bytes))
            .map_err(|_| Error::invalid("GATEHOUSE_SECRET_KEY", "key derivation failed"))?;
        let key =
            UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| Error::invalid("GATEHOUSE_SECRET_KEY", "bad key"))?;
        bytes.fill(0);
        Ok(SecretCipher {
            key: LessSafeKey::new(key),
        })
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| Error::Refused("no randomness".into()))?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Refused("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// `None` when the text was not sealed by this key for this context.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = SecretCipher::from_secret_key("a-long-enough-secret-key-for-tests").unwrap();
        let sealed = c.seal(b"seed bytes", "row-1").unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("seed"));
        assert_eq!(c.open(&sealed, "row-1").unwrap(), b"seed bytes");
        // Fresh nonce every time.
        assert_ne!(sealed, c.seal(b"seed bytes", "row-1").unwrap());
    }

    #[test]
    fn wrong_key_context_or_tampering_fails() {
        let c = SecretCipher::from_secret_key("a-long-enough-secret-key-for-tests").unwrap();
        let other = SecretCipher::from_secret_key("another-long-enough-secret-key").unwrap();
        let sealed = c.seal(b"seed bytes", "row-1").unwrap();
        assert_eq!(other.open(&sealed, "row-1"), None);
        assert_eq!(c.open(&sealed, "row-2"), None);
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(c.open(&String::from_utf8(tampered).unwrap(), "row-1"), None);
        assert_eq!(c.open("v1.", "row-1"), None);
        assert_eq!(c.open("plain", "row-1"), None);
        assert!(SecretCipher::from_secret_key("short").is_err());
    }
}
