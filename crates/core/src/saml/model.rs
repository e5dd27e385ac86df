//! The SAML provider's stored records.

use crate::clock::Timestamp;

/// A SAML signing key and its certificate, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SamlKeyRecord {
    /// The certificate's SHA-256 fingerprint (first 32 hex digits).
    pub kid: String,
    /// `rsa` or `ec-p256`.
    pub family: String,
    pub generation: i64,
    /// PKCS#8 DER, base64. Secret.
    pub private_key: String,
    /// X.509 DER, base64.
    pub certificate: String,
    pub created_at: Timestamp,
    pub activates_at: Timestamp,
    pub publish_until: Option<Timestamp>,
}

impl SamlKeyRecord {
    pub fn is_published(&self, now: Timestamp) -> bool {
        self.publish_until.is_none_or(|t| now < t)
    }
}

impl std::fmt::Debug for SamlKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlKeyRecord")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("generation", &self.generation)
            .field("activates_at", &self.activates_at)
            .field("publish_until", &self.publish_until)
            .finish_non_exhaustive()
    }
}
