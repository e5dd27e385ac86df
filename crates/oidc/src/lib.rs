//! Gatehouse's OAuth 2.0 / OpenID Connect provider. Two floors:
//!
//! - The decisions, without I/O: each module takes a parsed request, the
//!   client's settings, `now` and what was looked up, and returns a decision
//!   (a redirect, a page to show, a token response, an RFC error).
//!   [`params`] form/query parsing, [`error`] RFC 6749/6750 errors, [`config`]
//!   an application's OIDC settings, [`client`] client authentication,
//!   [`pkce`] RFC 7636, [`scope`] scopes, [`claims`] ID token, access token
//!   (RFC 9068) and userinfo claims, [`grant`] what an authorization issues
//!   (grants, codes, lifetimes), [`access`] the gate's verdict where nobody
//!   can be asked, [`authorize`], [`token`], [`userinfo`], [`introspect`]
//!   (RFC 7662), [`revoke`] (RFC 7009), [`device`] (RFC 8628),
//!   [`end_session`] (RP-initiated logout), [`discovery`].
//! - The request services ([`service`]): [`Provider`] runs each request
//!   against the directory (`gatehouse-core`, which keeps the records and
//!   holds the one access gate) and returns an outcome. `gatehouse-web`
//!   parses HTTP, calls one service and renders; no HTTP or HTML here.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod access;
pub mod authentik;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod config;
pub mod device;
pub mod discovery;
pub mod end_session;
pub mod error;
pub mod grant;
pub mod introspect;
pub mod params;
pub mod pkce;
pub mod provision;
pub mod revoke;
pub mod scope;
pub mod service;
pub mod token;
pub mod userinfo;

pub use client::Client;
pub use config::OidcConfig;
pub use error::{ErrorCode, OAuthError};
pub use service::{Failure, Provider};

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
