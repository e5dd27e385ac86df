//! Blueprints: authentik's declarative YAML (version 1) for Gatehouse's
//! models, planned against a snapshot of the directory and applied in one
//! transaction; export of the current configuration; the shipped bootstrap
//! blueprint; the blueprint-directory watch; and the stack manifest's SSO
//! drift check and repair ([`sso`]).
//!
//! - [`yaml`] parses YAML keeping custom tags and positions;
//! - [`eval`] evaluates the tags;
//! - [`models`] maps authentik's models onto Gatehouse's, one module each;
//! - [`plan`](mod@plan) runs entries against a [`state::State`] and diffs it;
//! - [`steps`] are the changes, each one of core's single-object writes;
//! - [`apply`](mod@apply) writes them in one transaction;
//! - [`export`] writes the directory back as a blueprint;
//! - [`sso`] checks and repairs each service of the stack manifest.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod apply;
pub mod bootstrap;
pub mod error;
pub mod eval;
pub mod export;
pub mod models;
pub mod plan;
pub mod sso;
pub mod state;
pub mod steps;
pub mod watch;
pub mod yaml;

pub use apply::{Applied, ApplyError, SourcesError, apply, plan_and_apply};
pub use error::BlueprintError;
pub use plan::{Change, Options, Plan, Preview, Source, plan};
