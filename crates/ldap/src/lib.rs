//! Gatehouse's LDAP server: the users and groups of the directory under
//! authentik's outpost tree (`cn=<user>,ou=users,<base>`, `ou=groups`), for
//! services that speak only LDAP. Simple bind is a sign-in like the web's
//! (throttling, access bindings, MFA as `password;code`, audit events);
//! searches are answered from an in-process snapshot kept current by the
//! change feed. The BER codec is `ldap3_proto`'s; nothing here writes BER.
//!
//! Layout: [`dn`] DNs and the tree, [`entry`] entries and attribute
//! selection, [`filter`] filter evaluation, [`search`] scopes, limits and
//! paging, [`bind`] bind DNs and codes, [`dse`] root DSE and schema,
//! [`snapshot`] the snapshot and when to reload it, [`session`] one
//! connection's state machine, [`listener`] sockets and TLS ([`tls`]),
//! [`config`] an application's settings, and [`backend`], the only module
//! that calls `gatehouse-core`'s services.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod authentik;
pub mod backend;
pub mod bind;
pub mod client;
pub mod config;
pub mod dn;
pub mod dse;
pub mod entry;
pub mod filter;
pub mod listener;
pub mod search;
pub mod session;
pub mod snapshot;
pub mod tls;

#[cfg(test)]
mod tests;

pub use backend::{Backend, CoreBackend};
pub use config::{LdapConfig, MfaMode};
pub use ldap3_proto;
pub use listener::{ConnectionLimits, Server};
pub use search::SearchLimits;
pub use snapshot::SnapshotCell;
pub use tokio_rustls::TlsAcceptor;
