//! One module per command group; each takes the parsed arguments and the
//! context, calls the core services and prints the result.

pub mod access;
pub mod app;
pub mod app_ldap;
pub mod app_oidc;
pub mod app_proxy;
pub mod app_saml;
pub mod backup;
pub mod backup_job;
pub mod blueprint;
pub mod email;
pub mod events;
pub mod events_head;
pub mod group;
pub mod healthcheck;
pub mod invite;
pub mod key;
pub mod ldap;
pub mod mfa;
pub mod migrate_db;
pub mod ops_metrics;
pub mod policy;
pub mod recovery;
pub mod restore;
pub mod server;
pub mod session;
pub mod settings;
pub mod sso;
pub mod status;
pub mod status_ops;
pub mod token;
pub mod user;
pub mod worker;
