//! The OAuth 2.0 / OpenID Connect provider's domain services: grants, codes,
//! refresh tokens, device authorizations, access-token revocation, consent,
//! client lookup and client-secret hashing. The protocol decisions (what a
//! request means, what to answer) are `gatehouse-oidc`'s; these services keep
//! the records, each change in one transaction with its event where it is an
//! audited change.
//!
//! Layout: [`model`] the records, [`cache`] change-feed caches,
//! [`clients`] client lookup and secrets,
//! [`grants`] codes and refresh tokens, [`device`] RFC 8628 and
//! [`user_codes`] its guessing guard, [`consent`].

pub mod cache;
pub mod clients;
pub mod consent;
pub mod device;
pub mod grants;
pub mod model;
pub mod user_codes;

/// Event action names of the OAuth provider (authentik's where one exists).
pub mod action {
    pub const AUTHORIZE_APPLICATION: &str = "authorize_application";
    pub const SUSPICIOUS_REQUEST: &str = "suspicious_request";
    pub const CONSENT_WITHDRAWN: &str = "consent_withdrawn";
    /// An administrator ended one OAuth grant of a person.
    pub const GRANT_REVOKED: &str = "grant_revoked";
}
