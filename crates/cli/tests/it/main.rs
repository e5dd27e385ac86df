//! Black-box tests of the `gatehouse` binary: every command's success and failure
//! paths, on SQLite and on PostgreSQL, plus the server's start-up, bootstrap,
//! health checks, metrics and shutdown. One integration binary (see kanidm's
//! testkit note on why).

mod harness;

mod cli_apps;
mod cli_events;
mod cli_groups;
mod cli_ldap;
mod cli_mfa;
mod cli_misc;
mod cli_proxy;
mod cli_rules;
mod cli_sessions;
mod cli_users;
mod cli_worker;
mod justfile;
mod server;
