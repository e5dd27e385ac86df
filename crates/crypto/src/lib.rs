//! Gatehouse's cryptographic building blocks: password hashing (argon2id),
//! random secrets, token digests and constant-time comparison.
//!
//! This crate owns no state and does no I/O beyond the blocking pool that keeps
//! password hashing off the async runtime. Secrets handled here never reach a log.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod password;
pub mod secret;
// ---- OIDC provider: JWT signing keys and keyed hashes of client secrets
pub mod mac;
pub mod signing;
// ---- end OIDC provider

pub use password::{HashParams, PasswordHasher, PasswordVerdict};
pub use secret::{constant_time_eq, random_token, sha256_hex};
