//! Gatehouse's cryptographic building blocks: password hashing (argon2id),
//! random secrets, token digests, constant-time comparison, signing keys
//! (JWS, and keys with a self-signed certificate for SAML).
//!
//! This crate owns no state and does no I/O beyond the blocking pool that keeps
//! password hashing off the async runtime. Secrets handled here never reach a log.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod certificate;
pub mod django;
pub mod mac;
pub mod password;
pub mod secret;
pub mod signing;

pub use password::{HashParams, PasswordHasher, PasswordVerdict, check_stored_hash};
pub use secret::{constant_time_eq, random_bytes, random_token, sha256_hex};
