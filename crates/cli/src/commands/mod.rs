//! One module per command group; each takes the parsed arguments and the
//! context, calls the core services and prints the result.

pub mod access;
pub mod app;
pub mod app_ldap;
pub mod app_oidc; // OIDC provider
pub mod app_proxy; // forward-auth (proxy provider)
pub mod backup;
pub mod backup_job;
pub mod events;
pub mod events_head;
pub mod group;
pub mod healthcheck;
pub mod key; // OIDC provider: signing keys
pub mod ldap;
pub mod migrate_db;
pub mod ops_metrics;
// ---- SAML provider
pub mod app_saml;
// ---- end SAML provider
// ---- mail and worker
pub mod email;
pub mod worker;
// ---- end mail and worker
// ---- MFA
pub mod mfa;
pub mod policy;
// ---- end MFA
// ---- blueprints and SSO drift
pub mod blueprint;
pub mod sso;
// ---- end blueprints and SSO drift
pub mod recovery;
pub mod restore;
pub mod server;
pub mod session;
pub mod settings;
pub mod status;
pub mod status_ops;
pub mod user;
