//! Gatehouse's OAuth 2.0 / OpenID Connect provider, as protocol decisions:
//! each module takes a parsed request, the client's settings, `now` and what
//! the caller looked up, and returns an outcome (a redirect, a page to show, a
//! token response, an RFC error). No I/O, no clock, no storage: `gatehouse-web`
//! runs the handlers and `gatehouse-core` keeps the records.
//!
//! Layout, one job per module: [`params`] form/query parsing, [`error`] RFC
//! 6749/6750 errors, [`config`] an application's OIDC settings, [`client`]
//! client authentication, [`pkce`] RFC 7636, [`scope`] scopes, [`claims`] ID
//! token, access token (RFC 9068) and userinfo claims, [`authorize`],
//! [`token`], [`userinfo`], [`introspect`] (RFC 7662), [`revoke`] (RFC 7009),
//! [`device`] (RFC 8628), [`end_session`] (RP-initiated logout),
//! [`discovery`].
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod authorize;
pub mod claims;
pub mod client;
pub mod config;
pub mod device;
pub mod discovery;
pub mod end_session;
pub mod error;
pub mod introspect;
pub mod params;
pub mod pkce;
pub mod revoke;
pub mod scope;
pub mod token;
pub mod userinfo;

pub use client::Client;
pub use config::OidcConfig;
pub use error::{ErrorCode, OAuthError};

/// Paths of the shared endpoints (authentik's layout).
pub mod paths {
    pub const AUTHORIZE: &str = "/application/o/authorize/";
    pub const TOKEN: &str = "/application/o/token/";
    pub const USERINFO: &str = "/application/o/userinfo/";
    pub const INTROSPECT: &str = "/application/o/introspect/";
    pub const REVOKE: &str = "/application/o/revoke/";
    pub const DEVICE: &str = "/application/o/device/";
    /// The person's side of the device flow (where they type the code).
    pub const DEVICE_VERIFY: &str = "/device";

    /// The issuer of an application: `EXTERNAL_URL/application/o/<slug>/`.
    pub fn issuer(external_url: &str, slug: &str) -> String {
        format!("{}/application/o/{slug}/", external_url.trim_end_matches('/'))
    }
}
