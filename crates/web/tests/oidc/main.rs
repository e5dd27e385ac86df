//! HTTP-level tests of the OIDC provider: the real router on a real SQLite
//! store, driven without sockets, with a clock the test moves. They attack
//! what issue 13 found (the device flow ignoring MFA, device grants outliving
//! the client's refresh tokens, introspection calling a locked-out user's
//! token active, guessable device codes) and prove, path by path, that every
//! OIDC issuing path asks the one gate.

#[allow(dead_code)]
#[path = "../signin/harness.rs"]
mod harness;
mod support;

mod device;
mod gate_table;
mod liveness;
