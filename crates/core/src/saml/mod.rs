//! The SAML provider's state and services: applications' settings, signing
//! keys (with rotation that publishes before it signs), replay protection of
//! request IDs, requests parked while the person signs in, and the facts an
//! assertion is made of. The XML lives in `gatehouse-saml` (no I/O).

pub mod keys;
pub mod model;
pub mod sso;

pub use keys::{SamlKeyListing, SamlKeyRing, SamlKeys};
pub use sso::{ParkedRequest, Subject};

/// authentik's action name for a successful SSO, and ours for a refusal.
pub const AUTHORIZE_APPLICATION: &str = "authorize_application";
pub const ACCESS_DENIED: &str = "authorize_application_denied";
