//! Forward-auth for reverse proxies (authentik's "proxy provider" in its
//! forward-auth modes): nginx's `auth_request`, Traefik's `forwardAuth` and
//! Caddy's `forward_auth` ask, for every request to a protected service, whether
//! the caller may pass.
//!
//! This crate owns forward-auth's decisions: the sans-IO protocol parts,
//! - [`config`]: a proxy provider's settings (authentik's field names), checked;
//! - [`url`]: which URL a proxied request is for (`X-Original-URL`,
//!   `X-Forwarded-Proto/Host/Uri`, `Host`), and URL building;
//! - [`apps`]: which application a host belongs to, and its skip paths;
//! - [`redirect`]: `rd` validation (no open redirect) and the start and
//!   callback URLs;
//! - [`cookie`]: the proxy cookies, read without allocating;
//! - [`headers`]: the identity headers, sanitised;
//! - [`claims`]: the claims of the `X-authentik-jwt` token;
//! - [`outcome`]: how each endpoint answers a decision;
//!
//! and the request [`service`]: the check (view, decision cache, the one
//! gate on a miss). Sessions, codes and the access rule live in
//! `gatehouse-core`; the HTTP handlers in `gatehouse-web`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod apps;
pub mod authentik;
pub mod claims;
pub mod config;
pub mod cookie;
pub mod headers;
pub mod outcome;
pub mod redirect;
pub mod service;
pub mod url;

pub use apps::{AppTable, ProxyApp};
pub use config::{ProxyConfig, ProxyMode, ProxySettings};
pub use outcome::{Endpoint, Outcome, Verdict};
pub use service::{Answer, CheckError, ForwardAuthService, Source};
pub use url::Target;

/// Where every forward-auth endpoint lives, on any host that routes it to Gatehouse.
pub const OUTPOST_PREFIX: &str = "/outpost.goauthentik.io";
/// The path Gatehouse's own host serves the code hand-off on (after sign-in).
pub const AUTHORIZE_PATH: &str = "/application/proxy/authorize/";
/// `X-authentik-meta-outpost`: authentik names its embedded outpost; so do we.
pub const OUTPOST_NAME: &str = "gatehouse-embedded-outpost";
