//! Gatehouse's domain: users, groups, applications and their access bindings,
//! recovery keys, API tokens and the tamper-evident audit log.
//!
//! This crate owns the rules ("who may reach which application", "what a valid
//! password is", "how an event is chained") and the [`Store`] trait that storage
//! implements. It has no HTTP, no SQL and no sockets; time comes in through
//! [`Clock`] so tests control it. Every entry point (CLI, web, worker, protocols)
//! calls the same services in [`directory`].
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod access;
pub mod account;
pub mod bind;
pub mod bootstrap;
pub mod clock;
pub mod directory;
pub mod error;
pub mod events;
pub mod flow;
// ---- forward-auth (proxy provider)
pub mod forward_auth;
// ---- end forward-auth
pub mod login;
pub mod model;
pub mod names;
// ---- OIDC provider: signing keys and OAuth grants
pub mod keys;
pub mod oauth;
// ---- end OIDC provider
// ---- SAML provider
pub mod saml;
// ---- end SAML provider
// ---- mail and worker
pub mod jobs;
// ---- end mail and worker
// ---- MFA
pub mod mfa;
// ---- end MFA
// ---- blueprints and SSO drift
pub mod blueprint_apply;
// ---- end blueprints and SSO drift
pub mod password_policy;
pub mod recovery;
pub mod session;
pub mod store;
pub mod throttle;

pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use directory::{Audit, Directory};
pub use error::{Error, Result, StoreError};
pub use model::*;
pub use store::{Store, WriteTx};
