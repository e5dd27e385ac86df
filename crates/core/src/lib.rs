//! Gatehouse's domain: users, groups, applications and their access bindings,
//! recovery keys, API tokens and the tamper-evident audit log.
//!
//! This crate owns the rules ("who may reach which application", "what a valid
//! password is", "how an event is chained") and the [`Store`] trait that storage
//! implements. It has no HTTP, no SQL and no sockets; time comes in through
//! [`Clock`] so tests control it. Every entry point (CLI, web, worker,
//! protocols, blueprints) calls the same domain services, reached from a
//! [`Directory`] (see [`context`]); every single-object write is one function
//! over a [`tx::Tx`], so each rule and each event shape is written once.
//! No protocol crate is a dependency: protocols build on this crate.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod access;
pub mod apps;
pub mod audit;
pub mod bind;
pub mod blueprints;
pub mod bootstrap;
pub mod cache;
pub mod clock;
pub mod context;
pub mod error;
pub mod events;
pub mod events_head;
pub mod fields;
pub mod flow;
pub mod forward_auth;
pub mod groups;
pub mod invitations;
pub mod jobs;
pub mod keys;
pub mod known_device;
pub mod listing;
pub mod login;
pub mod mfa;
pub mod model;
pub mod names;
pub mod oauth;
pub mod pages;
pub mod parking;
pub mod password_policy;
pub mod providers;
pub mod recovery;
pub mod replay;
pub mod secrets;
pub mod session;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod tx;
pub mod users;

pub use apps::{AppSummary, ProviderSpec};
pub use audit::Audit;
pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use context::{Context, Directory};
pub use error::{Error, Result, StoreError};
pub use groups::{ADMIN_GROUP, GroupSummary, Member};
pub use model::*;
pub use store::{Store, WriteTx};
pub use tx::Tx;
pub use users::{NewUser, RECOVERY_ADMIN, UserDetail};
